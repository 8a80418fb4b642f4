//! The HTTP fallback: the same chat state, carried over the long poll and
//! POSTs, for networks that let HTTP through but not WebSockets.
//!
//! The frames the state asks for become requests (`join` → a first poll,
//! `send` → a POST, `history` → a page of messages), and the answers come
//! back as the frames a WebSocket would have carried (`joined`, `message`,
//! `synced`, `ack`, `error`, `history`), so nothing else in the app knows.
//! Every few seconds it tries a WebSocket again, and leaves when one opens.

use std::cell::Cell;
use std::collections::HashSet;
use std::rc::Rc;
use std::time::Duration;

use futures::channel::mpsc;
use futures::{FutureExt, StreamExt};
use gloo_net::http::Request;
use leptos::prelude::*;
use meshchat_shared::api::{ErrorBody, Health, Me, MessagesPage, Nodes, Poll, PostMessage, Posted};
use meshchat_shared::{ClientFrame, Cursor, ErrorCode, RoomVector, ServerFrame};

use crate::account::http_base;
use crate::net::{now_ms, sleep};
use crate::state::Chat;
use crate::tabs;

/// How long one long poll waits for news.
const POLL_S: u32 = 25;
/// How often a WebSocket is tried again.
const RETRY_WS: Duration = Duration::from_secs(5);

/// Runs over HTTP against the page's own node until a WebSocket opens or
/// the node stops answering. Returns whether HTTP worked at all.
pub async fn run(
    chat: RwSignal<Chat>,
    ws_url: &str,
    wake: &mut mpsc::UnboundedReceiver<()>,
    tabs: &tabs::Tabs,
) -> bool {
    let base = http_base(ws_url);
    let token = chat.with_untracked(|c| c.token.clone());
    let Ok(health) = get::<Health>(&format!("{base}/api/health"), None).await else {
        return false;
    };
    let nodes = get::<Nodes>(&format!("{base}/api/nodes"), None).await.map(|n| n.nodes).unwrap_or_default();
    let mut name = chat.with_untracked(|c| c.name.clone());
    if token.is_some() {
        match get::<Me>(&format!("{base}/api/me"), token.as_deref()).await {
            Ok(me) => name = me.name,
            Err(status) => {
                if status == Some(401) {
                    session_refused(chat);
                }
                return false;
            }
        }
    }
    chat.update(|c| {
        c.on_open();
        c.take_outgoing();
        c.on_frame(
            ServerFrame::Welcome { v: meshchat_shared::PROTOCOL_VERSION, node: health.node, name, nodes },
            now_ms(),
        );
    });
    // Cleared when this mode ends: every poll loop stops with it.
    let alive = Rc::new(Cell::new(true));
    let broken = Rc::new(Cell::new(false));
    let mut polling: HashSet<String> = HashSet::new();
    let mut next_ws_try = now_ms() + RETRY_WS.as_millis() as u64;
    while !broken.get() && !chat.with_untracked(|c| c.signed_out) {
        for frame in chat.try_update_untracked(|c| c.take_outgoing()).unwrap_or_default() {
            match frame {
                ClientFrame::Join { room, since } => {
                    if polling.insert(room.clone()) {
                        leptos::task::spawn_local(poll_room(
                            chat,
                            base.clone(),
                            room,
                            since,
                            alive.clone(),
                            broken.clone(),
                            *tabs,
                        ));
                    }
                }
                ClientFrame::Leave { room } => {
                    polling.remove(&room);
                }
                ClientFrame::Send { room, id, body } => {
                    leptos::task::spawn_local(post(chat, base.clone(), room, id, body));
                }
                ClientFrame::History { room, before, limit } => {
                    leptos::task::spawn_local(history(chat, base.clone(), room, before, limit));
                }
                // Rooms are created and governed over HTTP by the app itself;
                // profiles are asked for every 15 s without a socket.
                ClientFrame::Watch { .. }
                | ClientFrame::Hello { .. }
                | ClientFrame::Typing { .. }
                | ClientFrame::Ping
                | ClientFrame::Create { .. }
                | ClientFrame::Act { .. }
                | ClientFrame::Dm { .. } => {}
            }
        }
        futures::select! {
            _ = wake.next() => {}
            _ = sleep(Duration::from_secs(1)).fuse() => {
                chat.update(|c| { c.tick(now_ms()); });
            }
        }
        if now_ms() >= next_ws_try {
            if websocket_opens(ws_url).await {
                break;
            }
            next_ws_try = now_ms() + RETRY_WS.as_millis() as u64;
        }
    }
    alive.set(false);
    chat.update(|c| c.on_closed(true));
    true
}

/// One room over HTTP: its backlog, then a long poll after another.
async fn poll_room(
    chat: RwSignal<Chat>,
    base: String,
    room: String,
    since: Option<RoomVector>,
    alive: Rc<Cell<bool>>,
    broken: Rc<Cell<bool>>,
    tabs: tabs::Tabs,
) {
    // The backlog: everything past `since` (or everything, up to the node's limit).
    let first = since.clone().unwrap_or_default();
    let token = chat.with_untracked(|c| c.token.clone());
    let url = format!("{base}/api/rooms/{room}/poll?since={first}&timeout_s=0&events=1");
    let page = match get::<Poll>(&url, token.as_deref()).await {
        Ok(page) => page,
        Err(status) => {
            if status == Some(401) {
                session_refused(chat);
            }
            broken.set(true);
            return;
        }
    };
    let now = now_ms();
    chat.update(|c| {
        c.on_frame(ServerFrame::Joined { room: room.clone(), members: Vec::new() }, now);
        for msg in page.messages {
            c.on_frame(ServerFrame::Message { msg }, now);
        }
        c.on_frame(ServerFrame::Synced { room: room.clone(), vector: page.vector, gap: page.gap }, now);
    });
    while alive.get() {
        let Some(vector) = chat.with_untracked(|c| c.room(&room).map(|r| r.vector.clone())) else {
            return;
        };
        let url = format!("{base}/api/rooms/{room}/poll?since={vector}&timeout_s={POLL_S}&events=1");
        match get::<Poll>(&url, token.as_deref()).await {
            Ok(page) if alive.get() => {
                let now = now_ms();
                chat.update(|c| {
                    for msg in page.messages {
                        c.on_frame(ServerFrame::Message { msg }, now);
                    }
                });
                tabs.alert(chat);
            }
            Ok(_) => return,
            Err(status) => {
                if status == Some(401) {
                    session_refused(chat);
                }
                broken.set(true);
                return;
            }
        }
    }
}

async fn post(chat: RwSignal<Chat>, base: String, room: String, id: String, body: String) {
    let (name, token) = chat.with_untracked(|c| (c.name.clone(), c.token.clone()));
    let req =
        match crate::api::with_token(Request::post(&format!("{base}/api/rooms/{room}/messages")), token.as_deref())
            .json(&PostMessage { name, id: id.clone(), body })
        {
            Ok(r) => r,
            Err(_) => return,
        };
    // A network error leaves it pending: the outbox sends it again.
    let Ok(resp) = req.send().await else { return };
    let now = now_ms();
    if resp.ok() {
        if let Ok(Posted { msg }) = resp.json::<Posted>().await {
            chat.update(|c| c.on_frame(ServerFrame::Ack { id, msg }, now));
        }
    } else if let Ok(ErrorBody { error }) = resp.json::<ErrorBody>().await {
        chat.update(|c| c.on_frame(ServerFrame::Error { code: error.code, message: error.message, id: Some(id) }, now));
    } else {
        let code = ErrorCode::Unavailable;
        chat.update(|c| c.on_frame(ServerFrame::Error { code, message: String::new(), id: Some(id) }, now));
    }
}

async fn history(chat: RwSignal<Chat>, base: String, room: String, before: Option<Cursor>, limit: Option<u32>) {
    let mut url = format!("{base}/api/rooms/{room}/messages?events=1&limit={}", limit.unwrap_or(50));
    if let Some(b) = before {
        url.push_str(&format!("&before_ts={}&before_origin={}&before_seq={}", b.ts, b.origin, b.seq));
    }
    let token = chat.with_untracked(|c| c.token.clone());
    if let Ok(page) = get::<MessagesPage>(&url, token.as_deref()).await {
        let frame = ServerFrame::History { room, messages: page.messages, more: page.more };
        chat.update(|c| c.on_frame(frame, now_ms()));
    }
}

/// A 401: the session ended (signed out elsewhere, password changed).
fn session_refused(chat: RwSignal<Chat>) {
    let refused = ServerFrame::Error { code: ErrorCode::Unauthorized, message: String::new(), id: None };
    chat.update(|c| c.on_frame(refused, now_ms()));
}

/// A GET with the session; the status of a refusal (`None`: no answer).
async fn get<T: serde::de::DeserializeOwned>(url: &str, token: Option<&str>) -> Result<T, Option<u16>> {
    let text = get_text(url, token).await?;
    serde_json::from_str(&text).map_err(|_| None)
}

/// [`get`]'s I/O, not generic: one state machine in the wasm for all types.
async fn get_text(url: &str, token: Option<&str>) -> Result<String, Option<u16>> {
    let resp = crate::api::with_token(Request::get(url), token).send().await.map_err(|_| None)?;
    if !resp.ok() {
        return Err(Some(resp.status()));
    }
    resp.text().await.map_err(|_| None)
}

/// Does a WebSocket to `url` open now? (It is closed again at once.)
async fn websocket_opens(url: &str) -> bool {
    let Ok(ws) = gloo_net::websocket::futures::WebSocket::open(url) else {
        return false;
    };
    let opened = async {
        loop {
            match ws.state() {
                gloo_net::websocket::State::Open => return true,
                gloo_net::websocket::State::Closed | gloo_net::websocket::State::Closing => {
                    return false;
                }
                gloo_net::websocket::State::Connecting => sleep(Duration::from_millis(50)).await,
            }
        }
    };
    let result = futures::select! {
        r = opened.fuse() => r,
        _ = sleep(Duration::from_secs(3)).fuse() => false,
    };
    let _ = ws.close(Some(1000), None);
    result
}
