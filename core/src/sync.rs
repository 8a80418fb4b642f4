//! Anti-entropy with one peer: find what differs, cheaply, then send it.
//!
//! Every round (on connect, then every `interval`) each side sends its root
//! digest ([`VectorIndex::root`]). If the roots differ, the receiver answers
//! with its 256 group digests; the first side sends the leaf digests of the
//! groups that differ; the other lists the vectors of its rooms in the
//! leaves that differ, asking for the first side's in return. Each side,
//! once it holds the other's complete listing of a leaf, sends every
//! message the other lacks there, from every origin (so a message whose
//! origin is down still spreads), leaving out what changed within the last
//! second (still on its way over the live lanes).
//!
//! The cost of a round grows with what differs, not with the room count: an
//! idle mesh of 100,000 rooms exchanges two numbers per round, and one room
//! that differs costs two 2 KB digest frames and a listing of about one room.
//! Listings go in chunks of at most [`CHUNK_BYTES`], so no frame nears the
//! mesh's cap.
//!
//! Sans-IO: the mesh calls it with frames and the time, and carries out
//! what it returns. The simulation drives the same code.

use std::collections::BTreeMap;

use meshchat_shared::{RoomVector, limits};
use serde::{Deserialize, Serialize};

use super::digest::{BUCKETS, GROUPS, PER_GROUP, SETTLE_MS, VectorIndex};

/// Messages of `origin` with `after < seq <= upto`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub origin: String,
    pub after: u64,
    pub upto: u64,
}

impl Range {
    pub fn len(&self) -> u64 {
        self.upto.saturating_sub(self.after)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What `local` holds that `remote` lacks, per origin.
pub fn missing(local: &RoomVector, remote: &RoomVector) -> Vec<Range> {
    local
        .iter()
        .filter(|&(o, s)| s > remote.get(o))
        .map(|(o, s)| Range { origin: o.to_owned(), after: remote.get(o), upto: s })
        .collect()
}

/// A listing chunk stays under this many bytes (estimated), far below the
/// mesh's frame cap whatever the room count.
pub const CHUNK_BYTES: usize = 64 * 1024;
/// Rooms held from a peer's unfinished listings, at most: a peer that never
/// ends a bucket cannot grow this without bound.
pub const MAX_INCOMING_ROOMS: usize = 200_000;

/// The anti-entropy frames, on the control stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncFrame {
    /// My root digest.
    Root { root: u64 },
    /// My group digests: our roots differ.
    Groups { hashes: Vec<u64> },
    /// My leaf digests of one group: our digests of it differ.
    Leaves { group: u32, hashes: Vec<u64> },
    /// The vectors of my rooms in one leaf, a chunk at a time; `last`
    /// ends the leaf, `reply` asks for yours in return.
    Rooms { bucket: u32, rooms: Vec<(String, RoomVector)>, last: bool, reply: bool },
}

/// What the mesh is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOut {
    Send(SyncFrame),
    /// Send the peer these messages of `room`, read from the store.
    Fetch {
        room: String,
        ranges: Vec<Range>,
    },
    /// The peer holds `room` up to `theirs`, which this node lacks part of
    /// (the peer's side of the exchange sends it): how far behind we are.
    Behind {
        room: String,
        theirs: RoomVector,
    },
}

/// A frame that breaks the rules; the connection is not worth keeping.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    #[error("digest list of {0} entries, expected {GROUPS}")]
    DigestCount(usize),
    #[error("leaf or group {0} out of range")]
    Bucket(u32),
    #[error("more than {MAX_INCOMING_ROOMS} rooms listed without an end")]
    TooManyRooms,
}

#[derive(Debug, Default)]
struct Incoming {
    rooms: BTreeMap<String, RoomVector>,
    reply: bool,
}

/// Anti-entropy state for one peer.
#[derive(Debug)]
pub struct PeerSync {
    interval_ms: u64,
    /// When the next round starts; `None` while the peer is down.
    next_round: Option<u64>,
    /// When the link came up: changes from before were not sent live.
    up_at: u64,
    /// Listings being received, by bucket, until their last chunk.
    incoming: BTreeMap<u32, Incoming>,
    incoming_rooms: usize,
}

impl PeerSync {
    pub fn new(interval_ms: u64) -> Self {
        PeerSync { interval_ms, next_round: None, up_at: 0, incoming: BTreeMap::new(), incoming_rooms: 0 }
    }

    /// The peer connected: a round starts now.
    pub fn up(&mut self, now_ms: u64) {
        self.next_round = Some(now_ms);
        self.up_at = now_ms;
        self.incoming.clear();
        self.incoming_rooms = 0;
    }

    pub fn down(&mut self) {
        self.next_round = None;
        self.incoming.clear();
        self.incoming_rooms = 0;
    }

    /// When [`on_timeout`](Self::on_timeout) is next due.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.next_round
    }

    /// Starts a round if one is due.
    pub fn on_timeout(&mut self, now_ms: u64, index: &VectorIndex) -> Vec<SyncOut> {
        match self.next_round {
            Some(at) if at <= now_ms => {
                self.next_round = Some(now_ms + self.interval_ms);
                vec![SyncOut::Send(SyncFrame::Root { root: index.root() })]
            }
            _ => Vec::new(),
        }
    }

    pub fn on_frame(&mut self, frame: SyncFrame, index: &VectorIndex, now_ms: u64) -> Result<Vec<SyncOut>, SyncError> {
        match frame {
            SyncFrame::Root { root } if root == index.root() => Ok(Vec::new()),
            SyncFrame::Root { .. } => {
                Ok(vec![SyncOut::Send(SyncFrame::Groups { hashes: index.group_hashes().to_vec() })])
            }
            SyncFrame::Groups { hashes } => {
                if hashes.len() != GROUPS {
                    return Err(SyncError::DigestCount(hashes.len()));
                }
                let ours = index.group_hashes();
                let differ = (0..GROUPS).filter(|&g| ours[g] != hashes[g]);
                let leaves = |g| SyncFrame::Leaves { group: g as u32, hashes: index.leaf_hashes(g).to_vec() };
                Ok(differ.map(|g| SyncOut::Send(leaves(g))).collect())
            }
            SyncFrame::Leaves { group, hashes } => {
                if group as usize >= GROUPS {
                    return Err(SyncError::Bucket(group));
                }
                if hashes.len() != PER_GROUP {
                    return Err(SyncError::DigestCount(hashes.len()));
                }
                let ours = index.leaf_hashes(group as usize);
                let differ = (0..PER_GROUP).filter(|&l| ours[l] != hashes[l]).map(|l| group as usize * PER_GROUP + l);
                Ok(differ.flat_map(|b| listing(index, b, true)).map(SyncOut::Send).collect())
            }
            SyncFrame::Rooms { bucket, rooms, last, reply } => self.on_rooms(bucket, rooms, last, reply, index, now_ms),
        }
    }

    fn on_rooms(
        &mut self,
        bucket: u32,
        rooms: Vec<(String, RoomVector)>,
        last: bool,
        reply: bool,
        index: &VectorIndex,
        now_ms: u64,
    ) -> Result<Vec<SyncOut>, SyncError> {
        if bucket as usize >= BUCKETS {
            return Err(SyncError::Bucket(bucket));
        }
        self.incoming_rooms += rooms.len();
        if self.incoming_rooms > MAX_INCOMING_ROOMS {
            self.incoming.clear();
            self.incoming_rooms = 0;
            return Err(SyncError::TooManyRooms);
        }
        let entry = self.incoming.entry(bucket).or_default();
        entry.reply |= reply;
        // A peer's word is checked like a client's: bad names are ignored.
        let valid = rooms.into_iter().filter(|(r, v)| limits::validate_mesh_room(r).is_ok() && v.validate().is_ok());
        entry.rooms.extend(valid);
        if !last {
            return Ok(Vec::new());
        }
        let Some(theirs) = self.incoming.remove(&bucket) else {
            return Ok(Vec::new());
        };
        self.incoming_rooms = self.incoming_rooms.saturating_sub(theirs.rooms.len());
        let empty = RoomVector::new();
        let mut out: Vec<SyncOut> = index
            .bucket(bucket as usize)
            .filter_map(|(room, now)| {
                // Changes since the link came up went out live and may be on
                // their way; older ones never went (the link was down).
                let ours =
                    if now_ms < self.up_at + SETTLE_MS { now } else { index.settled(room, now_ms).unwrap_or_default() };
                let ranges = missing(&ours, theirs.rooms.get(room).unwrap_or(&empty));
                (!ranges.is_empty()).then(|| SyncOut::Fetch { room: room.to_owned(), ranges })
            })
            .collect();
        for (room, v) in theirs.rooms {
            let ours = index.get(&room).unwrap_or_default();
            if !missing(&v, &ours).is_empty() {
                out.push(SyncOut::Behind { room, theirs: v });
            }
        }
        if theirs.reply {
            out.extend(listing(index, bucket as usize, false).into_iter().map(SyncOut::Send));
        }
        Ok(out)
    }
}

/// This node's rooms of one bucket as `Rooms` frames of at most
/// [`CHUNK_BYTES`] each; an empty bucket is one empty frame, so the peer
/// learns that this node holds nothing there.
fn listing(index: &VectorIndex, bucket: usize, reply: bool) -> Vec<SyncFrame> {
    chunked(bucket, index.bucket(bucket), reply)
}

fn chunked<'a>(bucket: usize, rooms: impl Iterator<Item = (&'a str, RoomVector)>, reply: bool) -> Vec<SyncFrame> {
    let mut frames = Vec::new();
    let mut chunk: Vec<(String, RoomVector)> = Vec::new();
    let mut bytes = 0;
    for (room, vector) in rooms {
        let size = room.len() + 4 + vector.iter().map(|(o, _)| o.len() + 11).sum::<usize>();
        // 64 bytes for the frame's own fields.
        if bytes + size > CHUNK_BYTES - 64 && !chunk.is_empty() {
            let rooms = std::mem::take(&mut chunk);
            frames.push(SyncFrame::Rooms { bucket: bucket as u32, rooms, last: false, reply });
            bytes = 0;
        }
        bytes += size;
        chunk.push((room.to_owned(), vector));
    }
    frames.push(SyncFrame::Rooms { bucket: bucket as u32, rooms: chunk, last: true, reply });
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(p: &[(&str, u64)]) -> RoomVector {
        p.iter().map(|&(o, s)| (o, s)).collect()
    }

    #[test]
    fn missing_names_every_origin_the_other_lacks() {
        let local = v(&[("n1", 9), ("n2", 4), ("n3", 2)]);
        let remote = v(&[("n1", 9), ("n2", 1)]);
        assert_eq!(
            missing(&local, &remote),
            [Range { origin: "n2".into(), after: 1, upto: 4 }, Range { origin: "n3".into(), after: 0, upto: 2 }]
        );
        assert!(missing(&remote, &local).is_empty());
        assert_eq!(missing(&local, &remote).iter().map(Range::len).sum::<u64>(), 5);
    }

    /// Runs frames between two peers until both are quiet; returns what
    /// each was asked to fetch for the other, and the frames exchanged.
    fn exchange(a: &VectorIndex, b: &VectorIndex) -> (Vec<SyncOut>, Vec<SyncOut>, usize) {
        let (fa, fb, frames, _) = exchange_all(a, b);
        (fa, fb, frames)
    }

    /// As [`exchange`], with the rooms each side learned it is behind in.
    fn exchange_all(a: &VectorIndex, b: &VectorIndex) -> (Vec<SyncOut>, Vec<SyncOut>, usize, [Vec<String>; 2]) {
        let (mut sa, mut sb) = (PeerSync::new(1000), PeerSync::new(1000));
        sa.up(0);
        let mut to_b: Vec<SyncFrame> = Vec::new();
        let mut to_a: Vec<SyncFrame> = Vec::new();
        let (mut fa, mut fb) = (Vec::new(), Vec::new());
        let mut behind: [Vec<String>; 2] = Default::default();
        let sort =
            |outs: Vec<SyncOut>, frames: &mut Vec<SyncFrame>, fetches: &mut Vec<SyncOut>, behind: &mut Vec<String>| {
                for o in outs {
                    match o {
                        SyncOut::Send(f) => frames.push(f),
                        SyncOut::Behind { room, .. } => behind.push(room),
                        f => fetches.push(f),
                    }
                }
            };
        let [behind_a, behind_b] = &mut behind;
        sort(sa.on_timeout(0, a), &mut to_b, &mut fa, behind_a);
        let mut frames = 0;
        // Well after the changes: everything has settled.
        let now = 1_000_000;
        while !to_a.is_empty() || !to_b.is_empty() {
            for f in std::mem::take(&mut to_b) {
                frames += 1;
                sort(sb.on_frame(f, b, now).unwrap(), &mut to_a, &mut fb, behind_b);
            }
            for f in std::mem::take(&mut to_a) {
                frames += 1;
                sort(sa.on_frame(f, a, now).unwrap(), &mut to_b, &mut fa, behind_a);
            }
        }
        behind_a.sort();
        behind_b.sort();
        (fa, fb, frames, behind)
    }

    #[test]
    fn each_side_learns_which_rooms_it_is_behind_in() {
        let mut a = VectorIndex::new();
        let mut b = VectorIndex::new();
        a.set("both", &v(&[("n1", 3)]), 0);
        b.set("both", &v(&[("n1", 5)]), 0);
        b.set("only-b", &v(&[("n2", 1)]), 0);
        a.set("only-a", &v(&[("n3", 1)]), 0);
        let (_, _, _, [behind_a, behind_b]) = exchange_all(&a, &b);
        assert_eq!(behind_a, ["both", "only-b"]);
        assert_eq!(behind_b, ["only-a"]);
    }

    #[test]
    fn equal_nodes_exchange_one_number() {
        let mut a = VectorIndex::new();
        for i in 0..10_000u64 {
            a.set(&format!("r{i}"), &v(&[("n1", i % 7 + 1)]), 0);
        }
        let (fa, fb, frames) = exchange(&a, &a.clone());
        assert!(fa.is_empty() && fb.is_empty());
        assert_eq!(frames, 1);
    }

    #[test]
    fn each_side_sends_what_the_other_lacks_and_only_that() {
        let mut a = VectorIndex::new();
        let mut b = VectorIndex::new();
        for i in 0..5_000u64 {
            a.set(&format!("r{i}"), &v(&[("n1", 3)]), 0);
            b.set(&format!("r{i}"), &v(&[("n1", 3)]), 0);
        }
        a.set("r17", &v(&[("n1", 5)]), 0); // b lacks n1:4..5 of r17
        a.set("only-a", &v(&[("n2", 2)]), 0); // b lacks the whole room
        b.set("r99", &v(&[("n1", 3), ("n3", 1)]), 0); // a lacks n3:1 of r99
        let (fa, fb, frames) = exchange(&a, &b);
        assert!(frames <= 12, "root, groups, leaves, listings: {frames} frames");
        let fetch = |room: &str, origin: &str, after, upto| SyncOut::Fetch {
            room: room.into(),
            ranges: vec![Range { origin: origin.into(), after, upto }],
        };
        let mut fa = fa;
        fa.sort_by_key(|f| format!("{f:?}"));
        assert_eq!(fa, [fetch("only-a", "n2", 0, 2), fetch("r17", "n1", 3, 5)]);
        assert_eq!(fb, [fetch("r99", "n3", 0, 1)]);
    }

    #[test]
    fn listings_are_chunked_under_the_cap() {
        // Long room names and vectors of 32 long node ids.
        let vector: RoomVector = (0..32).map(|n| (format!("node-with-a-long-id-{n:012}"), u64::MAX)).collect();
        let names: Vec<String> = (0..300u64).map(|i| format!("{:0>48}", i)).collect();
        let frames = chunked(5, names.iter().map(|r| (r.as_str(), vector.clone())), true);
        assert!(frames.len() > 1);
        let mut count = 0;
        for f in &frames {
            let bytes = postcard::to_stdvec(f).unwrap().len();
            assert!(bytes <= CHUNK_BYTES, "{bytes}");
            if let SyncFrame::Rooms { rooms, .. } = f {
                count += rooms.len();
            }
        }
        assert_eq!(count, 300);
        assert!(matches!(frames.last(), Some(SyncFrame::Rooms { last: true, .. })));
    }

    #[test]
    fn rounds_follow_the_interval_and_stop_while_down() {
        let index = VectorIndex::new();
        let mut s = PeerSync::new(2000);
        assert!(s.on_timeout(0, &index).is_empty(), "down: no rounds");
        s.up(100);
        assert_eq!(s.on_timeout(100, &index).len(), 1);
        assert!(s.on_timeout(2000, &index).is_empty());
        assert_eq!(s.poll_timeout(), Some(2100));
        assert_eq!(s.on_timeout(2100, &index).len(), 1);
        s.down();
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn a_peer_that_never_ends_a_listing_is_cut_off() {
        let index = VectorIndex::new();
        let mut s = PeerSync::new(1000);
        let rooms: Vec<(String, RoomVector)> = (0..10_000).map(|i| (format!("r{i}"), v(&[("n1", 1)]))).collect();
        let mut result = Ok(Vec::new());
        for _ in 0..25 {
            let frame = SyncFrame::Rooms { bucket: 1, rooms: rooms.clone(), last: false, reply: true };
            result = s.on_frame(frame, &index, 0);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(SyncError::TooManyRooms));
        let bad = SyncFrame::Groups { hashes: vec![0; 3] };
        assert_eq!(s.on_frame(bad, &index, 0), Err(SyncError::DigestCount(3)));
        let bad = SyncFrame::Leaves { group: 9999, hashes: vec![0; PER_GROUP] };
        assert_eq!(s.on_frame(bad, &index, 0), Err(SyncError::Bucket(9999)));
    }
}
