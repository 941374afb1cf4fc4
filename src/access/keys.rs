//! API keys: made with a random value shown once, kept as the SHA-256 of the value in
//! the data directory's `keys.json` (written atomically, `0600`), listed, revoked.
//!
//! A key's value is 86 characters, longer than HMAC-SHA256's 64-byte block, so HMAC
//! keyed by the value is HMAC keyed by its SHA-256 (RFC 2104): the hash kept is enough
//! to check a scoped token signed with the value ([`super::token`]), and the value
//! itself is never stored.

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Action, Grant, Unauthorized};
use crate::engine::{DataDir, Scope};
use crate::error::Error;
use crate::model::Seconds;
use crate::model::time::format_rfc3339;

/// The file keys are kept in, inside the data directory.
pub const FILE: &str = "keys.json";
/// What every key's value starts with.
pub const PREFIX: &str = "reach_";

/// A key as it is kept and listed (never its value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    /// SHA-256 of the value, hex.
    pub hash: String,
    pub actions: BTreeSet<Action>,
    /// Account ids, or `["*"]`.
    pub accounts: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Seconds>,
    pub created_at: Seconds,
}

/// What a new key may do and reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySpec {
    pub actions: BTreeSet<Action>,
    pub accounts: Vec<String>,
    pub segment: Option<String>,
    pub expires_at: Option<Seconds>,
}

/// A key just made: its record and its value (shown this once).
#[derive(Clone, Debug)]
pub struct NewKey {
    pub key: ApiKey,
    pub value: String,
}

/// The keys of a data directory (or of memory only).
#[derive(Debug, Default)]
pub struct Keys {
    dir: Option<DataDir>,
    keys: Vec<ApiKey>,
}

impl ApiKey {
    /// The grant the key gives: its actions and scope.
    pub fn grant(&self) -> Grant {
        let accounts = (!self.accounts.iter().any(|a| a == "*")).then_some(&self.accounts[..]);
        Grant {
            key: Some(self.id.clone()),
            actions: self.actions.clone(),
            scope: Scope::everything().narrowed(accounts, self.segment.as_deref()),
        }
    }

    /// The key's hash as the bytes a scoped token's signature is checked with.
    pub fn hash_bytes(&self) -> Option<Vec<u8>> {
        hex_decode(&self.hash)
    }

    /// Whether the key has expired at `now`.
    pub fn expired(&self, now: Seconds) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// The key as the API lists it (times as RFC 3339).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "actions": self.actions,
            "accounts": self.accounts,
            "segment": self.segment,
            "expires_at": self.expires_at.map(format_rfc3339),
            "created_at": format_rfc3339(self.created_at),
        })
    }
}

impl Keys {
    /// The keys kept in `dir` (none yet if it has no key file); in memory with `None`.
    pub fn open(dir: Option<DataDir>) -> Result<Keys, Error> {
        let keys = match &dir {
            None => Vec::new(),
            Some(dir) => match dir.read_private(FILE)? {
                None => Vec::new(),
                Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                    Error::data_from(
                        format!("{FILE} in {} is damaged: {e}", dir.path().display()),
                        e,
                    )
                })?,
            },
        };
        Ok(Keys { dir, keys })
    }

    /// Every key.
    pub fn list(&self) -> &[ApiKey] {
        &self.keys
    }

    /// Makes a key at `now`; its value is in the answer only.
    pub fn create(&mut self, spec: KeySpec, now: Seconds) -> Result<NewKey, Error> {
        if spec.actions.is_empty() {
            return Err(Error::Usage("a key needs at least one action".into()));
        }
        if spec.accounts.is_empty() {
            return Err(Error::Usage(
                "a key needs accounts: account ids, or [\"*\"] for every one".into(),
            ));
        }
        let value = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(random::<64>()?));
        let key = ApiKey {
            id: format!("key_{}", hex(&random::<8>()?)),
            hash: hex(&Sha256::digest(value.as_bytes())),
            actions: spec.actions,
            accounts: spec.accounts,
            segment: spec.segment.filter(|s| !s.trim().is_empty()),
            expires_at: spec.expires_at,
            created_at: now,
        };
        let mut keys = self.keys.clone();
        keys.push(key.clone());
        self.save(keys)?;
        Ok(NewKey { key, value })
    }

    /// Revokes a key.
    pub fn revoke(&mut self, id: &str) -> Result<(), Error> {
        if !self.keys.iter().any(|k| k.id == id) {
            return Err(Error::NotFound(format!("there is no key {id}")));
        }
        let keys = self.keys.iter().filter(|k| k.id != id).cloned().collect();
        self.save(keys)
    }

    /// The key whose value is `value`, if it is current at `now`.
    pub fn find_by_value(&self, value: &str, now: Seconds) -> Result<&ApiKey, Unauthorized> {
        let hash = hex(&Sha256::digest(value.as_bytes()));
        let key = self.keys.iter().find(|k| k.hash == hash);
        current(key, now)
    }

    /// The key with id `id`, if it is current at `now`.
    pub fn find_by_id(&self, id: &str, now: Seconds) -> Result<&ApiKey, Unauthorized> {
        current(self.keys.iter().find(|k| k.id == id), now)
    }

    fn save(&mut self, keys: Vec<ApiKey>) -> Result<(), Error> {
        if let Some(dir) = &self.dir {
            let json = serde_json::to_vec_pretty(&keys)
                .map_err(|e| Error::internal_from(format!("cannot write the keys: {e}"), e))?;
            dir.replace(FILE, |out| {
                std::io::Write::write_all(out, &json).map_err(|e| Error::io(FILE, e))
            })?;
        }
        self.keys = keys;
        Ok(())
    }
}

fn current(key: Option<&ApiKey>, now: Seconds) -> Result<&ApiKey, Unauthorized> {
    match key {
        None => Err(Unauthorized(
            "unknown key: send a key made by POST /keys as `Authorization: Bearer KEY`".into(),
        )),
        Some(k) if k.expired(now) => Err(Unauthorized(format!(
            "the key {} expired at {}",
            k.id,
            k.expires_at.map(format_rfc3339).unwrap_or_default()
        ))),
        Some(k) => Ok(k),
    }
}

fn random<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| {
        Error::io(
            "cannot read random bytes",
            std::io::Error::other(e.to_string()),
        )
    })?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(actions: &[Action]) -> KeySpec {
        KeySpec {
            actions: actions.iter().copied().collect(),
            accounts: vec!["line-tw".into()],
            segment: Some("tag:vip".into()),
            expires_at: Some(2_000),
        }
    }

    #[test]
    fn a_key_is_found_by_its_value_until_it_expires_and_never_kept_in_clear() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = DataDir::create(dir.path()).expect("dir");
        let mut keys = Keys::open(Some(data.clone())).expect("no keys yet");
        let made = keys.create(spec(&[Action::Read]), 1_000).expect("made");
        assert!(made.value.len() > 64, "longer than HMAC's block");
        let stored = std::fs::read_to_string(dir.path().join(FILE)).expect("kept");
        assert!(!stored.contains(&made.value));
        let keys = Keys::open(Some(data)).expect("read back");
        assert_eq!(
            keys.find_by_value(&made.value, 1_500).map(|k| &k.id),
            Ok(&made.key.id)
        );
        assert!(keys.find_by_value(&made.value, 2_000).is_err(), "expired");
        assert!(keys.find_by_value("reach_forged", 1_500).is_err());
    }

    #[test]
    fn a_revoked_key_is_gone() {
        let mut keys = Keys::open(None).expect("memory");
        let made = keys
            .create(spec(&[Action::Read, Action::Change]), 0)
            .expect("made");
        keys.revoke(&made.key.id).expect("revoked");
        assert!(keys.find_by_value(&made.value, 1).is_err());
        assert_eq!(
            keys.revoke(&made.key.id).map_err(|e| e.kind().as_str()),
            Err("not_found")
        );
    }

    #[test]
    fn a_key_grants_its_actions_and_scope() {
        let mut keys = Keys::open(None).expect("memory");
        let made = keys.create(spec(&[Action::Read]), 0).expect("made");
        let grant = made.key.grant();
        assert!(grant.require(Action::Read).is_ok());
        assert_eq!(
            grant.require(Action::Change).map_err(|e| e.kind().as_str()),
            Err("forbidden")
        );
        assert!(grant.scope.reaches_account("line-tw") && !grant.scope.reaches_account("shop"));
        assert_eq!(grant.scope.segments, ["tag:vip"]);
    }
}
