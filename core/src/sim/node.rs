//! One simulated node: the real room state machines and anti-entropy
//! states, around a modelled disk (an ordered writer queue that becomes
//! durable with latency, lost in a crash) and modelled store reads.

use meshchat_shared::rooms::erasable;
use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::{Config, ConnId, Input, PeerState, Range, ReqId, RoomState, Snapshot, Stored, VectorIndex, idem_hash};
use meshchat_shared::{Message, RoomVector};

/// A row of the modelled database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub msg: Message,
    pub hidden: bool,
}

pub enum Write {
    Append {
        room: String,
        batch: u64,
        msgs: Vec<Stored>,
    },
    Hide {
        room: String,
        origin: String,
        seq: u64,
    },
    /// A delete: the texts of these messages are erased.
    Erase {
        room: String,
        targets: Vec<(String, u64)>,
    },
}

/// A store read, answered some time later from what is durable then.
pub enum Read {
    Lookup { lookup: u64, author: String, id: String },
    Range { read: u64, since: RoomVector, upto: RoomVector, limit: usize },
}

/// A client connection joined to a room, as the client sees it.
#[derive(Debug, Clone)]
pub struct Member {
    pub room: String,
    pub name: String,
    /// What it resumed from (`since`), if anything.
    pub base: Option<RoomVector>,
    /// `joined` came.
    pub joined: bool,
    /// `synced.vector`, once its backlog came.
    pub synced: Option<RoomVector>,
    pub gap: bool,
    pub backlog: Vec<(String, u64)>,
    /// Live messages.
    pub live: Vec<(String, u64)>,
    /// Its own sends, shown from their acks (a repeat's may name a message
    /// it holds already).
    pub acked: Vec<(String, u64)>,
    /// Taken out of the room (removed, banned), or its join refused.
    pub out: bool,
}

/// A client's send waiting for its answer.
pub struct Sent {
    pub room: String,
    pub author: String,
    pub id: String,
    pub conn: Option<ConnId>,
}

pub struct Node {
    pub id: String,
    pub up: bool,
    /// This node's clock runs this far off real time.
    pub skew: i64,
    pub config: Config,
    // In memory: lost in a crash.
    pub rooms: BTreeMap<String, RoomState>,
    pub writes: VecDeque<(u64, Write)>,
    pub reads: Vec<(u64, String, Read)>,
    /// Every decision about each peer (anti-entropy, wants, presence).
    pub peers: BTreeMap<usize, PeerState>,
    pub local_names: BTreeMap<String, Vec<String>>,
    pub members: BTreeMap<ConnId, Member>,
    pub sent: BTreeMap<(String, ReqId), Sent>,
    pub index: VectorIndex,
    // On disk: survives a crash.
    pub disk: BTreeMap<String, Vec<Row>>,
    /// Per room of `disk`: its vector and where each row is, so that the
    /// checks and reads of a long run do not scan the log each time.
    disk_keys: BTreeMap<String, DiskKeys>,
}

/// A room's vector on disk, and each row's place by (origin, seq).
type DiskKeys = (RoomVector, HashMap<(String, u64), usize>);

impl Node {
    pub fn new(id: String, skew: i64, config: Config) -> Node {
        Node {
            id,
            up: true,
            skew,
            config,
            rooms: BTreeMap::new(),
            writes: VecDeque::new(),
            reads: Vec::new(),
            peers: BTreeMap::new(),
            local_names: BTreeMap::new(),
            members: BTreeMap::new(),
            sent: BTreeMap::new(),
            index: VectorIndex::new(),
            disk: BTreeMap::new(),
            disk_keys: BTreeMap::new(),
        }
    }

    pub fn clock(&self, now: u64) -> u64 {
        (now as i64 + self.skew) as u64
    }

    pub fn disk_vector(&self, room: &str) -> RoomVector {
        self.disk_keys.get(room).map(|(v, _)| v.clone()).unwrap_or_default()
    }

    /// The stored row `origin:seq` of `room`.
    pub fn row(&self, room: &str, origin: &str, seq: u64) -> Option<&Row> {
        let (_, at) = self.disk_keys.get(room)?;
        let i = *at.get(&(origin.to_owned(), seq))?;
        self.disk.get(room).map(|rows| &rows[i])
    }

    /// The room's state machine, loaded from disk as the hub would.
    pub fn room(&mut self, room: &str) -> &mut RoomState {
        if !self.rooms.contains_key(room) {
            let rows = self.disk.get(room).cloned().unwrap_or_default();
            let mut visible: Vec<Message> = rows.iter().filter(|r| !r.hidden).map(|r| r.msg.clone()).collect();
            visible.sort_by(Message::order);
            let recent = visible.split_off(visible.len().saturating_sub(self.config.cache));
            let events = rows
                .iter()
                .filter(|r| !r.hidden && meshchat_shared::rooms::is_event_id(&r.msg.id))
                .map(|r| r.msg.clone())
                .collect();
            let snap = Snapshot {
                vector: self.disk_vector(room),
                last_ts: rows.iter().map(|r| r.msg.ts).max().unwrap_or(0),
                recent,
                ids: rows.iter().map(|r| idem_hash(&r.msg.author, &r.msg.id)).collect(),
                events,
                expired_before: 0,
            };
            self.rooms.insert(room.to_owned(), RoomState::new(room, &self.id, self.config.clone(), snap));
        }
        self.rooms.get_mut(room).expect("just loaded")
    }

    /// Applies a durable write; checks causal delivery on the way in.
    pub fn apply(&mut self, write: &Write) {
        match write {
            Write::Append { room, msgs, .. } => {
                let (vec, at) = self.disk_keys.entry(room.clone()).or_default();
                let log = self.disk.entry(room.clone()).or_default();
                for s in msgs {
                    let m = &s.msg;
                    assert_eq!(vec.get(&m.origin) + 1, m.seq, "{}: gap before {}:{}", self.id, m.origin, m.seq);
                    for (o, seq) in m.vc.iter() {
                        assert!(
                            o == m.origin || vec.get(o) >= seq,
                            "{}: {}:{} stored before its dependency {o}:{seq}",
                            self.id,
                            m.origin,
                            m.seq
                        );
                    }
                    vec.set(&m.origin, m.seq);
                    at.insert((m.origin.clone(), m.seq), log.len());
                    log.push(Row { msg: Message::clone(m), hidden: s.hidden });
                }
            }
            Write::Hide { room, origin, seq } => {
                let i = self.disk_keys.get(room).and_then(|(_, at)| at.get(&(origin.clone(), *seq)));
                let i = *i.expect("a hide follows its row's append");
                self.disk.get_mut(room).expect("indexed")[i].hidden = true;
            }
            Write::Erase { room, targets } => {
                for r in self.disk.get_mut(room).into_iter().flatten() {
                    if targets.contains(&(r.msg.origin.clone(), r.msg.seq)) && erasable(&r.msg.id, &r.msg.body) {
                        r.msg.body = crate::redacted_body(&r.msg.body);
                    }
                }
            }
        }
    }

    /// A store read, answered from what is durable now.
    pub fn answer(&self, room: &str, read: Read) -> Input {
        let rows = self.disk.get(room).map(Vec::as_slice).unwrap_or(&[]);
        match read {
            Read::Lookup { lookup, author, id } => {
                let mut found: Vec<&Row> =
                    rows.iter().filter(|r| !r.hidden && r.msg.author == author && r.msg.id == id).collect();
                found.sort_by(|a, b| a.msg.order(&b.msg));
                Input::Found { lookup, result: Ok(found.first().map(|r| r.msg.clone())) }
            }
            Read::Range { read, since, upto, limit } => {
                let mut msgs: Vec<&Message> = rows
                    .iter()
                    .filter(|r| {
                        !r.hidden && !since.covers(&r.msg.origin, r.msg.seq) && upto.covers(&r.msg.origin, r.msg.seq)
                    })
                    .map(|r| &r.msg)
                    .collect();
                msgs.sort_by(|a, b| a.order(b));
                msgs.truncate(limit);
                Input::Read { read, msgs: Some(msgs.into_iter().cloned().collect()) }
            }
        }
    }

    /// Every row of `origin` in `ranges`, hidden ones too (the mesh sends all).
    pub fn rows_in(&self, room: &str, ranges: &[Range]) -> Vec<Message> {
        let log = self.disk.get(room).map(Vec::as_slice).unwrap_or(&[]);
        let mut out: Vec<Message> = log
            .iter()
            .filter(|r| ranges.iter().any(|g| g.origin == r.msg.origin && r.msg.seq > g.after && r.msg.seq <= g.upto))
            .map(|r| r.msg.clone())
            .collect();
        out.sort_by(|a, b| (&a.origin, a.seq).cmp(&(&b.origin, b.seq)));
        out
    }

    /// Lost in a crash: everything in memory, and writes not yet durable.
    pub fn crash(&mut self) {
        self.up = false;
        self.rooms.clear();
        self.writes.clear();
        self.reads.clear();
        // What the node knew of its peers was in memory.
        self.peers.values_mut().for_each(|p| *p = PeerState::new(super::AE_MS));
        self.local_names.clear();
        self.members.clear();
        self.sent.clear();
    }

    /// Starts again from disk; the index is rebuilt as the node does at start.
    pub fn restart(&mut self) {
        self.up = true;
        self.index = VectorIndex::new();
        let rooms: Vec<String> = self.disk.keys().cloned().collect();
        for room in rooms {
            let v = self.disk_vector(&room);
            self.index.load(&room, &v);
        }
    }

    /// Nothing in memory waits for anything.
    pub fn quiet(&self) -> bool {
        self.writes.is_empty()
            && self.reads.is_empty()
            && self.rooms.values().all(|r| r.pending_len() == 0 && r.poll_timeout().is_none())
    }
}
