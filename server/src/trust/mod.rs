//! The cluster's keys and certificates: the CA and node certificates
//! (`meshchat certs`), a node's identity on disk, the mesh's mutual TLS,
//! and message signatures checked against the certificate book.

pub mod certs;
pub mod identity;
pub mod sign;
pub mod tls;
