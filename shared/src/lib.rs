//! The meshchat client protocol, shared by the node and the web app.
//!
//! Everything a node and a client say to each other is declared here once:
//! the server and the WebAssembly app both depend on this crate, so a field
//! renamed here is renamed everywhere. There is no I/O and no async runtime in
//! it, so it compiles for `wasm32-unknown-unknown`.
//!
//! # Layout
//!
//! - [`limits`]: the protocol's names and limits and the functions that check them.
//! - [`vector`]: [`RoomVector`], "which messages of a room I hold", per origin node.
//! - [`message`]: [`Message`] and its total order key [`Cursor`] `(ts, origin, seq)`.
//! - [`profile`]: people's profiles (display name, status, time zone, availability) and their rules.
//! - [`frames`]: the WebSocket frames, [`ClientFrame`] and [`ServerFrame`].
//! - [`error`]: the [`ErrorCode`]s a node answers with.
//! - [`api`]: the JSON bodies of the HTTP routes.
//! - [`rooms`]: rooms that belong to people: their events, roles,
//!   direct-message rooms; [`room_info`]: the room as its members see it.
//! - [`stored`]: what a message of a room's log must be: the origin and
//!   every peer check it with the same function.
//! - [`hlc`]: the hybrid logical clock that stamps `ts`.
//! - [`client`]: a sans-IO protocol client: rooms, vectors, resume, outbox,
//!   which node next. The web app and the native client both run it.
//! - [`close`]: the WebSocket close codes.
//! - [`meshmap`]: every node's view of the mesh side by side (the admin map, `meshchat status`).
//! - `wire`: the decoders of the tagged enums, one flat struct each (small in the wasm).

pub mod api;
pub mod client;
pub mod close;
pub mod error;
pub mod frames;
pub mod hlc;
pub mod limits;
pub mod meshmap;
pub mod message;
pub mod profile;
pub mod room_info;
pub mod rooms;
pub mod stored;
pub mod vector;
mod wire;

pub use error::ErrorCode;
pub use frames::{ClientFrame, NodeInfo, ServerFrame};
pub use hlc::Hlc;
pub use limits::Invalid;
pub use message::{Cursor, Message};
pub use vector::RoomVector;

/// The protocol version spoken in `hello` and `welcome`.
pub const PROTOCOL_VERSION: u32 = 1;
