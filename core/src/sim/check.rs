//! What must hold once the mesh has healed and gone quiet.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::governance::GovernanceLog;
use meshchat_shared::Message;
use meshchat_shared::rooms::is_event_id;

use super::node::{Member, Node, Row};
use super::{ROOMS, Sim};

impl Sim {
    /// Every live node holds the same, nothing waits, presence agrees.
    pub fn converged(&self) -> bool {
        let live: Vec<&Node> = self.live().collect();
        let Some(first) = live.first() else { return true };
        // With a node down for good, a message may wait forever for one
        // that only that node ever held; with all up, nothing may wait.
        let all_up = live.len() == self.nodes.len();
        live.iter().all(|n| {
            n.index.root() == first.index.root()
                && n.writes.is_empty()
                && n.reads.is_empty()
                && n.rooms.values().all(|r| r.poll_timeout().is_none() && (!all_up || r.pending_len() == 0))
        }) && ROOMS.iter().all(|room| live.iter().all(|n| n.disk_vector(room) == first.disk_vector(room)))
            && self.presence_agrees()
    }

    /// The names online in each room, as every live node sees them, are
    /// the names with a connection in it on a live node.
    fn presence_agrees(&self) -> bool {
        ROOMS.iter().all(|room| {
            let expected: BTreeSet<String> = self
                .live()
                .flat_map(|n| n.members.values())
                .filter(|m| m.room == *room && !m.out)
                .map(|m| m.name.clone())
                .collect();
            self.live().all(|n| n.rooms.get(*room).map(|r| r.online()).unwrap_or_default() == expected)
        })
    }

    pub fn check(&self) {
        let seed = self.seed;
        let live: Vec<&Node> = self.live().collect();
        for room in ROOMS {
            let reference = rows(live[0], room);
            for n in &live[1..] {
                let theirs = rows(n, room);
                if theirs != reference {
                    let diff = theirs.iter().zip(&reference).find(|(a, b)| a != b);
                    let dbg: Vec<String> = live
                        .iter()
                        .map(|x| {
                            let g = x
                                .rooms
                                .get(room)
                                .map(|r| diff.map(|(a, _)| r.governance().is_redacted(&a.msg.origin, a.msg.seq)));
                            format!("{}: loaded+redacted {g:?}", x.id)
                        })
                        .collect();
                    panic!("seed {seed}: {} and {} differ in {room}: {diff:?} {dbg:?}", live[0].id, n.id);
                }
            }
            causal_order_is_room_order(seed, &reference);
            for n in &live {
                one_visible_copy_per_key(seed, n, room);
            }
            if self.governed {
                governance_agrees(seed, &live, room, &reference);
            }
        }
        self.acked_messages_are_everywhere(&live);
        for n in &live {
            for m in n.members.values().filter(|m| !m.out) {
                member_saw_everything_once(seed, n, m, self.governed);
            }
        }
    }

    fn acked_messages_are_everywhere(&self, live: &[&Node]) {
        // Visible rows per (room, author, id) of each node, counted once.
        let keys: Vec<HashMap<(&str, &str, &str), usize>> = live
            .iter()
            .map(|n| {
                let mut count = HashMap::new();
                for (room, rows) in &n.disk {
                    for r in rows.iter().filter(|r| !r.hidden) {
                        *count.entry((room.as_str(), r.msg.author.as_str(), r.msg.id.as_str())).or_default() += 1;
                    }
                }
                count
            })
            .collect();
        for ((room, origin, seq), msg) in &self.acked {
            let held = |n: &Node| n.row(room, origin, *seq).cloned();
            let somewhere_up = live.iter().any(|n| held(n).is_some());
            if !somewhere_up && self.nodes.iter().any(|n| !n.up && held(n).is_some()) {
                continue; // only the node kept down ever had it
            }
            for (n, keys) in live.iter().zip(&keys) {
                let row = held(n)
                    .unwrap_or_else(|| panic!("seed {}: {}: acknowledged {room} {origin}:{seq} lost", self.seed, n.id));
                // A deleted message keeps everything but its text.
                let erased = Message { body: crate::redacted_body(&msg.body), ..msg.clone() };
                assert!(
                    row.msg == *msg || row.msg == erased,
                    "seed {}: {}: acknowledged {origin}:{seq} changed",
                    self.seed,
                    n.id
                );
                let visible = keys.get(&(room.as_str(), msg.author.as_str(), msg.id.as_str())).copied().unwrap_or(0);
                assert_eq!(
                    visible, 1,
                    "seed {}: {}: key ({}, {}) of an acked message",
                    self.seed, n.id, msg.author, msg.id
                );
            }
        }
    }
}

/// A node's rows of a room in log order.
fn rows(n: &Node, room: &str) -> Vec<Row> {
    let mut v = n.disk.get(room).cloned().unwrap_or_default();
    v.sort_by(|a, b| (&a.msg.origin, a.msg.seq).cmp(&(&b.msg.origin, b.msg.seq)));
    v
}

/// Room order extends causal order: a message sorts after every message its
/// vector names.
fn causal_order_is_room_order(seed: u64, rows: &[Row]) {
    let by_key: BTreeMap<(&str, u64), &Row> = rows.iter().map(|r| ((r.msg.origin.as_str(), r.msg.seq), r)).collect();
    for r in rows {
        for (o, s) in r.msg.vc.iter() {
            if (o, s) != (r.msg.origin.as_str(), r.msg.seq) {
                let dep = by_key[&(o, s)];
                assert!(
                    dep.msg.order(&r.msg).is_lt(),
                    "seed {seed}: {o}:{s} does not sort before {}:{}",
                    r.msg.origin,
                    r.msg.seq
                );
            }
        }
    }
}

/// Every node's room, folded as the events came to it, shows exactly what
/// the log folded in room order shows: a ban and a message sent at once on
/// two nodes end the same everywhere.
fn governance_agrees(seed: u64, live: &[&Node], room: &str, log: &[Row]) {
    let msgs: Vec<_> = log.iter().filter(|r| !r.hidden).map(|r| r.msg.clone()).collect();
    let reference = GovernanceLog::load(room, msgs.iter().filter(|m| is_event_id(&m.id)).cloned());
    for n in live {
        let Some(state) = n.rooms.get(room) else { continue };
        for m in &msgs {
            assert_eq!(
                state.governance().visible(m),
                reference.visible(m),
                "seed {seed}: {}: {room} {}:{} by {} ({})",
                n.id,
                m.origin,
                m.seq,
                m.author,
                m.body
            );
        }
        for name in ["alice", "bob", "carol", "dave"] {
            assert_eq!(state.governance().role(name), reference.role(name), "seed {seed}: {}: {name}'s role", n.id);
        }
    }
}

/// Is `msg` part of the room, by the node's log folded in room order?
fn visible(n: &Node, room: &str, msg: &meshchat_shared::Message) -> bool {
    let events = n.disk.get(room).into_iter().flatten().filter(|r| !r.hidden && is_event_id(&r.msg.id));
    GovernanceLog::load(room, events.map(|r| r.msg.clone())).visible(msg)
}

/// `(author, id)` names one visible message in a room, whatever number of
/// nodes accepted it.
fn one_visible_copy_per_key(seed: u64, n: &Node, room: &str) {
    let mut seen: BTreeMap<(&str, &str), (&str, u64)> = BTreeMap::new();
    for r in n.disk.get(room).map(Vec::as_slice).unwrap_or(&[]).iter().filter(|r| !r.hidden) {
        let key = (r.msg.author.as_str(), r.msg.id.as_str());
        if let Some(other) = seen.insert(key, (r.msg.origin.as_str(), r.msg.seq)) {
            panic!(
                "seed {seed}: {}: {key:?} visible twice in {room}: {other:?} and {}:{}",
                n.id, r.msg.origin, r.msg.seq
            );
        }
    }
}

/// A connection got its backlog, then every visible message after it, and
/// nothing twice (nor anything it resumed from).
fn member_saw_everything_once(seed: u64, n: &Node, m: &Member, governed: bool) {
    let Some(synced) = &m.synced else {
        panic!("seed {seed}: {}: a member of {} never got its backlog", n.id, m.room);
    };
    let got: Vec<&(String, u64)> = m.backlog.iter().chain(&m.live).collect();
    let distinct: BTreeSet<&(String, u64)> = got.iter().copied().collect();
    assert_eq!(distinct.len(), got.len(), "seed {seed}: {}: a member of {} got a message twice", n.id, m.room);
    let base = m.base.as_ref().filter(|_| !m.gap);
    for (o, s) in &got {
        assert!(
            !base.is_some_and(|b| b.covers(o, *s)),
            "seed {seed}: {}: resent {o}:{s} that the client held (base {base:?}, synced {synced:?}, in backlog: {})",
            n.id,
            m.backlog.contains(&(o.clone(), *s))
        );
    }
    for r in n.disk.get(&m.room).map(Vec::as_slice).unwrap_or(&[]).iter().filter(|r| !r.hidden) {
        // In a created room, what others post depends on membership at
        // its place in room order, which a late event can change after
        // delivery; so does whether an event applies, even the owner's (her
        // invite of someone still in applies once a late kick before it
        // arrives: seed 8000548). Both are checked by `governance_agrees`.
        // Here: the owner's messages.
        let owners = r.msg.author == "alice" && !is_event_id(&r.msg.id);
        if governed && m.room == "general" && (!owners || !visible(n, &m.room, &r.msg)) {
            continue;
        }
        let key = (r.msg.origin.clone(), r.msg.seq);
        let covered = synced.covers(&key.0, key.1);
        let needed = if covered { base.is_some_and(|b| !b.covers(&key.0, key.1)) } else { true };
        assert!(
            !needed || distinct.contains(&key) || m.acked.contains(&key),
            "seed {seed}: {}: a member of {} never got {}:{} (synced {synced:?}, base {base:?})",
            n.id,
            m.room,
            key.0,
            key.1
        );
    }
}
