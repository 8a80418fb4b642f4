//! Mutual TLS for the mesh, with ring as the only crypto provider.
//!
//! Both ends present a certificate signed by the cluster CA. The dialer
//! names the peer it wants (its node id) and rustls checks the server's
//! certificate names it; the acceptor checks that the client's certificate
//! names the node id it claims in its hello. ALPN carries the mesh protocol
//! and its version, so a node of another version is refused in the handshake.

use std::sync::Arc;
use std::time::Duration;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::server::WebPkiClientVerifier;

pub use crate::trust::tls::{Identity, TlsError, names_node};

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

pub fn server_config(id: &Identity, alpn: Vec<Vec<u8>>) -> Result<quinn::ServerConfig, TlsError> {
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
    tls.alpn_protocols = alpn;
    let quic = QuicServerConfig::try_from(tls).map_err(|e| TlsError::Config(e.to_string()))?;
    let mut cfg = quinn::ServerConfig::with_crypto(Arc::new(quic));
    cfg.transport_config(transport());
    Ok(cfg)
}

pub fn client_config(id: &Identity, alpn: Vec<Vec<u8>>) -> Result<quinn::ClientConfig, TlsError> {
    client_config_with_alpns(id, alpn)
}

/// A client speaking one ALPN only (tests of old and unknown versions).
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

/// The certificate a QUIC peer presented, if any.
pub fn peer_leaf(conn: &quinn::Connection) -> Option<CertificateDer<'static>> {
    let any = conn.peer_identity()?;
    let certs = any.downcast::<Vec<CertificateDer<'static>>>().ok()?;
    certs.into_iter().next()
}
