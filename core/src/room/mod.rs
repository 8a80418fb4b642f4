//! One room's state machine: `handle(input, now)`, then effects to carry out.
//!
//! Modelled on quinn-proto and iroh-gossip's `proto`: the actor around it
//! feeds it what happened (a client's send, a peer's messages, a commit
//! that finished, a store read that came back, a member joining, time
//! passing) and performs what it asks for, in order. It never waits: when it
//! needs the store it asks with an effect and parks what depends on the
//! answer until the answer comes back as an input.
//!
//! What it guarantees (the simulation checks each):
//! - nothing of this node's leaves it before its commit: acks, fan-out and
//!   pushes to peers come from [`Input::Committed`]; a peer's message, durable
//!   at its origin already, goes to members at once, before this node's own
//!   commit (one sync fewer on the cross-node path), and only once;
//! - a key `(author, id)` is accepted once; a repeat is answered with the
//!   visible copy; if two nodes accepted one key, every node hides the same
//!   copy ([`preferred`](super::preferred));
//! - messages from peers are delivered causally ([`CausalLog`]);
//! - a joiner gets its backlog, then `synced`, then live messages, with
//!   nothing twice and nothing missing.

mod config;
mod govern;
mod interface;
mod members;
mod remote;
mod retention;
#[cfg(test)]
mod retention_tests;
mod send;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod write_order_tests;

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use meshchat_shared::{Message, RoomVector};

use super::cache::RecentCache;
use super::governance::{Governance, GovernanceLog};
use super::log::{CausalLog, Proof, Signed};
use super::presence::Presence;

pub use config::Config;
pub use interface::{CatchUp, ConnId, Effect, Input, Out, ReqId, Snapshot, Stored};
pub use retention::keep_ms;

type IdemKey = (Arc<str>, String);

/// Who wants the ack of a key being committed.
#[derive(Debug, Clone, Copy)]
struct Waiter {
    req: ReqId,
    conn: Option<ConnId>,
}

/// Messages handed to the store, in order, awaiting their commit.
#[derive(Debug)]
struct Batch {
    id: u64,
    msgs: Vec<Stored>,
}

#[derive(Debug)]
struct Member {
    name: Arc<str>,
    /// Messages the client already holds beyond what this node had when it
    /// joined (it resumed from a node that was ahead): not sent again.
    skip: Option<RoomVector>,
    /// Its backlog is being read: live messages wait here meanwhile.
    loading: Option<Loading>,
    /// Peers' messages it was shown whose commit here then failed: a
    /// reload joins it again from past these, and only these (one that
    /// joined after the failure was not shown them).
    lost_seen: RoomVector,
}

#[derive(Debug)]
struct Loading {
    read: u64,
    /// What the client said it holds.
    since: RoomVector,
    /// What it has been sent so far: `since` and the pages read.
    progress: RoomVector,
    /// The backlog covers up to here; later messages are buffered.
    upto: RoomVector,
    buffered: Vec<Arc<Message>>,
    overflow: bool,
}

/// Work parked behind a store lookup.
#[derive(Debug)]
enum Parked {
    /// A local send whose key's hash is known: is it a repeat?
    Send { waiter: Waiter, author: Arc<str>, id: String, body: String },
    /// A delivered remote message whose key's hash is known: a duplicate?
    Remote(Arc<Message>, Proof),
}

/// An input that came while a lookup was outstanding, kept in order.
#[derive(Debug)]
enum Held {
    Send(Waiter, Arc<str>, String, String),
    Remote(Arc<str>, Vec<Signed>),
}

/// Who asked for a read.
#[derive(Debug, Clone)]
enum ReadFor {
    Join(ConnId),
    Poll { req: ReqId, since: RoomVector, upto: RoomVector },
}

#[derive(Debug)]
pub struct RoomState {
    name: Arc<str>,
    node: Arc<str>,
    config: Config,
    log: CausalLog,
    /// Committed and visible: what clients may be told about.
    committed: RoomVector,
    cache: RecentCache,
    /// Hashes of every `(author, id)` in the room, committed or in flight.
    ids: HashSet<u64>,
    /// Keys waiting for their commit, and who wants the ack.
    inflight: HashMap<IdemKey, Vec<Waiter>>,
    /// Visible messages not committed yet, by key: duplicates across
    /// origins are resolved against them too.
    uncommitted: HashMap<IdemKey, Arc<Message>>,
    commits: VecDeque<Batch>,
    /// The batch being built during one `handle`.
    building: Vec<Stored>,
    /// Texts the batch being built deletes: erased in storage only after
    /// that batch is handed to the store, so a crash cannot keep an erasure
    /// whose delete was lost (sim seed 8001336).
    erasing: Vec<(String, u64)>,
    /// People whose texts the batch being built erases, likewise.
    erasing_authors: Vec<String>,
    /// Peers' messages sent to members before their commit here, in commit
    /// order: joiners meanwhile get them after their backlog (which is read
    /// up to `committed`), and the commit does not send them again.
    early: VecDeque<Arc<Message>>,
    next_id: u64,
    members: HashMap<ConnId, Member>,
    presence: Presence,
    /// The store failed a commit: nothing more is accepted until a restart.
    broken: bool,
    /// The room has been recorded in the store's room list.
    touched: bool,
    /// When a gap was last asked of a peer.
    last_want: Option<u64>,
    /// Delivered by the log, waiting to be admitted to a batch.
    ready: VecDeque<Signed>,
    /// The store lookup outstanding and what waits for it.
    parked: Option<(u64, Parked)>,
    /// Sends and remote batches that came while a lookup was outstanding.
    held: VecDeque<Held>,
    reads: HashMap<u64, ReadFor>,
    /// Members, roles, bans: the room's events folded; and which texts
    /// deletes erased.
    gov: GovernanceLog,
    effects: VecDeque<Effect>,
    /// Presence changed since the last publish (counting names online
    /// builds a set, so it is done only then).
    presence_dirty: bool,
    online_count: usize,
    /// Last published status, to publish only changes.
    published: Option<(RoomVector, usize)>,
    /// Messages stamped before this are past the retention policy (0:
    /// none yet): never shown, and a peer's are stored expired.
    expired_before: u64,
}

impl RoomState {
    /// The room as loaded from the store, on node `node`.
    pub fn new(name: &str, node: &str, config: Config, snap: Snapshot) -> RoomState {
        let cache = RecentCache::new(config.cache, snap.recent, &snap.vector);
        let mut room = RoomState {
            name: name.into(),
            node: node.into(),
            log: CausalLog::new(name, node, snap.vector.clone(), snap.last_ts),
            touched: !snap.vector.is_empty(),
            committed: snap.vector,
            cache,
            ids: snap.ids.into_iter().collect(),
            inflight: HashMap::new(),
            uncommitted: HashMap::new(),
            commits: VecDeque::new(),
            building: Vec::new(),
            erasing: Vec::new(),
            erasing_authors: Vec::new(),
            early: VecDeque::new(),
            next_id: 1,
            members: HashMap::new(),
            presence: Presence::new(),
            broken: false,
            last_want: None,
            ready: VecDeque::new(),
            parked: None,
            held: VecDeque::new(),
            reads: HashMap::new(),
            gov: GovernanceLog::load(name, snap.events),
            effects: VecDeque::new(),
            presence_dirty: false,
            online_count: 0,
            published: None,
            expired_before: snap.expired_before,
            config,
        };
        room.publish();
        room.emit(Effect::Governance(Arc::new(room.gov.view().clone())));
        // Again at each load: a crash may have come between a delete's
        // commit and its erasing.
        if !room.gov.erased().is_empty() {
            let mut all: Vec<(String, u64)> = room.gov.erased().iter().cloned().collect();
            all.sort();
            room.emit(Effect::Erase(all));
        }
        let mut authors: Vec<String> = room.gov.erased_authors().cloned().collect();
        if !authors.is_empty() {
            authors.sort();
            room.emit(Effect::EraseAuthors(authors));
        }
        room
    }

    pub fn governance(&self) -> &Governance {
        self.gov.view()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Committed and visible.
    pub fn committed(&self) -> &RoomVector {
        &self.committed
    }

    /// What the member on `conn` holds as far as this node knows: what is
    /// committed, what it held beyond that when it joined, and the peers'
    /// messages it was shown whose commit failed. A reload joins it again
    /// from there (nemesis seed 12441583765882727623: one vector for every
    /// member claimed a lost message for one that joined after the loss,
    /// which then never got it).
    pub fn shown_to(&self, conn: ConnId) -> RoomVector {
        let mut v = self.committed.clone();
        if let Some(m) = self.members.get(&conn) {
            v.merge(&m.lost_seen);
            if let Some(skip) = &m.skip {
                v.merge(skip);
            }
        }
        v
    }

    /// Messages received from peers and held back for their causal past.
    pub fn pending_len(&self) -> usize {
        self.log.pending_len()
    }

    pub fn online(&self) -> BTreeSet<String> {
        self.presence.online()
    }

    /// Feeds one input; then take the effects with [`poll`](Self::poll).
    pub fn handle(&mut self, input: Input, now_ms: u64) {
        match input {
            Input::Send { req, conn, author, id, body } if self.parked.is_some() => {
                self.held.push_back(Held::Send(Waiter { req, conn }, author, id, body));
            }
            Input::Remote { from, msgs } if self.parked.is_some() => self.held.push_back(Held::Remote(from, msgs)),
            Input::Import { req, author, id, body, .. } if self.parked.is_some() => {
                self.held.push_back(Held::Send(Waiter { req, conn: None }, author, id, body));
            }
            Input::Import { req, author, id, body, ts } => {
                self.on_send(Waiter { req, conn: None }, author, id, body, ts)
            }
            Input::Send { req, conn, author, id, body } => self.on_send(Waiter { req, conn }, author, id, body, now_ms),
            Input::Remote { from, msgs } => self.on_remote(from, msgs, now_ms),
            Input::Committed { batch, ok } => self.on_committed(batch, ok),
            Input::Found { lookup, result } => self.on_found(lookup, result, now_ms),
            Input::Join { conn, name, since } => self.on_join(conn, name, since, now_ms),
            Input::Leave { conn } => self.remove_member(conn, None),
            Input::Gone { conn } => self.remove_member(conn, Some(now_ms + self.config.grace_ms)),
            Input::Typing { conn } => self.on_typing(conn),
            Input::CatchUp { req, since } => self.on_catch_up(req, since),
            Input::Read { read, msgs } => self.on_read(read, msgs),
            Input::PeerPresence { peer, names } => {
                let changes = self.presence.peer_set(&peer, names);
                self.announce_all(changes);
            }
            Input::PeerPresenceUpdate { peer, name, online } => {
                let change = self.presence.peer_update(&peer, &name, online);
                self.announce_all(change);
            }
            Input::PeerDown { peer } => {
                self.presence.peer_down(&peer, now_ms, self.config.grace_ms);
                self.presence_dirty = true;
            }
            Input::PeerTyping { name } => self.show_typing(name),
            Input::Timeout => self.grace_over(now_ms),
            Input::Expire { mesh_days } => self.on_expire(mesh_days, now_ms),
        }
        self.flush_batch();
        self.publish();
    }

    /// The next effect to carry out, in order.
    /// The store refused a commit: nothing more is accepted until the room
    /// is loaded again from the store (the shell does, once in a while).
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    pub fn poll(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// When to feed [`Input::Timeout`] next.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.presence.next_deadline()
    }

    /// Nothing in flight, nobody here or online anywhere: the room may stop
    /// and load again from the store when next needed.
    pub fn is_idle(&self) -> bool {
        self.members.is_empty()
            && self.commits.is_empty()
            && self.parked.is_none()
            && self.held.is_empty()
            && self.reads.is_empty()
            && self.log.pending_len() == 0
            && self.presence.online().is_empty()
            && self.presence.next_deadline().is_none()
    }

    fn emit(&mut self, effect: Effect) {
        self.effects.push_back(effect);
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Hands what this `handle` built to the store as one batch.
    /// Then what its deletes erase: the store writes in order.
    fn flush_batch(&mut self) {
        if !self.building.is_empty() {
            let msgs = std::mem::take(&mut self.building);
            let batch = self.next_id();
            self.emit(Effect::Append { batch, msgs: msgs.clone() });
            self.commits.push_back(Batch { id: batch, msgs });
        }
        if !self.erasing.is_empty() {
            let erasing = std::mem::take(&mut self.erasing);
            self.emit(Effect::Erase(erasing));
        }
        if !self.erasing_authors.is_empty() {
            let authors = std::mem::take(&mut self.erasing_authors);
            self.emit(Effect::EraseAuthors(authors));
        }
    }

    fn publish(&mut self) {
        if std::mem::take(&mut self.presence_dirty) {
            self.online_count = self.presence.online().len();
        }
        let same = matches!(&self.published, Some((v, n)) if *v == self.committed && *n == self.online_count);
        if !same {
            self.emit(Effect::Status { vector: self.committed.clone(), online: self.online_count });
            self.published = Some((self.committed.clone(), self.online_count));
        }
    }

    /// Replays what waited behind a lookup, until one parks again.
    fn resume_held(&mut self, now_ms: u64) {
        while self.parked.is_none() {
            let Some(input) = self.held.pop_front() else { break };
            match input {
                Held::Send(waiter, author, id, body) => self.on_send(waiter, author, id, body, now_ms),
                Held::Remote(from, msgs) => self.on_remote(from, msgs, now_ms),
            }
        }
    }
}
