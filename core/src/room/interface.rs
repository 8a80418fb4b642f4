//! What a room's state machine takes in and gives out: its inputs, the
//! effects the shell carries out, the frames members are sent, and what it
//! loads from and hands to the store.

use std::collections::BTreeSet;
use std::sync::Arc;

use meshchat_shared::rooms::RoomInfo;
use meshchat_shared::{Cursor, ErrorCode, Message, RoomVector};

use super::super::governance::Governance;
use super::super::log::{Proof, Rejected, Signed};
use super::super::sync::Range;

/// A client connection, as rooms know it.
pub type ConnId = u64;
/// A request that expects one answer (a send's ack, a poll's catch-up).
pub type ReqId = u64;

/// What a room loads from the store when it starts.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// Highest stored seq per origin (stored in causal order, so gapless).
    pub vector: RoomVector,
    /// Largest `ts` stored, so the room's clock never goes back after a restart.
    pub last_ts: u64,
    /// The latest visible messages, ascending.
    pub recent: Vec<Message>,
    /// [`idem_hash`](super::idem_hash) of every message's `(author, id)`.
    pub ids: Vec<u64>,
    /// The room's events (messages with `§` ids), for its governance.
    pub events: Vec<Message>,
    /// The room's retention low-water mark: what is stamped before it is
    /// out of the room here (0: nothing).
    pub expired_before: u64,
}

/// A message to store and whether clients may see it.
#[derive(Debug, Clone)]
pub struct Stored {
    pub msg: Arc<Message>,
    /// The losing copy of a key two nodes accepted: kept so the origin's log
    /// stays gapless, never shown.
    pub hidden: bool,
    /// Its origin's signature (this node's own messages are signed by the
    /// shell as it stores them).
    pub proof: Proof,
}

/// A catch-up: what `since` lacks, for joins and the long poll.
#[derive(Debug, Clone, PartialEq)]
pub struct CatchUp {
    pub messages: Vec<Arc<Message>>,
    /// What the client holds after taking `messages`.
    pub vector: RoomVector,
    pub gap: bool,
}

#[derive(Debug)]
pub enum Input {
    Join {
        conn: ConnId,
        name: Arc<str>,
        since: Option<RoomVector>,
    },
    /// A connection left the room (a `leave`): offline at once if it was
    /// the name's last.
    Leave {
        conn: ConnId,
    },
    /// A connection ended without leaving, or can no longer be written to:
    /// its name lingers for the presence grace, so one that comes back by
    /// then (a phone changing networks) is not seen to leave.
    Gone {
        conn: ConnId,
    },
    Typing {
        conn: ConnId,
    },
    /// A local client's message; `conn` is the connection that gets the ack
    /// (`None` for HTTP), which the fan-out then skips.
    Send {
        req: ReqId,
        conn: Option<ConnId>,
        author: Arc<str>,
        id: String,
        body: String,
    },
    /// A message or event of a room's history brought from another mesh
    /// (an admin's import), sent as a local one stamped `ts` instead of
    /// now: replayed in order into a new room, the history keeps its times.
    Import {
        req: ReqId,
        author: Arc<str>,
        id: String,
        body: String,
        ts: u64,
    },
    /// What `since` lacks (the long poll).
    CatchUp {
        req: ReqId,
        since: RoomVector,
    },
    /// Messages replicated from a peer.
    Remote {
        from: Arc<str>,
        msgs: Vec<Signed>,
    },
    /// The store committed (or failed) a batch of [`Effect::Append`].
    Committed {
        batch: u64,
        ok: bool,
    },
    /// The answer to [`Effect::Lookup`]: the visible message with the key,
    /// if stored; `Err` if the store could not say.
    Found {
        lookup: u64,
        result: Result<Option<Message>, ()>,
    },
    /// The answer to [`Effect::Read`], ascending; `None` if it failed.
    Read {
        read: u64,
        msgs: Option<Vec<Message>>,
    },
    /// Every name online on a peer.
    PeerPresence {
        peer: Arc<str>,
        names: BTreeSet<String>,
    },
    PeerPresenceUpdate {
        peer: Arc<str>,
        name: String,
        online: bool,
    },
    /// The peer went away: its names start their grace period.
    PeerDown {
        peer: Arc<str>,
    },
    PeerTyping {
        name: Arc<str>,
    },
    /// The time [`RoomState::poll_timeout`] named has come.
    Timeout,
    /// Apply the retention policy now (the shell feeds this at load, when
    /// the mesh's policy changes and every minute); `mesh_days` is the
    /// mesh's policy (0: keep everything), the room's own wins.
    Expire {
        mesh_days: u32,
    },
}

#[derive(Debug)]
pub enum Effect {
    /// Store these, in this order, in one commit; answer with
    /// [`Input::Committed`].
    Append {
        batch: u64,
        msgs: Vec<Stored>,
    },
    /// Mark a stored (or queued) message as the hidden copy of its key.
    Hide {
        origin: String,
        seq: u64,
    },
    /// Record that the room exists (someone joined it).
    Touch,
    /// Find the visible stored message with this key; answer with [`Input::Found`].
    Lookup {
        lookup: u64,
        author: Arc<str>,
        id: String,
    },
    /// Read the first `limit` visible messages that `since` lacks and `upto`
    /// covers, in room order; answer with [`Input::Read`]. For a joiner's
    /// backlog (`conn`), only once its connection has drained the last page.
    Read {
        read: u64,
        conn: Option<ConnId>,
        since: RoomVector,
        upto: RoomVector,
        limit: usize,
    },
    Ack {
        req: ReqId,
        msg: Arc<Message>,
    },
    Refuse {
        req: ReqId,
        code: ErrorCode,
    },
    CaughtUp {
        req: ReqId,
        catch_up: CatchUp,
    },
    /// Frames for members of the room.
    Deliver {
        to: Vec<ConnId>,
        out: Out,
    },
    /// This node's newly committed messages, for every peer.
    Replicate(Vec<Arc<Message>>),
    /// Ask `peer` for messages this node knows it lacks.
    Want {
        peer: Arc<str>,
        ranges: Vec<Range>,
    },
    /// A name's first connection here joined, or its last one left.
    AnnouncePresence {
        name: Arc<str>,
        online: bool,
    },
    AnnounceTyping {
        name: Arc<str>,
    },
    /// The names with a connection here changed (for peers' snapshots).
    LocalNames(Vec<String>),
    /// What the room publishes changed: committed vector, names online.
    Status {
        vector: RoomVector,
        online: usize,
    },
    /// A peer's message broke the rules and was dropped.
    Rejected {
        from: Arc<str>,
        reason: Rejected,
    },
    /// Who belongs to the room changed (and once at the start): for the
    /// HTTP paths, the room list and the directory.
    Governance(Arc<Governance>),
    /// Erase the texts of these messages from storage (a delete).
    Erase(Vec<(String, u64)>),
    /// Erase every text of these people from the room's storage (their
    /// account went with what they wrote).
    EraseAuthors(Vec<String>),
    /// Take what is past the retention policy (stamped before `before`)
    /// out of the room in storage: texts erased, rows hidden, files gone.
    Expire {
        before: u64,
    },
}

/// What members are sent. A join is answered with `Joined`, the backlog in
/// one or more `Backlog` pages, then `Synced`; live messages follow.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    Message(Arc<Message>),
    /// `joined`, with the names online.
    Joined {
        members: Vec<String>,
    },
    /// A page of the backlog.
    Backlog(Vec<Arc<Message>>),
    /// `synced`: the backlog is complete.
    Synced {
        vector: RoomVector,
        gap: bool,
    },
    Presence {
        name: Arc<str>,
        online: bool,
    },
    Typing {
        name: Arc<str>,
    },
    /// An `error` frame: the join was refused.
    Refused {
        code: ErrorCode,
        message: String,
    },
    /// The room as this connection's user sees it.
    Room(Box<RoomInfo>),
    /// Messages of `user` from `from` on are not part of the room.
    Hidden {
        user: Arc<str>,
        from: Cursor,
    },
    /// A moderator deleted a message.
    Deleted {
        origin: String,
        seq: u64,
    },
    /// The connection is out of the room.
    Removed {
        reason: String,
    },
}
