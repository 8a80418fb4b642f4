//! HTTPS and wss:// served by the node itself (`--tls-cert`/`--tls-key`),
//! with ring as the provider, as for the mesh.
//!
//! The certificate is read again when its files change (a renewal by
//! certbot or an operator's copy), checked every few seconds: new
//! connections get the new certificate, open ones keep theirs, and a bad
//! file leaves the old certificate in place, with a warning.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::trust::tls::{TlsError, parse_certs};

/// Where the certificate chain and its key are.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// How often the files are checked for a change.
    pub reload_every: Duration,
}

/// The certificate new connections get.
#[derive(Debug)]
struct Current {
    key: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.key.read().unwrap_or_else(|p| p.into_inner()).clone())
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::Read(path.display().to_string(), e))
}

/// Reads and checks the pair.
fn load(files: &TlsFiles) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain = parse_certs(&read(&files.cert)?)?;
    if chain.is_empty() {
        return Err(TlsError::NoCert(files.cert.display().to_string()));
    }
    let key = PrivateKeyDer::from_pem_slice(&read(&files.key)?)
        .map_err(|_| TlsError::NoKey(files.key.display().to_string()))?;
    let key = rustls::crypto::ring::sign::any_supported_type(&key).map_err(|e| TlsError::Config(e.to_string()))?;
    let certified = CertifiedKey::new(chain, key);
    // A key that does not go with the certificate is refused now, not at
    // every client's handshake.
    certified.keys_match().map_err(|e| TlsError::Config(format!("the key does not match the certificate: {e}")))?;
    Ok(Arc::new(certified))
}

fn modified(files: &TlsFiles) -> Option<(SystemTime, SystemTime)> {
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    Some((m(&files.cert)?, m(&files.key)?))
}

/// An acceptor for the node's listener; a task reloads the certificate
/// when its files change, until `stop`.
pub fn acceptor(files: TlsFiles, stop: CancellationToken) -> Result<TlsAcceptor, TlsError> {
    let current = Arc::new(Current { key: RwLock::new(load(&files)?) });
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(current.clone());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    tokio::spawn(reload(files, current, stop));
    Ok(TlsAcceptor::from(Arc::new(config)))
}

async fn reload(files: TlsFiles, current: Arc<Current>, stop: CancellationToken) {
    let mut seen = modified(&files);
    // The files' times when a reload last failed: warned once per change.
    let mut warned = None;
    let mut tick = tokio::time::interval(files.reload_every);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = modified(&files);
        if now == seen || now == warned {
            continue;
        }
        match load(&files) {
            Ok(key) => {
                *current.key.write().unwrap_or_else(|p| p.into_inner()) = key;
                seen = now;
                tracing::info!(cert = %files.cert.display(), "TLS certificate reloaded");
            }
            // Half-written files, most likely: tried again when they change.
            Err(e) => {
                warned = now;
                tracing::warn!(cert = %files.cert.display(), "cannot reload the TLS certificate: {e}");
            }
        }
    }
}
