//! This node's keys: its certificate (the mesh's, or for a node alone one
//! made in its data directory), what signs with it (messages, tokens), and
//! the certificates of the other nodes.

use std::path::Path;
use std::sync::Arc;

use crate::accounts::token::Keys;
use crate::trust::sign::{CertBook, SignError, Signer};
use crate::trust::tls::{Identity, TlsError};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error("cannot make this node's key: {0}")]
    Make(#[from] crate::trust::certs::CertsError),
}

pub struct NodeKeys {
    pub node: String,
    pub identity: Identity,
    pub signer: Arc<Signer>,
    pub book: Arc<CertBook>,
}

impl NodeKeys {
    /// The mesh's certificate for `node` from `dir`.
    pub fn load(node: &str, dir: &Path) -> Result<NodeKeys, KeyError> {
        let identity = Identity::load(dir, node)?;
        let signer = Arc::new(Signer::new(&identity)?);
        let book = Arc::new(CertBook::new(identity.ca.clone()));
        if let Some(own) = identity.chain.first() {
            book.learn(node, own)?;
        }
        Ok(NodeKeys { node: node.to_owned(), identity, signer, book })
    }

    /// For a node without peers: a certificate of its own in `data/identity`,
    /// made on first start.
    pub fn local(node: &str, data: &Path) -> Result<NodeKeys, KeyError> {
        let dir = data.join("identity");
        if !crate::trust::certs::node_cert_path(&dir, node).exists() {
            crate::trust::certs::generate(&dir, &[node.to_owned()], &["localhost".into()], false)?;
        }
        Self::load(node, &dir)
    }
}

impl Keys for NodeKeys {
    fn node(&self) -> &str {
        &self.node
    }

    fn sign(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        self.signer.sign_bytes(bytes)
    }

    fn verify(&self, node: &str, bytes: &[u8], sig: &[u8]) -> bool {
        self.book.verify_bytes(node, bytes, sig).is_ok()
    }
}
