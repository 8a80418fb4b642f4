//! The cluster's keys and certificates: the CA and node certificates
//! (`meshchat certs`), a node's identity on disk, the mesh's mutual TLS,
//! message signatures checked against the certificate book, and Web Push's
//! encryption and VAPID signatures.

pub mod certs;
pub mod identity;
pub mod oidc;
pub mod sign;
pub mod tls;
pub mod webpush;
