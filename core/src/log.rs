//! One room's log on one node: per-origin sequences, stamps, causal delivery.
//!
//! Per origin, a room's messages form a gapless log (seq 1, 2, 3…). The core
//! tracks how far each log has been delivered here (the room vector), stamps
//! local messages, and holds back remote ones until they are deliverable:
//! the next seq of their origin, and everything their `vc` covers already
//! delivered. Delivered in that order, every node's vector always describes a
//! causally closed set, and a vector means the same set everywhere.

use std::collections::BTreeMap;

use meshchat_shared::{Hlc, Message, RoomVector};
use thiserror::Error;

use super::sync::Range;

/// Why a message from a peer was refused outright.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Rejected {
    #[error("message is for room {0:?}")]
    WrongRoom(String),
    #[error("message vc does not name its own seq")]
    BadVector,
    /// Its stamp is further ahead of this node's clock than the drift
    /// allowed: adopting it would push every later stamp here into the
    /// future. It waits at its sender (anti-entropy offers it again) until
    /// this clock catches up.
    #[error("stamped {ahead_ms} ms ahead of this node's clock")]
    Future { ahead_ms: u64 },
    /// Too many messages already wait for their causal past here; this one
    /// comes again with anti-entropy.
    #[error("more than {MAX_PENDING} messages wait for their causal past")]
    Overflow,
}

/// Messages of a room held back for their causal past, at most.
pub const MAX_PENDING: usize = 10_000;

/// A message and its origin's signature over it (`None` where signatures
/// are not checked, as in the simulation): what the mesh carries and the
/// store keeps, so that any node can pass a message on and the receiver
/// can check that its origin wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub msg: Message,
    pub proof: Proof,
}

/// An origin's signature over a message, opaque to the core.
pub type Proof = Option<std::sync::Arc<[u8]>>;

#[derive(Debug)]
pub struct CausalLog {
    room: String,
    node: String,
    /// Delivered here, per origin: the next message of `o` is `vector[o] + 1`.
    vector: RoomVector,
    hlc: Hlc,
    /// Received but not yet deliverable, per origin by seq. Ordered maps: the
    /// delivery order is a function of the inputs alone, so a simulation
    /// replays exactly from its seed.
    pending: BTreeMap<String, BTreeMap<u64, Signed>>,
    pending_len: usize,
}

impl CausalLog {
    /// A room that has already delivered `vector`, whose largest stamp is `last_ts`.
    pub fn new(room: &str, node: &str, vector: RoomVector, last_ts: u64) -> Self {
        CausalLog {
            room: room.to_owned(),
            node: node.to_owned(),
            vector,
            hlc: Hlc::new(last_ts),
            pending: BTreeMap::new(),
            pending_len: 0,
        }
    }

    pub fn room(&self) -> &str {
        &self.room
    }

    /// Everything delivered here.
    pub fn vector(&self) -> &RoomVector {
        &self.vector
    }

    /// Messages held back waiting for their causal past.
    pub fn pending_len(&self) -> usize {
        self.pending_len
    }

    /// Accepts a message from a local client: the origin's next seq, a stamp
    /// after everything delivered here, and the vector it was written against.
    pub fn accept_local(&mut self, author: &str, id: &str, body: &str, now_ms: u64) -> Message {
        let seq = self.vector.get(&self.node) + 1;
        self.vector.set(&self.node, seq);
        Message {
            room: self.room.clone(),
            id: id.to_owned(),
            author: author.to_owned(),
            body: body.to_owned(),
            origin: self.node.clone(),
            seq,
            ts: self.hlc.tick(now_ms),
            vc: self.vector.clone(),
        }
    }

    /// Takes a message from a peer at `now_ms` (this node's clock), whose
    /// stamp may be at most `max_drift_ms` ahead of it. Returns the messages
    /// that became deliverable, in an order that respects causality; a
    /// message already delivered or already pending is ignored.
    pub fn receive(&mut self, m: Signed, now_ms: u64, max_drift_ms: u64) -> Result<Vec<Signed>, Rejected> {
        let msg = &m.msg;
        if msg.room != self.room {
            return Err(Rejected::WrongRoom(msg.room.clone()));
        }
        if msg.seq == 0 || msg.vc.get(&msg.origin) != msg.seq {
            return Err(Rejected::BadVector);
        }
        if self.vector.covers(&msg.origin, msg.seq) {
            return Ok(Vec::new());
        }
        if msg.ts > now_ms.saturating_add(max_drift_ms) {
            return Err(Rejected::Future { ahead_ms: msg.ts - now_ms });
        }
        let next = self.vector.get(&msg.origin) + 1;
        if self.pending_len >= MAX_PENDING && msg.seq != next {
            return Err(Rejected::Overflow);
        }
        // A message of our own origin that we have not delivered can only
        // come from a peer after our data was lost; it is still ours, and
        // delivering it keeps us from reusing its seq. So no special case.
        let queue = self.pending.entry(msg.origin.clone()).or_default();
        if let std::collections::btree_map::Entry::Vacant(e) = queue.entry(msg.seq) {
            e.insert(m);
            self.pending_len += 1;
        }
        Ok(self.drain())
    }

    /// Delivers pending messages until none is deliverable.
    fn drain(&mut self) -> Vec<Signed> {
        let mut out = Vec::new();
        loop {
            let mut progressed = false;
            let origins: Vec<String> = self.pending.keys().cloned().collect();
            for origin in origins {
                while let Some(m) = self.take_deliverable(&origin) {
                    self.vector.set(&m.msg.origin, m.msg.seq);
                    self.hlc.observe(m.msg.ts);
                    out.push(m);
                    progressed = true;
                }
            }
            if !progressed {
                break;
            }
        }
        self.pending.retain(|_, q| !q.is_empty());
        out
    }

    fn take_deliverable(&mut self, origin: &str) -> Option<Signed> {
        let next = self.vector.get(origin) + 1;
        let queue = self.pending.get_mut(origin)?;
        // Anything at or below what is delivered is a stale duplicate.
        while let Some((&seq, _)) = queue.first_key_value() {
            if seq >= next {
                break;
            }
            queue.pop_first();
            self.pending_len -= 1;
        }
        let head = queue.get(&next)?;
        let ready = head.msg.vc.iter().all(|(o, s)| o == origin || self.vector.get(o) >= s);
        if !ready {
            return None;
        }
        self.pending_len -= 1;
        queue.remove(&next)
    }

    /// What this node knows it lacks, per origin: seqs `after+1..=upto` are
    /// neither delivered nor pending. Asked of peers to fill a gap at once
    /// instead of waiting for the next anti-entropy round.
    pub fn wants(&self) -> Vec<Range> {
        let mut need: BTreeMap<String, u64> = BTreeMap::new();
        let mut bump = |o: &str, s: u64| {
            let top = need.entry(o.to_owned()).or_insert(0);
            *top = (*top).max(s);
        };
        for (origin, queue) in &self.pending {
            if let Some((&first, _)) = queue.first_key_value()
                && first > self.vector.get(origin) + 1
            {
                bump(origin, first - 1);
            }
            for m in queue.values() {
                for (o, s) in m.msg.vc.iter() {
                    let held = self.pending.get(o).is_some_and(|q| q.contains_key(&s));
                    if o != origin && s > self.vector.get(o) && !held {
                        bump(o, s);
                    }
                }
            }
        }
        need.into_iter().map(|(origin, upto)| Range { after: self.vector.get(&origin), origin, upto }).collect()
    }

    /// Forgets pending messages (a crash loses them; peers resend).
    pub fn clear_pending(&mut self) {
        self.pending.clear();
        self.pending_len = 0;
    }
}

/// Of two messages with one `(author, id)`, the one every node keeps: the
/// earlier in room order. A pure function of the two, so all nodes agree
/// without talking.
pub fn preferred<'a>(a: &'a Message, b: &'a Message) -> &'a Message {
    if b.order(a).is_lt() { b } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(origin: &str, seq: u64, ts: u64, deps: &[(&str, u64)]) -> Signed {
        Signed { msg: Message { ts, ..Message::sample("r", origin, seq).after(deps) }, proof: None }
    }

    fn keys(v: &[Signed]) -> Vec<(&str, u64)> {
        v.iter().map(|m| (m.msg.origin.as_str(), m.msg.seq)).collect()
    }

    /// Receives at a clock far ahead of every stamp, with the default drift.
    trait Recv {
        fn recv(&mut self, m: Signed) -> Result<Vec<Signed>, Rejected>;
    }

    impl Recv for CausalLog {
        fn recv(&mut self, m: Signed) -> Result<Vec<Signed>, Rejected> {
            self.receive(m, 1_000_000, 60_000)
        }
    }

    #[test]
    fn local_messages_count_stamp_and_carry_the_vector() {
        let mut c = CausalLog::new("r", "n1", RoomVector::new(), 0);
        let a = c.accept_local("alice", "1", "hi", 1000);
        let b = c.accept_local("alice", "2", "there", 1000);
        assert_eq!((a.seq, a.ts), (1, 1000));
        assert_eq!((b.seq, b.ts), (2, 1001));
        assert_eq!(b.vc, [("n1", 2)].into_iter().collect());
        c.recv(remote("n2", 1, 5000, &[("n1", 2)])).unwrap();
        let d = c.accept_local("alice", "3", "!", 1002);
        assert_eq!(d.vc, [("n1", 3), ("n2", 1)].into_iter().collect());
        assert!(d.ts > 5000, "a message sorts after what its origin delivered");
    }

    #[test]
    fn holds_back_until_per_origin_order_and_dependencies() {
        let mut c = CausalLog::new("r", "n1", RoomVector::new(), 0);
        assert!(c.recv(remote("n2", 2, 20, &[])).unwrap().is_empty());
        assert!(c.recv(remote("n3", 1, 30, &[("n2", 2)])).unwrap().is_empty());
        assert_eq!(c.pending_len(), 2);
        assert_eq!(c.wants(), vec![Range { origin: "n2".into(), after: 0, upto: 1 }]);
        let out = c.recv(remote("n2", 1, 10, &[])).unwrap();
        assert_eq!(keys(&out), [("n2", 1), ("n2", 2), ("n3", 1)]);
        assert_eq!(c.pending_len(), 0);
        assert_eq!(c.vector(), &[("n2", 2), ("n3", 1)].into_iter().collect());
    }

    #[test]
    fn duplicates_are_ignored() {
        let mut c = CausalLog::new("r", "n1", RoomVector::new(), 0);
        assert_eq!(c.recv(remote("n2", 1, 10, &[])).unwrap().len(), 1);
        assert!(c.recv(remote("n2", 1, 10, &[])).unwrap().is_empty());
        c.recv(remote("n2", 3, 30, &[])).unwrap();
        c.recv(remote("n2", 3, 30, &[])).unwrap();
        assert_eq!(c.pending_len(), 1);
    }

    #[test]
    fn malformed_messages_are_rejected() {
        let mut c = CausalLog::new("r", "n1", RoomVector::new(), 0);
        let mut m = remote("n2", 1, 10, &[]);
        m.msg.vc = RoomVector::new();
        assert_eq!(c.recv(m), Err(Rejected::BadVector));
        let mut m = remote("n2", 1, 10, &[]);
        m.msg.room = "other".into();
        assert!(matches!(c.recv(m), Err(Rejected::WrongRoom(_))));
    }

    #[test]
    fn a_stamp_from_the_future_is_refused_and_does_not_move_the_clock() {
        let mut c = CausalLog::new("r", "n1", RoomVector::new(), 0);
        let twenty_years = 20 * 365 * 86_400_000;
        let now = 1_763_600_000_000;
        let ahead = remote("n2", 1, now + twenty_years, &[]);
        assert!(matches!(c.receive(ahead.clone(), now, 60_000), Err(Rejected::Future { .. })));
        let mine = c.accept_local("a", "1", "b", now);
        assert_eq!(mine.ts, now, "this node's stamps stay sane");
        // Within the drift: taken.
        let near = remote("n2", 1, now + 59_000, &[]);
        assert_eq!(c.receive(near, now, 60_000).unwrap().len(), 1);
    }

    #[test]
    fn messages_waiting_for_their_past_are_bounded() {
        let mut c = CausalLog::new("r", "n1", RoomVector::new(), 0);
        for seq in 2..(MAX_PENDING as u64 + 2) {
            c.recv(remote("n2", seq, seq, &[])).unwrap();
        }
        assert_eq!(c.pending_len(), MAX_PENDING);
        assert_eq!(c.recv(remote("n3", 5, 5, &[])), Err(Rejected::Overflow));
        // The one that unblocks them all is still taken.
        assert_eq!(c.recv(remote("n2", 1, 1, &[])).unwrap().len(), MAX_PENDING + 1);
        assert_eq!(c.pending_len(), 0);
    }

    #[test]
    fn preferred_is_the_earlier_in_room_order_either_way_round() {
        let (a, b) = (remote("n1", 4, 100, &[]).msg, remote("n2", 1, 100, &[]).msg);
        assert_eq!(preferred(&a, &b).origin, "n1");
        assert_eq!(preferred(&b, &a).origin, "n1");
    }
}
