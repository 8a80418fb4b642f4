//! The native client's loop: one node at a time, moving when it goes away.
//! What owns the chat state is a [`Driver`]: the handle's client (commands
//! over a channel) and the terminal app (keys) drive the same loop.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use meshchat_shared::ServerFrame;
use meshchat_shared::client::{Chat, Status};
use rand::Rng;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

use super::{ClientConfig, Command, Event, Snapshot};
use crate::infra::clock::now_ms;
use crate::infra::tls::{Io, TlsClient, open};
use meshchat_shared::client::reconnect::Ended;
use meshchat_shared::close::RESTART;

type Ws = WebSocketStream<Box<dyn Io>>;

/// Opens the WebSocket at `url` (through TLS for `wss://`).
async fn connect(url: &str, tls: &TlsClient) -> Option<Ws> {
    let stream = open(url, tls).await.ok()?;
    client_async_with_config(url, stream, Some(super::ws_config())).await.ok().map(|(ws, _)| ws)
}

/// The owner of a client's chat state, as the loop sees it.
pub trait Driver {
    fn chat(&mut self) -> &mut Chat;
    /// A frame from the node: the driver hands it to the chat.
    fn frame(&mut self, frame: ServerFrame);
    /// Something may have changed (the link's status, a send given up).
    fn changed(&mut self);
    /// A second passed and the chat's timers ran; `visible` if anything
    /// shown changed (typing ended, a send retried).
    fn ticked(&mut self, _visible: bool) {
        self.changed();
    }
    /// Waits for the driver's own input (a command, a key) and takes it;
    /// `false` to quit. Cancel-safe: the loop drops it when a frame comes.
    fn input(&mut self) -> impl Future<Output = bool> + Send;
    /// Now on the node at `url` (its WebSocket URL).
    fn on_node(&mut self, _url: &str) {}
}

/// Connects to `nodes` (the first, then those the mesh tells of) and keeps
/// the driver's chat on one of them until the driver quits or the session
/// ends for good.
pub async fn drive<D: Driver>(d: &mut D, nodes: &[String], tls: &TlsClient) {
    for url in nodes.iter().rev() {
        d.chat().nodes.seed(url);
    }
    let Some(mut url) = nodes.first().cloned() else {
        return;
    };
    loop {
        d.chat().on_connecting();
        d.changed();
        let Some(ws) = open_taking_input(d, &url, tls).await else { return };
        let ending = match ws {
            Some(ws) => {
                d.on_node(&url);
                session(d, ws).await
            }
            None => Some(Ended::default()),
        };
        let Some(ended) = ending else { return };
        // No node takes a session that ended: stop (the status says why).
        if d.chat().signed_out {
            d.changed();
            return;
        }
        let next = d.chat().reconnect(&url, ended, &url, rand::rng().random());
        d.changed();
        if wait(d, Duration::from_millis(next.delay_ms)).await {
            return;
        }
        url = next.url;
    }
}

/// Opens a connection to `url` (`Some(None)` when it cannot be had within
/// five seconds), taking input meanwhile; `None` to quit.
async fn open_taking_input<D: Driver>(d: &mut D, url: &str, tls: &TlsClient) -> Option<Option<Ws>> {
    let connecting = tokio::time::timeout(Duration::from_secs(5), connect(url, tls));
    tokio::pin!(connecting);
    loop {
        tokio::select! {
            ws = &mut connecting => return Some(ws.ok().flatten()),
            go = d.input() => if !go { return None },
        }
    }
}

/// Takes input while not connected; true to quit.
async fn wait<D: Driver>(d: &mut D, delay: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + delay;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return false,
            go = d.input() => if !go { return true },
        }
    }
}

/// How one connection ended: `None` when the owner asked to quit.
type Ending = Option<Ended>;

/// The handle's client: commands in, events out.
struct Client {
    chat: Chat,
    cmds: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<Event>,
    /// Failures already reported, so each is reported once.
    reported: HashSet<String>,
    status: Option<Status>,
    /// `Synced` was announced for this connection.
    caught_up: bool,
    /// Told once the connection is closed.
    closing: Option<oneshot::Sender<()>>,
}

pub(super) async fn run(
    config: ClientConfig,
    cmds: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<Event>,
) {
    let mut chat = Chat::new(&config.name, &config.rooms, None);
    chat.token = config.token.clone();
    let mut c = Client { chat, cmds, events, reported: HashSet::new(), status: None, caught_up: false, closing: None };
    drive(&mut c, &config.nodes, &config.tls).await;
    if let Some(done) = c.closing.take() {
        let _ = done.send(());
    }
}

impl Driver for Client {
    fn chat(&mut self) -> &mut Chat {
        &mut self.chat
    }

    fn frame(&mut self, frame: ServerFrame) {
        if matches!(frame, ServerFrame::Welcome { .. }) {
            self.caught_up = false;
        }
        self.on_frame(frame);
    }

    fn changed(&mut self) {
        self.note_failures();
        self.note_status();
    }

    async fn input(&mut self) -> bool {
        match self.cmds.recv().await {
            None => false,
            Some(Command::Close(done)) => {
                self.closing = Some(done);
                false
            }
            Some(cmd) => {
                self.command(cmd);
                true
            }
        }
    }
}

impl Client {
    fn note_status(&mut self) {
        let status = self.chat.status();
        if self.status.as_ref() != Some(&status) {
            if let Status::Connected(node) = &status {
                let _ = self.events.send(Event::Connected(node.clone()));
            }
            let _ = self.events.send(Event::Status(status.clone()));
            self.status = Some(status);
        }
    }

    /// Sends that failed for good since last time.
    fn note_failures(&mut self) {
        for r in self.chat.rooms.values() {
            for p in &r.pending {
                if let Some(reason) = &p.failed
                    && self.reported.insert(p.id.clone())
                {
                    let _ = self.events.send(Event::Failed { id: p.id.clone(), reason: reason.clone() });
                }
            }
        }
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Send { room, id, body } => {
                if self.chat.room(&room).is_none() {
                    let _ = self.chat.join(&room);
                }
                if let Err(e) = self.chat.send(&room, &id, &body, now_ms()) {
                    let _ = self.events.send(Event::Failed { id, reason: e.to_string() });
                }
            }
            Command::Act { room, id, action } => {
                if let Err(e) = self.chat.act(&room, &id, action, now_ms()) {
                    let _ = self.events.send(Event::Failed { id, reason: e.to_string() });
                }
            }
            Command::Join(room) => {
                if let Err(e) = self.chat.join(&room) {
                    let _ = self.events.send(Event::Failed { id: String::new(), reason: e.to_string() });
                }
            }
            Command::LoadOlder(room) => self.chat.load_older(&room),
            Command::Snapshot(reply) => {
                let pending = self.chat.rooms.values().flat_map(|r| &r.pending).collect::<Vec<_>>();
                let snapshot = Snapshot {
                    rooms: self.chat.rooms.iter().map(|(n, r)| (n.clone(), r.messages().cloned().collect())).collect(),
                    more: self.chat.rooms.iter().filter(|(_, r)| r.more).map(|(n, _)| n.clone()).collect(),
                    counts: self.chat.rooms.iter().map(|(n, r)| (n.clone(), r.unread, r.mentioned)).collect(),
                    threads: self.chat.followed_threads(),
                    pending: pending.iter().filter(|p| p.failed.is_none()).count(),
                    failed: pending.iter().filter(|p| p.failed.is_some()).count(),
                    node: match self.chat.status() {
                        Status::Connected(n) => Some(n),
                        _ => None,
                    },
                };
                let _ = reply.send(snapshot);
            }
            Command::Close(_) => {}
        }
    }

    fn on_frame(&mut self, frame: ServerFrame) {
        let now = now_ms();
        match &frame {
            ServerFrame::Message { msg } => {
                let mine = msg.author == self.chat.name;
                let held = self.chat.room(&msg.room).is_some_and(|r| r.contains(&msg.author, &msg.id));
                let pending =
                    mine && self.chat.room(&msg.room).is_some_and(|r| r.pending.iter().any(|p| p.id == msg.id));
                if pending {
                    // Acked on a connection that died before the ack came.
                    let _ = self.events.send(Event::Acked { id: msg.id.clone(), msg: msg.clone() });
                } else if !held {
                    let _ = self.events.send(Event::Message(msg.clone()));
                }
            }
            ServerFrame::Ack { id, msg }
                if self.chat.room(&msg.room).is_some_and(|r| r.pending.iter().any(|p| p.id == *id)) =>
            {
                let _ = self.events.send(Event::Acked { id: id.clone(), msg: msg.clone() });
            }
            ServerFrame::Error { id, code, message } => {
                let _ = self.events.send(Event::Error { code: *code, message: message.clone(), id: id.clone() });
            }
            _ => {}
        }
        self.chat.on_frame(frame, now);
        if !self.caught_up && self.chat.is_ready() && self.chat.rooms.values().all(|r| r.synced) {
            self.caught_up = true;
            let _ = self.events.send(Event::Synced);
        }
        self.note_failures();
        self.note_status();
    }
}

async fn session<D: Driver>(d: &mut D, ws: Ws) -> Ending {
    let (mut sink, mut stream) = ws.split();
    d.chat().on_open();
    let mut ended = Ended::default();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        let out = d.chat().take_outgoing();
        if !out.is_empty() {
            for frame in out {
                if let Ok(text) = serde_json::to_string(&frame)
                    && sink.feed(WsMessage::text(text)).await.is_err()
                {
                    return Some(ended);
                }
            }
            if sink.flush().await.is_err() {
                return Some(ended);
            }
        }
        tokio::select! {
            incoming = stream.next() => match incoming {
                Some(Ok(WsMessage::Text(text))) => match serde_json::from_str::<ServerFrame>(&text).ok() {
                    Some(frame) => {
                        ended.ready |= matches!(frame, ServerFrame::Welcome { .. });
                        d.frame(frame);
                    }
                    None => tracing::warn!("unreadable frame from the node"),
                },
                Some(Ok(WsMessage::Close(close))) => {
                    ended.restarting = close.is_some_and(|c| u16::from(c.code) == RESTART);
                    return Some(ended);
                }
                Some(Ok(_)) => {}
                None | Some(Err(_)) => return Some(ended),
            },
            go = d.input() => if !go {
                let _ = sink.send(WsMessage::Close(None)).await;
                return None;
            },
            _ = tick.tick() => {
                let visible = d.chat().tick(now_ms());
                d.ticked(visible);
            }
        }
    }
}
