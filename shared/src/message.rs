//! A chat message and the key that orders a room.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::vector::RoomVector;

/// A message as every node and every client sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub room: String,
    /// Chosen by the client; with `author` it is the idempotency key.
    pub id: String,
    pub author: String,
    /// Verbatim: never interpreted as markup.
    pub body: String,
    /// The node that accepted it.
    pub origin: String,
    /// Counts `origin`'s messages in this room from 1, without gaps.
    pub seq: u64,
    /// Milliseconds since the Unix epoch from the origin's hybrid logical clock.
    pub ts: u64,
    /// The room's vector at the origin when accepted; `vc[origin] == seq`.
    pub vc: RoomVector,
}

impl Message {
    /// The message's place in its room's total order.
    pub fn cursor(&self) -> Cursor {
        Cursor { ts: self.ts, origin: self.origin.clone(), seq: self.seq }
    }

    /// Compares by `(ts, origin, seq)` without allocating a [`Cursor`].
    pub fn order(&self, other: &Message) -> Ordering {
        (self.ts, self.origin.as_str(), self.seq).cmp(&(other.ts, other.origin.as_str(), other.seq))
    }

    /// True if this message sorts before the cursor.
    pub fn is_before(&self, c: &Cursor) -> bool {
        (self.ts, self.origin.as_str(), self.seq) < (c.ts, c.origin.as_str(), c.seq)
    }
}

/// Test fixtures (also for other crates' tests, with the `test-util` feature).
#[cfg(any(test, feature = "test-util"))]
impl Message {
    /// `origin`'s message number `seq` in `room`: by "a", id `origin-seq`,
    /// body "b", stamped `ts = seq`, its vector covering only itself. Tests
    /// change what they care about with `Message { .., ..Message::sample(..) }`.
    pub fn sample(room: &str, origin: &str, seq: u64) -> Message {
        Message {
            room: room.into(),
            id: format!("{origin}-{seq}"),
            author: "a".into(),
            body: "b".into(),
            origin: origin.into(),
            seq,
            ts: seq,
            vc: [(origin, seq)].into_iter().collect(),
        }
    }

    /// The same message, sent after `deps` (its vector covers them too).
    pub fn after(mut self, deps: &[(&str, u64)]) -> Message {
        for &(origin, seq) in deps {
            self.vc.set(origin, seq);
        }
        self
    }
}

/// `(ts, origin, seq)`: the total order of a room, the same on every node.
/// Also the `before` of a `history` request. Field order matters: the
/// derived `Ord` compares `ts` first, then `origin`, then `seq`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Cursor {
    pub ts: u64,
    pub origin: String,
    pub seq: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(ts: u64, origin: &str, seq: u64) -> Message {
        Message { ts, ..Message::sample("r", origin, seq) }
    }

    #[test]
    fn order_is_ts_then_origin_then_seq() {
        let mut v = [msg(5, "n2", 1), msg(5, "n1", 2), msg(4, "n3", 9), msg(5, "n1", 1)];
        v.sort_by(Message::order);
        let keys: Vec<_> = v.iter().map(|m| (m.ts, m.origin.as_str(), m.seq)).collect();
        assert_eq!(keys, [(4, "n3", 9), (5, "n1", 1), (5, "n1", 2), (5, "n2", 1)]);
        let sorted_by_cursor = {
            let mut c: Vec<_> = v.iter().map(Message::cursor).collect();
            c.sort();
            c
        };
        assert_eq!(sorted_by_cursor, v.iter().map(Message::cursor).collect::<Vec<_>>());
        assert!(v[0].is_before(&v[1].cursor()));
        assert!(!v[1].is_before(&v[1].cursor()));
    }
}
