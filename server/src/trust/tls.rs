//! A node's certificate and key as loaded from disk, and the checks of a
//! certificate against the cluster CA and a node id (the mesh's TLS is
//! `mesh::tls`).

use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

pub use crate::infra::tls::{TlsError, parse_certs};

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

/// Does the (already chain-verified) leaf certificate name `node`?
pub fn names_node(leaf: &CertificateDer<'_>, node: &str) -> Result<(), TlsError> {
    let cert = webpki::EndEntityCert::try_from(leaf).map_err(|e| TlsError::Chain(e.to_string()))?;
    let name = ServerName::try_from(node).map_err(|_| TlsError::Name(node.to_owned()))?;
    cert.verify_is_valid_for_subject_name(&name).map_err(|_| TlsError::Name(node.to_owned()))
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
