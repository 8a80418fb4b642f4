//! How far behind its peers this node is, room by room, as anti-entropy
//! finds out ([`crate::core::SyncOut::Behind`]), and the rooms that changed
//! last: what the mesh map and the lag gauges show.

use std::collections::{HashMap, VecDeque};

use meshchat_shared::RoomVector;
use serde::Serialize;

/// Rooms tracked as behind, at most (a lagging node of 100,000 rooms
/// reports the first ones; the gauge says how many it knows of).
const MAX_BEHIND: usize = 100_000;
/// Rooms remembered as recently changed.
const RECENT: usize = 32;

#[derive(Debug)]
struct Behind {
    theirs: RoomVector,
    since_ms: u64,
}

/// One room this node lacks messages of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoomLag {
    pub room: String,
    /// Messages a peer holds that this node does not.
    pub messages: u64,
    /// How long this node has known it is behind there.
    pub seconds: u64,
}

#[derive(Debug, Default)]
pub struct Lag {
    behind: HashMap<String, Behind>,
    recent: VecDeque<String>,
}

/// Messages `theirs` holds beyond `ours`.
fn lacking(ours: &RoomVector, theirs: &RoomVector) -> u64 {
    theirs.iter().map(|(o, s)| s.saturating_sub(ours.get(o))).sum()
}

impl Lag {
    /// A peer holds `room` up to `theirs`; this node holds `ours`.
    pub fn behind(&mut self, room: &str, ours: &RoomVector, theirs: RoomVector, now_ms: u64) {
        if lacking(ours, &theirs) == 0 {
            return;
        }
        let full = self.behind.len() >= MAX_BEHIND;
        match self.behind.get_mut(room) {
            Some(b) => b.theirs.merge(&theirs),
            None if !full => {
                self.behind.insert(room.to_owned(), Behind { theirs, since_ms: now_ms });
            }
            None => {}
        }
    }

    /// `room` now holds `ours`: caught up, maybe; and it changed.
    pub fn changed(&mut self, room: &str, ours: &RoomVector) {
        if self.behind.get(room).is_some_and(|b| lacking(ours, &b.theirs) == 0) {
            self.behind.remove(room);
        }
        if self.recent.front().is_none_or(|r| r != room) {
            self.recent.retain(|r| r != room);
            self.recent.push_front(room.to_owned());
            self.recent.truncate(RECENT);
        }
    }

    /// Rooms behind and the longest it has lasted, in seconds.
    pub fn gauges(&self, now_ms: u64) -> (usize, u64) {
        let longest = self.behind.values().map(|b| now_ms.saturating_sub(b.since_ms)).max().unwrap_or(0);
        (self.behind.len(), longest / 1000)
    }

    /// The `n` rooms behind the longest, with how far.
    pub fn worst(&self, n: usize, now_ms: u64, ours: impl Fn(&str) -> RoomVector) -> Vec<RoomLag> {
        let mut v: Vec<(&String, &Behind)> = self.behind.iter().collect();
        v.sort_by_key(|(room, b)| (b.since_ms, room.as_str()));
        v.into_iter()
            .take(n)
            .map(|(room, b)| RoomLag {
                room: room.clone(),
                messages: lacking(&ours(room), &b.theirs),
                seconds: now_ms.saturating_sub(b.since_ms) / 1000,
            })
            .collect()
    }

    /// The rooms that changed last, newest first.
    pub fn recent(&self) -> Vec<String> {
        self.recent.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(entries: &[(&str, u64)]) -> RoomVector {
        entries.iter().map(|(o, s)| (o.to_string(), *s)).collect()
    }

    #[test]
    fn a_room_is_behind_until_it_holds_what_the_peer_said() {
        let mut lag = Lag::default();
        lag.behind("general", &v(&[("n1", 3)]), v(&[("n1", 5), ("n2", 2)]), 1_000);
        lag.behind("even", &v(&[("n1", 3)]), v(&[("n1", 3)]), 1_000);
        assert_eq!(lag.gauges(11_000), (1, 10));
        let worst = lag.worst(5, 11_000, |_| v(&[("n1", 4)]));
        assert_eq!(worst, [RoomLag { room: "general".into(), messages: 3, seconds: 10 }]);
        lag.changed("general", &v(&[("n1", 5), ("n2", 1)]));
        assert_eq!(lag.gauges(11_000).0, 1, "n2:2 still missing");
        lag.changed("general", &v(&[("n1", 5), ("n2", 2)]));
        assert_eq!(lag.gauges(11_000), (0, 0));
    }

    #[test]
    fn recent_rooms_are_newest_first_without_repeats() {
        let mut lag = Lag::default();
        for r in ["a", "b", "a", "c", "c"] {
            lag.changed(r, &RoomVector::new());
        }
        assert_eq!(lag.recent(), ["c", "a", "b"]);
        for i in 0..100 {
            lag.changed(&format!("r{i}"), &RoomVector::new());
        }
        assert_eq!(lag.recent().len(), RECENT);
    }
}
