//! The WebSocket link to a node.
//!
//! One task owns the socket. It feeds every frame it reads into the chat
//! state and writes whatever frames the state asks for; the rest of the app
//! only mutates the state and calls [`Net::flush`]. When the socket drops it
//! reconnects with backoff and jitter, and the state resumes every room.

use std::time::Duration;

use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::{Message, WebSocketError};
use leptos::prelude::*;
use meshchat_shared::ServerFrame;

use crate::state::Chat;

/// A handle to the link: wakes the socket task to send what the state queued.
#[derive(Clone)]
pub struct Net {
    wake: mpsc::UnboundedSender<()>,
}

impl Net {
    /// Starts the link for `chat`.
    pub fn start(chat: RwSignal<Chat>) -> Net {
        let (wake, rx) = mpsc::unbounded();
        leptos::task::spawn_local(run(chat, rx));
        Net { wake }
    }

    /// Sends whatever frames the state has queued.
    pub fn flush(&self) {
        let _ = self.wake.unbounded_send(());
    }
}

pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// The page's own node: the app is served by the node it talks to.
fn own_url() -> String {
    let loc = window().location();
    let scheme = if loc.protocol().ok().as_deref() == Some("https:") { "wss" } else { "ws" };
    format!("{scheme}://{}/ws", loc.host().unwrap_or_default())
}

pub async fn sleep(d: Duration) {
    let ms = d.as_millis() as i32;
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Backoff after the `attempt`-th failure in a row: 0.5 s doubling to 10 s,
/// with ±30% jitter so that a node's clients do not return in lockstep.
fn backoff(attempt: u32) -> Duration {
    let base = 500.0 * 2f64.powi(attempt.min(5) as i32);
    let jitter = 0.7 + 0.6 * js_sys::Math::random();
    Duration::from_millis((base.min(10_000.0) * jitter) as u64)
}

async fn run(chat: RwSignal<Chat>, mut wake: mpsc::UnboundedReceiver<()>) {
    let mut failures = 0u32;
    loop {
        chat.update(|c| c.on_connecting());
        let url = own_url();
        let was_ready = match WebSocket::open(&url) {
            Ok(ws) => session(chat, ws, &mut wake).await,
            Err(_) => false,
        };
        chat.update(|c| c.on_closed());
        failures = if was_ready { 0 } else { failures + 1 };
        sleep(backoff(failures)).await;
    }
}

/// One connection, until it closes. True if it got as far as `welcome`.
async fn session(chat: RwSignal<Chat>, ws: WebSocket, wake: &mut mpsc::UnboundedReceiver<()>) -> bool {
    let (mut sink, stream) = ws.split();
    let mut stream = stream.fuse();
    chat.update(|c| c.on_open());
    let mut ready = false;
    loop {
        // Write first: the state may have queued frames (hello, joins).
        let out = chat.try_update(|c| c.take_outgoing()).unwrap_or_default();
        for frame in out {
            if let Ok(text) = serde_json::to_string(&frame)
                && sink.send(Message::Text(text)).await.is_err()
            {
                return ready;
            }
        }
        futures::select! {
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<ServerFrame>(&text) {
                    Ok(frame) => {
                        ready |= matches!(frame, ServerFrame::Welcome { .. });
                        let now = now_ms();
                        chat.update(|c| c.on_frame(frame, now));
                    }
                    Err(e) => leptos::logging::warn!("unreadable frame: {e}"),
                },
                Some(Ok(Message::Bytes(_))) => {}
                Some(Err(WebSocketError::ConnectionClose(_))) | None => return ready,
                Some(Err(_)) => {}
            },
            _ = wake.next() => {}
        }
    }
}
