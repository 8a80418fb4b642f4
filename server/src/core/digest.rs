//! Every room's committed vector on this node, with a digest that two nodes
//! compare in one number.
//!
//! Rooms fall into [`BUCKETS`] buckets by a hash of their name. A bucket's
//! digest is the XOR of `hash(room, vector)` over its rooms, and the root is
//! the XOR of the buckets: a change to one room updates both in O(1), and two
//! nodes holding the same vectors have the same root, whatever the room
//! count. Anti-entropy ([`super::sync`]) compares roots, then buckets, then
//! the vectors of the buckets that differ only.
//!
//! Ordered maps throughout: what a node sends depends on its state alone, so
//! a simulation replays exactly from its seed.

use std::collections::{BTreeMap, HashMap};

use meshchat_shared::RoomVector;

/// Buckets of the digest. A `Buckets` frame carries one `u64` each (about
/// 10 KB); with 100,000 rooms a bucket holds about 100.
pub const BUCKETS: usize = 1024;

/// A vector as `(origin, seq)` with origins interned: a room of a mesh of
/// three costs a few dozen bytes here, not a map of its own.
type Compact = Box<[(u32, u64)]>;

#[derive(Debug, Clone)]
pub struct VectorIndex {
    buckets: Vec<BTreeMap<Box<str>, Compact>>,
    hashes: Vec<u64>,
    root: u64,
    rooms: usize,
    /// Interned origin ids: few (one per node that ever wrote), shared by
    /// every room.
    origins: Vec<Box<str>>,
    origin_ids: HashMap<Box<str>, u32>,
}

impl Default for VectorIndex {
    fn default() -> Self {
        VectorIndex {
            buckets: vec![BTreeMap::new(); BUCKETS],
            hashes: vec![0; BUCKETS],
            root: 0,
            rooms: 0,
            origins: Vec::new(),
            origin_ids: HashMap::new(),
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

    /// Sets a room's vector; an empty vector removes the room (it holds
    /// nothing to compare).
    pub fn set(&mut self, room: &str, vector: &RoomVector) {
        let b = bucket_of(room);
        let new = self.compact(vector);
        let old = match self.buckets[b].get(room) {
            Some(c) if *c == new => return,
            Some(c) => Some(room_hash(room, &self.expand(c))),
            None => None,
        };
        let mut h = self.hashes[b];
        if let Some(old) = old {
            h ^= old;
        }
        if vector.is_empty() {
            if self.buckets[b].remove(room).is_some() {
                self.rooms -= 1;
            }
        } else {
            h ^= room_hash(room, vector);
            if self.buckets[b].insert(room.into(), new).is_none() {
                self.rooms += 1;
            }
        }
        self.root ^= self.hashes[b] ^ h;
        self.hashes[b] = h;
    }

    pub fn get(&self, room: &str) -> Option<RoomVector> {
        self.buckets[bucket_of(room)].get(room).map(|c| self.expand(c))
    }

    /// One number for everything: equal on two nodes that hold the same.
    pub fn root(&self) -> u64 {
        self.root
    }

    pub fn bucket_hashes(&self) -> &[u64] {
        &self.hashes
    }

    /// The rooms of one bucket with their vectors, in name order.
    pub fn bucket(&self, bucket: usize) -> impl Iterator<Item = (&str, RoomVector)> + '_ {
        self.buckets[bucket.min(BUCKETS - 1)].iter().map(|(r, c)| (r.as_ref(), self.expand(c)))
    }

    /// How many rooms one bucket holds.
    pub fn bucket_len(&self, bucket: usize) -> usize {
        self.buckets[bucket.min(BUCKETS - 1)].len()
    }

    /// Rooms with at least one message.
    pub fn len(&self) -> usize {
        self.rooms
    }

    pub fn is_empty(&self) -> bool {
        self.rooms == 0
    }

    /// Every room, bucket by bucket.
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
            a.set(&format!("room-{i}"), &v(&[("n1", i + 1)]));
        }
        for i in (0..500u64).rev() {
            b.set(&format!("room-{i}"), &v(&[("n1", 1)]));
            b.set(&format!("room-{i}"), &v(&[("n1", i + 1)]));
        }
        assert_eq!(a.root(), b.root());
        assert_eq!(a.bucket_hashes(), b.bucket_hashes());
        assert_eq!(a.len(), 500);
        b.set("room-7", &v(&[("n1", 8), ("n2", 1)]));
        assert_ne!(a.root(), b.root());
        let differ: Vec<usize> = (0..BUCKETS).filter(|&i| a.bucket_hashes()[i] != b.bucket_hashes()[i]).collect();
        assert_eq!(differ, [bucket_of("room-7")]);
        b.set("room-7", &v(&[("n1", 8)]));
        assert_eq!(a.root(), b.root());
    }

    #[test]
    fn an_empty_vector_removes_the_room() {
        let mut a = VectorIndex::new();
        a.set("r", &v(&[("n1", 1)]));
        a.set("r", &RoomVector::new());
        assert_eq!((a.root(), a.len()), (0, 0));
        assert!(a.get("r").is_none());
        a.set("never", &RoomVector::new());
        assert_eq!((a.root(), a.len()), (0, 0));
        a.set("r", &v(&[("n1", 1), ("n2", 4)]));
        assert_eq!(a.get("r"), Some(v(&[("n1", 1), ("n2", 4)])));
        assert_eq!(a.iter().count(), 1);
    }

    #[test]
    fn rooms_spread_over_the_buckets() {
        let mut counts = vec![0usize; BUCKETS];
        for i in 0..100_000 {
            counts[bucket_of(&format!("room-{i}"))] += 1;
        }
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(*min > 50 && *max < 150, "{min}..{max}");
    }
}
