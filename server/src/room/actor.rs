//! The room actor: its state, its loop, and what it publishes.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use meshchat_shared::{Message, RoomVector};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::cache::RecentCache;
use super::{AckTo, RoomCmd, RoomCtx, RoomHandle, RoomStatus};
use crate::clock::now_ms;
use crate::conn::{ConnHandle, ConnId};
use crate::repl::{Presence, RoomCore};
use crate::store::{StoreError, Stored};

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

pub(super) struct Member {
    pub conn: ConnHandle,
    /// Messages the client already holds beyond what this node had when it
    /// joined (it resumed from a node that was ahead): not sent again.
    pub skip: Option<RoomVector>,
}

/// Messages handed to the store, in order, awaiting their commit.
pub(super) struct PendingCommit {
    pub msgs: Vec<Stored>,
    pub done: oneshot::Receiver<Result<(), StoreError>>,
}

pub(super) type IdemKey = (Arc<str>, String);

pub(super) struct Room {
    pub name: Arc<str>,
    pub ctx: Arc<RoomCtx>,
    pub core: RoomCore,
    /// Committed and visible: what clients may be told about.
    pub committed: RoomVector,
    pub cache: RecentCache,
    /// Hashes of every `(author, id)` in the room, committed or in flight.
    pub ids: HashSet<u64>,
    /// Local sends waiting for their commit; a repeat joins the wait.
    pub inflight: HashMap<IdemKey, Vec<AckTo>>,
    /// Visible messages not committed yet, by `(author, id)`: duplicates
    /// across origins are resolved against them too.
    pub uncommitted: HashMap<IdemKey, Arc<Message>>,
    /// Not-yet-committed messages that lost to another copy of their key.
    pub hide_on_commit: HashSet<(String, u64)>,
    pub commits: VecDeque<PendingCommit>,
    pub members: HashMap<ConnId, Member>,
    pub presence: Presence,
    pub status: watch::Sender<RoomStatus>,
    /// The store refused a commit: stop accepting until the node restarts.
    pub broken: bool,
    /// The room has been recorded in the store's room list.
    pub touched: bool,
    /// When a gap was last asked of a peer.
    pub last_want: Option<Instant>,
}

enum Event {
    Committed(Result<(), StoreError>),
    Cmd(RoomCmd),
    Grace,
    Stop,
}

impl Room {
    async fn load(name: Arc<str>, ctx: Arc<RoomCtx>, status: watch::Sender<RoomStatus>) -> Result<Room, StoreError> {
        let snap = ctx.store.room_snapshot(&name, ctx.config.cache).await?;
        let touched = !snap.vector.is_empty();
        let core = RoomCore::new(&name, &ctx.node, snap.vector.clone(), snap.last_ts);
        let cache = RecentCache::new(ctx.config.cache, snap.recent, &snap.vector);
        status.send_replace(RoomStatus { vector: snap.vector.clone(), online: 0 });
        ctx.index.set_vector(&name, &snap.vector);
        Ok(Room {
            name,
            core,
            committed: snap.vector,
            cache,
            ids: snap.ids.into_iter().collect(),
            inflight: HashMap::new(),
            uncommitted: HashMap::new(),
            hide_on_commit: HashSet::new(),
            commits: VecDeque::new(),
            members: HashMap::new(),
            presence: Presence::new(),
            status,
            broken: false,
            touched,
            last_want: None,
            ctx,
        })
    }

    async fn run(mut self, mut rx: mpsc::Receiver<RoomCmd>) {
        loop {
            let grace_ends = self
                .presence
                .next_deadline()
                .map(|at| Instant::now() + Duration::from_millis(at.saturating_sub(now_ms())));
            let next_commit = async {
                match self.commits.front_mut() {
                    Some(p) => (&mut p.done).await.unwrap_or(Err(StoreError::Closed)),
                    None => std::future::pending().await,
                }
            };
            let grace = async {
                match grace_ends {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let event = tokio::select! {
                biased;
                r = next_commit => Event::Committed(r),
                cmd = rx.recv() => cmd.map_or(Event::Stop, Event::Cmd),
                _ = grace => Event::Grace,
            };
            match event {
                Event::Committed(result) => {
                    if let Some(p) = self.commits.pop_front() {
                        self.on_committed(p.msgs, result);
                    }
                }
                Event::Cmd(cmd) => self.handle(cmd).await,
                Event::Grace => self.on_grace_over(),
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
            RoomCmd::Remote { from, msgs } => self.on_remote(&from, msgs).await,
            RoomCmd::PeerPresence { peer, names } => self.on_peer_presence(&peer, names),
            RoomCmd::PeerPresenceUpdate { peer, name, online } => self.on_peer_presence_update(&peer, &name, online),
            RoomCmd::PeerDown { peer } => {
                self.presence.peer_down(&peer, now_ms(), self.ctx.config.grace.as_millis() as u64)
            }
            RoomCmd::PeerTyping { name } => self.on_peer_typing(&name),
        }
    }

    /// The committed vector changed: tell pollers and the mesh's index.
    pub(super) fn publish_vector(&self) {
        self.ctx.index.set_vector(&self.name, &self.committed);
        self.publish_status();
    }

    pub(super) fn publish_status(&self) {
        let status = RoomStatus { vector: self.committed.clone(), online: self.presence.online().len() };
        self.status.send_if_modified(|s| {
            let changed = *s != status;
            *s = status;
            changed
        });
    }
}
