//! The link to the mesh: one node at a time, moving when it goes away.
//!
//! One task owns the connection. It feeds every frame it reads into the chat
//! state and writes whatever frames the state asks for; the rest of the app
//! only mutates the state and calls [`Net::flush`]. When the node goes away
//! the task moves to the next node believed up: at once after a clean stop
//! (close 1012), with backoff and jitter otherwise. The state resumes every
//! room from its vector and resends the outbox with the original ids. If no
//! WebSocket gets through but HTTP does, [`crate::http_link`] carries on over
//! the long poll until a WebSocket works again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::channel::mpsc;
use futures::{FutureExt, SinkExt, StreamExt};
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::{Message, WebSocketError};
use leptos::prelude::*;
use meshchat_shared::ServerFrame;
use meshchat_shared::client::Status;
use meshchat_shared::client::reconnect::Ended;

use crate::state::Chat;
use crate::{http_link, prefs, tabs};

/// How the app reaches its node right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    WebSocket,
    /// The long poll and POSTs: no WebSocket got through.
    Http,
}

/// A handle to the link: wakes its task to send what the state queued.
#[derive(Clone)]
pub struct Net {
    wake: mpsc::UnboundedSender<()>,
    pub transport: RwSignal<Transport>,
    /// Signed out: the task closes its socket and ends.
    stopped: Arc<AtomicBool>,
}

impl Net {
    /// Starts the link for `chat`.
    pub fn start(chat: RwSignal<Chat>, tabs: tabs::Tabs) -> Net {
        let (wake, rx) = mpsc::unbounded();
        let transport = RwSignal::new(Transport::WebSocket);
        let stopped = Arc::new(AtomicBool::new(false));
        leptos::task::spawn_local(run(chat, rx, transport, tabs, stopped.clone()));
        Net { wake, transport, stopped }
    }

    /// Sends whatever frames the state has queued.
    pub fn flush(&self) {
        let _ = self.wake.unbounded_send(());
    }

    /// Closes the link for good (signing out).
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.flush();
    }
}

/// The link should end: signed out here, or refused by the node.
fn over(chat: RwSignal<Chat>, stopped: &AtomicBool) -> bool {
    stopped.load(Ordering::Relaxed) || chat.with_untracked(|c| c.signed_out)
}

pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// The page's own node: the app is served by a node of the mesh.
pub fn own_url() -> String {
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

async fn run(
    chat: RwSignal<Chat>,
    mut wake: mpsc::UnboundedReceiver<()>,
    transport: RwSignal<Transport>,
    tabs: tabs::Tabs,
    stopped: Arc<AtomicBool>,
) {
    let own = own_url();
    chat.update(|c| {
        c.nodes = prefs::nodes();
        c.nodes.seed(&own);
    });
    leptos::task::spawn_local(learn_nodes(chat));
    let mut url = own.clone();
    loop {
        chat.update(|c| c.on_connecting());
        let ended = match WebSocket::open(&url) {
            Ok(ws) => session(chat, ws, &mut wake, &tabs, &stopped).await,
            Err(_) => Ended::default(),
        };
        if over(chat, &stopped) {
            return;
        }
        let random = js_sys::Math::random();
        let next = chat.try_update(|c| c.reconnect(&url, ended, &own, random));
        prefs::save_nodes(&chat.with_untracked(|c| c.nodes.clone()));
        // Every node refused the WebSocket: if this page's node answers
        // HTTP, carry on over the long poll until a WebSocket works again.
        if chat.with_untracked(|c| c.status() == Status::Offline) {
            transport.set(Transport::Http);
            let worked = http_link::run(chat, &own, &mut wake, &tabs).await;
            transport.set(Transport::WebSocket);
            if over(chat, &stopped) {
                return;
            }
            if worked {
                url = own.clone();
                continue;
            }
        }
        let Some(next) = next else { return };
        sleep(Duration::from_millis(next.delay_ms)).await;
        url = next.url;
    }
}

/// One WebSocket connection, until it closes.
async fn session(
    chat: RwSignal<Chat>,
    ws: WebSocket,
    wake: &mut mpsc::UnboundedReceiver<()>,
    tabs: &tabs::Tabs,
    stopped: &AtomicBool,
) -> Ended {
    let (mut sink, stream) = ws.split();
    let mut stream = stream.fuse();
    chat.update(|c| c.on_open());
    let mut ended = Ended::default();
    let mut tick = Box::pin(sleep(Duration::from_secs(1)).fuse());
    loop {
        // Write first: the state may have queued frames (hello, joins, resends).
        // Untracked: draining the queue changes nothing on screen, and a
        // tracked update would run every view's memos again, per frame.
        let out = chat.try_update_untracked(|c| c.take_outgoing()).unwrap_or_default();
        for frame in out {
            if let Ok(text) = serde_json::to_string(&frame)
                && sink.send(Message::Text(text)).await.is_err()
            {
                return ended;
            }
        }
        futures::select! {
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<ServerFrame>(&text) {
                    Ok(frame) => {
                        if matches!(frame, ServerFrame::Welcome { .. }) {
                            ended.ready = true;
                            crate::perf::mark_once(crate::perf::CONNECTED);
                        }
                        let now = now_ms();
                        chat.update(|c| c.on_frame(frame, now));
                        tabs.alert(chat);
                    }
                    Err(e) => leptos::logging::warn!("unreadable frame: {e}"),
                },
                Some(Ok(Message::Bytes(_))) => {}
                Some(Err(WebSocketError::ConnectionClose(close))) => {
                    ended.restarting = close.code == meshchat_shared::close::RESTART;
                    return ended;
                }
                None => return ended,
                Some(Err(_)) => {}
            },
            woke = wake.next() => if woke.is_none() || over(chat, stopped) {
                let _ = sink.close().await;
                return ended;
            },
            _ = tick => {
                // The outbox's timers (resends after refusals or timeouts).
                chat.update(|c| { c.tick(now_ms()); });
                tick = Box::pin(sleep(Duration::from_secs(1)).fuse());
            }
        }
    }
}

/// `GET /api/nodes` of the page's node: the mesh before any welcome.
async fn learn_nodes(chat: RwSignal<Chat>) {
    let Ok(resp) = gloo_net::http::Request::get("/api/nodes").send().await else {
        return;
    };
    if let Ok(body) = resp.json::<meshchat_shared::api::Nodes>().await {
        chat.update(|c| c.nodes.learn(&body.nodes));
    }
}
