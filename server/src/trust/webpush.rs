//! Web Push's cryptography on ring, the node's one crypto provider:
//! payloads encrypted for one browser (RFC 8291, `aes128gcm` of RFC 8188)
//! and the node's voluntary identification to push services (VAPID, RFC
//! 8292: an ES256 JWT and the public key).
//!
//! No maintained crate does this on ring: `web-push` encrypts through
//! `ece` on OpenSSL, `web-push-native` on the RustCrypto curves. The whole
//! scheme is a handful of HMACs around one ECDH and one AES-GCM seal.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::agreement::{ECDH_P256, EphemeralPrivateKey, UnparsedPublicKey, agree_ephemeral};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PushCryptoError {
    #[error("the subscription's key is not a P-256 point")]
    BadKey,
    #[error("the subscription's auth secret is not 16 bytes")]
    BadAuth,
    #[error("the payload is over {MAX_PAYLOAD} bytes")]
    TooLarge,
    #[error("the VAPID key is not a P-256 PKCS#8 key")]
    BadVapid,
    #[error("no randomness")]
    Random,
}

/// One record of 4096 bytes holds the payload, its delimiter and the
/// 16-byte tag; push services take at least 4096 bytes of body.
pub const RECORD: u32 = 4096;
pub const MAX_PAYLOAD: usize = RECORD as usize - 16 - 1 - 86;

/// The node's VAPID key pair (the same on every node of a mesh: a browser
/// subscribes through one node, and any node may push).
pub struct Vapid {
    pair: EcdsaKeyPair,
    pkcs8: Vec<u8>,
}

impl Vapid {
    pub fn generate() -> Result<Vapid, PushCryptoError> {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| PushCryptoError::Random)?;
        Vapid::from_pkcs8(doc.as_ref())
    }

    pub fn from_pkcs8(der: &[u8]) -> Result<Vapid, PushCryptoError> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
            .map_err(|_| PushCryptoError::BadVapid)?;
        Ok(Vapid { pair, pkcs8: der.to_vec() })
    }

    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key as browsers take it (`applicationServerKey`): the
    /// uncompressed point, base64url.
    pub fn public_b64(&self) -> String {
        B64.encode(self.pair.public_key().as_ref())
    }

    /// The `Authorization` header for a push to `endpoint`'s origin, valid
    /// until `exp` (seconds since the epoch; services take at most 24 h).
    pub fn authorization(&self, endpoint: &str, subject: &str, exp: u64) -> Result<String, PushCryptoError> {
        let header = B64.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({ "aud": origin(endpoint), "exp": exp, "sub": subject });
        let signed = format!("{header}.{}", B64.encode(claims.to_string()));
        let rng = SystemRandom::new();
        let sig = self.pair.sign(&rng, signed.as_bytes()).map_err(|_| PushCryptoError::Random)?;
        Ok(format!("vapid t={signed}.{}, k={}", B64.encode(sig.as_ref()), self.public_b64()))
    }
}

/// `https://host[:port]` of a URL.
pub fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    format!("{scheme}://{host}")
}

/// Subscription keys as a browser gives them: a P-256 point and 16 bytes.
pub fn check_keys(p256dh: &str, auth: &str) -> Result<(), PushCryptoError> {
    let point = B64.decode(p256dh.trim_end_matches('=')).map_err(|_| PushCryptoError::BadKey)?;
    if point.len() != 65 || point[0] != 4 {
        return Err(PushCryptoError::BadKey);
    }
    let auth = B64.decode(auth.trim_end_matches('=')).map_err(|_| PushCryptoError::BadAuth)?;
    if auth.len() != 16 {
        return Err(PushCryptoError::BadAuth);
    }
    Ok(())
}

/// The body of a push carrying `payload` to the browser whose subscription
/// keys are `p256dh` and `auth` (base64url, as `PushSubscription` gives them).
pub fn encrypt(payload: &[u8], p256dh: &str, auth: &str) -> Result<Vec<u8>, PushCryptoError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(PushCryptoError::TooLarge);
    }
    check_keys(p256dh, auth)?;
    let ua_public = B64.decode(p256dh.trim_end_matches('=')).map_err(|_| PushCryptoError::BadKey)?;
    let auth = B64.decode(auth.trim_end_matches('=')).map_err(|_| PushCryptoError::BadAuth)?;
    let rng = SystemRandom::new();
    let ours = EphemeralPrivateKey::generate(&ECDH_P256, &rng).map_err(|_| PushCryptoError::Random)?;
    let as_public = ours.compute_public_key().map_err(|_| PushCryptoError::Random)?.as_ref().to_vec();
    let mut salt = [0u8; 16];
    rng.fill(&mut salt).map_err(|_| PushCryptoError::Random)?;
    let peer = UnparsedPublicKey::new(&ECDH_P256, &ua_public);
    let secret = agree_ephemeral(ours, &peer, |s| s.to_vec()).map_err(|_| PushCryptoError::BadKey)?;
    let (cek, nonce) = derive(&secret, &auth, &ua_public, &as_public, &salt);

    let mut record = Vec::with_capacity(payload.len() + 17);
    record.extend_from_slice(payload);
    // The last (only) record's delimiter; no padding.
    record.push(2);
    let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &cek).map_err(|_| PushCryptoError::BadKey)?);
    let nonce = Nonce::try_assume_unique_for_key(&nonce).map_err(|_| PushCryptoError::BadKey)?;
    key.seal_in_place_append_tag(nonce, Aad::empty(), &mut record).map_err(|_| PushCryptoError::BadKey)?;

    let mut body = Vec::with_capacity(86 + record.len());
    body.extend_from_slice(&salt);
    body.extend_from_slice(&RECORD.to_be_bytes());
    body.push(65);
    body.extend_from_slice(&as_public);
    body.extend_from_slice(&record);
    Ok(body)
}

/// RFC 8291 §3.4 and RFC 8188 §2.2: the content key and nonce, from the
/// shared secret, the browser's auth secret, both public keys and the salt.
pub fn derive(secret: &[u8], auth: &[u8], ua_public: &[u8], as_public: &[u8], salt: &[u8]) -> ([u8; 16], [u8; 12]) {
    // HKDF whose output fits one block: HMAC(PRK, info || 0x01).
    let expand = |prk: &[u8], info: &[&[u8]]| {
        let mut ctx = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, prk));
        for part in info {
            ctx.update(part);
        }
        ctx.update(&[1]);
        ctx.sign()
    };
    let extract = |salt: &[u8], ikm: &[u8]| hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, salt), ikm);
    let prk_key = extract(auth, secret);
    let ikm = expand(prk_key.as_ref(), &[b"WebPush: info\0", ua_public, as_public]);
    let prk = extract(salt, ikm.as_ref());
    let mut cek = [0u8; 16];
    cek.copy_from_slice(&expand(prk.as_ref(), &[b"Content-Encoding: aes128gcm\0"]).as_ref()[..16]);
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&expand(prk.as_ref(), &[b"Content-Encoding: nonce\0"]).as_ref()[..12]);
    (cek, nonce)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8291 §5's example: its keys, salt and auth secret give its
    /// content key and nonce (and so its ciphertext).
    #[test]
    fn the_rfc_example_derives_its_key_and_nonce() {
        let d = |s: &str| B64.decode(s).unwrap();
        let ua_public = d("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4");
        let as_public = d("BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8");
        let secret = d("kyrL1jIIOHEzg3sM2ZWRHDRB62YACZhhSlknJ672kSs");
        let auth = d("BTBZMqHH6r4Tts7J_aSIgg");
        let salt = d("DGv6ra1nlYgDCS1FRnbzlw");
        let (cek, nonce) = derive(&secret, &auth, &ua_public, &as_public, &salt);
        assert_eq!(B64.encode(cek), "oIhVW04MRdy2XN9CiKLxTg");
        assert_eq!(B64.encode(nonce), "4h_95klXJ5E_qnoN");
        // And the whole message, sealed with them.
        let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &cek).unwrap());
        let mut record = b"When I grow up, I want to be a watermelon\x02".to_vec();
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut record).unwrap();
        assert_eq!(
            B64.encode(&record),
            "8pfeW0KbunFT06SuDKoJH9Ql87S1QUrdirN6GcG7sFz1y1sqLgVi1VhjVkHsUoEsbI_0LpXMuGvnzQ"
        );
    }

    #[test]
    fn bad_keys_are_refused() {
        let auth = B64.encode([7u8; 16]);
        assert_eq!(encrypt(b"x", "not a key", &auth), Err(PushCryptoError::BadKey));
        assert_eq!(encrypt(b"x", &B64.encode([4u8; 65]), "c2hvcnQ"), Err(PushCryptoError::BadAuth));
        assert_eq!(encrypt(&[0; 5000], &B64.encode([4u8; 65]), &auth), Err(PushCryptoError::TooLarge));
    }

    #[test]
    fn a_vapid_header_names_the_endpoints_origin_and_verifies() {
        let v = Vapid::generate().unwrap();
        let h =
            v.authorization("https://push.example:8443/send/abc?x=1", "https://chat.example", 1_800_000_000).unwrap();
        let t = h.strip_prefix("vapid t=").unwrap().split(", k=").next().unwrap();
        let mut parts = t.split('.');
        let (head, claims, sig) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        let claims: serde_json::Value = serde_json::from_slice(&B64.decode(claims).unwrap()).unwrap();
        assert_eq!(claims["aud"], "https://push.example:8443");
        let public = B64.decode(v.public_b64()).unwrap();
        let key = ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, public);
        key.verify(format!("{head}.{}", t.split('.').nth(1).unwrap()).as_bytes(), &B64.decode(sig).unwrap()).unwrap();
        assert!(h.ends_with(&format!("k={}", v.public_b64())));
        assert!(Vapid::from_pkcs8(v.pkcs8()).is_ok());
    }
}
