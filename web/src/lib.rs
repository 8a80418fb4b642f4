//! The meshchat web app.
//!
//! # Layout
//!
//! - [`state`]: the chat as plain Rust: the shared sans-IO protocol client
//!   (`meshchat_shared::client`: rooms, vectors, resume, outbox) and
//!   [`timeline`], the rows of the message list. Unit-tested natively.
//! - `app` (wasm only): the Leptos components, wrapping the state in signals.
//! - `net` (wasm only): the WebSocket link to a node.
//! - `prefs` (wasm only): what the browser remembers: name, theme, rooms.

pub mod state;
pub mod timeline;

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod net;
#[cfg(target_arch = "wasm32")]
mod prefs;

#[cfg(target_arch = "wasm32")]
pub use app::App;
