//! After a restore from a backup, this node's store may lack messages it
//! wrote after the backup was taken; its peers have them. Were it to take a
//! write before it has them back, it would stamp a new message with a seq
//! one of those already has. So a restored node takes no write until every
//! peer has told it the highest seq of this node's own it holds per room,
//! and, room by room, until it holds those messages again.
//!
//! Pure state, owned by one driver (the node's restore actor): the mesh's
//! answers and removals go in, and a [`Gate`] comes out, a value the rooms
//! read before each local write.

use std::collections::BTreeSet;

use imbl::HashMap;

/// Rooms remembered from peers' answers, at most (a peer cannot grow it
/// without bound).
const MAX_ROOMS: usize = 2_000_000;

#[derive(Debug, Default, Clone)]
struct Waiting {
    /// Peers yet to answer in full.
    peers: BTreeSet<String>,
    /// Per room, the highest seq of this node's own a peer holds
    /// (persistent: each published gate shares it).
    needed: HashMap<String, u64>,
}

/// The restore's state machine.
#[derive(Debug, Default)]
pub struct Restore {
    /// `None`: not restoring, every write goes.
    waiting: Option<Waiting>,
    /// Removed from the mesh: no write, ever again.
    retired: bool,
}

/// What the rooms are told: a snapshot, cheap to clone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Gate {
    #[default]
    Open,
    /// Removed from the mesh: nothing written here could reach it.
    Retired,
    Waiting {
        /// Peers that have not answered in full.
        peers: Vec<String>,
        needed: HashMap<String, u64>,
    },
}

impl Gate {
    /// May this node write to `room`, holding `own` of its own messages there?
    pub fn allows(&self, room: &str, own: u64) -> bool {
        match self {
            Gate::Open => true,
            Gate::Retired => false,
            Gate::Waiting { peers, needed } => peers.is_empty() && own >= needed.get(room).copied().unwrap_or(0),
        }
    }

    pub fn is_restoring(&self) -> bool {
        matches!(self, Gate::Waiting { .. })
    }

    /// Peers that have not answered yet.
    pub fn waiting_for(&self) -> &[String] {
        match self {
            Gate::Waiting { peers, .. } => peers,
            _ => &[],
        }
    }
}

impl Restore {
    /// A node that was not restored.
    pub fn open() -> Self {
        Self::default()
    }

    /// A node just restored, waiting for `peers`.
    pub fn restoring(peers: impl IntoIterator<Item = String>) -> Self {
        let w = Waiting { peers: peers.into_iter().collect(), needed: HashMap::new() };
        Restore { waiting: Some(w), retired: false }
    }

    /// What the rooms may do now.
    pub fn gate(&self) -> Gate {
        match (&self.waiting, self.retired) {
            (_, true) => Gate::Retired,
            (None, false) => Gate::Open,
            (Some(w), false) => Gate::Waiting { peers: w.peers.iter().cloned().collect(), needed: w.needed.clone() },
        }
    }

    /// This node was removed from the mesh: it takes no write from now on
    /// (nothing it wrote could reach another node).
    pub fn retire(&mut self) {
        self.retired = true;
    }

    pub fn is_restoring(&self) -> bool {
        self.waiting.is_some()
    }

    /// Part of `peer`'s answer: its highest seq of ours per room; `last`
    /// ends it.
    pub fn on_answer(&mut self, peer: &str, rooms: Vec<(String, u64)>, last: bool) {
        let Some(w) = self.waiting.as_mut() else { return };
        if !w.peers.contains(peer) {
            return;
        }
        for (room, seq) in rooms {
            if w.needed.len() >= MAX_ROOMS && !w.needed.contains_key(&room) {
                continue;
            }
            let e = w.needed.entry(room).or_default();
            *e = (*e).max(seq);
        }
        if last {
            w.peers.remove(peer);
        }
    }

    /// A peer removed from the mesh will never answer.
    pub fn forget(&mut self, peer: &str) {
        if let Some(w) = self.waiting.as_mut() {
            w.peers.remove(peer);
        }
    }

    /// Ends the wait once every peer answered and every room holds what
    /// they hold of ours (`own(room)`); true when it ended now.
    pub fn try_finish(&mut self, own: impl Fn(&str) -> u64) -> bool {
        let done =
            self.waiting.as_ref().is_some_and(|w| w.peers.is_empty() && w.needed.iter().all(|(r, s)| own(r) >= *s));
        if done {
            self.waiting = None;
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_gate_lets_everything_through() {
        let mut g = Restore::open();
        assert!(g.gate().allows("general", 0));
        assert!(!g.try_finish(|_| 0), "nothing to finish");
    }

    #[test]
    fn writes_wait_for_every_peer_then_for_the_rooms_own_messages() {
        let mut g = Restore::restoring(["n2".to_string(), "n3".to_string()]);
        assert!(!g.gate().allows("quiet", 0), "no peer answered yet");
        g.on_answer("n2", vec![("general".into(), 7)], false);
        g.on_answer("n2", vec![("dev".into(), 2)], true);
        g.on_answer("n9", vec![("general".into(), 99)], true);
        assert_eq!(g.gate().waiting_for(), vec!["n3".to_string()]);
        assert!(!g.gate().allows("quiet", 0));
        g.on_answer("n3", vec![("general".into(), 9)], true);
        assert!(g.gate().allows("quiet", 0), "a room nobody holds ours in");
        assert!(!g.gate().allows("general", 8), "n3 holds our seq 9 of general");
        assert!(g.gate().allows("general", 9));
        assert!(!g.try_finish(|r| if r == "general" { 9 } else { 1 }), "dev lacks seq 2");
        assert!(g.try_finish(|r| if r == "general" { 9 } else { 2 }));
        assert!(!g.is_restoring());
        assert!(g.gate().allows("dev", 0));
    }

    #[test]
    fn a_retired_node_takes_no_write() {
        let mut g = Restore::open();
        g.retire();
        assert!(!g.gate().allows("general", 0));
        assert!(!g.gate().is_restoring());
    }

    #[test]
    fn a_removed_peer_is_not_waited_for() {
        let mut g = Restore::restoring(["n2".to_string()]);
        g.forget("n2");
        assert!(g.gate().allows("general", 0));
    }
}
