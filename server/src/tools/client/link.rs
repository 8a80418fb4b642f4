//! The native client's task: one node at a time, moving when it goes away.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use meshchat_shared::ServerFrame;
use meshchat_shared::client::{Chat, Status};
use rand::Rng;
use tokio::sync::mpsc;
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

/// How one connection ended: `None` when the owner asked to quit.
type Ending = Option<Ended>;

struct Client {
    chat: Chat,
    events: mpsc::UnboundedSender<Event>,
    /// Failures already reported, so each is reported once.
    reported: HashSet<String>,
    status: Option<Status>,
    /// `Synced` was announced for this connection.
    caught_up: bool,
}

pub(super) async fn run(
    config: ClientConfig,
    mut cmds: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<Event>,
) {
    let mut chat = Chat::new(&config.name, &config.rooms, None);
    chat.token = config.token.clone();
    let mut c = Client { chat, events, reported: HashSet::new(), status: None, caught_up: false };
    for url in config.nodes.iter().rev() {
        c.chat.nodes.seed(url);
    }
    let Some(mut url) = config.nodes.first().cloned() else {
        return;
    };
    loop {
        c.chat.on_connecting();
        c.note_status();
        let ending = match tokio::time::timeout(Duration::from_secs(5), connect(&url, &config.tls)).await {
            Ok(Some(ws)) => c.session(ws, &mut cmds).await,
            _ => Some(Ended::default()),
        };
        let Some(ended) = ending else { return };
        // No node takes a session that ended: stop (the status says why).
        if c.chat.signed_out {
            return;
        }
        let next = c.chat.reconnect(&url, ended, &url, rand::rng().random());
        c.note_status();
        if c.wait(Duration::from_millis(next.delay_ms), &mut cmds).await {
            return;
        }
        url = next.url;
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

    /// Handles commands while not connected; true to quit.
    async fn wait(&mut self, d: Duration, cmds: &mut mpsc::UnboundedReceiver<Command>) -> bool {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return false,
                cmd = cmds.recv() => match cmd {
                    None => return true,
                    Some(Command::Close(done)) => {
                        let _ = done.send(());
                        return true;
                    }
                    Some(cmd) => self.command(cmd),
                },
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
            Command::Snapshot(reply) => {
                let pending = self.chat.rooms.values().flat_map(|r| &r.pending).collect::<Vec<_>>();
                let snapshot = Snapshot {
                    rooms: self.chat.rooms.iter().map(|(n, r)| (n.clone(), r.messages().cloned().collect())).collect(),
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

    fn frame(&mut self, frame: ServerFrame) {
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

    async fn session(&mut self, ws: Ws, cmds: &mut mpsc::UnboundedReceiver<Command>) -> Ending {
        let (mut sink, mut stream) = ws.split();
        self.chat.on_open();
        self.caught_up = false;
        let mut ended = Ended::default();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            let out = self.chat.take_outgoing();
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
                            self.frame(frame);
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
                cmd = cmds.recv() => match cmd {
                    None => return None,
                    Some(Command::Close(done)) => {
                        let _ = sink.send(WsMessage::Close(None)).await;
                        let _ = done.send(());
                        return None;
                    }
                    Some(cmd) => self.command(cmd),
                },
                _ = tick.tick() => {
                    self.chat.tick(now_ms());
                    self.note_failures();
                }
            }
        }
    }
}
