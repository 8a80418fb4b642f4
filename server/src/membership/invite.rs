//! Join tokens: how a new machine gets a certificate without anyone
//! copying keys by hand.
//!
//! `meshchat invite-node n4` (where the CA key is) writes the invitation to
//! `<certs>/invites/<key>.json` and prints a token: the inviting node's
//! address, the CA's fingerprint, the invitation's key and a secret. The new
//! node makes its own key pair and sends its public key; both directions
//! carry an HMAC under the secret, which never crosses the wire, so even
//! over plain HTTP nobody in between can swap the key, the certificate or
//! the CA. The inviting node renames the invitation as it takes it: a token
//! serves once, and not after it expires.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::trust::certs::{self, CertsError};

/// What a token starts with, so a pasted one is recognised.
const PREFIX: &str = "meshchat-join:";

#[derive(Debug, Error)]
pub enum JoinError {
    #[error("not a join token")]
    BadToken,
    #[error("no such invitation (it may have been used already)")]
    Unknown,
    #[error("this invitation was used already")]
    Used,
    #[error("this invitation has expired")]
    Expired,
    #[error("this invitation is for node {0:?}")]
    WrongNode(String),
    #[error("the request is not signed with this invitation's secret")]
    BadMac,
    #[error("node {0:?} is already a member of the mesh, or was removed from it")]
    Taken(String),
    #[error("this node holds no CA key (ca.key), so it cannot sign for new nodes")]
    NoCa,
    #[error(transparent)]
    Certs(#[from] CertsError),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("the inviting node answered {0}: {1}")]
    Refused(u16, String),
    #[error("the answer is not from the mesh the token names: {0}")]
    Forged(&'static str),
    #[error("cannot take it now: {0}")]
    Unavailable(String),
    #[error("cannot reach the inviting node: {0}")]
    Http(#[from] crate::infra::http::HttpError),
    #[error(
        "the node at {0} does not see this invitation: a node keeps its invitations in its own --certs directory \
         (beside ca.key); run invite-node with that directory, and that node's --url"
    )]
    NotThere(String),
}

/// What the token carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// The new node's id.
    pub id: String,
    /// The inviting node's HTTP base (`http://host:port`).
    pub url: String,
    /// SHA-256 of the CA certificate (DER), hex: the mesh the answer must come from.
    pub ca: String,
    /// Names the invitation file.
    pub key: String,
    pub secret: String,
    /// Milliseconds since the epoch.
    pub expires: u64,
}

impl Token {
    pub fn encode(&self) -> String {
        format!("{PREFIX}{}", B64.encode(serde_json::to_vec(self).unwrap_or_default()))
    }

    pub fn decode(s: &str) -> Result<Token, JoinError> {
        let body = s.trim().strip_prefix(PREFIX).ok_or(JoinError::BadToken)?;
        let bytes = B64.decode(body).map_err(|_| JoinError::BadToken)?;
        serde_json::from_slice(&bytes).map_err(|_| JoinError::BadToken)
    }
}

/// The invitation as the inviting node keeps it.
#[derive(Debug, Serialize, Deserialize)]
struct Invitation {
    id: String,
    hosts: Vec<String>,
    secret: String,
    expires: u64,
}

/// A node of the mesh as a newcomer needs it: where to dial, and its page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seed {
    pub id: String,
    /// `host:port` of its mesh (UDP).
    pub mesh: String,
    /// Its WebSocket URL, when known.
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinRequest {
    pub key: String,
    pub id: String,
    /// The new node's public key, SEC1 uncompressed, base64url.
    pub public_key: String,
    /// Where the new node's mesh listens (`host:port`).
    pub mesh: String,
    pub url: String,
    pub mac: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinResponse {
    pub ca: String,
    pub cert: String,
    pub nodes: Vec<Seed>,
    pub mac: String,
}

/// The HMAC-SHA256 of `fields` (as JSON) under `secret`, not yet finished.
fn hmac(secret: &str, fields: &impl Serialize) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    m.update(&serde_json::to_vec(fields).unwrap_or_default());
    m
}

fn mac(secret: &str, fields: &impl Serialize) -> String {
    B64.encode(hmac(secret, fields).finalize().into_bytes())
}

/// Compares in constant time.
fn mac_ok(secret: &str, fields: &impl Serialize, given: &str) -> bool {
    B64.decode(given).is_ok_and(|given| hmac(secret, fields).verify_slice(&given).is_ok())
}

impl JoinRequest {
    fn fields(&self) -> impl Serialize + '_ {
        ("meshchat-join-request/1", &self.key, &self.id, &self.public_key, &self.mesh, &self.url)
    }
}

impl JoinResponse {
    fn fields(&self) -> impl Serialize + '_ {
        ("meshchat-join-response/1", &self.ca, &self.cert, &self.nodes)
    }
}

fn invites_dir(certs: &Path) -> PathBuf {
    certs.join("invites")
}

pub fn ca_fingerprint(ca_der: &[u8]) -> String {
    Sha256::digest(ca_der).iter().map(|b| format!("{b:02x}")).collect()
}

fn random_b64(n: usize) -> String {
    let bytes: Vec<u8> = (0..n).map(|_| rand::random::<u8>()).collect();
    B64.encode(bytes)
}

/// `meshchat invite-node`: writes the invitation next to the CA key and
/// returns the token. `url` is the HTTP base of the node that will take it
/// (one running with this certificate directory).
pub fn create(certs: &Path, id: &str, hosts: &[String], url: &str, ttl_ms: u64) -> Result<Token, JoinError> {
    meshchat_shared::limits::validate_node_id(id).map_err(|e| CertsError::BadId(id.to_owned(), e))?;
    if !certs::ca_key_path(certs).exists() {
        return Err(JoinError::NoCa);
    }
    let ca_pem = std::fs::read(certs::ca_cert_path(certs)).map_err(|e| JoinError::Io(certs::ca_cert_path(certs), e))?;
    let ca = crate::trust::tls::parse_certs(&ca_pem).map_err(CertsError::from)?;
    let ca = ca.first().ok_or(JoinError::NoCa)?;
    let dir = invites_dir(certs);
    std::fs::create_dir_all(&dir).map_err(|e| JoinError::Io(dir.clone(), e))?;
    let key: String = (0..16).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
    let expires = crate::infra::clock::now_ms() + ttl_ms;
    let invitation = Invitation { id: id.to_owned(), hosts: hosts.to_vec(), secret: random_b64(32), expires };
    let path = dir.join(format!("{key}.json"));
    certs::write_file(&path, &serde_json::to_vec(&invitation).unwrap_or_default(), true)?;
    // Made by root for a node that runs as its own user: the invitation
    // (and the folder) belong to whoever owns the certificate directory.
    #[cfg(unix)]
    if rustix::process::geteuid().is_root() {
        use std::os::unix::fs::MetadataExt;
        let owner = std::fs::metadata(certs).map_err(|e| JoinError::Io(certs.to_owned(), e))?;
        for p in [&dir, &path] {
            std::os::unix::fs::chown(p, Some(owner.uid()), Some(owner.gid()))
                .map_err(|e| JoinError::Io(p.clone(), e))?;
        }
    }
    Ok(Token {
        id: id.to_owned(),
        url: url.trim_end_matches('/').to_owned(),
        ca: ca_fingerprint(ca),
        key,
        secret: invitation.secret,
        expires,
    })
}

/// Takes back an invitation that will not be handed out.
pub fn discard(certs: &Path, key: &str) {
    if well_formed_key(key) {
        let _ = std::fs::remove_file(invites_dir(certs).join(format!("{key}.json")));
    }
}

/// Asks the node the token names whether it can take the token: its id
/// must not be in the mesh yet, and that node must see the invitation (it
/// keeps them in its own certificate directory). A token that would fail
/// only when the new node uses it is never printed.
pub async fn check_with_node(token: &Token) -> Result<(), JoinError> {
    let nodes = crate::infra::http::get(&format!("{}/api/nodes", token.url)).await?;
    let listed: meshchat_shared::api::Nodes =
        serde_json::from_slice(&nodes.body).map_err(|_| JoinError::Refused(nodes.status, nodes.text()))?;
    if listed.nodes.iter().any(|n| n.id == token.id) {
        return Err(JoinError::Taken(token.id.clone()));
    }
    let waiting = crate::infra::http::get(&format!("{}/api/mesh/join/{}", token.url, token.key)).await?;
    match waiting.status {
        204 => Ok(()),
        404 => Err(JoinError::NotThere(token.url.clone())),
        _ => Err(refusal(&waiting)),
    }
}

/// What the inviting node signed for a request.
#[derive(Debug)]
pub struct Admitted {
    pub cert_pem: String,
    pub ca_pem: String,
    secret: String,
}

impl Admitted {
    /// The answer, signed with the invitation's secret.
    pub fn respond(self, nodes: Vec<Seed>) -> JoinResponse {
        let mut r = JoinResponse { ca: self.ca_pem, cert: self.cert_pem, nodes, mac: String::new() };
        let sealed = mac(&self.secret, &r.fields());
        r.mac = sealed;
        r
    }
}

/// Whether the invitation `key` is waiting in `certs` (and not used up in
/// `used`): what `meshchat invite-node` asks the node it names.
pub fn is_waiting(certs: &Path, used: &Path, key: &str) -> bool {
    well_formed_key(key)
        && invites_dir(certs).join(format!("{key}.json")).is_file()
        && !used.join(key).exists()
        && !invites_dir(certs).join(format!("{key}.used")).exists()
}

fn well_formed_key(key: &str) -> bool {
    key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The inviting node's side: checks the request against its invitation,
/// uses the invitation up, and signs the new node's key. Invitations are
/// read from `certs` (beside the CA key, which may be read-only to the
/// node); that one was used is written in `used`, in the node's data.
pub fn admit(certs: &Path, used: &Path, req: &JoinRequest, now: u64) -> Result<Admitted, JoinError> {
    if !well_formed_key(&req.key) {
        return Err(JoinError::Unknown);
    }
    let path = invites_dir(certs).join(format!("{}.json", req.key));
    // (`.used` beside it: what versions before 0.1 left.)
    if used.join(&req.key).exists() || path.with_extension("used").exists() {
        return Err(JoinError::Used);
    }
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(JoinError::Unknown),
        Err(e) => return Err(JoinError::Io(path, e)),
    };
    let inv: Invitation = serde_json::from_slice(&text).map_err(|_| JoinError::Unknown)?;
    if !mac_ok(&inv.secret, &req.fields(), &req.mac) {
        return Err(JoinError::BadMac);
    }
    if now > inv.expires {
        return Err(JoinError::Expired);
    }
    if inv.id != req.id {
        return Err(JoinError::WrongNode(inv.id));
    }
    // Creating the mark is the single use: of two requests at once, one wins it.
    crate::store::private::dir(used).map_err(|e| JoinError::Io(used.to_owned(), e))?;
    let mark = used.join(&req.key);
    match std::fs::OpenOptions::new().write(true).create_new(true).open(&mark) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(JoinError::Used),
        Err(e) => return Err(JoinError::Io(mark, e)),
    }
    let public = B64.decode(&req.public_key).map_err(|_| JoinError::BadMac)?;
    let (cert_pem, ca_pem) = certs::sign_for(certs, &req.id, &inv.hosts, &public)?;
    Ok(Admitted { cert_pem, ca_pem, secret: inv.secret })
}

/// The new node's side: makes its key, asks the inviting node, checks the
/// answer, and writes `ca.pem`, `<id>.pem` and `<id>.key` into `certs`.
/// Returns the mesh's nodes to dial.
pub async fn join(token: &Token, certs: &Path, mesh: &str, url: &str) -> Result<Vec<Seed>, JoinError> {
    let key = rcgen::KeyPair::generate().map_err(CertsError::from)?;
    let mut req = JoinRequest {
        key: token.key.clone(),
        id: token.id.clone(),
        public_key: B64.encode(key.public_key_raw()),
        mesh: mesh.to_owned(),
        url: url.to_owned(),
        mac: String::new(),
    };
    let sealed = mac(&token.secret, &req.fields());
    req.mac = sealed;
    let body = serde_json::to_string(&req).unwrap_or_default();
    let r = crate::infra::http::post_json(&format!("{}/api/mesh/join", token.url), &body).await?;
    if r.status != 200 {
        return Err(refusal(&r));
    }
    let resp: JoinResponse = serde_json::from_slice(&r.body).map_err(|_| JoinError::Forged("not a join answer"))?;
    if !mac_ok(&token.secret, &resp.fields(), &resp.mac) {
        return Err(JoinError::Forged("its signature is wrong"));
    }
    let ca = crate::trust::tls::parse_certs(resp.ca.as_bytes()).map_err(CertsError::from)?;
    if ca.first().map(|c| ca_fingerprint(c)) != Some(token.ca.clone()) {
        return Err(JoinError::Forged("another CA"));
    }
    std::fs::create_dir_all(certs).map_err(|e| JoinError::Io(certs.to_owned(), e))?;
    certs::write_file(&certs::node_key_path(certs, &token.id), key.serialize_pem().as_bytes(), true)?;
    certs::write_file(&certs::node_cert_path(certs, &token.id), resp.cert.as_bytes(), false)?;
    certs::write_file(&certs::ca_cert_path(certs), resp.ca.as_bytes(), false)?;
    Ok(resp.nodes)
}

/// A node's "no", with the reason it gave.
pub(super) fn refusal(r: &crate::infra::http::Response) -> JoinError {
    let why = r.json()["error"]["message"].as_str().map(str::to_owned).unwrap_or_else(|| r.text());
    JoinError::Refused(r.status, why)
}

/// What the CA signs to take node `id` out of the mesh at `at`.
pub fn removal_bytes(id: &str, at: u64) -> Vec<u8> {
    format!("meshchat-remove-node/1\0{id}\0{at}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Token) {
        let dir = tempfile::tempdir().unwrap();
        certs::generate(dir.path(), &["n1".into()], &["127.0.0.1".into()], false).unwrap();
        let t = create(dir.path(), "n4", &["127.0.0.1".into()], "http://127.0.0.1:1", 60_000).unwrap();
        (dir, t)
    }

    fn request(t: &Token, secret: &str) -> JoinRequest {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut r = JoinRequest {
            key: t.key.clone(),
            id: t.id.clone(),
            public_key: B64.encode(key.public_key_raw()),
            mesh: "127.0.0.1:9".into(),
            url: String::new(),
            mac: String::new(),
        };
        let sealed = mac(secret, &r.fields());
        r.mac = sealed;
        r
    }

    #[test]
    fn a_token_round_trips_and_garbage_is_not_one() {
        let (_d, t) = setup();
        assert_eq!(Token::decode(&t.encode()).unwrap(), t);
        assert!(Token::decode("meshchat-join:!!").is_err());
        assert!(Token::decode("hello").is_err());
    }

    #[test]
    fn an_invitation_serves_once_and_only_its_secret_opens_it() {
        let (d, t) = setup();
        assert!(matches!(admit(d.path(), &d.path().join("used"), &request(&t, "guess"), 0), Err(JoinError::BadMac)));
        let mut other = request(&t, &t.secret);
        other.id = "n5".into();
        let sealed = mac(&t.secret, &other.fields());
        other.mac = sealed;
        assert!(matches!(admit(d.path(), &d.path().join("used"), &other, 0), Err(JoinError::WrongNode(_))));
        let ok = admit(d.path(), &d.path().join("used"), &request(&t, &t.secret), 0).unwrap();
        let ca = crate::trust::tls::parse_certs(ok.ca_pem.as_bytes()).unwrap();
        let cert = crate::trust::tls::parse_certs(ok.cert_pem.as_bytes()).unwrap();
        crate::trust::tls::verify_chain_and_name(&ca[0], &cert[0], "n4").unwrap();
        assert!(matches!(admit(d.path(), &d.path().join("used"), &request(&t, &t.secret), 0), Err(JoinError::Used)));
        assert!(!is_waiting(d.path(), &d.path().join("used"), &t.key), "used up");
    }

    #[test]
    fn an_invitation_is_waiting_until_used() {
        let (d, t) = setup();
        assert!(is_waiting(d.path(), &d.path().join("used"), &t.key));
        assert!(!is_waiting(d.path(), &d.path().join("used"), "0123456789abcdef0123456789abcdef"));
        assert!(!is_waiting(d.path(), &d.path().join("used"), "../ca"));
    }

    #[test]
    fn an_expired_invitation_is_refused() {
        let (d, t) = setup();
        let late = t.expires + 1;
        assert!(matches!(
            admit(d.path(), &d.path().join("used"), &request(&t, &t.secret), late),
            Err(JoinError::Expired)
        ));
    }

    #[test]
    fn a_key_naming_another_file_is_unknown() {
        let (d, t) = setup();
        let mut r = request(&t, &t.secret);
        r.key = "../../ca".into();
        assert!(matches!(admit(d.path(), &d.path().join("used"), &r, 0), Err(JoinError::Unknown)));
    }

    #[test]
    fn the_ca_signs_a_removal_its_book_verifies() {
        let (d, _t) = setup();
        let sig = certs::ca_sign(d.path(), &removal_bytes("n4", 5)).unwrap();
        let n1 = crate::trust::tls::Identity::load(d.path(), "n1").unwrap();
        let book = crate::trust::sign::CertBook::new(n1.ca.clone());
        book.verify_ca(&removal_bytes("n4", 5), &sig).unwrap();
        assert!(book.verify_ca(&removal_bytes("n3", 5), &sig).is_err());
        // A node's key is not the CA's.
        let forged = crate::trust::sign::Signer::new(&n1).unwrap().sign_bytes(&removal_bytes("n4", 5)).unwrap();
        assert!(book.verify_ca(&removal_bytes("n4", 5), &forged).is_err());
    }
}
