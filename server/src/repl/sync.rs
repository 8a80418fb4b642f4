//! Anti-entropy: what to send a peer, and when to compare.
//!
//! Peers exchange room vectors on every (re)connection and every
//! `interval` after; each then sends what the other lacks, from every
//! origin, not only its own. A message whose origin is down still spreads.

use std::collections::BTreeMap;

use meshchat_shared::RoomVector;

/// Messages of `origin` with `after < seq <= upto`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

/// When each connected peer is next due a vector exchange.
#[derive(Debug, Clone)]
pub struct Schedule {
    interval_ms: u64,
    next: BTreeMap<String, u64>,
}

impl Schedule {
    pub fn new(interval_ms: u64) -> Self {
        Schedule { interval_ms, next: BTreeMap::new() }
    }

    /// A peer connected: exchange now.
    pub fn up(&mut self, peer: &str, now_ms: u64) {
        self.next.insert(peer.to_owned(), now_ms);
    }

    pub fn down(&mut self, peer: &str) {
        self.next.remove(peer);
    }

    /// The peers due an exchange at `now_ms`; each is rescheduled.
    pub fn due(&mut self, now_ms: u64) -> Vec<String> {
        let mut out = Vec::new();
        for (peer, at) in self.next.iter_mut() {
            if *at <= now_ms {
                out.push(peer.clone());
                *at = now_ms + self.interval_ms;
            }
        }
        out
    }

    /// The earliest time anything is due.
    pub fn next_due(&self) -> Option<u64> {
        self.next.values().min().copied()
    }
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

    #[test]
    fn schedule_exchanges_on_up_then_every_interval() {
        let mut s = Schedule::new(1000);
        s.up("n2", 50);
        assert_eq!(s.due(50), ["n2"]);
        assert!(s.due(500).is_empty());
        assert_eq!(s.next_due(), Some(1050));
        s.up("n3", 600);
        assert_eq!(s.due(1050), ["n2", "n3"]);
        s.down("n2");
        assert_eq!(s.due(5000), ["n3"]);
    }
}
