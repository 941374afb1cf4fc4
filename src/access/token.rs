//! Scoped tokens: a JWT signed with HS256 by an API key's value, whose claims `key` (the
//! key's id), optional `accounts` and `segment` narrow the key (never widen it) until
//! `exp` (serve.md). Only `HS256` is accepted; the signature is checked in constant
//! time before any claim is believed.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use super::keys::Keys;
use super::{Grant, Unauthorized};
use crate::model::Seconds;

#[derive(Deserialize)]
struct Header {
    alg: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Claims {
    key: String,
    #[serde(default)]
    accounts: Option<Vec<String>>,
    #[serde(default)]
    segment: Option<String>,
    exp: i64,
    #[serde(default)]
    #[allow(dead_code)]
    iat: Option<i64>,
}

/// Whether a credential looks like a JWT (three dot-separated parts).
pub fn is_token(credential: &str) -> bool {
    credential.split('.').count() == 3
}

/// The grant a scoped token gives at `now`: its key's, narrowed by its claims.
pub fn verify(keys: &Keys, token: &str, now: Seconds) -> Result<Grant, Unauthorized> {
    let bad = |why: &str| Unauthorized(format!("the token is not valid: {why}"));
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("a token is three base64url parts joined by dots"));
    };
    let header: Header = decode_json(header).ok_or_else(|| bad("its header is not JSON"))?;
    if header.alg != "HS256" {
        return Err(bad("only HS256 is accepted"));
    }
    let claims_json: Claims = decode_json(claims).ok_or_else(|| {
        bad("its claims are not {\"key\", \"exp\", and optional \"accounts\", \"segment\"}")
    })?;
    let key = keys.find_by_id(&claims_json.key, now)?;
    let secret = key
        .hash_bytes()
        .ok_or_else(|| bad("its key's record is damaged"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| bad("its signature is not base64url"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret).map_err(|_| bad("no key"))?;
    let signed = token.rsplit_once('.').map_or(token, |(signed, _)| signed);
    mac.update(signed.as_bytes());
    mac.verify_slice(&signature)
        .map_err(|_| bad("its signature does not match its key"))?;
    if claims_json.exp <= now {
        return Err(Unauthorized("the token has expired".into()));
    }
    let grant = key.grant();
    Ok(Grant {
        scope: grant.scope.narrowed(
            claims_json.accounts.as_deref(),
            claims_json.segment.as_deref(),
        ),
        ..grant
    })
}

fn decode_json<T: for<'de> Deserialize<'de>>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Signs claims with a key's value (for tests and clients written in Rust).
pub fn sign(value: &str, claims: &serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{header}.{claims}");
    let mut mac = match Hmac::<Sha256>::new_from_slice(value.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes a key of any length"),
    };
    mac.update(input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{input}.{signature}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::access::{Action, KeySpec};

    fn key() -> (Keys, String, String) {
        let mut keys = Keys::open(None).expect("memory");
        let spec = KeySpec {
            actions: [Action::Read].into_iter().collect(),
            accounts: vec!["line-tw".into(), "shop".into()],
            segment: None,
            expires_at: None,
        };
        let made = keys.create(spec, 0).expect("made");
        (keys, made.value, made.key.id)
    }

    #[test]
    fn a_token_signed_by_the_value_narrows_the_key() {
        let (keys, value, id) = key();
        let claims =
            json!({"key": id, "accounts": ["shop", "fb-page"], "segment": "tag:vip", "exp": 100});
        let grant = verify(&keys, &sign(&value, &claims), 50).expect("valid");
        assert!(grant.scope.reaches_account("shop"));
        assert!(!grant.scope.reaches_account("fb-page"), "never widens");
        assert!(!grant.scope.reaches_account("line-tw"));
        assert_eq!(grant.scope.segments, ["tag:vip"]);
    }

    #[test]
    fn forged_expired_and_foreign_tokens_are_refused() {
        let (keys, value, id) = key();
        let claims = json!({"key": id, "exp": 100});
        let token = sign(&value, &claims);
        assert!(verify(&keys, &token, 100).is_err(), "expired");
        assert!(
            verify(&keys, &sign("reach_other", &claims), 50).is_err(),
            "another secret"
        );
        let wider = sign(&value, &json!({"key": id, "exp": 100}));
        let (head, _) = wider.rsplit_once('.').expect("signed");
        let forged_claims = URL_SAFE_NO_PAD.encode(json!({"key": id, "exp": 9_999}).to_string());
        let forged = format!(
            "{}.{forged_claims}.{}",
            head.split('.').next().expect("header"),
            token.rsplit('.').next().expect("sig")
        );
        assert!(verify(&keys, &forged, 50).is_err(), "claims changed");
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        assert!(verify(&keys, &none, 50).is_err(), "alg none");
        assert!(verify(&keys, "a.b.c", 50).is_err());
        assert!(
            verify(
                &keys,
                &sign(&value, &json!({"key": "key_nope", "exp": 100})),
                50
            )
            .is_err()
        );
    }
}
