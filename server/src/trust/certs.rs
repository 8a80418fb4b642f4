//! `meshchat certs`: a cluster CA and one certificate per node.
//!
//! Each node certificate names the node id (as a DNS name, which is what the
//! mesh checks against the id a peer claims) and the hosts it is reached at.
//! Keys are written 0600, and nothing is overwritten without `--force`.

use std::io::Write;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use thiserror::Error;

use rustls::pki_types::pem::PemObject;

use crate::trust::tls;

#[derive(Debug, Error)]
pub enum CertsError {
    #[error("invalid node id {0:?}: {1}")]
    BadId(String, meshchat_shared::Invalid),
    #[error("{0} already exists; pass --force to replace it")]
    Exists(PathBuf),
    #[error("cannot write {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("cannot make a certificate: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("{0}")]
    Verify(#[from] tls::TlsError),
}

/// What `certs` did, for the operator.
#[derive(Debug, Default)]
pub struct Report {
    pub created: Vec<PathBuf>,
    pub reused_ca: bool,
}

pub fn ca_cert_path(dir: &Path) -> PathBuf {
    dir.join("ca.pem")
}
pub fn ca_key_path(dir: &Path) -> PathBuf {
    dir.join("ca.key")
}
pub fn node_cert_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.pem"))
}
pub fn node_key_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.key"))
}

/// The CA's parameters. Fixed, so that an existing CA key can sign new node
/// certificates with exactly the issuer name and key id the CA has.
fn ca_params() -> Result<CertificateParams, rcgen::Error> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "meshchat cluster CA");
    dn.push(DnType::OrganizationName, "meshchat");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    Ok(p)
}

fn node_params(id: &str, hosts: &[String]) -> Result<CertificateParams, rcgen::Error> {
    let mut names = vec![id.to_owned()];
    names.extend(hosts.iter().filter(|h| h.as_str() != id).cloned());
    let mut p = CertificateParams::new(names)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, id);
    dn.push(DnType::OrganizationName, "meshchat");
    p.distinguished_name = dn;
    p.use_authority_key_identifier_extension = true;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    // Every node is both a server and a client of the mesh.
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    Ok(p)
}

/// An ECDSA P-256 public key as a joining node sends it (SEC1, uncompressed).
struct P256Public<'a>(&'a [u8]);

impl rcgen::PublicKeyData for P256Public<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.0
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

/// The CA in `dir` (its key and certificate), to sign with.
fn load_ca(dir: &Path) -> Result<(KeyPair, String), CertsError> {
    let read = |p: PathBuf| std::fs::read_to_string(&p).map_err(|e| CertsError::Io(p, e));
    Ok((KeyPair::from_pem(&read(ca_key_path(dir))?)?, read(ca_cert_path(dir))?))
}

/// Signs a certificate for node `id` over a public key it made itself (its
/// private key never leaves it): what a node joining with a token gets.
/// Returns the certificate and the CA's, both PEM.
pub fn sign_for(dir: &Path, id: &str, hosts: &[String], public: &[u8]) -> Result<(String, String), CertsError> {
    meshchat_shared::limits::validate_node_id(id).map_err(|e| CertsError::BadId(id.to_owned(), e))?;
    if public.len() != 65 || public[0] != 4 {
        return Err(CertsError::Rcgen(rcgen::Error::CouldNotParseKeyPair));
    }
    let (ca_key, ca_pem) = load_ca(dir)?;
    let issuer = Issuer::new(ca_params()?, ca_key);
    let cert = node_params(id, hosts)?.signed_by(&P256Public(public), &issuer)?;
    let ca_der =
        tls::parse_certs(ca_pem.as_bytes())?.into_iter().next().ok_or(tls::TlsError::NoCert("ca.pem".into()))?;
    tls::verify_chain_and_name(&ca_der, cert.der(), id)?;
    Ok((cert.pem(), ca_pem))
}

/// Signs `bytes` with the CA's key (a node's removal), as
/// [`crate::trust::sign::CertBook::verify_ca`] checks it.
pub fn ca_sign(dir: &Path, bytes: &[u8]) -> Result<Vec<u8>, CertsError> {
    let key = std::fs::read(ca_key_path(dir)).map_err(|e| CertsError::Io(ca_key_path(dir), e))?;
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(&key)
        .map_err(|_| tls::TlsError::NoKey(ca_key_path(dir).display().to_string()))?;
    let signer = crate::trust::sign::Signer::from_key(&key).map_err(|e| tls::TlsError::Config(e.to_string()))?;
    signer.sign_bytes(bytes).ok_or_else(|| tls::TlsError::Config("the CA key cannot sign".into()).into())
}

/// Creates (or completes) the certificates in `dir` for `nodes`.
pub fn generate(dir: &Path, nodes: &[String], hosts: &[String], force: bool) -> Result<Report, CertsError> {
    for id in nodes {
        meshchat_shared::limits::validate_node_id(id).map_err(|e| CertsError::BadId(id.clone(), e))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| CertsError::Io(dir.to_owned(), e))?;
    if !force {
        for id in nodes {
            for p in [node_cert_path(dir, id), node_key_path(dir, id)] {
                if p.exists() {
                    return Err(CertsError::Exists(p));
                }
            }
        }
    }
    let mut report = Report::default();
    // An existing CA is kept even with --force: a new one would orphan every
    // node certificate made before.
    let (ca_key, ca_pem) = match (std::fs::read_to_string(ca_key_path(dir)), std::fs::read_to_string(ca_cert_path(dir)))
    {
        (Ok(key), Ok(pem)) => {
            report.reused_ca = true;
            (KeyPair::from_pem(&key)?, pem)
        }
        _ => {
            let key = KeyPair::generate()?;
            let cert = ca_params()?.self_signed(&key)?;
            write_file(&ca_key_path(dir), key.serialize_pem().as_bytes(), true)?;
            write_file(&ca_cert_path(dir), cert.pem().as_bytes(), false)?;
            report.created.extend([ca_key_path(dir), ca_cert_path(dir)]);
            (key, cert.pem())
        }
    };
    let issuer = Issuer::new(ca_params()?, ca_key);
    let ca_der =
        tls::parse_certs(ca_pem.as_bytes())?.into_iter().next().ok_or(tls::TlsError::NoCert("ca.pem".into()))?;
    for id in nodes {
        let key = KeyPair::generate()?;
        let cert = node_params(id, hosts)?.signed_by(&key, &issuer)?;
        // Check it the way peers will: chains to the CA, names the node.
        tls::verify_chain_and_name(&ca_der, cert.der(), id)?;
        write_file(&node_key_path(dir, id), key.serialize_pem().as_bytes(), true)?;
        write_file(&node_cert_path(dir, id), cert.pem().as_bytes(), false)?;
        report.created.extend([node_key_path(dir, id), node_cert_path(dir, id)]);
    }
    Ok(report)
}

pub(crate) fn write_file(path: &Path, data: &[u8], secret: bool) -> Result<(), CertsError> {
    let err = |e| CertsError::Io(path.to_owned(), e);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if secret { 0o600 } else { 0o644 });
    }
    let mut f = opts.open(path).map_err(err)?;
    // The mode only applies to a new file: tighten one that existed.
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    }
    f.write_all(data).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn makes_a_ca_and_node_certs_with_private_keys() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = ids(&["127.0.0.1", "localhost"]);
        let r = generate(dir.path(), &ids(&["n1", "n2"]), &hosts, false).unwrap();
        assert_eq!(r.created.len(), 6);
        assert!(!r.reused_ca);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for key in ["ca.key", "n1.key", "n2.key"] {
                let mode = std::fs::metadata(dir.path().join(key)).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{key}");
            }
        }
        let ca = tls::parse_certs(&std::fs::read(dir.path().join("ca.pem")).unwrap()).unwrap().remove(0);
        let n1 = tls::parse_certs(&std::fs::read(dir.path().join("n1.pem")).unwrap()).unwrap().remove(0);
        tls::verify_chain_and_name(&ca, &n1, "n1").unwrap();
        assert!(tls::verify_chain_and_name(&ca, &n1, "n2").is_err(), "n1's certificate does not name n2");
    }

    #[test]
    fn never_overwrites_without_force_and_keeps_the_ca() {
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), &ids(&["n1"]), &[], false).unwrap();
        let ca_before = std::fs::read(dir.path().join("ca.pem")).unwrap();
        let key_before = std::fs::read(dir.path().join("n1.key")).unwrap();
        assert!(matches!(generate(dir.path(), &ids(&["n1"]), &[], false), Err(CertsError::Exists(_))));
        assert_eq!(std::fs::read(dir.path().join("n1.key")).unwrap(), key_before);
        // A new node later is signed by the same CA.
        let r = generate(dir.path(), &ids(&["n4"]), &[], false).unwrap();
        assert!(r.reused_ca);
        let ca = tls::parse_certs(&ca_before).unwrap().remove(0);
        let n4 = tls::parse_certs(&std::fs::read(dir.path().join("n4.pem")).unwrap()).unwrap().remove(0);
        tls::verify_chain_and_name(&ca, &n4, "n4").unwrap();
        // --force replaces the node's files, not the CA.
        generate(dir.path(), &ids(&["n1"]), &[], true).unwrap();
        assert_ne!(std::fs::read(dir.path().join("n1.key")).unwrap(), key_before);
        assert_eq!(std::fs::read(dir.path().join("ca.pem")).unwrap(), ca_before);
    }

    #[test]
    fn refuses_bad_node_ids() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(generate(dir.path(), &ids(&["N1"]), &[], false), Err(CertsError::BadId(..))));
    }
}
