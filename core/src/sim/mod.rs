//! A seeded simulation of a mesh that drives the real sans-IO core: each
//! node runs [`RoomState`] for its rooms and [`PeerState`] per peer, exactly
//! as the room actors and the mesh links do, with the production timers
//! and throttles. Around them: a modelled disk (group commit with latency;
//! a crash loses what was not durable), store reads with latency, and a
//! network that delays, reorders, drops and duplicates packets, with
//! partitions that heal and connections that reset.
//!
//! Clients send (and resend, to any node), join rooms (fresh, or resuming
//! from a vector another connection held) and leave. Everything is a
//! function of the seed: a failing run names its seed, and `SIM_SEED=<n>`
//! replays it.
#![allow(dead_code, clippy::unwrap_used)]

mod check;
mod clients;
pub mod fuzz;
mod node;
mod seeds;

use std::collections::{BTreeMap, BTreeSet};

use crate::{Config, ConnId, Effect, Input, Out, PeerIn, PeerOut, PeerState, Range, RoomNote, Signed, SyncFrame};
use meshchat_shared::{Message, RoomVector};
use node::{Node, Read, Write};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
pub use seeds::{Tally, run_seeds, scenario, seeds};

pub const ROOMS: [&str; 3] = ["general", "rust", "random"];
const AUTHORS: [&str; 4] = ["alice", "bob", "carol", "dave"];
/// Anti-entropy interval of the simulated nodes (the node's default is
/// 2 s; the simulation runs shorter rounds to see more of them).
const AE_MS: u64 = 200;
/// The mesh version the simulated links speak.
const MESH_VERSION: u32 = 5;

#[derive(Debug, Clone, Copy)]
pub struct Faults {
    pub drop: f64,
    pub dup: f64,
    pub max_delay: u64,
    pub crash: f64,
    pub partition: f64,
}

#[derive(Debug, Clone)]
enum Payload {
    Msgs { room: String, msgs: Vec<Message> },
    Want { room: String, ranges: Vec<Range> },
    Sync(SyncFrame),
    Presence { room: String, name: String, online: bool },
    Snapshot(Vec<(String, Vec<String>)>),
}

#[derive(Debug)]
struct Packet {
    at: u64,
    seq: u64,
    from: usize,
    to: usize,
    /// The connection it was sent on: a packet of a connection that has
    /// since reset is never delivered.
    epoch: u64,
    payload: Payload,
}

pub struct Sim {
    pub seed: u64,
    rng: StdRng,
    pub now: u64,
    pub nodes: Vec<Node>,
    packets: Vec<Packet>,
    packet_seq: u64,
    /// Cut links: (a, b) with a < b.
    pub cut: BTreeSet<(usize, usize)>,
    /// Links up, with their connection epoch.
    links: BTreeMap<(usize, usize), u64>,
    epochs: u64,
    pub faults: Faults,
    /// Every acknowledged message by (room, origin, seq).
    pub acked: BTreeMap<(String, String, u64), Message>,
    /// Sends made, to resend some: (room, author, id, body).
    sends: Vec<(String, String, String, String)>,
    /// Synced vectors members held, to resume from: (room, vector).
    resumes: Vec<(String, RoomVector)>,
    next_id: u64,
    next_conn: ConnId,
    pub stats: BTreeMap<&'static str, u64>,
    /// "general" is a created room: alice owns it and moderates (bans,
    /// kicks, invites) while the others post, all on random nodes.
    pub governed: bool,
    created: bool,
}

impl Sim {
    pub fn new(seed: u64, n: usize, faults: Faults) -> Sim {
        let mut rng = StdRng::seed_from_u64(seed);
        // A small cache and small pages, so that joins and resumes also read
        // from the store, a page at a time.
        let config = Config { cache: 8, page: 5, ..Config::default() };
        let nodes = (1..=n).map(|i| Node::new(format!("n{i}"), rng.random_range(-50..=50), config.clone())).collect();
        let mut sim = Sim {
            seed,
            rng,
            now: 1_000_000,
            nodes,
            packets: Vec::new(),
            packet_seq: 0,
            cut: BTreeSet::new(),
            links: BTreeMap::new(),
            epochs: 0,
            faults,
            acked: BTreeMap::new(),
            sends: Vec::new(),
            resumes: Vec::new(),
            next_id: 0,
            next_conn: 0,
            stats: BTreeMap::new(),
            governed: false,
            created: false,
        };
        for a in 0..n {
            for b in 0..n {
                if a != b {
                    sim.nodes[a].peers.insert(b, PeerState::new(AE_MS));
                }
            }
        }
        sim.update_links();
        sim
    }

    pub fn stat(&mut self, what: &'static str) {
        *self.stats.entry(what).or_default() += 1;
    }

    fn link(a: usize, b: usize) -> (usize, usize) {
        (a.min(b), a.max(b))
    }

    fn connected(&self, a: usize, b: usize) -> bool {
        a != b && self.nodes[a].up && self.nodes[b].up && !self.cut.contains(&Self::link(a, b))
    }

    /// Brings links up and down as connectivity changed: a link that comes
    /// up starts anti-entropy on both ends; one that goes down starts the
    /// grace period of the peer's users.
    pub fn update_links(&mut self) {
        let n = self.nodes.len();
        for a in 0..n {
            for b in (a + 1)..n {
                let up = self.connected(a, b);
                let was = self.links.contains_key(&(a, b));
                if up && !was {
                    self.epochs += 1;
                    self.links.insert((a, b), self.epochs);
                    let up = || PeerIn::Up { version: MESH_VERSION, restoring: false };
                    self.peer_input(a, b, up());
                    self.peer_input(b, a, up());
                } else if !up && was {
                    self.links.remove(&(a, b));
                    self.link_down(a, b);
                    self.link_down(b, a);
                }
            }
        }
    }

    fn link_down(&mut self, at: usize, peer: usize) {
        if !self.nodes[at].up {
            return;
        }
        self.peer_input(at, peer, PeerIn::Down);
    }

    /// One input to `at`'s state of `peer`, and its decisions carried out.
    fn peer_input(&mut self, at: usize, peer: usize, input: PeerIn) {
        let now = self.now;
        let node = &mut self.nodes[at];
        let state = node.peers.get_mut(&peer).expect("peer");
        let outs = state.handle(input, now, &node.index).expect("well-formed peer frames");
        self.peer_outs(at, peer, outs);
    }

    fn send(&mut self, from: usize, to: usize, payload: Payload) {
        let Some(&epoch) = self.links.get(&Self::link(from, to)) else { return };
        if self.rng.random_bool(self.faults.drop) {
            self.stat("dropped");
            return;
        }
        let copies = if self.rng.random_bool(self.faults.dup) { 2 } else { 1 };
        for _ in 0..copies {
            let at = self.now + self.rng.random_range(1..=self.faults.max_delay);
            self.packet_seq += 1;
            self.packets.push(Packet { at, seq: self.packet_seq, from, to, epoch, payload: payload.clone() });
        }
    }

    fn broadcast(&mut self, from: usize, payload: Payload) {
        for to in 0..self.nodes.len() {
            if to != from {
                self.send(from, to, payload.clone());
            }
        }
    }

    fn node_index(&self, id: &str) -> usize {
        self.nodes.iter().position(|n| n.id == id).expect("known node")
    }

    /// Feeds a room's state machine and carries out its effects.
    fn input(&mut self, at: usize, room: &str, input: Input) {
        let now = self.nodes[at].clock(self.now);
        self.nodes[at].room(room).handle(input, now);
        while let Some(effect) = self.nodes[at].room(room).poll() {
            self.effect(at, room, effect);
        }
    }

    /// When the next write of `at` becomes durable: after the previous one.
    fn durable_at(&mut self, at: usize) -> u64 {
        let last = self.nodes[at].writes.back().map_or(0, |(t, _)| *t);
        last.max(self.now + self.rng.random_range(1..=15))
    }

    fn effect(&mut self, at: usize, room: &str, effect: Effect) {
        let r = room.to_owned();
        match effect {
            Effect::Append { batch, msgs } => {
                let t = self.durable_at(at);
                self.nodes[at].writes.push_back((t, Write::Append { room: r, batch, msgs }));
            }
            Effect::Hide { origin, seq } => {
                let t = self.durable_at(at);
                self.nodes[at].writes.push_back((t, Write::Hide { room: r, origin, seq }));
                self.stat("hides");
            }
            Effect::Touch | Effect::AnnounceTyping { .. } | Effect::Governance(_) => {}
            Effect::Erase(targets) => {
                let t = self.durable_at(at);
                self.nodes[at].writes.push_back((t, Write::Erase { room: r, targets }));
                self.stat("erased");
            }
            Effect::Lookup { lookup, author, id } => {
                let t = self.now + self.rng.random_range(1..=5);
                self.nodes[at].reads.push((t, r, Read::Lookup { lookup, author: author.to_string(), id }));
                self.stat("lookups");
            }
            Effect::Read { read, since, upto, limit, .. } => {
                let t = self.now + self.rng.random_range(1..=5);
                self.nodes[at].reads.push((t, r, Read::Range { read, since, upto, limit }));
                self.stat("catch-up reads");
            }
            Effect::Ack { req, msg } => self.on_ack(at, room, req, msg),
            Effect::Refuse { req, .. } => {
                self.nodes[at].sent.remove(&(r, req));
                self.stat("refused");
            }
            Effect::CaughtUp { .. } => {}
            Effect::Deliver { to, out } => self.deliver(at, &to, out),
            Effect::Replicate(msgs) => {
                let msgs = msgs.iter().map(|m| Message::clone(m)).collect();
                self.broadcast(at, Payload::Msgs { room: r, msgs });
            }
            Effect::Want { peer, ranges } => {
                let to = self.node_index(&peer);
                self.stat("wants");
                self.send(at, to, Payload::Want { room: r, ranges });
            }
            Effect::AnnouncePresence { name, online } => {
                self.broadcast(at, Payload::Presence { room: r, name: name.to_string(), online })
            }
            Effect::LocalNames(names) => {
                self.nodes[at].local_names.insert(r, names);
            }
            Effect::Status { vector, .. } => {
                let now = self.now;
                self.nodes[at].index.set(room, &vector, now)
            }
            Effect::Rejected { reason, .. } => {
                panic!("seed {}: a well-formed message was rejected: {reason}", self.seed)
            }
            // The simulated mesh sets no retention policy (its clocks run
            // for minutes, policies in days); unit tests cover expiry.
            Effect::Expire { .. } => panic!("seed {}: expiry without a retention policy", self.seed),
            // Only a node deleting an account makes the event behind it.
            Effect::EraseAuthors(_) => panic!("seed {}: an author erased without a deleted account", self.seed),
        }
    }

    fn on_ack(&mut self, at: usize, room: &str, req: u64, msg: std::sync::Arc<Message>) {
        let Some(sent) = self.nodes[at].sent.remove(&(room.to_owned(), req)) else { return };
        assert_eq!(
            (sent.author.as_str(), sent.id.as_str()),
            (msg.author.as_str(), msg.id.as_str()),
            "seed {}: ack for another key",
            self.seed
        );
        // The sender shows its message from the ack, not a delivery.
        if let Some(m) = sent.conn.and_then(|c| self.nodes[at].members.get_mut(&c)) {
            m.acked.push((msg.origin.clone(), msg.seq));
        }
        self.acked.insert((room.to_owned(), msg.origin.clone(), msg.seq), Message::clone(&msg));
    }

    fn deliver(&mut self, at: usize, to: &[ConnId], out: Out) {
        for conn in to {
            let member = self.nodes[at].members.get_mut(conn).expect("a member the room knows");
            match &out {
                Out::Joined { .. } => {
                    assert!(!member.joined, "seed {}: a second joined", self.seed);
                    member.joined = true;
                }
                Out::Backlog(page) => {
                    assert!(member.joined && member.synced.is_none(), "seed {}: a backlog out of place", self.seed);
                    member.backlog.extend(page.iter().map(|m| (m.origin.clone(), m.seq)));
                }
                Out::Synced { vector, gap } => {
                    assert!(member.joined && member.synced.is_none(), "seed {}: a second synced", self.seed);
                    member.synced = Some(vector.clone());
                    member.gap = *gap;
                }
                Out::Message(m) => {
                    assert!(member.synced.is_some(), "seed {}: a live message before the backlog", self.seed);
                    member.live.push((m.origin.clone(), m.seq));
                }
                Out::Presence { .. } | Out::Typing { .. } | Out::Room(_) | Out::Deleted { .. } => {}
                Out::Hidden { .. } => {}
                Out::Removed { .. } => member.out = true,
                Out::Refused { code: meshchat_shared::ErrorCode::Forbidden, .. } if self.governed => member.out = true,
                Out::Refused { message, .. } => panic!("seed {}: a join refused: {message}", self.seed),
            }
        }
    }

    fn on_packet(&mut self, p: Packet) {
        let (from, to) = (p.from, p.to);
        let peer: std::sync::Arc<str> = self.nodes[from].id.as_str().into();
        match p.payload {
            Payload::Msgs { room, msgs } => {
                // No signatures in the simulation: it checks the replication
                // logic; the mesh's tests check the signatures.
                let msgs = msgs.into_iter().map(|msg| Signed { msg, proof: None }).collect();
                self.input(to, &room, Input::Remote { from: peer, msgs })
            }
            Payload::Want { room, ranges } => self.peer_input(to, from, PeerIn::Want { room, ranges }),
            Payload::Sync(frame) => self.peer_input(to, from, PeerIn::Sync(frame)),
            Payload::Presence { room, name, online } => {
                self.peer_input(to, from, PeerIn::Presence { room, name, online })
            }
            Payload::Snapshot(rooms) => self.peer_input(to, from, PeerIn::Snapshot(rooms)),
        }
    }

    /// Carries out what a node's state of a peer decided, as the mesh does.
    fn peer_outs(&mut self, at: usize, peer: usize, outs: Vec<PeerOut>) {
        let id: std::sync::Arc<str> = self.nodes[peer].id.as_str().into();
        for out in outs {
            match out {
                PeerOut::Sync(frame) => self.send(at, peer, Payload::Sync(frame)),
                PeerOut::Fetch { room, ranges } => {
                    self.stat("fetches");
                    let msgs = self.nodes[at].rows_in(&room, &ranges);
                    if !msgs.is_empty() {
                        self.send(at, peer, Payload::Msgs { room: room.clone(), msgs });
                    }
                    self.peer_input(at, peer, PeerIn::Fetched { room });
                }
                PeerOut::Behind { .. } => self.stat("rooms found behind"),
                PeerOut::Snapshot => {
                    let snapshot = self.nodes[at]
                        .local_names
                        .iter()
                        .filter(|(_, n)| !n.is_empty())
                        .map(|(r, n)| (r.clone(), n.to_vec()))
                        .collect();
                    self.send(at, peer, Payload::Snapshot(snapshot));
                }
                PeerOut::Room { room, note } => {
                    let peer = id.clone();
                    let input = match note {
                        RoomNote::PeerDown => Input::PeerDown { peer },
                        RoomNote::Presence { names } => Input::PeerPresence { peer, names },
                        RoomNote::PresenceUpdate { name, online } => Input::PeerPresenceUpdate { peer, name, online },
                    };
                    self.input(at, &room, input);
                }
                // No restores in the simulation.
                PeerOut::AskOwn | PeerOut::CannotAsk { .. } | PeerOut::AnswerOwn | PeerOut::Own { .. } => {}
            }
        }
    }

    /// One step of time: the network, durable writes, store reads, timers;
    /// with `traffic`, clients and faults too.
    pub fn tick(&mut self, traffic: bool) {
        self.now += self.rng.random_range(1..=5);
        let mut due: Vec<Packet> = Vec::new();
        let mut later = Vec::new();
        for p in self.packets.drain(..) {
            if p.at <= self.now { due.push(p) } else { later.push(p) }
        }
        self.packets = later;
        due.sort_by_key(|p| (p.at, p.seq));
        for p in due {
            if self.links.get(&Self::link(p.from, p.to)) == Some(&p.epoch) {
                self.on_packet(p);
            }
        }
        for at in 0..self.nodes.len() {
            if self.nodes[at].up {
                self.node_step(at);
            }
        }
        if traffic {
            self.clients_and_faults();
        }
    }

    fn node_step(&mut self, at: usize) {
        while self.nodes[at].writes.front().is_some_and(|(t, _)| *t <= self.now) {
            let (_, write) = self.nodes[at].writes.pop_front().expect("front");
            self.nodes[at].apply(&write);
            if let Write::Append { room, batch, .. } = write {
                self.input(at, &room, Input::Committed { batch, ok: true });
            }
        }
        let (ready, waiting): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.nodes[at].reads).into_iter().partition(|(t, _, _)| *t <= self.now);
        self.nodes[at].reads = waiting;
        for (_, room, read) in ready {
            let input = self.nodes[at].answer(&room, read);
            self.input(at, &room, input);
        }
        let clock = self.nodes[at].clock(self.now);
        let due: Vec<String> = self.nodes[at]
            .rooms
            .iter()
            .filter(|(_, r)| r.poll_timeout().is_some_and(|t| t <= clock))
            .map(|(n, _)| n.clone())
            .collect();
        for room in due {
            self.input(at, &room, Input::Timeout);
        }
        let peers: Vec<usize> = self.nodes[at].peers.keys().copied().collect();
        for peer in peers {
            let now = self.now;
            let node = &mut self.nodes[at];
            let outs = node.peers.get_mut(&peer).expect("peer").on_timeout(now, &node.index);
            self.peer_outs(at, peer, outs);
        }
        // Idle rooms stop now and then, and load again from disk.
        if self.rng.random_bool(0.02) {
            let idle: Vec<String> =
                self.nodes[at].rooms.iter().filter(|(_, r)| r.is_idle()).map(|(n, _)| n.clone()).collect();
            if let Some(room) = idle.first() {
                self.nodes[at].rooms.remove(room);
                self.stat("rooms retired");
            }
        }
    }

    fn clients_and_faults(&mut self) {
        let n = self.nodes.len();
        let at = self.rng.random_range(0..n);
        if self.nodes[at].up {
            match self.rng.random_range(0..100) {
                _ if self.governed && !self.created => self.moderate(at, true),
                0..50 => self.client_send(at),
                50..54 => self.client_join(at),
                54..57 => self.client_leave(at),
                57..60 if self.governed => self.moderate(at, false),
                _ => {}
            }
        }
        if self.rng.random_bool(self.faults.crash) {
            let at = self.rng.random_range(0..n);
            if self.nodes[at].up {
                self.crash(at);
                self.stat("crashes");
            }
        }
        if self.rng.random_bool(0.01) {
            let at = self.rng.random_range(0..n);
            if !self.nodes[at].up {
                self.nodes[at].restart();
            }
        }
        if self.rng.random_bool(self.faults.partition) {
            let (a, b) = (self.rng.random_range(0..n), self.rng.random_range(0..n));
            if a != b {
                self.cut.insert(Self::link(a, b));
                self.stat("partitions");
            }
        }
        if self.rng.random_bool(0.01) {
            self.cut.clear();
        }
        self.update_links();
    }

    pub fn crash(&mut self, at: usize) {
        self.nodes[at].crash();
        self.update_links();
    }

    pub fn live(&self) -> impl Iterator<Item = &Node> + '_ {
        self.nodes.iter().filter(|n| n.up)
    }

    /// Runs with traffic and faults, then heals everything (all nodes up,
    /// no cuts; with `keep_down`, that node crashes for good) and runs
    /// until the mesh is quiet and agrees; returns the healing steps.
    pub fn run(&mut self, steps: usize, keep_down: Option<usize>) -> usize {
        for _ in 0..steps {
            self.tick(true);
        }
        for at in 0..self.nodes.len() {
            if !self.nodes[at].up {
                self.nodes[at].restart();
            }
        }
        if let Some(i) = keep_down {
            self.nodes[i].crash();
        }
        self.cut.clear();
        self.update_links();
        for healing in 0..100_000 {
            self.tick(false);
            if self.converged() {
                return healing;
            }
        }
        let vectors: Vec<_> = self.nodes.iter().map(|n| ROOMS.map(|r| n.disk_vector(r))).collect();
        panic!("seed {}: did not converge; vectors {vectors:?}", self.seed);
    }
}
