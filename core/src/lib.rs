//! The sans-IO core of a node: every decision about a room's messages and
//! about anti-entropy, with no sockets, no tokio, no SQLite and no clock.
//!
//! Inputs arrive as values with the time passed in; outputs are effects the
//! caller carries out (append to the store, acknowledge, fan out, replicate,
//! read, ask a peer). The room actor and the mesh are thin shells around it,
//! and the seeded simulation ([`sim`], behind the `sim` feature) drives the
//! very same code through delays, drops, partitions and crashes.
//!
//! A crate of its own so the compiler keeps it pure: its dependencies are
//! `meshchat-shared`, serde and pure crates, so a tokio, rusqlite or socket
//! import does not build, and `clippy.toml` forbids `std::time`'s clocks.
//!
//! # Layout
//!
//!
//! - [`room`]: [`RoomState`], one room's state machine: idempotency,
//!   duplicate resolution, causal delivery, the commit pipeline, members,
//!   catch-ups, presence, gap requests.
//! - [`log`]: per-origin sequences, stamps and causal delivery.
//! - [`cache`]: the latest messages of a room, for joins and resumes.
//! - [`presence`]: who is online in a room across nodes.
//! - [`digest`]: every room's vector, with a digest comparable in one number.
//! - [`sync`]: anti-entropy with one peer, driven by the digest.
//! - [`peer`]: [`PeerState`], every decision about one peer: anti-entropy,
//!   which wants to serve, ranges in flight, presence it reported, the
//!   restore's ask and answer.
//! - [`claims`]: one value per key agreed by a majority (single-decree
//!   Paxos): account names, invites, the first admin, created rooms.
//! - [`governance`]: a room's events folded in room order: members,
//!   roles, bans, and which messages are part of the room.
//! - [`restore`]: after a restore from backup, which writes wait for the
//!   peers' answers.
//! - [`names`]: people's names (NFC, nothing invisible, confusables) and
//!   text safe for a terminal.
//! - [`query`]: search queries as people type them, made safe for FTS5.
//! - [`sim`] (feature `sim`): the seeded simulation of a whole mesh;
//!   [`sim::fuzz`] lets a fuzzer choose its seed, size and faults.
//! - [`fuzz`]: entry points for the fuzzers that need only the core.

pub mod cache;
pub mod claims;
pub mod digest;
pub mod fuzz;
pub mod governance;
pub mod log;
pub mod names;
pub mod peer;
pub mod presence;
pub mod query;
pub mod restore;
pub mod room;
#[cfg(feature = "sim")]
pub mod sim;
pub mod sync;

pub use digest::VectorIndex;
pub use log::{CausalLog, MAX_PENDING, Proof, Rejected, Signed, preferred};
pub use peer::{PeerIn, PeerOut, PeerState, RoomNote};
pub use presence::{Change, Presence};
pub use room::{CatchUp, Config, ConnId, Effect, Input, Out, ReqId, RoomState, Snapshot, Stored, keep_ms};
pub use sync::{PeerSync, Range, SyncFrame, SyncOut, missing};

/// The body a deleted message keeps: the redaction mark and the SHA-256
/// (hex) of its text, which its origin's signature covers.
pub fn redacted_body(body: &str) -> String {
    use sha2::{Digest, Sha256};
    let hex: String = Sha256::digest(body.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    format!("{}{hex}", meshchat_shared::rooms::REDACTED)
}

/// The message as a delete leaves it: its text replaced by [`redacted_body`].
pub fn without_text(m: &meshchat_shared::Message) -> std::sync::Arc<meshchat_shared::Message> {
    std::sync::Arc::new(meshchat_shared::Message { body: redacted_body(&m.body), ..m.clone() })
}

/// The SHA-256 a signature covers for a body: of the text, or the one a
/// deleted message keeps.
pub fn body_digest(body: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    if let Some(hex) = body.strip_prefix(meshchat_shared::rooms::REDACTED)
        && hex.len() == 64
    {
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0);
        }
        return out;
    }
    Sha256::digest(body.as_bytes()).into()
}

/// A 64-bit hash of an idempotency key (FNV-1a): stored on disk and
/// indexed, so it must never change. Collisions only cost a lookup: a hit
/// is always confirmed against the author and id themselves.
pub fn idem_hash(author: &str, id: &str) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    // 0xff cannot occur in UTF-8: author and id cannot run into each other.
    for b in author.bytes().chain([0xff]).chain(id.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(PRIME);
    }
    h
}
