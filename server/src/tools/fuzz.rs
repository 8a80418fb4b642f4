//! What the fuzzers feed with arbitrary bytes (`fuzz/`, cargo-fuzz), and
//! what `tests/fuzz_corpus.rs` replays from the committed corpora. Each
//! entry point must return, whatever the bytes: no panic, no hang, memory
//! bounded. Every input that ever crashed one is kept in its corpus.

use meshchat_shared::RoomVector;

/// A client's WebSocket frame, as a session decodes and checks it.
pub fn client_frame(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = meshchat_shared::frames::decode_client(text);
    }
}

/// Frames from a node, one JSON text per line, fed to the shared client
/// state (what the web app and the terminal client run).
pub fn server_frames(data: &[u8]) {
    let mut chat = meshchat_shared::client::Chat::new("me", &["general".to_owned()], Some("general"));
    let text = String::from_utf8_lossy(data);
    for (i, line) in text.lines().enumerate().take(256) {
        if let Ok(frame) = serde_json::from_str::<meshchat_shared::ServerFrame>(line) {
            chat.on_frame(frame, 1_000 + i as u64 * 100);
        }
        let _ = chat.outbox();
        let _ = chat.unread_total();
    }
}

/// A peer's mesh frames: the control stream's and a lane's.
pub fn mesh_frame(data: &[u8]) {
    let _ = crate::mesh::proto::decode::<crate::mesh::proto::Control>(data);
    let _ = crate::mesh::proto::decode::<crate::mesh::proto::LaneFrame>(data);
}

/// JSON bodies of the HTTP API, and a search query as typed.
pub fn http_bodies(data: &[u8]) {
    use meshchat_shared::api;
    let _ = serde_json::from_slice::<api::PostMessage>(data);
    let _ = serde_json::from_slice::<api::Register>(data);
    let _ = serde_json::from_slice::<api::CreateRoom>(data);
    let _ = serde_json::from_slice::<api::RoomAction>(data);
    let _ = serde_json::from_slice::<crate::membership::JoinRequest>(data);
    if let Ok(q) = std::str::from_utf8(data) {
        let _ = crate::core::query::parse(q);
        let _ = q.parse::<RoomVector>();
    }
}

/// The core's own (`meshchat_core::fuzz`): they build without the server.
pub use crate::core::fuzz::{origin_peer, room_core};
