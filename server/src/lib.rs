//! meshchat: one node of a self-hosted, distributed, real-time chat.
//!
//! A node serves browsers over WebSocket and HTTP, stores every room in
//! SQLite, and (with the mesh) replicates rooms to its peers.
//!
//! # Layout
//!
//! Four layers; each names only those above it in this list, and no
//! module names the tools (`tests/layout.rs` checks both on the source).
//!
//! **The core**, [`core`] (the `meshchat-core` crate): every decision about
//! a room's messages, anti-entropy, claims, governance, names and search
//! queries, sans-IO: time is an input, effects are outputs. The seeded
//! simulation drives it.
//!
//! **Infrastructure**, [`infra`]: clock, logs, metrics, settings, outbound
//! TLS and HTTP (hyper's client).
//!
//! **The I/O shells**, each feeding the core and carrying out its effects:
//! - [`store`]: SQLite in WAL mode (group commit on a writer thread,
//!   checkpoints on another), the search index, files by their SHA-256.
//! - [`room`]: one actor per room around its state machine, the hub that
//!   starts them, the restore gate; [`room::Broker`] is all a room knows of
//!   the mesh.
//! - [`trust`]: the cluster's CA, node certificates, mutual TLS, signatures,
//!   the OpenID Connect relying party of single sign-on.
//! - [`mesh`]: QUIC links to peers, replication streams, anti-entropy, the
//!   node list clients see ([`mesh::cluster`]).
//! - [`accounts`]: accounts, sessions valid on every node, API tokens,
//!   invitations; names unique across the mesh by majority claims.
//! - [`membership`]: nodes joining with a token, and removed for good.
//! - [`push`]: Web Push of mentions, direct messages and replies in the
//!   threads one follows, by the node that accepted them, to the browsers
//!   their people subscribed.
//! - [`edge`]: where clients meet the node: the axum router (`/ws`, the
//!   JSON API, the long poll, `/metrics`, the web app), WebSocket sessions,
//!   per-address limits, requests on a person's behalf.
//! - [`node`]: wires the shells together; start and clean stop.
//!
//! **Tools**, [`tools`] (feature `tools`, on by default; the node builds
//! without it): the test harness, the load generator, the native and
//! terminal client, the local launcher, `meshchat status`, fuzz entry points.

pub mod accounts;
pub mod edge;
pub mod infra;
pub mod membership;
pub mod mesh;
pub mod node;
pub mod push;
pub mod room;
pub mod store;
#[cfg(feature = "tools")]
pub mod tools;
pub mod trust;

/// The sans-IO core, a crate of its own so that nothing in it can reach
/// for a socket, a runtime, SQLite or the clock.
pub use meshchat_core as core;
pub use node::{Node, NodeConfig, NodeError};
