//! Who may do what (serve.md, "Keys and what they reach"): API [`keys`] kept hashed in
//! the data directory, scoped [`token`]s that narrow a key without asking the server,
//! and the [`Grant`] a request is allowed: its actions and the [`Scope`] of contacts
//! every read and change it makes is confined to (by the engine, in one place).

pub mod keys;
pub mod token;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::engine::Scope;
use crate::error::Error;

pub use keys::{ApiKey, KeySpec, Keys, NewKey};

/// What a key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Count, list, explain, export; contacts, tags, segments, quotas, jobs read;
    /// membership events.
    Read,
    /// Import, changes; tags, segments and quotas written.
    Change,
    /// Start, resume and cancel broadcasts.
    Broadcast,
    /// Make, list and revoke keys (no wider than the maker's own).
    Keys,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 4] = [
        Action::Read,
        Action::Change,
        Action::Broadcast,
        Action::Keys,
    ];

    /// The action's name (`read`, …).
    pub fn name(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Change => "change",
            Action::Broadcast => "broadcast",
            Action::Keys => "keys",
        }
    }
}

/// What a request may do and reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The key it came with (`None`: the master key, or a server without one).
    pub key: Option<String>,
    pub actions: BTreeSet<Action>,
    pub scope: Scope,
}

impl Grant {
    /// Everything: the master key.
    pub fn master() -> Grant {
        Grant {
            key: None,
            actions: Action::ALL.into_iter().collect(),
            scope: Scope::everything(),
        }
    }

    /// Refuses an action the grant does not hold ([`Error::Forbidden`]).
    pub fn require(&self, action: Action) -> Result<(), Error> {
        match self.actions.contains(&action) {
            true => Ok(()),
            false => Err(Error::Forbidden(format!(
                "this key may not {}: its actions are {}",
                action.name(),
                self.actions
                    .iter()
                    .map(|a| a.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

/// The grant of a request's credential at `now`: with a master key set, that key (in
/// constant time) is everything, and anything else must be a current API key's value
/// or a scoped token signed by one; without a master key, a request without a
/// credential is everything (a loopback server), one with a credential is what it
/// says.
pub fn authenticate(
    keys: &Keys,
    master: Option<&str>,
    credential: Option<&str>,
    now: crate::model::Seconds,
) -> Result<Grant, Unauthorized> {
    let Some(credential) = credential else {
        return match master {
            None => Ok(Grant::master()),
            Some(_) => Err(Unauthorized(
                "no key: send `Authorization: Bearer KEY` (the master key or one made by POST /keys)".into(),
            )),
        };
    };
    if let Some(master) = master
        && constant_time_eq(master.as_bytes(), credential.as_bytes())
    {
        return Ok(Grant::master());
    }
    if token::is_token(credential) {
        return token::verify(keys, credential, now);
    }
    keys.find_by_value(credential, now).map(ApiKey::grant)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    // Comparing digests keeps the time independent of where the texts differ and of
    // their lengths.
    let (a, b) = (Sha256::digest(a), Sha256::digest(b));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Why a credential was not accepted (HTTP 401).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unauthorized(pub String);

impl std::fmt::Display for Unauthorized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unauthorized {}
