//! The meshchat web app.
//!
//! # Layout
//!
//! - [`account`]: who uses the app (a session or a guest), the sign-in
//!   screen's choices and checks, as plain Rust; `api` (wasm only) calls
//!   the node's account routes.
//! - [`announce`]: what a screen reader is told of new messages, bounded.
//! - [`emoji`]: a small emoji set with shortcodes, for reactions.
//! - [`i18n`]: every word the app shows, per language (English, French),
//!   and the notices, refusals and counts in the chosen one.
//! - [`markup`]: the safe formatting subset read from a message's text,
//!   as a tree to build elements from (never HTML).
//! - [`offline_search`]: search over what the browser keeps, when no
//!   node answers (the node's query parser, matched without an index).
//! - [`rooms`]: rooms as the app shows them (titles, direct messages,
//!   who moderates), as plain Rust.
//! - [`state`]: the chat as plain Rust: the shared sans-IO protocol client
//!   (`meshchat_shared::client`: rooms, vectors, resume, outbox) and
//!   [`timeline`], the rows of the message list: the shared model in the
//!   app's language.
//! - `app` (wasm only): the Leptos components, wrapping the state in signals.
//! - `net` (wasm only): the link to the mesh: one node at a time, rotating
//!   to the next when it goes away; `http_link` is its long-poll fallback.
//! - `push` (wasm only): push notifications on this device (`push.js`).
//! - `tabs` (wasm only): sibling tabs kept in step over a BroadcastChannel.
//! - `prefs` (wasm only): what the browser remembers: the session (or a
//!   guest's name), theme, rooms, nodes, the outbox.
//! - `perf` (wasm only): marks on the performance timeline (mounted,
//!   connected, first message) for the load benchmark and DevTools.

pub mod account;
pub mod announce;
pub mod emoji;
pub mod i18n;
pub mod markup;
pub mod offline_search;
pub mod rooms;
pub mod state;
pub mod timeline;

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod http_link;
#[cfg(target_arch = "wasm32")]
mod keep;
#[cfg(target_arch = "wasm32")]
mod net;
#[cfg(target_arch = "wasm32")]
mod perf;
#[cfg(target_arch = "wasm32")]
mod prefs;
#[cfg(target_arch = "wasm32")]
mod push;
#[cfg(target_arch = "wasm32")]
mod tabs;

#[cfg(target_arch = "wasm32")]
pub use app::App;
