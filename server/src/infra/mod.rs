//! Infrastructure every part of a node uses, and no part's rules: the wall
//! clock, logging, metrics, settings, and outbound TLS and HTTP.

pub mod clock;
pub mod config;
pub mod http;
pub mod logs;
pub mod metrics;
pub mod tls;

/// A random id (128 bits, hex): tokens, client message ids, log entries.
pub fn random_id() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
