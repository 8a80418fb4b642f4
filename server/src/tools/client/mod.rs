//! A native client of the mesh, for scripts, bots, tests and the load
//! generator: the same rotation, resume and outbox as the web app, because
//! it runs the same sans-IO state ([`meshchat_shared::client::Chat`]).
//!
//! One task owns the connection (iroh-gossip style): callers hold a
//! [`ClientHandle`] that sends commands over a channel, and read what
//! happens from an event channel.

pub mod link;
pub mod signin;
pub mod terminal;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use meshchat_shared::Message;
use meshchat_shared::client::Status;
use tokio::sync::{mpsc, oneshot};

/// tungstenite zero-fills its whole read buffer on every read (128 KiB by
/// default): chat frames are small, so a small buffer saves that work.
pub fn ws_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(4096)
}

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// A guest's name (with `--guests` nodes); a session's comes from the node.
    pub name: String,
    /// A session or API token: sign in with it (protocol 1.1).
    pub token: Option<String>,
    /// WebSocket URLs to start from; more are learned from the mesh.
    pub nodes: Vec<String>,
    pub rooms: Vec<String>,
    /// Whom to trust for `wss://`.
    pub tls: crate::infra::tls::TlsClient,
}

impl ClientConfig {
    /// A guest in `rooms`, starting from `nodes`, trusting the public roots.
    pub fn guest(name: &str, nodes: Vec<String>, rooms: Vec<String>) -> ClientConfig {
        ClientConfig { name: name.to_owned(), token: None, nodes, rooms, tls: crate::infra::tls::TlsClient::public() }
    }
}

/// What the client saw happen.
#[derive(Debug, Clone)]
pub enum Event {
    /// Connected (or moved) to this node.
    Connected(String),
    /// Every room's backlog has arrived on this connection: caught up.
    Synced,
    /// The status changed (connecting, moving, offline).
    Status(Status),
    /// A message from someone else (or from another of our own connections).
    Message(Message),
    /// One of our sends is durable on a node.
    Acked { id: String, msg: Message },
    /// One of our sends failed for good, in words.
    Failed { id: String, reason: String },
    /// The node answered with an error frame (a refused send is retried
    /// if it can be; see `Failed` for one that gave up).
    Error { code: meshchat_shared::ErrorCode, message: String, id: Option<String> },
}

pub(crate) enum Command {
    Send { room: String, id: String, body: String },
    Act { room: String, id: String, action: meshchat_shared::rooms::RoomEvent },
    Join(String),
    LoadOlder(String),
    Snapshot(oneshot::Sender<Snapshot>),
    Close(oneshot::Sender<()>),
}

/// What a client holds, per room, in room order; and what is still pending.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub rooms: Vec<(String, Vec<Message>)>,
    /// Rooms with older messages than those held (a join that started
    /// from the latest page, or a resume too far behind): a person scrolls
    /// up for them, a script calls [`ClientHandle::load_older`].
    pub more: Vec<String>,
    /// Per room: (room, unread, of them news as a mention is).
    pub counts: Vec<(String, u32, u32)>,
    /// The threads this person follows, with their unread replies.
    pub threads: Vec<meshchat_shared::client::threads::Followed>,
    pub pending: usize,
    pub failed: usize,
    pub node: Option<String>,
}

#[derive(Clone)]
pub struct ClientHandle {
    tx: mpsc::UnboundedSender<Command>,
    name: Arc<str>,
    /// 64 random bits that begin this run's message ids: an id must never
    /// repeat (a repeat is answered with the first message and the new
    /// one is lost), and a name or a process id do (empty with a token
    /// file; the first process of every container is 1).
    run: Arc<str>,
    next: Arc<AtomicU64>,
}

impl ClientHandle {
    /// Starts a client; events arrive on the returned receiver.
    pub fn start(config: ClientConfig) -> (ClientHandle, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (events, events_rx) = mpsc::unbounded_channel();
        let name: Arc<str> = config.name.as_str().into();
        tokio::spawn(link::run(config, rx, events));
        let run: Arc<str> = format!("{:016x}", rand::random::<u64>()).into();
        (ClientHandle { tx, name, run, next: Arc::new(AtomicU64::new(0)) }, events_rx)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sends a message; returns its id. It stays in the outbox until a node
    /// acknowledges it, across reconnections and moves.
    pub fn send(&self, room: &str, body: &str) -> String {
        let id = format!("{}-{}", self.run, self.next.fetch_add(1, Ordering::Relaxed));
        self.send_with_id(room, &id, body);
        id
    }

    pub fn send_with_id(&self, room: &str, id: &str, body: &str) {
        let _ = self.tx.send(Command::Send { room: room.to_owned(), id: id.to_owned(), body: body.to_owned() });
    }

    /// A reply, an edit, a reaction or a delete, through the outbox like a
    /// message; returns its id.
    pub fn act(&self, room: &str, action: meshchat_shared::rooms::RoomEvent) -> String {
        let id = format!("{}-{}", self.run, self.next.fetch_add(1, Ordering::Relaxed));
        let _ = self.tx.send(Command::Act { room: room.to_owned(), id: id.clone(), action });
        id
    }

    pub fn join(&self, room: &str) {
        let _ = self.tx.send(Command::Join(room.to_owned()));
    }

    /// Asks for the page of messages before the oldest held in `room`
    /// (nothing while one is on its way or none are older).
    pub fn load_older(&self, room: &str) {
        let _ = self.tx.send(Command::LoadOlder(room.to_owned()));
    }

    pub async fn snapshot(&self) -> Snapshot {
        let (tx, rx) = oneshot::channel();
        let _ = self.tx.send(Command::Snapshot(tx));
        rx.await.unwrap_or_default()
    }

    /// Closes the connection and ends the client's task.
    pub async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        let _ = self.tx.send(Command::Close(tx));
        let _ = rx.await;
    }
}
