//! The room actor's loop and state.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use meshchat_shared::frames::encode;
use meshchat_shared::limits::BACKLOG;
use meshchat_shared::{ErrorCode, Message, RoomVector, ServerFrame};
use tokio::sync::{mpsc, oneshot, watch};

use super::cache::RecentCache;
use super::{AckTo, CatchUp, RoomCmd, RoomCtx, RoomHandle, RoomStatus};
use crate::clock::now_ms;
use crate::conn::{ConnHandle, ConnId, Frame};
use crate::repl::RoomCore;
use crate::store::{StoreError, Stored, idem_hash};

pub(super) fn spawn(name: Arc<str>, ctx: Arc<RoomCtx>) -> RoomHandle {
    let (tx, rx) = mpsc::channel(ctx.config.mailbox);
    let (status_tx, status) = watch::channel(RoomStatus::default());
    let handle = RoomHandle { name: name.clone(), tx, status };
    tokio::spawn(async move {
        ctx.metrics.rooms_open.inc();
        match Room::load(name.clone(), ctx.clone(), status_tx).await {
            Ok(room) => room.run(rx).await,
            Err(e) => tracing::error!(room = %name, error = %e, "cannot load room"),
        }
        ctx.metrics.rooms_open.dec();
    });
    handle
}

struct Member {
    conn: ConnHandle,
    /// Messages the client already holds beyond what this node had when it
    /// joined (it resumed from a node that was ahead): not sent again.
    skip: Option<RoomVector>,
}

/// Messages handed to the store, in acceptance order, awaiting their commit.
struct PendingCommit {
    msgs: Vec<Arc<Message>>,
    done: oneshot::Receiver<Result<(), StoreError>>,
}

struct Room {
    name: Arc<str>,
    ctx: Arc<RoomCtx>,
    core: RoomCore,
    /// Committed and visible: what clients may be told about.
    committed: RoomVector,
    cache: RecentCache,
    /// Hashes of every `(author, id)` in the room, committed or in flight.
    ids: HashSet<u64>,
    /// Sends waiting for their commit, by `(author, id)`; a repeat joins the wait.
    inflight: HashMap<(Arc<str>, String), Vec<AckTo>>,
    commits: VecDeque<PendingCommit>,
    members: HashMap<ConnId, Member>,
    /// Connections per name: a name is one presence however many tabs it has.
    names: HashMap<Arc<str>, usize>,
    status: watch::Sender<RoomStatus>,
    /// The store refused a commit: stop accepting until the node restarts.
    broken: bool,
    /// The room has been recorded in the store's room list.
    touched: bool,
}

enum Event {
    Committed(Result<(), StoreError>),
    Cmd(RoomCmd),
    Stop,
}

impl Room {
    async fn load(name: Arc<str>, ctx: Arc<RoomCtx>, status: watch::Sender<RoomStatus>) -> Result<Room, StoreError> {
        let snap = ctx.store.room_snapshot(&name, ctx.config.cache).await?;
        let touched = !snap.vector.is_empty();
        let core = RoomCore::new(&name, &ctx.node, snap.vector.clone(), snap.last_ts);
        let cache = RecentCache::new(ctx.config.cache, snap.recent, &snap.vector);
        status.send_replace(RoomStatus { vector: snap.vector.clone(), online: 0 });
        Ok(Room {
            name,
            core,
            committed: snap.vector,
            cache,
            ids: snap.ids.into_iter().collect(),
            inflight: HashMap::new(),
            commits: VecDeque::new(),
            members: HashMap::new(),
            names: HashMap::new(),
            status,
            broken: false,
            touched,
            ctx,
        })
    }

    async fn run(mut self, mut rx: mpsc::Receiver<RoomCmd>) {
        loop {
            let next_commit = async {
                match self.commits.front_mut() {
                    Some(p) => (&mut p.done).await.unwrap_or(Err(StoreError::Closed)),
                    None => std::future::pending().await,
                }
            };
            let event = tokio::select! {
                biased;
                r = next_commit => Event::Committed(r),
                cmd = rx.recv() => cmd.map_or(Event::Stop, Event::Cmd),
            };
            match event {
                Event::Committed(result) => {
                    if let Some(p) = self.commits.pop_front() {
                        self.on_committed(p.msgs, result);
                    }
                }
                Event::Cmd(cmd) => self.handle(cmd).await,
                Event::Stop => break,
            }
        }
        // Every handle is gone (the node is stopping): finish what is in flight.
        while let Some(p) = self.commits.pop_front() {
            let result = p.done.await.unwrap_or(Err(StoreError::Closed));
            self.on_committed(p.msgs, result);
        }
    }

    async fn handle(&mut self, cmd: RoomCmd) {
        match cmd {
            RoomCmd::Join { conn, since } => self.on_join(conn, since).await,
            RoomCmd::Leave { conn } => self.remove_member(conn),
            RoomCmd::Send { to, author, id, body } => self.on_send(to, author, id, body).await,
            RoomCmd::Typing { conn } => self.on_typing(conn),
            RoomCmd::CatchUp { since, reply } => {
                let c = self.catch_up(Some(&since)).await;
                let _ = reply.send(c);
            }
        }
    }

    async fn on_send(&mut self, to: AckTo, author: Arc<str>, id: String, body: String) {
        let key = (author, id);
        if let Some(waiters) = self.inflight.get_mut(&key) {
            waiters.push(to);
            return;
        }
        let (author, id) = key;
        let hash = idem_hash(&author, &id);
        if self.ids.contains(&hash) {
            let found = match self.cache.find(&author, &id) {
                Some(m) => Ok(Some(m.clone())),
                None => self.ctx.store.find(&self.name, &author, &id).await.map(|m| m.map(Arc::new)),
            };
            match found {
                Ok(Some(original)) => return ack(to, &original),
                Ok(None) => {} // a hash collision: it is new after all
                Err(e) => {
                    tracing::warn!(room = %self.name, error = %e, "idempotency lookup failed");
                    return refuse(to, ErrorCode::Unavailable, &id);
                }
            }
        }
        if self.broken {
            return refuse(to, ErrorCode::Unavailable, &id);
        }
        let msg = Arc::new(self.core.accept_local(&author, &id, &body, now_ms()));
        match self.ctx.store.append(vec![Stored { msg: msg.clone(), hidden: false }]).await {
            Ok(done) => {
                self.ids.insert(hash);
                self.inflight.insert((author, id), vec![to]);
                self.commits.push_back(PendingCommit { msgs: vec![msg], done });
                self.ctx.metrics.messages_accepted.inc();
            }
            Err(e) => {
                tracing::error!(room = %self.name, error = %e, "store refused a message");
                self.broken = true;
                refuse(to, ErrorCode::Unavailable, &id);
            }
        }
    }

    fn on_committed(&mut self, msgs: Vec<Arc<Message>>, result: Result<(), StoreError>) {
        if let Err(e) = result {
            // The core already counted these seqs; with the store stopped,
            // nothing more is accepted here until a restart reloads from disk.
            tracing::error!(room = %self.name, error = %e, "commit failed; room stops accepting");
            self.broken = true;
            for m in msgs {
                for to in self.inflight.remove(&(Arc::from(m.author.as_str()), m.id.clone())).unwrap_or_default() {
                    refuse(to, ErrorCode::Unavailable, &m.id);
                }
            }
            return;
        }
        for msg in msgs {
            self.committed.set(&msg.origin, msg.seq.max(self.committed.get(&msg.origin)));
            self.cache.insert(msg.clone());
            let waiters = self.inflight.remove(&(Arc::from(msg.author.as_str()), msg.id.clone())).unwrap_or_default();
            let mut skip_conns: Vec<ConnId> = Vec::with_capacity(waiters.len());
            for to in waiters {
                if let AckTo::Conn(c) = &to {
                    skip_conns.push(c.id());
                }
                ack(to, &msg);
            }
            self.fan_out(&msg, &skip_conns);
        }
        self.publish();
    }

    /// Queues one serialised `message` frame to every member but `except`.
    fn fan_out(&mut self, msg: &Message, except: &[ConnId]) {
        let frame = Frame::from(encode::message(msg));
        let mut delivered = 0;
        let mut dead = Vec::new();
        for (id, member) in &self.members {
            if except.contains(id) || member.skip.as_ref().is_some_and(|s| s.covers(&msg.origin, msg.seq)) {
                continue;
            }
            if member.conn.push(frame.clone()) {
                delivered += 1;
            } else {
                dead.push(*id);
            }
        }
        self.ctx.metrics.deliveries.add(delivered);
        for id in dead {
            self.remove_member(id);
        }
    }

    async fn on_join(&mut self, conn: ConnHandle, since: Option<RoomVector>) {
        let catch = self.catch_up(since.as_ref()).await;
        let rejoin = self.members.contains_key(&conn.id());
        let name = conn.name_arc();
        let first_tab = !rejoin && !self.names.contains_key(&name);
        if !rejoin {
            *self.names.entry(name.clone()).or_insert(0) += 1;
        }
        let mut frames = Vec::with_capacity(catch.messages.len() + 2);
        let joined = ServerFrame::Joined { room: self.name.to_string(), members: self.member_names() };
        frames.push(Frame::from(joined.to_json()));
        frames.extend(catch.messages.iter().map(|m| Frame::from(encode::message(m))));
        let synced = ServerFrame::Synced { room: self.name.to_string(), vector: catch.vector.clone(), gap: catch.gap };
        frames.push(Frame::from(synced.to_json()));
        let skip = since.filter(|s| !catch.gap && !self.committed.dominates(s));
        let id = conn.id();
        let accepted = conn.push_many(frames);
        self.members.insert(id, Member { conn, skip });
        if !accepted {
            self.remove_member(id);
            return;
        }
        if first_tab {
            self.broadcast(Frame::from(encode::presence(&self.name, &name, true)), |m| m.conn.id() != id);
        }
        if !self.touched {
            self.ctx.store.touch(&self.name);
            self.touched = true;
        }
        self.publish();
    }

    fn remove_member(&mut self, id: ConnId) {
        let Some(member) = self.members.remove(&id) else { return };
        let name = member.conn.name_arc();
        let last_tab = match self.names.get_mut(&name) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => {
                self.names.remove(&name);
                true
            }
            None => false,
        };
        if last_tab {
            self.broadcast(Frame::from(encode::presence(&self.name, &name, false)), |_| true);
        }
        self.publish();
    }

    fn on_typing(&mut self, conn: ConnId) {
        let Some(name) = self.members.get(&conn).map(|m| m.conn.name_arc()) else { return };
        self.broadcast(Frame::from(encode::typing(&self.name, &name)), |m| m.conn.name() != &*name);
    }

    /// Queues `frame` to the members `to` selects; drops those that cannot take it.
    fn broadcast(&mut self, frame: Frame, to: impl Fn(&Member) -> bool) {
        let dead: Vec<ConnId> = self
            .members
            .iter()
            .filter(|(_, m)| to(m))
            .filter(|(_, m)| !m.conn.push(frame.clone()))
            .map(|(id, _)| *id)
            .collect();
        for id in dead {
            self.remove_member(id);
        }
    }

    /// What a client holding `since` lacks (the latest messages without it).
    async fn catch_up(&self, since: Option<&RoomVector>) -> CatchUp {
        let latest = |gap| CatchUp { messages: self.cache.latest(BACKLOG), vector: self.committed.clone(), gap };
        let Some(since) = since else { return latest(false) };
        let mut vector = self.committed.clone();
        vector.merge(since);
        let missing = since.missing_from(&self.committed);
        if missing == 0 {
            return CatchUp { messages: Vec::new(), vector, gap: false };
        }
        if missing > self.ctx.config.catchup_limit {
            return latest(true);
        }
        if let Some(messages) = self.cache.since(since, &self.committed) {
            return CatchUp { messages, vector, gap: false };
        }
        match self.ctx.store.missing(&self.name, since.clone(), self.committed.clone()).await {
            Ok(msgs) => CatchUp { messages: msgs.into_iter().map(Arc::new).collect(), vector, gap: false },
            Err(e) => {
                tracing::warn!(room = %self.name, error = %e, "catch-up read failed; sending the latest");
                latest(true)
            }
        }
    }

    fn member_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.names.keys().map(|n| n.to_string()).collect();
        names.sort();
        names
    }

    fn publish(&self) {
        let status = RoomStatus { vector: self.committed.clone(), online: self.names.len() };
        self.status.send_if_modified(|s| {
            let changed = *s != status;
            *s = status;
            changed
        });
    }
}

fn ack(to: AckTo, msg: &Arc<Message>) {
    match to {
        AckTo::Conn(c) => {
            c.push(Frame::from(encode::ack(msg)));
        }
        AckTo::Http(tx) => {
            let _ = tx.send(Ok(msg.clone()));
        }
    }
}

/// Answers a `send` with an error that names its id.
fn refuse(to: AckTo, code: ErrorCode, id: &str) {
    match to {
        AckTo::Conn(c) => {
            let frame = ServerFrame::Error { code, message: code.describe().to_owned(), id: Some(id.to_owned()) };
            c.push(Frame::from(frame.to_json()));
        }
        AckTo::Http(tx) => {
            let _ = tx.send(Err(code));
        }
    }
}
