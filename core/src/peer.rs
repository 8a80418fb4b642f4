//! Every decision about one peer, sans-IO: anti-entropy ([`PeerSync`]),
//! which of its `Want`s to serve and how much of each, which rooms have a
//! range on its way (one at a time per room), where it reported people
//! online (so that its users' grace starts when it goes), and the restore's
//! ask and answer. The mesh's link task owns one per peer and feeds it what
//! the connection's readers and lane writers saw; the session files only
//! carry bytes. The simulation drives the same state.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use meshchat_shared::{RoomVector, limits};

use crate::digest::VectorIndex;
use crate::sync::{PeerSync, Range, SyncError, SyncFrame, SyncOut};

/// Messages one `Want` may ask for, at most (it asks again for more).
pub const MAX_WANT: u64 = 5_000;
/// A peer may ask for one room's gaps this often, at most.
pub const WANT_EVERY_MS: u64 = 200;
/// Rooms whose last `Want` is remembered before old ones are forgotten.
const WANTED_ROOMS: usize = 10_000;
/// The first mesh version that speaks the restore's ask and answer.
pub const OWN_SINCE_VERSION: u32 = 4;

/// What happened on the connection (or to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerIn {
    /// Connected, speaking mesh `version`; `restoring`: this node waits for
    /// its peers to give back its own messages.
    Up {
        version: u32,
        restoring: bool,
    },
    /// The connection is gone.
    Down,
    Sync(SyncFrame),
    /// The peer asks for these messages of `room`.
    Want {
        room: String,
        ranges: Vec<Range>,
    },
    /// A range of `room` was sent (or could not be): the next may go.
    Fetched {
        room: String,
    },
    Presence {
        room: String,
        name: String,
        online: bool,
    },
    /// Every name the peer has online, per room.
    Snapshot(Vec<(String, Vec<String>)>),
    /// The peer was restored and asks which of its messages we hold.
    AskOwn,
    /// Part of the peer's answer to our `AskOwn`.
    Own {
        rooms: Vec<(String, u64)>,
        last: bool,
    },
}

/// What a room is told about the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomNote {
    /// The peer went away: its users' grace period starts.
    PeerDown,
    /// Who of the peer's users are online in the room (all of them).
    Presence {
        names: BTreeSet<String>,
    },
    PresenceUpdate {
        name: String,
        online: bool,
    },
}

/// What the shell carries out, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerOut {
    /// Send the peer this anti-entropy frame.
    Sync(SyncFrame),
    /// Read these ranges of `room` from the store and send them; then say
    /// [`PeerIn::Fetched`].
    Fetch {
        room: String,
        ranges: Vec<Range>,
    },
    /// This node lacks part of `room` up to `theirs`.
    Behind {
        room: String,
        theirs: RoomVector,
    },
    /// Send the peer this node's names online (a round found differences).
    Snapshot,
    Room {
        room: String,
        note: RoomNote,
    },
    /// Ask the peer which of this node's messages it holds.
    AskOwn,
    /// The peer speaks too old a version to answer `AskOwn`: the restore
    /// waits for it until it is upgraded or removed.
    CannotAsk {
        version: u32,
    },
    /// Tell the peer the highest seq of its own this node holds, per room.
    AnswerOwn,
    /// The peer's answer, for the restore gate.
    Own {
        rooms: Vec<(String, u64)>,
        last: bool,
    },
}

#[derive(Debug)]
pub struct PeerState {
    sync: PeerSync,
    /// Rooms with a range being sent: a second request waits for the next round.
    fetching: HashSet<String>,
    /// Rooms where the peer has reported names online.
    reported: BTreeSet<String>,
    /// When the peer last asked for each room's gaps (ms).
    wanted: HashMap<String, u64>,
}

impl PeerState {
    pub fn new(anti_entropy_ms: u64) -> Self {
        PeerState {
            sync: PeerSync::new(anti_entropy_ms),
            fetching: HashSet::new(),
            reported: BTreeSet::new(),
            wanted: HashMap::new(),
        }
    }

    /// When [`PeerIn`]'s timeout is next due ([`PeerState::on_timeout`]).
    pub fn poll_timeout(&self) -> Option<u64> {
        self.sync.poll_timeout()
    }

    /// An anti-entropy round when due; a round that found differences also
    /// sends this node's presence (repairing lost presence frames).
    pub fn on_timeout(&mut self, now_ms: u64, index: &VectorIndex) -> Vec<PeerOut> {
        let outs = self.sync.on_timeout(now_ms, index);
        if outs.is_empty() {
            return Vec::new();
        }
        let mut out = self.sync_outs(outs);
        out.push(PeerOut::Snapshot);
        out
    }

    /// One input; an error means the peer broke the rules and the
    /// connection is not worth keeping.
    pub fn handle(&mut self, input: PeerIn, now_ms: u64, index: &VectorIndex) -> Result<Vec<PeerOut>, SyncError> {
        Ok(match input {
            PeerIn::Up { version, restoring } => self.up(version, restoring, now_ms),
            PeerIn::Down => self.down(),
            PeerIn::Sync(frame) => {
                let outs = self.sync.on_frame(frame, index, now_ms)?;
                self.sync_outs(outs)
            }
            PeerIn::Want { room, ranges } => {
                let ranges = self.clamp_want(&room, ranges, index.get(&room), now_ms);
                ranges.map(|ranges| self.fetch(room, ranges)).into_iter().flatten().collect()
            }
            PeerIn::Fetched { room } => {
                self.fetching.remove(&room);
                Vec::new()
            }
            PeerIn::Presence { room, name, online } => self.presence(room, name, online),
            PeerIn::Snapshot(rooms) => self.snapshot(rooms),
            PeerIn::AskOwn => vec![PeerOut::AnswerOwn],
            PeerIn::Own { rooms, last } => {
                let rooms = rooms.into_iter().filter(|(r, _)| limits::validate_mesh_room(r).is_ok()).collect();
                vec![PeerOut::Own { rooms, last }]
            }
        })
    }

    fn up(&mut self, version: u32, restoring: bool, now_ms: u64) -> Vec<PeerOut> {
        self.sync.up(now_ms);
        self.fetching.clear();
        self.wanted.clear();
        match (restoring, version >= OWN_SINCE_VERSION) {
            (false, _) => Vec::new(),
            (true, true) => vec![PeerOut::AskOwn],
            (true, false) => vec![PeerOut::CannotAsk { version }],
        }
    }

    fn down(&mut self) -> Vec<PeerOut> {
        self.sync.down();
        self.fetching.clear();
        self.wanted.clear();
        let rooms = std::mem::take(&mut self.reported);
        rooms.into_iter().map(|room| PeerOut::Room { room, note: RoomNote::PeerDown }).collect()
    }

    fn sync_outs(&mut self, outs: Vec<SyncOut>) -> Vec<PeerOut> {
        let mut out = Vec::with_capacity(outs.len());
        for o in outs {
            match o {
                SyncOut::Send(frame) => out.push(PeerOut::Sync(frame)),
                SyncOut::Fetch { room, ranges } => out.extend(self.fetch(room, ranges)),
                SyncOut::Behind { room, theirs } => out.push(PeerOut::Behind { room, theirs }),
            }
        }
        out
    }

    /// One range at a time per room: the next waits for the next round.
    fn fetch(&mut self, room: String, ranges: Vec<Range>) -> Option<PeerOut> {
        if !self.fetching.insert(room.clone()) {
            return None;
        }
        Some(PeerOut::Fetch { room, ranges })
    }

    /// A peer's `Want`, cut down to what this node holds and may send now:
    /// ranges within the room's vector, at most [`MAX_WANT`] messages, and
    /// not again for the same room within [`WANT_EVERY_MS`].
    fn clamp_want(
        &mut self,
        room: &str,
        ranges: Vec<Range>,
        ours: Option<RoomVector>,
        now_ms: u64,
    ) -> Option<Vec<Range>> {
        limits::validate_mesh_room(room).ok()?;
        let ours = ours?;
        let recent = |t: &u64| now_ms.saturating_sub(*t) < WANT_EVERY_MS;
        if self.wanted.get(room).is_some_and(recent) {
            return None;
        }
        if self.wanted.len() > WANTED_ROOMS {
            self.wanted.retain(|_, t| recent(t));
        }
        self.wanted.insert(room.to_owned(), now_ms);
        let mut budget = MAX_WANT;
        let mut out = Vec::new();
        for r in ranges {
            let upto = r.upto.min(ours.get(&r.origin)).min(r.after.saturating_add(budget));
            if upto > r.after && budget > 0 {
                budget -= upto - r.after;
                out.push(Range { origin: r.origin, after: r.after, upto });
            }
        }
        (!out.is_empty()).then_some(out)
    }

    fn presence(&mut self, room: String, name: String, online: bool) -> Vec<PeerOut> {
        if limits::validate_mesh_room(&room).is_err() || limits::validate_name(&name).is_err() {
            return Vec::new();
        }
        if online {
            self.reported.insert(room.clone());
        }
        vec![PeerOut::Room { room, note: RoomNote::PresenceUpdate { name, online } }]
    }

    /// The peer's whole presence: rooms it no longer reports are told none.
    fn snapshot(&mut self, rooms: Vec<(String, Vec<String>)>) -> Vec<PeerOut> {
        let now: BTreeMap<String, BTreeSet<String>> = rooms
            .into_iter()
            .filter(|(room, _)| limits::validate_mesh_room(room).is_ok())
            .map(|(room, names)| (room, names.into_iter().filter(|n| limits::validate_name(n).is_ok()).collect()))
            .collect();
        let before = std::mem::replace(&mut self.reported, now.keys().cloned().collect());
        let gone = before.into_iter().filter(|r| !now.contains_key(r));
        let mut out: Vec<PeerOut> =
            gone.map(|room| PeerOut::Room { room, note: RoomNote::Presence { names: BTreeSet::new() } }).collect();
        out.extend(now.into_iter().map(|(room, names)| PeerOut::Room { room, note: RoomNote::Presence { names } }));
        out
    }
}

#[cfg(test)]
mod tests;
