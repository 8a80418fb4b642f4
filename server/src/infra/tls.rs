//! Connections from the native tools (the terminal client, `meshchat
//! status`, `invite-node`, `remove-node`, a node joining, the harness's
//! HTTP client) to a node, plain or over TLS. Trusted: the public roots
//! (webpki-roots, compiled in: no system store needed, as in a `FROM
//! scratch` image), the certificates of the file `SSL_CERT_FILE` names
//! (the usual way to hand tools a private CA), and a CA given with `--ca`
//! to any `meshchat` command.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::RootCertStore;
use rustls::pki_types::ServerName;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

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

pub fn parse_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>().map_err(|e| TlsError::Pem(e.to_string()))
}

#[derive(Debug, Error)]
pub enum ConnectError {
    #[error("{0:?} is not a node's address: give it with its scheme, like https://n1.chat.example.org")]
    Url(String),
    #[error("cannot connect to {0}: {1}")]
    Io(String, #[source] std::io::Error),
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
}

/// A byte stream to a node, plain or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Whom a client trusts for `https://` and `wss://`.
#[derive(Clone)]
pub struct TlsClient(TlsConnector);

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsClient")
    }
}

/// What `--ca` added, for every connection of this process.
static EXTRA_CA: OnceLock<std::path::PathBuf> = OnceLock::new();

/// Trusts the CA in `ca` too, for every connection this process makes
/// from now on (the `--ca` of every command); checked at once.
pub fn trust(ca: &Path) -> Result<(), TlsError> {
    TlsClient::new(Some(ca))?;
    let _ = EXTRA_CA.set(ca.to_owned());
    Ok(())
}

fn add_pem(roots: &mut RootCertStore, path: &Path) -> Result<(), TlsError> {
    let pem = std::fs::read(path).map_err(|e| TlsError::Read(path.display().to_string(), e))?;
    for cert in parse_certs(&pem)? {
        roots.add(cert).map_err(|e| TlsError::Config(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}

impl TlsClient {
    /// The public roots, `SSL_CERT_FILE`'s, and the CA in `ca` if given (a
    /// private mesh's).
    pub fn new(ca: Option<&Path>) -> Result<TlsClient, TlsError> {
        let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        if let Some(file) = std::env::var_os("SSL_CERT_FILE").filter(|f| !f.is_empty()) {
            // A bundle of many: one that does not parse is skipped, not fatal.
            if let Err(e) = add_pem(&mut roots, Path::new(&file)) {
                tracing::warn!("SSL_CERT_FILE: {e}");
            }
        }
        if let Some(ca) = ca.or(EXTRA_CA.get().map(|p| p.as_path())) {
            add_pem(&mut roots, ca)?;
        }
        TlsClient::with_roots(roots)
    }

    fn with_roots(roots: RootCertStore) -> Result<TlsClient, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsClient(TlsConnector::from(Arc::new(config))))
    }

    /// What this process trusts (see the module's doc), built once.
    pub fn public() -> TlsClient {
        static PUBLIC: OnceLock<TlsClient> = OnceLock::new();
        PUBLIC
            .get_or_init(|| {
                TlsClient::new(None)
                    .or_else(|_| {
                        TlsClient::with_roots(RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() })
                    })
                    .unwrap_or_else(|e| panic!("the built-in roots: {e}"))
            })
            .clone()
    }
}

/// `(tls, host:port, host)` of an `http(s)://` or `ws(s)://` URL.
pub fn split_url(url: &str) -> Result<(bool, String, String), ConnectError> {
    let bad = || ConnectError::Url(url.to_owned());
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let tls = match scheme {
        "http" | "ws" => false,
        "https" | "wss" => true,
        _ => return Err(bad()),
    };
    let authority = rest.split(['/', '?', '#']).next().filter(|a| !a.is_empty()).ok_or_else(bad)?;
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().ok_or_else(bad)?.to_owned(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h).to_owned(),
    };
    let addr = if authority.starts_with('[') && authority.ends_with(']') || !authority.contains(':') {
        format!("{authority}:{}", if tls { 443 } else { 80 })
    } else {
        authority.to_owned()
    };
    Ok((tls, addr, host))
}

/// Opens a stream to the node of `url`, through TLS for `https`/`wss`.
pub async fn open(url: &str, tls: &TlsClient) -> Result<Box<dyn Io>, ConnectError> {
    let (secure, addr, host) = split_url(url)?;
    let tcp = TcpStream::connect(&addr).await.map_err(|e| ConnectError::Io(addr.clone(), e))?;
    // Chat frames are small: no Nagle.
    let _ = tcp.set_nodelay(true);
    if !secure {
        return Ok(Box::new(tcp));
    }
    let name = ServerName::try_from(host.clone()).map_err(|_| ConnectError::Url(url.to_owned()))?;
    let stream = tls.0.connect(name, tcp).await.map_err(|e| ConnectError::Io(addr, e))?;
    Ok(Box::new(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_their_address_and_host() {
        let s = |u: &str| split_url(u).unwrap();
        assert_eq!(s("ws://127.0.0.1:8081/ws"), (false, "127.0.0.1:8081".into(), "127.0.0.1".into()));
        assert_eq!(s("wss://chat.example.org/ws"), (true, "chat.example.org:443".into(), "chat.example.org".into()));
        assert_eq!(s("https://[::1]:8443/api"), (true, "[::1]:8443".into(), "::1".into()));
        assert_eq!(s("http://[::1]/"), (false, "[::1]:80".into(), "::1".into()));
        assert!(split_url("ftp://x").is_err());
        assert!(split_url("http:///nohost").is_err());
    }
}
