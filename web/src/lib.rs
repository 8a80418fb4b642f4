//! The meshchat web app.
//!
//! # Layout
//!
//! - [`state`]: the chat as plain Rust: rooms, ordered messages, vectors,
//!   pending sends, presence, typing; the protocol logic. Unit-tested natively.
//! - `app` (wasm only): the Leptos components, wrapping the state in signals.
//! - `net` (wasm only): the WebSocket link to a node.
//! - `prefs` (wasm only): what the browser remembers: name, theme, rooms.

pub mod state;

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod net;
#[cfg(target_arch = "wasm32")]
mod prefs;

#[cfg(target_arch = "wasm32")]
pub use app::App;
