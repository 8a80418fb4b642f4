//! meshchat: one node of a self-hosted, distributed, real-time chat.
//!
//! A node serves browsers over WebSocket and HTTP, stores every room in
//! SQLite, and (with the mesh) replicates rooms to its peers.
//!
//! # Layout
//!
//! - [`node`]: wires the parts below together; start and clean stop.
//! - [`accounts`]: accounts, sessions valid on every node, API tokens,
//!   invitations; names unique across the mesh by majority claims.
//! - [`session`]: one client connection, frame by frame; generic over the
//!   socket so it is unit-tested over channels.
//! - [`conn`]: a connection as rooms see it: a bounded queue of
//!   pre-serialised frames and a close signal.
//! - [`core`]: the sans-IO core: each room's state machine (idempotency,
//!   duplicates, causal delivery, commits, members, presence) and
//!   anti-entropy by digest. No I/O, no clock; the simulation drives it.
//! - [`room`]: one actor per room, a thin shell around its state machine,
//!   and the hub that starts (and retires) them; [`room::Broker`] is all a
//!   room knows of the mesh.
//! - [`store`]: SQLite in WAL mode; group commit on a writer thread,
//!   checkpoints on another, so no commit waits for one.
//! - [`http`]: the axum router: `/ws`, the JSON API, the long poll, `/metrics`,
//!   and the web app (gzip copies, hashed files cached for good).
//! - [`mesh`]: QUIC links to peers (mutual TLS), replication streams,
//!   anti-entropy; [`certs`] makes the cluster's certificates.
//! - [`cluster`]: the node list clients see, with liveness.
//! - [`launcher`]: `meshchat cluster`, a local mesh for trying it out.
//! - [`harness`]: node processes and a small HTTP client, shared by the
//!   tests, the benchmarks and the launcher.
//! - [`client`]: a native client (rotation, resume, outbox) for scripts,
//!   bots, tests and the failover benchmark; `meshchat client` runs it.
//! - [`bench`]: `meshchat bench`, the load generator and its scenarios.
//! - [`govern`]: room requests on behalf of a user (create, act, direct
//!   messages) and the read check, for the WebSocket and HTTP alike; the
//!   rules themselves are `core::governance`.
//! - [`guard`]: what one client address may make the node spend.
//! - [`logs`]: logging setup, and log lines that cannot flood.
//! - [`metrics`]: counters and gauges in the Prometheus text format.
//! - [`names`]: user names (NFC, nothing invisible, confusables) and text
//!   safe for a terminal.
//! - [`files`]: shared files, stored by their SHA-256, complete or not at all.
//! - [`search`]: search queries as people type them, made safe for FTS5
//!   (the index itself is `store::search`).
//! - [`config`]: `meshchat node`'s settings from a TOML file and the environment.
//! - [`status`]: `meshchat status`, the mesh as a table.
//! - [`membership`]: nodes joining with a token, and removed for good.
//! - [`fuzz`]: what the fuzzers (`fuzz/`) feed with arbitrary bytes.
//! - [`clock`]: wall-clock milliseconds, for everything outside the core.

pub mod accounts;
pub mod bench;
pub mod certs;
pub mod client;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod conn;
pub mod files;
pub mod fuzz;
pub mod govern;
pub mod guard;
pub mod harness;
pub mod http;
pub mod identity;
pub mod launcher;
pub mod logs;
pub mod membership;
pub mod mesh;
pub mod metrics;
pub mod node;
pub mod room;
pub mod session;
pub mod status;
pub mod store;

/// The sans-IO core, a crate of its own so that nothing in it can reach
/// for a socket, a runtime, SQLite or the clock.
pub use meshchat_core as core;
pub use node::{Node, NodeConfig, NodeError};
