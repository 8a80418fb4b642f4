//! Session and API tokens: `mc1.<claims>.<signature>`, signed by the node
//! that issued them with its certificate's key, so that every node of the
//! mesh can check one without asking anyone (a client that moves to another
//! node stays signed in, even across a partition). Each holds 128 random
//! bits; what revokes it (logout, a password change, a revoked API token)
//! travels in the account log.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// From `register` or `login`; expires.
    #[serde(rename = "s")]
    Session,
    /// A bot's token, named by its owner; lives until revoked.
    #[serde(rename = "a")]
    Api,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    #[serde(rename = "k")]
    pub kind: Kind,
    /// The account's id.
    #[serde(rename = "a")]
    pub account: String,
    /// The session's (or API token's) id: 128 random bits, hex.
    #[serde(rename = "i")]
    pub id: String,
    #[serde(rename = "t")]
    pub issued: u64,
    #[serde(rename = "e")]
    pub expires: u64,
    /// The node that signed it.
    #[serde(rename = "n")]
    pub issuer: String,
}

pub use crate::infra::random_id;

/// Signs and checks tokens: the node's key, and the certificates of every
/// node (the mesh's signer and certificate book).
pub trait Keys: Send + Sync {
    fn node(&self) -> &str;
    fn sign(&self, bytes: &[u8]) -> Option<Vec<u8>>;
    fn verify(&self, node: &str, bytes: &[u8], sig: &[u8]) -> bool;
}

pub fn encode(claims: &Claims, keys: &dyn Keys) -> Option<String> {
    let payload = B64.encode(serde_json::to_vec(claims).ok()?);
    let sig = keys.sign(payload.as_bytes())?;
    Some(format!("mc1.{payload}.{}", B64.encode(sig)))
}

/// The claims of a token whose signature checks out (not yet whether it
/// was revoked or has expired: the directory says that).
pub fn decode(token: &str, keys: &dyn Keys) -> Option<Claims> {
    if token.len() > 2048 {
        return None;
    }
    let mut parts = token.split('.');
    let (Some("mc1"), Some(payload), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let claims: Claims = serde_json::from_slice(&B64.decode(payload).ok()?).ok()?;
    let sig = B64.decode(sig).ok()?;
    keys.verify(&claims.issuer, payload.as_bytes(), &sig).then_some(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy signature: the node's name and the bytes' length.
    struct Toy(&'static str);

    impl Keys for Toy {
        fn node(&self) -> &str {
            self.0
        }
        fn sign(&self, bytes: &[u8]) -> Option<Vec<u8>> {
            Some(format!("{}:{}", self.0, bytes.len()).into_bytes())
        }
        fn verify(&self, node: &str, bytes: &[u8], sig: &[u8]) -> bool {
            sig == format!("{node}:{}", bytes.len()).as_bytes()
        }
    }

    #[test]
    fn round_trips_and_refuses_tampering() {
        let c = Claims {
            kind: Kind::Session,
            account: "a1".into(),
            id: random_id(),
            issued: 1,
            expires: 2,
            issuer: "n1".into(),
        };
        assert_eq!(c.id.len(), 32);
        let t = encode(&c, &Toy("n1")).unwrap();
        assert_eq!(decode(&t, &Toy("n2")), Some(c));
        let forged = t.replacen("mc1.", "mc1.x", 1);
        assert_eq!(decode(&forged, &Toy("n2")), None);
        assert_eq!(decode("mc1.abc", &Toy("n2")), None);
        assert_eq!(decode(&"x".repeat(5000), &Toy("n2")), None);
    }
}
