//! Every room's committed vector on this node, with a digest that two nodes
//! compare in one number, then narrow down to the rooms that differ.
//!
//! Rooms fall into [`BUCKETS`] leaves by a hash of their name; leaves are
//! grouped [`PER_GROUP`] to a group. A leaf's digest is the XOR of
//! `hash(room, vector)` over its rooms, a group's the XOR of its leaves, the
//! root the XOR of the groups: a change to one room updates the three in
//! O(1), and two nodes holding the same vectors have the same root, whatever
//! the room count. Anti-entropy ([`super::sync`]) compares roots, then
//! groups, then the leaves of groups that differ, then the rooms of leaves
//! that differ: about one room per leaf with 100,000 rooms.
//!
//! It also remembers, for rooms that changed within [`SETTLE_MS`], their
//! vector from before: anti-entropy sends a peer only what is older than
//! that, since newer messages are still on their way over the live lanes.
//!
//! Leaves are sorted and iterated by index: what a node sends depends on its
//! state alone, so a simulation replays exactly from its seed.

use std::collections::{HashMap, VecDeque};

use meshchat_shared::RoomVector;

/// Groups of leaves, and leaves per group: 65,536 leaves in all.
pub const GROUPS: usize = 256;
pub const PER_GROUP: usize = 256;
pub const BUCKETS: usize = GROUPS * PER_GROUP;
/// Changes younger than this are in flight on the lanes, not yet missing.
pub const SETTLE_MS: u64 = 1_000;

/// A vector as `(origin, seq)` with origins interned: a room of a mesh of
/// three costs a few dozen bytes here, not a map of its own.
type Compact = Box<[(u32, u64)]>;

/// The rooms of one leaf, sorted by name: most leaves hold one or two, so a
/// small vector beats a map of their own.
type Leaf = Vec<(Box<str>, Compact)>;

#[derive(Debug, Clone)]
pub struct VectorIndex {
    /// Only leaves that hold rooms.
    buckets: HashMap<u32, Leaf>,
    hashes: Vec<u64>,
    groups: Vec<u64>,
    root: u64,
    rooms: usize,
    /// Interned origin ids: few (one per node that ever wrote), shared by
    /// every room.
    origins: Vec<Box<str>>,
    origin_ids: HashMap<Box<str>, u32>,
    /// Rooms changed within [`SETTLE_MS`]: their vector from before the
    /// change, and when the change window opened.
    recent: HashMap<Box<str>, (Compact, u64)>,
    /// Windows in the order they opened, to forget them.
    windows: VecDeque<(u64, Box<str>)>,
}

impl Default for VectorIndex {
    fn default() -> Self {
        VectorIndex {
            buckets: HashMap::new(),
            hashes: vec![0; BUCKETS],
            groups: vec![0; GROUPS],
            root: 0,
            rooms: 0,
            origins: Vec::new(),
            origin_ids: HashMap::new(),
            recent: HashMap::new(),
            windows: VecDeque::new(),
        }
    }
}

impl VectorIndex {
    pub fn new() -> Self {
        Self::default()
    }

    fn intern(&mut self, origin: &str) -> u32 {
        if let Some(&id) = self.origin_ids.get(origin) {
            return id;
        }
        let id = self.origins.len() as u32;
        self.origins.push(origin.into());
        self.origin_ids.insert(origin.into(), id);
        id
    }

    fn compact(&mut self, v: &RoomVector) -> Compact {
        v.iter().map(|(o, s)| (self.intern(o), s)).collect()
    }

    fn expand(&self, c: &Compact) -> RoomVector {
        c.iter().map(|&(o, s)| (self.origins[o as usize].as_ref(), s)).collect()
    }

    /// Sets a room's vector as of `now_ms`; an empty vector removes the
    /// room (it holds nothing to compare).
    pub fn set(&mut self, room: &str, vector: &RoomVector, now_ms: u64) {
        self.update(room, vector, Some(now_ms));
    }

    /// Sets a room's vector as loaded from the store: settled long ago.
    pub fn load(&mut self, room: &str, vector: &RoomVector) {
        self.update(room, vector, None);
    }

    fn update(&mut self, room: &str, vector: &RoomVector, now_ms: Option<u64>) {
        let b = bucket_of(room);
        let new = self.compact(vector);
        let old = match self.find(b, room) {
            Some(c) if *c == new => return,
            Some(c) => Some(c.clone()),
            None => None,
        };
        if let Some(now) = now_ms {
            self.note_change(room, old.clone().unwrap_or_default(), now);
        }
        let mut h = self.hashes[b];
        if let Some(old) = &old {
            h ^= room_hash(room, &self.expand(old));
        }
        let leaf = self.buckets.entry(b as u32).or_default();
        let at = leaf.binary_search_by(|(r, _)| (**r).cmp(room));
        match (at, vector.is_empty()) {
            (Ok(i), true) => {
                leaf.remove(i);
                self.rooms -= 1;
            }
            (Ok(i), false) => leaf[i].1 = new,
            (Err(i), false) => {
                leaf.insert(i, (room.into(), new));
                self.rooms += 1;
            }
            (Err(_), true) => {}
        }
        if leaf.is_empty() {
            self.buckets.remove(&(b as u32));
        }
        if !vector.is_empty() {
            h ^= room_hash(room, vector);
        }
        let g = b / PER_GROUP;
        let delta = self.hashes[b] ^ h;
        self.hashes[b] = h;
        self.groups[g] ^= delta;
        self.root ^= delta;
    }

    /// Opens a change window for `room` unless one is open; forgets closed ones.
    fn note_change(&mut self, room: &str, before: Compact, now_ms: u64) {
        while let Some((at, _)) = self.windows.front()
            && *at + SETTLE_MS <= now_ms
        {
            if let Some((at, r)) = self.windows.pop_front()
                && self.recent.get(&r).is_some_and(|(_, since)| *since == at)
            {
                self.recent.remove(&r);
            }
        }
        if !self.recent.contains_key(room) {
            self.recent.insert(room.into(), (before, now_ms));
            self.windows.push_back((now_ms, room.into()));
        }
    }

    fn find(&self, bucket: usize, room: &str) -> Option<&Compact> {
        let leaf = self.buckets.get(&(bucket as u32))?;
        leaf.binary_search_by(|(r, _)| (**r).cmp(room)).ok().map(|i| &leaf[i].1)
    }

    pub fn get(&self, room: &str) -> Option<RoomVector> {
        self.find(bucket_of(room), room).map(|c| self.expand(c))
    }

    /// The room's vector without its changes of the last [`SETTLE_MS`].
    pub fn settled(&self, room: &str, now_ms: u64) -> Option<RoomVector> {
        match self.recent.get(room) {
            Some((before, since)) if since + SETTLE_MS > now_ms => Some(self.expand(before)),
            _ => self.get(room),
        }
    }

    /// One number for everything: equal on two nodes that hold the same.
    pub fn root(&self) -> u64 {
        self.root
    }

    pub fn group_hashes(&self) -> &[u64] {
        &self.groups
    }

    /// The leaf digests of one group.
    pub fn leaf_hashes(&self, group: usize) -> &[u64] {
        let g = group.min(GROUPS - 1);
        &self.hashes[g * PER_GROUP..(g + 1) * PER_GROUP]
    }

    /// The rooms of one leaf with their vectors, in name order.
    pub fn bucket(&self, bucket: usize) -> impl Iterator<Item = (&str, RoomVector)> + '_ {
        let leaf = self.buckets.get(&(bucket as u32)).map(Vec::as_slice).unwrap_or_default();
        leaf.iter().map(|(r, c)| (r.as_ref(), self.expand(c)))
    }

    /// How many rooms one leaf holds.
    pub fn bucket_len(&self, bucket: usize) -> usize {
        self.buckets.get(&(bucket as u32)).map_or(0, Vec::len)
    }

    /// Rooms with at least one message.
    pub fn len(&self) -> usize {
        self.rooms
    }

    pub fn is_empty(&self) -> bool {
        self.rooms == 0
    }

    /// Every room, leaf by leaf.
    pub fn iter(&self) -> impl Iterator<Item = (&str, RoomVector)> + '_ {
        (0..BUCKETS).flat_map(|b| self.bucket(b))
    }
}

/// Which bucket a room falls in: stable across nodes and versions.
pub fn bucket_of(room: &str) -> usize {
    (mix(fnv(0xcbf2_9ce4_8422_2325, room.as_bytes())) % BUCKETS as u64) as usize
}

/// A room and its vector as one number (FNV-1a, then a 64-bit finaliser so
/// that nearby inputs spread over all bits before they are XORed).
fn room_hash(room: &str, vector: &RoomVector) -> u64 {
    let mut h = fnv(0xcbf2_9ce4_8422_2325, room.as_bytes());
    for (origin, seq) in vector.iter() {
        // 0xff never occurs in UTF-8: fields cannot run into each other.
        h = fnv(h, &[0xff]);
        h = fnv(h, origin.as_bytes());
        h = fnv(h, &[0xff]);
        h = fnv(h, &seq.to_le_bytes());
    }
    mix(h)
}

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// splitmix64's finaliser.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(p: &[(&str, u64)]) -> RoomVector {
        p.iter().map(|&(o, s)| (o, s)).collect()
    }

    #[test]
    fn equal_contents_give_equal_roots_in_any_order() {
        let mut a = VectorIndex::new();
        let mut b = VectorIndex::new();
        for i in 0..500u64 {
            a.set(&format!("room-{i}"), &v(&[("n1", i + 1)]), 0);
        }
        for i in (0..500u64).rev() {
            b.set(&format!("room-{i}"), &v(&[("n1", 1)]), 0);
            b.set(&format!("room-{i}"), &v(&[("n1", i + 1)]), 0);
        }
        assert_eq!(a.root(), b.root());
        assert_eq!(a.group_hashes(), b.group_hashes());
        assert_eq!(a.len(), 500);
        b.set("room-7", &v(&[("n1", 8), ("n2", 1)]), 0);
        assert_ne!(a.root(), b.root());
        let g = bucket_of("room-7") / PER_GROUP;
        let groups: Vec<usize> = (0..GROUPS).filter(|&i| a.group_hashes()[i] != b.group_hashes()[i]).collect();
        assert_eq!(groups, [g]);
        let leaves: Vec<usize> =
            (0..PER_GROUP).filter(|&i| a.leaf_hashes(g)[i] != b.leaf_hashes(g)[i]).map(|i| g * PER_GROUP + i).collect();
        assert_eq!(leaves, [bucket_of("room-7")]);
        b.set("room-7", &v(&[("n1", 8)]), 0);
        assert_eq!(a.root(), b.root());
    }

    #[test]
    fn an_empty_vector_removes_the_room() {
        let mut a = VectorIndex::new();
        a.set("r", &v(&[("n1", 1)]), 0);
        a.set("r", &RoomVector::new(), 0);
        assert_eq!((a.root(), a.len()), (0, 0));
        assert!(a.get("r").is_none());
        a.set("never", &RoomVector::new(), 0);
        assert_eq!((a.root(), a.len()), (0, 0));
        a.set("r", &v(&[("n1", 1), ("n2", 4)]), 0);
        assert_eq!(a.get("r"), Some(v(&[("n1", 1), ("n2", 4)])));
        assert_eq!(a.iter().count(), 1);
    }

    #[test]
    fn rooms_spread_over_the_leaves() {
        let mut counts = vec![0usize; BUCKETS];
        for i in 0..1_000_000 {
            counts[bucket_of(&format!("room-{i}"))] += 1;
        }
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(*min >= 1 && *max < 45, "{min}..{max}");
    }

    #[test]
    fn settled_leaves_out_changes_still_in_flight() {
        let mut a = VectorIndex::new();
        a.set("r", &v(&[("n1", 3)]), 10_000);
        assert_eq!(a.settled("r", 10_500), Some(RoomVector::new()), "new: nothing settled yet");
        assert_eq!(a.settled("r", 11_000), Some(v(&[("n1", 3)])));
        a.set("r", &v(&[("n1", 4)]), 20_000);
        a.set("r", &v(&[("n1", 5)]), 20_400);
        assert_eq!(a.settled("r", 20_900), Some(v(&[("n1", 3)])));
        assert_eq!(a.settled("r", 21_000), Some(v(&[("n1", 5)])));
        // Later changes open a new window; the old one is forgotten.
        a.set("r", &v(&[("n1", 6)]), 30_000);
        assert_eq!(a.settled("r", 30_001), Some(v(&[("n1", 5)])));
        assert_eq!(a.recent.len(), 1);
    }
}
