//! The room actor: a thin shell that feeds the room's state machine and
//! carries out its effects.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Weak};
use std::time::Duration;

use meshchat_shared::frames::encode;
use meshchat_shared::rooms::{RoomInfo, is_read_marker, present_as};
use meshchat_shared::{ErrorCode, Message, RoomVector, ServerFrame};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::{AckTo, CatchUp, Hub, PeerEvent, RoomCmd, RoomCtx, RoomHandle, RoomStatus};
use crate::core::{Effect, Input, Out, Proof, Rejected, ReqId, RoomState, Signed};
use crate::edge::conn::{ConnHandle, ConnId, Frame};
use crate::infra::clock::now_ms;
use crate::store::{Erasing, StoreError};

pub(super) fn spawn(name: Arc<str>, ctx: Arc<RoomCtx>, hub: Weak<Hub>) -> RoomHandle {
    let (tx, rx) = mpsc::channel(ctx.config.mailbox.max(1));
    // Pollers see the stored vector at once, before the room has loaded.
    let vector = ctx.index.vector(&name).unwrap_or_default();
    let (status, status_rx) = watch::channel(RoomStatus { vector, online: 0, gov: None });
    let handle = RoomHandle { name: name.clone(), tx, status: status_rx };
    tokio::spawn(async move {
        ctx.metrics.rooms_open.inc();
        match ctx.store.room_snapshot(&name, ctx.config.core.cache).await {
            Ok(snap) => {
                let core = RoomState::new(&name, &ctx.node, ctx.config.core.clone(), snap);
                Actor::new(name, ctx.clone(), hub, core, status).run(rx).await;
            }
            Err(e) => tracing::error!(room = %name, error = %e, "cannot load room"),
        }
        ctx.metrics.rooms_open.dec();
    });
    handle
}

type Commit = (u64, oneshot::Receiver<Result<(), StoreError>>);

struct Actor {
    name: Arc<str>,
    ctx: Arc<RoomCtx>,
    hub: Weak<Hub>,
    core: RoomState,
    /// The members' connections, by the ids the core knows them by.
    conns: HashMap<ConnId, ConnHandle>,
    /// Who gets the answer to each send the core was given, and its id.
    acks: HashMap<ReqId, (AckTo, String)>,
    polls: HashMap<ReqId, oneshot::Sender<CatchUp>>,
    next_req: ReqId,
    /// Appends handed to the store, oldest first (they commit in order).
    /// An effect taken from the core to look past an append, not yet done.
    stashed: Option<Effect>,
    commits: VecDeque<Commit>,
    /// Answers of store reads done off this task.
    results_tx: mpsc::UnboundedSender<Input>,
    results: mpsc::UnboundedReceiver<Input>,
    /// Inputs produced while carrying out effects, fed next.
    inputs: VecDeque<Input>,
    /// Signatures of this node's messages, from their append to their push
    /// to peers.
    proofs: HashMap<u64, Proof>,
    status: watch::Sender<RoomStatus>,
    /// When to load the room again from the store, after a refused commit.
    reload_at: Option<Instant>,
    /// The mesh's retention policy in days (0: none), and when to apply
    /// the policy again as time passes.
    retention: watch::Receiver<u32>,
    expire_every: tokio::time::Interval,
}

/// How often a running room applies its retention policy.
const EXPIRE_EVERY: Duration = Duration::from_secs(60);

/// A room whose store refused a commit (a full disk) loads again from the
/// store this often, until a commit succeeds again.
const RELOAD_AFTER: Duration = Duration::from_secs(1);

enum Event {
    Reload,
    Committed(u64, bool),
    Result(Input),
    Cmd(RoomCmd),
    Timeout,
    Expire,
    Idle,
    Closed,
}

impl Actor {
    fn new(
        name: Arc<str>,
        ctx: Arc<RoomCtx>,
        hub: Weak<Hub>,
        core: RoomState,
        status: watch::Sender<RoomStatus>,
    ) -> Actor {
        let (results_tx, results) = mpsc::unbounded_channel();
        let retention = ctx.retention.subscribe();
        let mut expire_every = tokio::time::interval_at(Instant::now() + EXPIRE_EVERY, EXPIRE_EVERY);
        expire_every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Actor {
            name,
            ctx,
            hub,
            core,
            conns: HashMap::new(),
            acks: HashMap::new(),
            polls: HashMap::new(),
            next_req: 0,
            stashed: None,
            commits: VecDeque::new(),
            results_tx,
            results,
            inputs: VecDeque::new(),
            proofs: HashMap::new(),
            status,
            reload_at: None,
            retention,
            expire_every,
        }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<RoomCmd>) {
        // The core published its loaded state on creation; what is past the
        // retention policy goes before anyone is served.
        self.drain_effects().await;
        self.expire().await;
        loop {
            match self.next_event(&mut rx).await {
                Event::Reload => self.reload().await,
                Event::Committed(batch, ok) => self.feed(Input::Committed { batch, ok }).await,
                Event::Result(input) => self.feed(input).await,
                Event::Cmd(cmd) => self.command(cmd).await,
                Event::Timeout => self.feed(Input::Timeout).await,
                Event::Expire => self.expire().await,
                Event::Idle => {
                    if self.retire(&rx) {
                        break;
                    }
                }
                Event::Closed => break,
            }
        }
        // Stopping (the node is, or the room retired): finish what is in flight.
        while let Some((batch, done)) = self.commits.pop_front() {
            let ok = matches!(done.await, Ok(Ok(())));
            self.feed(Input::Committed { batch, ok }).await;
        }
    }

    async fn next_event(&mut self, rx: &mut mpsc::Receiver<RoomCmd>) -> Event {
        let timeout =
            self.core.poll_timeout().map(|at| Instant::now() + Duration::from_millis(at.saturating_sub(now_ms())));
        let idle = self.is_idle();
        // A deadline, not a quiet spell: sends keep coming while the disk is full.
        if self.core.is_broken() && self.reload_at.is_none() {
            self.reload_at = Some(Instant::now() + RELOAD_AFTER);
        }
        let reload = self.reload_at.filter(|_| self.commits.is_empty());
        let next_commit = async {
            match self.commits.front_mut() {
                Some((batch, done)) => (*batch, matches!(done.await, Ok(Ok(())))),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            (batch, ok) = next_commit => {
                self.commits.pop_front();
                Event::Committed(batch, ok)
            }
            Some(input) = self.results.recv() => Event::Result(input),
            cmd = rx.recv() => cmd.map_or(Event::Closed, Event::Cmd),
            _ = sleep_until(timeout) => Event::Timeout,
            _ = self.expire_every.tick() => Event::Expire,
            Ok(()) = self.retention.changed() => Event::Expire,
            _ = tokio::time::sleep(self.ctx.config.idle_after), if idle => Event::Idle,
            _ = sleep_until(reload), if reload.is_some() => Event::Reload,
        }
    }

    /// After a refused commit: the room as the store holds it, its members
    /// joined again from what they were shown. Sends are refused
    /// (`unavailable`) until then, and again if the store still refuses.
    async fn reload(&mut self) {
        self.reload_at = None;
        // No append of this room is in flight (a reload waits for them):
        // what the store holds now is all it will hold of before.
        if let Err(e) = self.ctx.store.resume(&self.name).await {
            return tracing::warn!(room = %self.name, error = %e, "cannot reload the room yet");
        }
        let snap = match self.ctx.store.room_snapshot(&self.name, self.ctx.config.core.cache).await {
            Ok(s) => s,
            Err(e) => return tracing::warn!(room = %self.name, error = %e, "cannot reload the room yet"),
        };
        // Each member from what it was shown, as the old state knows it.
        let members: Vec<(ConnId, Arc<str>, RoomVector)> =
            self.conns.iter().map(|(id, c)| (*id, c.name_arc(), self.core.shown_to(*id))).collect();
        self.core = RoomState::new(&self.name, &self.ctx.node, self.ctx.config.core.clone(), snap);
        self.drain_effects().await;
        self.expire().await;
        for (conn, name, since) in members {
            self.feed(Input::Join { conn, name, since: Some(since) }).await;
        }
        tracing::info!(room = %self.name, "reloaded from the store after a refused commit");
    }

    /// Applies the retention policy as of now.
    async fn expire(&mut self) {
        let mesh_days = *self.retention.borrow_and_update();
        self.feed(Input::Expire { mesh_days }).await;
    }

    fn is_idle(&self) -> bool {
        self.core.is_idle() && self.conns.is_empty() && self.acks.is_empty() && self.polls.is_empty()
    }

    /// Stops if the hub agrees that nobody holds a handle to this room.
    fn retire(&self, rx: &mpsc::Receiver<RoomCmd>) -> bool {
        let Some(hub) = self.hub.upgrade() else { return true };
        hub.retire(&self.name, || rx.is_empty() && self.is_idle())
    }

    async fn command(&mut self, cmd: RoomCmd) {
        let input = match cmd {
            RoomCmd::Join { conn, since } => {
                let (id, name) = (conn.id(), conn.name_arc());
                self.conns.insert(id, conn);
                Input::Join { conn: id, name, since }
            }
            RoomCmd::Leave { conn } => {
                self.conns.remove(&conn);
                Input::Leave { conn }
            }
            RoomCmd::Gone { conn } => {
                self.conns.remove(&conn);
                Input::Gone { conn }
            }
            RoomCmd::Send { to, author, id, body } => {
                let conn = match &to {
                    AckTo::Conn(c) => Some(c.id()),
                    AckTo::Http(_) => None,
                };
                let Some(req) = self.take_write(to, &id) else { return };
                Input::Send { req, conn, author, id, body }
            }
            RoomCmd::Import { to, author, id, body, ts } => {
                let Some(req) = self.take_write(to, &id) else { return };
                Input::Import { req, author, id, body, ts }
            }
            RoomCmd::Typing { conn } => Input::Typing { conn },
            RoomCmd::CatchUp { since, reply } => {
                let req = self.request();
                self.polls.insert(req, reply);
                Input::CatchUp { req, since }
            }
            RoomCmd::Remote { from, msgs } => Input::Remote { from, msgs },
            RoomCmd::PeerPresence { peer, names } => Input::PeerPresence { peer, names },
            RoomCmd::PeerPresenceUpdate { peer, name, online } => Input::PeerPresenceUpdate { peer, name, online },
            RoomCmd::PeerDown { peer } => Input::PeerDown { peer },
            RoomCmd::PeerTyping { name } => Input::PeerTyping { name },
        };
        self.feed(input).await;
    }

    /// A write's request id, its answer kept for `to`; `None` (refused
    /// `unavailable`) while a restored node waits for its own later
    /// messages to come back.
    fn take_write(&mut self, to: AckTo, id: &str) -> Option<ReqId> {
        let req = self.request();
        self.acks.insert(req, (to, id.to_owned()));
        let own = self.ctx.index.vector(&self.name).map_or(0, |v| v.get(&self.ctx.node));
        if !self.ctx.gate.allows(&self.name, own) {
            self.refuse(req, ErrorCode::Unavailable);
            return None;
        }
        Some(req)
    }

    fn request(&mut self) -> ReqId {
        self.next_req += 1;
        self.next_req
    }

    /// Feeds an input, then everything its effects feed back, in order.
    async fn feed(&mut self, input: Input) {
        self.inputs.push_back(input);
        while let Some(input) = self.inputs.pop_front() {
            self.core.handle(input, now_ms());
            self.drain_effects().await;
        }
    }

    async fn drain_effects(&mut self) {
        while let Some(effect) = self.stashed.take().or_else(|| self.core.poll()) {
            self.effect(effect).await;
        }
    }

    async fn effect(&mut self, effect: Effect) {
        match effect {
            Effect::Append { batch, mut msgs } => {
                for s in &mut msgs {
                    if *s.msg.origin == *self.ctx.node {
                        self.ctx.metrics.messages_accepted.inc();
                        if s.proof.is_none()
                            && let Some(signer) = &self.ctx.signer
                        {
                            s.proof = signer.sign(&s.msg);
                            self.proofs.insert(s.msg.seq, s.proof.clone());
                        }
                    } else {
                        self.ctx.metrics.messages_replicated_in.inc();
                    }
                }
                // The erasing its deletes ask for (the core emits it next)
                // commits with it: a crash cannot come between a delete's
                // ack and its erasing (the room may not load again soon).
                let erasing = self.erasing_next();
                let appended = match erasing.is_empty() {
                    true => self.ctx.store.append(msgs).await,
                    false => self.ctx.store.append_erasing(msgs, &self.name, erasing).await,
                };
                match appended {
                    Ok(done) => self.commits.push_back((batch, done)),
                    Err(e) => {
                        tracing::error!(room = %self.name, error = %e, "store refused messages; room stops accepting");
                        self.inputs.push_back(Input::Committed { batch, ok: false });
                    }
                }
            }
            Effect::Hide { origin, seq } => {
                if let Err(e) = self.ctx.store.hide(&self.name, &origin, seq).await {
                    tracing::warn!(room = %self.name, error = %e, "cannot hide a duplicate");
                }
            }
            Effect::Touch => {
                self.ctx.index.add(&self.name);
                self.ctx.store.touch(&self.name);
            }
            Effect::Lookup { lookup, author, id } => {
                let (store, room, tx) = (self.ctx.store.clone(), self.name.clone(), self.results_tx.clone());
                tokio::spawn(async move {
                    let result = store.find(&room, &author, &id).await.map_err(|e| {
                        tracing::warn!(%room, error = %e, "idempotency lookup failed");
                    });
                    let _ = tx.send(Input::Found { lookup, result });
                });
            }
            Effect::Read { read, conn, since, upto, limit } => {
                let (store, room, tx) = (self.ctx.store.clone(), self.name.clone(), self.results_tx.clone());
                let conn = conn.and_then(|c| self.conns.get(&c).cloned());
                tokio::spawn(async move {
                    // A backlog page waits for the connection to take the last.
                    if let Some(conn) = conn {
                        conn.drained().await;
                    }
                    let msgs = store.missing_page(&room, since, upto, limit).await;
                    if let Err(e) = &msgs {
                        tracing::warn!(%room, error = %e, "catch-up read failed; sending the latest");
                    }
                    let _ = tx.send(Input::Read { read, msgs: msgs.ok() });
                });
            }
            Effect::Ack { req, msg } => match self.acks.remove(&req) {
                Some((AckTo::Conn(c), _)) => {
                    c.push(Frame::from(encode::ack(&present_as(&msg, c.wants_events()))));
                }
                Some((AckTo::Http(tx), _)) => {
                    let _ = tx.send(Ok(msg));
                }
                None => {}
            },
            Effect::Refuse { req, code } => self.refuse(req, code),
            Effect::CaughtUp { req, catch_up } => {
                if let Some(tx) = self.polls.remove(&req) {
                    let _ = tx.send(catch_up);
                }
            }
            Effect::Deliver { to, out } => self.deliver(&to, out),
            Effect::Replicate(msgs) => {
                if let Some(hook) = &self.ctx.on_commit {
                    hook.committed(&self.name, self.status.borrow().gov.as_ref(), &msgs);
                }
                let signed = msgs
                    .into_iter()
                    .map(|m| Signed { proof: self.proofs.remove(&m.seq).flatten(), msg: Message::clone(&m) })
                    .collect();
                self.publish(PeerEvent::Messages(signed));
            }
            Effect::Want { peer, ranges } => self.publish(PeerEvent::Want { peer, ranges }),
            Effect::AnnouncePresence { name, online } => {
                // A node that is stopping says goodbye instead: its users are
                // moving to other nodes, and peers give them a grace period.
                if online || !self.ctx.shutdown.is_cancelled() {
                    self.publish(PeerEvent::Presence { name, online });
                }
            }
            Effect::AnnounceTyping { name } => self.publish(PeerEvent::Typing { name }),
            Effect::LocalNames(names) => self.ctx.index.set_local_names(&self.name, names.into_iter().collect()),
            Effect::Status { vector, online } => {
                self.ctx.index.set_vector(&self.name, &vector);
                self.status.send_modify(|s| (s.vector, s.online) = (vector, online));
            }
            Effect::Erase(targets) => self.erase(Erasing { keys: targets, authors: Vec::new() }).await,
            Effect::EraseAuthors(authors) => self.erase(Erasing { keys: Vec::new(), authors }).await,
            Effect::Expire { before } => {
                if let Err(e) = self.ctx.store.expire(&self.name, before).await {
                    tracing::warn!(room = %self.name, error = %e, "cannot apply the retention policy");
                }
            }
            Effect::Governance(gov) => {
                self.ctx.index.set_meta(&self.name, super::index::meta_of(&gov));
                self.ctx.store.set_room_meta(&self.name, &super::index::meta_of(&gov), gov.member_names());
                self.status.send_modify(|s| s.gov = Some(gov));
            }
            Effect::Rejected { from, reason } => {
                if matches!(reason, Rejected::Future { .. }) {
                    self.ctx.metrics.clock_skew_refused.inc();
                }
                // Once a minute per peer: a peer gone wrong must not flood the log.
                let due = self.ctx.refusals.lock().map(|mut r| r.due(&from)).unwrap_or(None);
                if let Some(held) = due {
                    tracing::warn!(room = %self.name, peer = %from, held, "refused a replicated message: {reason}");
                }
            }
        }
    }

    /// The erasing the core asks for right after an append (what its
    /// deletes and erased authors need), taken to commit with it; another
    /// effect taken to look is kept for next.
    fn erasing_next(&mut self) -> Erasing {
        let mut erasing = Erasing::default();
        loop {
            match self.core.poll() {
                Some(Effect::Erase(keys)) => erasing.keys.extend(keys),
                Some(Effect::EraseAuthors(authors)) => erasing.authors.extend(authors),
                next => {
                    self.stashed = next;
                    return erasing;
                }
            }
        }
    }

    async fn erase(&self, erasing: Erasing) {
        if let Err(e) = self.ctx.store.redact(&self.name, erasing).await {
            tracing::warn!(room = %self.name, error = %e, "cannot erase a deleted text");
        }
    }

    fn publish(&self, event: PeerEvent) {
        if let Some(broker) = &self.ctx.broker {
            broker.publish(&self.name, event);
        }
    }

    /// Answers a `send` with an error that names its id.
    fn refuse(&mut self, req: ReqId, code: ErrorCode) {
        match self.acks.remove(&req) {
            Some((AckTo::Conn(c), id)) => {
                let frame = ServerFrame::Error { code, message: code.describe().to_owned(), id: Some(id) };
                c.push(Frame::from(frame.to_json()));
            }
            Some((AckTo::Http(tx), _)) => {
                let _ = tx.send(Err(code));
            }
            None => {}
        }
    }

    /// Serialises once, queues to every connection in `to`; a connection
    /// that cannot take it leaves the room.
    fn deliver(&mut self, to: &[ConnId], out: Out) {
        // Messages as each client asked for them: room events as they are,
        // or as notices in words (serialised once per kind, when needed).
        let raw_frames = match &out {
            Out::Message(_) | Out::Backlog(_)
                if to.iter().any(|c| self.conns.get(c).is_some_and(|h| h.wants_events())) =>
            {
                Some(self.frames(&out, true))
            }
            _ => None,
        };
        let frames = self.frames(&out, false);
        let mut delivered = 0;
        for id in to {
            let Some(conn) = self.conns.get(id) else { continue };
            let frames = match &raw_frames {
                Some(raw) if conn.wants_events() => raw,
                _ => &frames,
            };
            let ok = match frames.as_slice() {
                [one] => conn.push(one.clone()),
                many => conn.push_many(many.to_vec()),
            };
            if ok {
                delivered += 1;
            } else {
                self.conns.remove(id);
                self.inputs.push_back(Input::Gone { conn: *id });
            }
        }
        if matches!(out, Out::Message(_)) {
            self.ctx.metrics.deliveries.inc_by(delivered);
        }
    }

    fn frames(&self, out: &Out, raw: bool) -> Vec<Frame> {
        let room = self.name.to_string();
        match out {
            // Read markers are for clients that apply events.
            Out::Message(msg) if !raw && is_read_marker(msg) => Vec::new(),
            Out::Message(msg) => vec![Frame::from(encode::message(&present_as(msg, raw)))],
            Out::Presence { name, online } => vec![Frame::from(encode::presence(&self.name, name, *online))],
            Out::Typing { name } => vec![Frame::from(encode::typing(&self.name, name))],
            Out::Joined { members } => {
                vec![Frame::from(ServerFrame::Joined { room, members: members.clone() }.to_json())]
            }
            Out::Backlog(msgs) => msgs
                .iter()
                .filter(|m| raw || !is_read_marker(m))
                .map(|m| Frame::from(encode::message(&present_as(m, raw))))
                .collect(),
            Out::Synced { vector, gap } => {
                vec![Frame::from(ServerFrame::Synced { room, vector: vector.clone(), gap: *gap }.to_json())]
            }
            Out::Refused { code, message } => {
                vec![Frame::from(ServerFrame::Error { code: *code, message: message.clone(), id: None }.to_json())]
            }
            Out::Room(info) => vec![Frame::from(ServerFrame::Room { info: RoomInfo::clone(info) }.to_json())],
            Out::Hidden { user, from } => {
                let frame = ServerFrame::Hidden { room, author: user.to_string(), from: from.clone() };
                vec![Frame::from(frame.to_json())]
            }
            Out::Deleted { origin, seq } => {
                vec![Frame::from(ServerFrame::Deleted { room, origin: origin.clone(), seq: *seq }.to_json())]
            }
            Out::Removed { reason } => {
                vec![Frame::from(ServerFrame::Removed { room, reason: reason.clone() }.to_json())]
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
