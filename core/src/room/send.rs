//! Local sends, idempotency, and what happens when a batch commits: acks,
//! fan-out, pushes to peers.

use std::sync::Arc;

use meshchat_shared::{ErrorCode, Message};

use super::{Batch, ConnId, Effect, Out, Parked, Proof, RoomState, Stored, Waiter};
use crate::idem_hash;

impl RoomState {
    pub(super) fn on_send(&mut self, waiter: Waiter, author: Arc<str>, id: String, body: String, now_ms: u64) {
        // A connection sends only to a room it is in (its join may have been
        // refused); HTTP posts have no connection.
        if waiter.conn.is_some_and(|c| !self.members.contains_key(&c)) {
            return self.emit(Effect::Refuse { req: waiter.req, code: ErrorCode::NotJoined });
        }
        // A repeat is answered with the original before any check of what it
        // asks: a retried delete whose first try was taken would now be
        // refused (its target is deleted, by itself).
        let key = (author, id);
        if let Some(waiters) = self.inflight.get_mut(&key) {
            waiters.push(waiter);
            return;
        }
        let (author, id) = key;
        if self.ids.contains(&idem_hash(&author, &id)) {
            if let Some(original) = self.visible_in_memory(&author, &id) {
                return self.emit(Effect::Ack { req: waiter.req, msg: original });
            }
            // Known by hash but not in memory: the store says whether it is
            // a repeat (or a hash collision). Sends wait behind the answer.
            let lookup = self.next_id();
            self.emit(Effect::Lookup { lookup, author: author.clone(), id: id.clone() });
            self.parked = Some((lookup, Parked::Send { waiter, author, id, body }));
            return;
        }
        self.accept_new(waiter, author, id, body, now_ms);
    }

    /// A send that is no repeat: taken if its author may make it now.
    fn accept_new(&mut self, waiter: Waiter, author: Arc<str>, id: String, body: String, now_ms: u64) {
        if let Err(code) = self.check_send(&author, &id, &body) {
            return self.emit(Effect::Refuse { req: waiter.req, code });
        }
        self.accept(waiter, author, id, body, now_ms);
    }

    pub(super) fn accept(&mut self, waiter: Waiter, author: Arc<str>, id: String, body: String, now_ms: u64) {
        // What every peer will check on arrival, checked by the same
        // function before the message takes a seq: a peer that refused it
        // would hold back everything after it from this node.
        if meshchat_shared::stored::validate_content(&author, &id, &body).is_err() {
            return self.emit(Effect::Refuse { req: waiter.req, code: ErrorCode::Invalid });
        }
        if self.broken {
            return self.emit(Effect::Refuse { req: waiter.req, code: ErrorCode::Unavailable });
        }
        let msg = Arc::new(self.log.accept_local(&author, &id, &body, now_ms));
        self.ids.insert(idem_hash(&author, &id));
        let key = (author, id);
        self.uncommitted.insert(key.clone(), msg.clone());
        self.inflight.insert(key, vec![waiter]);
        self.building.push(Stored { msg: msg.clone(), hidden: false, proof: None });
        // This node's own events count at once, so that what follows them
        // here (a joiner's first message) is judged by them.
        self.govern(&msg);
    }

    /// The visible copy of a key among messages in flight or cached.
    pub(super) fn visible_in_memory(&self, author: &str, id: &str) -> Option<Arc<Message>> {
        let key = (Arc::<str>::from(author), id.to_owned());
        self.uncommitted.get(&key).or_else(|| self.cache.find(author, id)).cloned()
    }

    pub(super) fn on_found(&mut self, lookup: u64, result: Result<Option<Message>, ()>, now_ms: u64) {
        let parked = match self.parked.take() {
            Some((id, parked)) if id == lookup => parked,
            other => {
                self.parked = other;
                return;
            }
        };
        match parked {
            Parked::Send { waiter, author, id, body } => match result {
                Ok(Some(original)) => self.emit(Effect::Ack { req: waiter.req, msg: Arc::new(original) }),
                Ok(None) => self.accept_new(waiter, author, id, body, now_ms),
                Err(()) => self.emit(Effect::Refuse { req: waiter.req, code: ErrorCode::Unavailable }),
            },
            Parked::Remote(msg, proof) => {
                // A store that cannot say keeps both visible rather than
                // stalling the room; anti-entropy has them both anyway.
                self.resolve(msg, proof, result.ok().flatten().map(Arc::new));
                self.admit_ready();
            }
        }
        self.resume_held(now_ms);
    }

    /// `(author, id)` is unique across the mesh. If a crash or partition let
    /// two nodes accept one key, every node keeps the copy earlier in room
    /// order visible and hides the other.
    pub(super) fn resolve(&mut self, msg: Arc<Message>, proof: Proof, existing: Option<Arc<Message>>) {
        // (A delete may have come while it waited for a lookup.)
        let msg = self.erased_if_deleted(msg);
        let key = (Arc::<str>::from(msg.author.as_str()), msg.id.clone());
        match existing.filter(|e| (&e.origin, e.seq) != (&msg.origin, msg.seq)) {
            Some(e) if !std::ptr::eq(crate::preferred(&e, &msg), &*msg) => {
                self.building.push(Stored { msg, hidden: true, proof });
            }
            Some(e) => {
                self.hide(&e);
                self.uncommitted.insert(key, msg.clone());
                self.building.push(Stored { msg: msg.clone(), hidden: false, proof });
                self.govern(&msg);
            }
            None => {
                self.uncommitted.insert(key, msg.clone());
                self.building.push(Stored { msg: msg.clone(), hidden: false, proof });
                // Before the store lists the room: a private room's name is
                // never listed, not even for the moment of its commit.
                self.govern(&msg);
            }
        }
    }

    /// Hides a visible message that lost to another copy of its key,
    /// wherever it is: in this batch, in one being committed, or stored.
    fn hide(&mut self, loser: &Arc<Message>) {
        self.cache.remove(loser);
        // By place, not pointer: an erased copy is a new `Arc` (sim seed
        // 8001829: a hide queued before its row's append).
        let same = |s: &Stored| (&s.msg.origin, s.msg.seq) == (&loser.origin, loser.seq);
        if let Some(s) = self.building.iter_mut().find(|s| same(s)) {
            s.hidden = true;
            return;
        }
        let in_flight = self.commits.iter_mut().flat_map(|b| b.msgs.iter_mut()).find(|s| same(s));
        if let Some(s) = in_flight {
            s.hidden = true;
        }
        // Queued after the loser's own insert, so it applies after it.
        self.emit(Effect::Hide { origin: loser.origin.clone(), seq: loser.seq });
    }

    pub(super) fn on_committed(&mut self, batch: u64, ok: bool) {
        let Some(front) = self.commits.front() else { return };
        if front.id != batch {
            return;
        }
        let Some(Batch { msgs, .. }) = self.commits.pop_front() else { return };
        if !ok {
            return self.commit_failed(msgs);
        }
        let mut ours = Vec::new();
        for Stored { msg, hidden, .. } in msgs {
            let shown = self.take_early(&msg);
            self.committed.set(&msg.origin, msg.seq.max(self.committed.get(&msg.origin)));
            let key = (Arc::<str>::from(msg.author.as_str()), msg.id.clone());
            if self.uncommitted.get(&key).is_some_and(|m| Arc::ptr_eq(m, &msg)) {
                self.uncommitted.remove(&key);
            }
            // Acked, cached, shown and replicated as stored: never the text
            // of what a delete erased meanwhile (sim seed 8000161).
            let msg = self.as_stored(msg);
            if !hidden {
                // A hidden copy's waiters are answered when the visible one commits.
                let waiters = self.inflight.remove(&key).unwrap_or_default();
                let acked: Vec<ConnId> = waiters.iter().filter_map(|w| w.conn).collect();
                for w in waiters {
                    self.emit(Effect::Ack { req: w.req, msg: msg.clone() });
                }
                // Past the retention policy while it was being committed:
                // the store's erasing (queued after it) takes it out.
                if !self.is_expired(&msg) {
                    self.cache.insert(msg.clone());
                    self.govern(&msg);
                    if self.gov.visible(&msg) && !shown {
                        self.fan_out(&msg, &acked);
                    }
                }
            }
            // Peers hear of this node's messages only once they are durable
            // here: a seq a crash could reuse never leaves the node.
            if *msg.origin == *self.node {
                ours.push(msg);
            }
        }
        if !ours.is_empty() {
            self.emit(Effect::Replicate(ours));
        }
    }

    /// The store refused a commit: its seqs are counted already, so nothing
    /// more is accepted here until a restart reloads from disk.
    fn commit_failed(&mut self, msgs: Vec<Stored>) {
        self.broken = true;
        for s in msgs {
            // If shown already: a peer holds it, anti-entropy brings it back,
            // and the members here now hold it (shown live, or at their join
            // while it waited): they must not get it again.
            if self.take_early(&s.msg) {
                for m in self.members.values_mut() {
                    let seq = s.msg.seq.max(m.lost_seen.get(&s.msg.origin));
                    m.lost_seen.set(&s.msg.origin, seq);
                }
            }
            let key = (Arc::<str>::from(s.msg.author.as_str()), s.msg.id.clone());
            self.uncommitted.remove(&key);
            for w in self.inflight.remove(&key).unwrap_or_default() {
                self.emit(Effect::Refuse { req: w.req, code: ErrorCode::Unavailable });
            }
        }
    }

    /// True if `msg` went to members before its commit (it is then the
    /// oldest of those: they commit in the order they were shown; by place,
    /// since a delete may have replaced the text of either copy).
    fn take_early(&mut self, msg: &Message) -> bool {
        let shown = self.early.front().is_some_and(|e| (&e.origin, e.seq) == (&msg.origin, msg.seq));
        if shown {
            self.early.pop_front();
        }
        shown
    }

    /// Sends a message to every member but `except`; members
    /// whose backlog is still being read get it after their backlog.
    pub(super) fn fan_out(&mut self, msg: &Arc<Message>, except: &[ConnId]) {
        let limit = self.config.buffer_limit;
        let mut to = Vec::with_capacity(self.members.len());
        for (id, m) in self.members.iter_mut() {
            if except.contains(id) || m.skip.as_ref().is_some_and(|s| s.covers(&msg.origin, msg.seq)) {
                continue;
            }
            match &mut m.loading {
                Some(l) if l.overflow => {}
                Some(l) if l.buffered.len() >= limit => {
                    l.overflow = true;
                    l.buffered = Vec::new();
                }
                Some(l) => l.buffered.push(msg.clone()),
                None => to.push(*id),
            }
        }
        if !to.is_empty() {
            self.emit(Effect::Deliver { to, out: Out::Message(msg.clone()) });
        }
    }
}
