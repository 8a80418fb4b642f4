//! Mutual TLS for the mesh, with ring as the only crypto provider.
//!
//! Both ends present a certificate signed by the cluster CA. The dialer
//! names the peer it wants (its node id) and rustls checks the server's
//! certificate names it; the acceptor checks that the client's certificate
//! names the node id it claims in its hello. ALPN carries the mesh protocol
//! and its version, so a node of another version is refused in the handshake.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use thiserror::Error;

/// Every version this node speaks, newest first: TLS settles on the newest
/// both ends speak, so an upgraded node still links with one not yet upgraded.
pub fn alpn() -> Vec<Vec<u8>> {
    use super::proto::{MESH_VERSION, MIN_MESH_VERSION};
    (MIN_MESH_VERSION..=MESH_VERSION).rev().map(|v| format!("meshchat-mesh/{v}").into_bytes()).collect()
}

/// `meshchat-mesh/3` → 3.
pub fn version_of(alpn: &[u8]) -> Option<u32> {
    std::str::from_utf8(alpn).ok()?.strip_prefix("meshchat-mesh/")?.parse().ok()
}

/// The version a connection settled on in its handshake.
pub fn negotiated(conn: &quinn::Connection) -> Option<u32> {
    let data = conn.handshake_data()?.downcast::<quinn::crypto::rustls::HandshakeData>().ok()?;
    version_of(data.protocol.as_deref()?)
}

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    #[error("no certificate in {0}")]
    NoCert(String),
    #[error("no usable private key in {0}")]
    NoKey(String),
    #[error("bad PEM: {0}")]
    Pem(String),
    #[error("TLS configuration: {0}")]
    Config(String),
    #[error("certificate does not chain to the cluster CA: {0}")]
    Chain(String),
    #[error("certificate does not name node {0:?}")]
    Name(String),
}

/// This node's certificate and key, and the CA it trusts.
pub struct Identity {
    pub ca: CertificateDer<'static>,
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Identity {
    /// Reads `dir/ca.pem`, `dir/<node>.pem` and `dir/<node>.key`.
    pub fn load(dir: &Path, node: &str) -> Result<Identity, TlsError> {
        let read = |name: String| {
            let path = dir.join(&name);
            std::fs::read(&path).map_err(|e| TlsError::Read(path.display().to_string(), e))
        };
        let ca = parse_certs(&read("ca.pem".into())?)?.into_iter().next().ok_or(TlsError::NoCert("ca.pem".into()))?;
        let chain = parse_certs(&read(format!("{node}.pem"))?)?;
        if chain.is_empty() {
            return Err(TlsError::NoCert(format!("{node}.pem")));
        }
        let key = PrivateKeyDer::from_pem_slice(&read(format!("{node}.key"))?)
            .map_err(|_| TlsError::NoKey(format!("{node}.key")))?;
        Ok(Identity { ca, chain, key })
    }
}

pub fn parse_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>().map_err(|e| TlsError::Pem(e.to_string()))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(ca: &CertificateDer<'static>) -> Result<Arc<RootCertStore>, TlsError> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).map_err(|e| TlsError::Config(e.to_string()))?;
    Ok(Arc::new(roots))
}

/// Keep-alives every second and an idle timeout of 3 s: a dead peer is
/// noticed within 3 s. A peer opens one control stream and a fixed set of
/// lanes that carry every room, so the stream limits are small whatever the
/// room count (a lane that broke is reopened; its credit comes back).
pub fn transport() -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    t.keep_alive_interval(Some(Duration::from_millis(1000)));
    t.max_idle_timeout(quinn::IdleTimeout::try_from(Duration::from_secs(3)).ok());
    t.max_concurrent_uni_streams(quinn::VarInt::from_u32(2 * super::proto::LANES as u32));
    // The handshake's control stream, and file streams (`files`).
    t.max_concurrent_bidi_streams(quinn::VarInt::from_u32(2 + super::files::FILE_STREAMS));
    Arc::new(t)
}

pub fn server_config(id: &Identity) -> Result<quinn::ServerConfig, TlsError> {
    let cfg_err = |e: rustls::Error| TlsError::Config(e.to_string());
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(&id.ca)?, provider())
        .build()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(cfg_err)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(id.chain.clone(), id.key.clone_key())
        .map_err(cfg_err)?;
    tls.alpn_protocols = alpn();
    let quic = QuicServerConfig::try_from(tls).map_err(|e| TlsError::Config(e.to_string()))?;
    let mut cfg = quinn::ServerConfig::with_crypto(Arc::new(quic));
    cfg.transport_config(transport());
    Ok(cfg)
}

pub fn client_config(id: &Identity) -> Result<quinn::ClientConfig, TlsError> {
    client_config_with_alpns(id, alpn())
}

/// A client speaking one other ALPN: only tests use anything but [`alpn`].
pub fn client_config_with_alpn(id: &Identity, alpn: &[u8]) -> Result<quinn::ClientConfig, TlsError> {
    client_config_with_alpns(id, vec![alpn.to_vec()])
}

fn client_config_with_alpns(id: &Identity, alpn: Vec<Vec<u8>>) -> Result<quinn::ClientConfig, TlsError> {
    let cfg_err = |e: rustls::Error| TlsError::Config(e.to_string());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(cfg_err)?
        .with_root_certificates(roots(&id.ca)?)
        .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
        .map_err(cfg_err)?;
    tls.alpn_protocols = alpn;
    let quic = QuicClientConfig::try_from(tls).map_err(|e| TlsError::Config(e.to_string()))?;
    let mut cfg = quinn::ClientConfig::new(Arc::new(quic));
    cfg.transport_config(transport());
    Ok(cfg)
}

/// Does the (already chain-verified) leaf certificate name `node`?
pub fn names_node(leaf: &CertificateDer<'_>, node: &str) -> Result<(), TlsError> {
    let cert = webpki::EndEntityCert::try_from(leaf).map_err(|e| TlsError::Chain(e.to_string()))?;
    let name = ServerName::try_from(node).map_err(|_| TlsError::Name(node.to_owned()))?;
    cert.verify_is_valid_for_subject_name(&name).map_err(|_| TlsError::Name(node.to_owned()))
}

/// The certificate a QUIC peer presented, if any.
pub fn peer_leaf(conn: &quinn::Connection) -> Option<CertificateDer<'static>> {
    let any = conn.peer_identity()?;
    let certs = any.downcast::<Vec<CertificateDer<'static>>>().ok()?;
    certs.into_iter().next()
}

/// Full check, as peers do it: chains to `ca` for mesh use, and names `node`.
pub fn verify_chain_and_name(ca: &CertificateDer<'_>, leaf: &CertificateDer<'_>, node: &str) -> Result<(), TlsError> {
    let anchor = webpki::anchor_from_trusted_cert(ca).map_err(|e| TlsError::Chain(e.to_string()))?;
    let cert = webpki::EndEntityCert::try_from(leaf).map_err(|e| TlsError::Chain(e.to_string()))?;
    let algs = rustls::crypto::ring::default_provider().signature_verification_algorithms.all;
    for usage in [webpki::KeyUsage::server_auth(), webpki::KeyUsage::client_auth()] {
        cert.verify_for_usage(algs, std::slice::from_ref(&anchor), &[], UnixTime::now(), usage, None, None)
            .map_err(|e| TlsError::Chain(format!("{e:?}")))?;
    }
    names_node(leaf, node)
}
