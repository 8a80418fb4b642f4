//! Messages signed by their origin, so that any node may pass one on and
//! the receiver can check that its origin wrote it.
//!
//! A node signs each of its own messages with its certificate's key as it
//! stores them. A peer may send messages of its own origin (the TLS
//! handshake already proved who it is) or pass on others', which must carry
//! their origin's signature: a node can no longer write under another
//! node's name or forge a seq. Certificates of nodes this one never met come
//! from peers (`Control::Certs`), each checked against the cluster CA and
//! the node id it names before it is trusted, and are kept in the store.

use std::collections::HashMap;
use std::sync::Mutex;

use meshchat_shared::Message;
use rustls::SignatureScheme;
use rustls::pki_types::CertificateDer;
use thiserror::Error;

use super::tls::{self, Identity, TlsError};
use crate::core::Proof;
use crate::room::Sign;

#[derive(Debug, Error)]
pub enum SignError {
    #[error("the node's key cannot sign: {0}")]
    Key(String),
    #[error("no certificate known for node {0:?}")]
    Unknown(String),
    #[error("no signature")]
    Missing,
    #[error("signature does not verify: {0}")]
    Bad(String),
    #[error(transparent)]
    Cert(#[from] TlsError),
}

/// The bytes a signature covers: every field of the message, in order,
/// the body by its SHA-256, so that a deleted message, whose text is erased
/// and whose body keeps that digest, still verifies.
fn canonical(m: &Message) -> Vec<u8> {
    let digest = crate::core::body_digest(&m.body);
    let fields = ("meshchat-msg/2", &m.room, &m.id, &m.author, digest, &m.origin, m.seq, m.ts, &m.vc);
    postcard::to_stdvec(&fields).unwrap_or_default()
}

/// What version 1 signed (messages stored before deletes existed).
fn canonical_v1(m: &Message) -> Vec<u8> {
    let fields = ("meshchat-msg/1", &m.room, &m.id, &m.author, &m.body, &m.origin, m.seq, m.ts, &m.vc);
    postcard::to_stdvec(&fields).unwrap_or_default()
}

/// Signs this node's messages with its certificate's key.
pub struct Signer {
    signer: Box<dyn rustls::sign::Signer>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("scheme", &self.signer.scheme()).finish()
    }
}

/// The schemes a node key may sign with, in order of preference.
const SCHEMES: [SignatureScheme; 4] = [
    SignatureScheme::ED25519,
    SignatureScheme::ECDSA_NISTP256_SHA256,
    SignatureScheme::ECDSA_NISTP384_SHA384,
    SignatureScheme::RSA_PSS_SHA256,
];

impl Signer {
    pub fn new(id: &Identity) -> Result<Signer, SignError> {
        Self::from_key(&id.key)
    }

    /// Signs with any key (the CA's, for a node's removal).
    pub fn from_key(key: &rustls::pki_types::PrivateKeyDer<'_>) -> Result<Signer, SignError> {
        let key = rustls::crypto::ring::sign::any_supported_type(key).map_err(|e| SignError::Key(e.to_string()))?;
        let signer = key.choose_scheme(&SCHEMES).ok_or_else(|| SignError::Key("no usable scheme".into()))?;
        Ok(Signer { signer })
    }
}

impl Signer {
    /// A signature over any bytes: the scheme, then the signature.
    pub fn sign_bytes(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        let sig = self.signer.sign(bytes).ok()?;
        let mut proof = u16::from(self.signer.scheme()).to_be_bytes().to_vec();
        proof.extend_from_slice(&sig);
        Some(proof)
    }
}

impl Sign for Signer {
    fn sign(&self, msg: &Message) -> Proof {
        self.sign_bytes(&canonical(msg)).map(Into::into)
    }
}

/// The certificates of the mesh's nodes, each checked against the CA.
pub struct CertBook {
    ca: CertificateDer<'static>,
    certs: Mutex<HashMap<String, CertificateDer<'static>>>,
}

impl CertBook {
    pub fn new(ca: CertificateDer<'static>) -> CertBook {
        CertBook { ca, certs: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CertificateDer<'static>>> {
        self.certs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Trusts `der` as `node`'s certificate if it chains to the CA and
    /// names the node. Returns whether it was new.
    pub fn learn(&self, node: &str, der: &[u8]) -> Result<bool, SignError> {
        let cert = CertificateDer::from(der.to_vec());
        if self.lock().get(node).is_some_and(|c| *c == cert) {
            return Ok(false);
        }
        tls::verify_chain_and_name(&self.ca, &cert, node)?;
        self.lock().insert(node.to_owned(), cert);
        Ok(true)
    }

    /// Every certificate known, to pass on to a peer.
    pub fn all(&self) -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<(String, Vec<u8>)> = self.lock().iter().map(|(n, c)| (n.clone(), c.to_vec())).collect();
        v.sort();
        v
    }

    /// Did `msg`'s origin sign it so?
    pub fn verify(&self, msg: &Message, proof: &Proof) -> Result<(), SignError> {
        let proof = proof.as_deref().ok_or(SignError::Missing)?;
        match self.verify_bytes(&msg.origin, &canonical(msg), proof) {
            Err(SignError::Bad(_)) if !meshchat_shared::rooms::is_redacted(&msg.body) => {
                self.verify_bytes(&msg.origin, &canonical_v1(msg), proof)
            }
            other => other,
        }
    }

    /// Did `node` sign `bytes` so (`proof` as [`Signer::sign_bytes`] makes it)?
    pub fn verify_bytes(&self, node: &str, bytes: &[u8], proof: &[u8]) -> Result<(), SignError> {
        let cert = self.lock().get(node).cloned().ok_or_else(|| SignError::Unknown(node.to_owned()))?;
        verify_with(&cert, bytes, proof)
    }

    /// Did the cluster CA sign `bytes` so ([`crate::trust::certs::ca_sign`])?
    pub fn verify_ca(&self, bytes: &[u8], proof: &[u8]) -> Result<(), SignError> {
        verify_with(&self.ca, bytes, proof)
    }

    /// The cluster CA's certificate.
    pub fn ca(&self) -> &CertificateDer<'static> {
        &self.ca
    }
}

/// Does `proof` (scheme, then signature) verify over `bytes` with `cert`'s key?
fn verify_with(cert: &CertificateDer<'_>, bytes: &[u8], proof: &[u8]) -> Result<(), SignError> {
    let (scheme, sig) = match proof {
        [a, b, rest @ ..] => (SignatureScheme::from(u16::from_be_bytes([*a, *b])), rest),
        _ => return Err(SignError::Missing),
    };
    let cert = webpki::EndEntityCert::try_from(cert).map_err(|e| SignError::Bad(e.to_string()))?;
    let algs = rustls::crypto::ring::default_provider().signature_verification_algorithms;
    let (_, candidates) = algs
        .mapping
        .iter()
        .find(|(s, _)| *s == scheme)
        .ok_or_else(|| SignError::Bad(format!("unknown scheme {scheme:?}")))?;
    if candidates.iter().any(|alg| cert.verify_signature(*alg, bytes, sig).is_ok()) {
        Ok(())
    } else {
        Err(SignError::Bad("wrong signature".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Signer, CertBook, Identity) {
        let dir = tempfile::tempdir().unwrap();
        let ids: Vec<String> = ["n1", "n2"].iter().map(|s| s.to_string()).collect();
        crate::trust::certs::generate(dir.path(), &ids, &["127.0.0.1".into()], false).unwrap();
        let n1 = Identity::load(dir.path(), "n1").unwrap();
        let n2 = Identity::load(dir.path(), "n2").unwrap();
        let book = CertBook::new(n2.ca.clone());
        (dir, Signer::new(&n1).unwrap(), book, n1)
    }

    #[test]
    fn a_forwarded_message_verifies_only_as_its_origin_signed_it() {
        let (_d, signer, book, n1) = setup();
        let msg = Message::sample("general", "n1", 7);
        let proof = signer.sign(&msg);
        assert!(matches!(book.verify(&msg, &proof), Err(SignError::Unknown(_))), "n1 unknown yet");
        assert!(book.learn("n1", &n1.chain[0]).unwrap());
        assert!(!book.learn("n1", &n1.chain[0]).unwrap(), "already known");
        book.verify(&msg, &proof).unwrap();
        // Any change to the message breaks it: body, seq, ts, vector.
        let mut forged = msg.clone();
        forged.body = "pay me".into();
        assert!(book.verify(&forged, &proof).is_err());
        let mut forged = msg.clone();
        forged.seq = 8;
        assert!(book.verify(&forged, &proof).is_err());
        // Claiming another origin with n1's signature fails too.
        let mut other = msg.clone();
        other.origin = "n2".into();
        assert!(book.verify(&other, &proof).is_err());
        assert!(matches!(book.verify(&msg, &None), Err(SignError::Missing)));
        // Its text erased (a delete), it still verifies; another text does not.
        let erased = Message { body: crate::core::redacted_body(&msg.body), ..msg.clone() };
        book.verify(&erased, &proof).unwrap();
        let wrong = Message { body: crate::core::redacted_body("other"), ..msg.clone() };
        assert!(book.verify(&wrong, &proof).is_err());
    }

    #[test]
    fn a_certificate_naming_another_node_is_not_learned() {
        let (_d, _signer, book, n1) = setup();
        assert!(book.learn("n2", &n1.chain[0]).is_err(), "n1's certificate does not name n2");
        assert!(book.learn("n1", b"garbage").is_err());
        assert!(book.all().is_empty());
    }
}
