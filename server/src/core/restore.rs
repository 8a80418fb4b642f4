//! After a restore from a backup, this node's store may lack messages it
//! wrote after the backup was taken; its peers have them. Were it to take a
//! write before it has them back, it would stamp a new message with a seq
//! one of those already has. So a restored node takes no write until every
//! peer has told it the highest seq of this node's own it holds per room,
//! and, room by room, until it holds those messages again.
//!
//! Pure state; the mesh feeds it peers' answers and the rooms ask it.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

/// Rooms remembered from peers' answers, at most (a peer cannot grow it
/// without bound).
const MAX_ROOMS: usize = 2_000_000;

#[derive(Debug, Default)]
struct Waiting {
    /// Peers yet to answer in full.
    peers: BTreeSet<String>,
    /// Per room, the highest seq of this node's own a peer holds.
    needed: HashMap<String, u64>,
}

/// Shared by the rooms (asked before each local write) and the mesh.
#[derive(Debug, Default)]
pub struct RestoreGate {
    /// `None`: not restoring, every write goes.
    waiting: Mutex<Option<Waiting>>,
    /// Removed from the mesh: no write, ever again.
    retired: std::sync::atomic::AtomicBool,
}

impl RestoreGate {
    /// A node that was not restored.
    pub fn open() -> Self {
        Self::default()
    }

    /// A node just restored, waiting for `peers`.
    pub fn restoring(peers: impl IntoIterator<Item = String>) -> Self {
        let w = Waiting { peers: peers.into_iter().collect(), needed: HashMap::new() };
        RestoreGate { waiting: Mutex::new(Some(w)), retired: Default::default() }
    }

    /// This node was removed from the mesh: it takes no write from now on
    /// (nothing it wrote could reach another node).
    pub fn retire(&self) {
        self.retired.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Waiting>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_restoring(&self) -> bool {
        self.lock().is_some()
    }

    /// Peers that have not answered yet.
    pub fn waiting_for(&self) -> Vec<String> {
        self.lock().as_ref().map(|w| w.peers.iter().cloned().collect()).unwrap_or_default()
    }

    /// Part of `peer`'s answer: its highest seq of ours per room; `last`
    /// ends it.
    pub fn on_answer(&self, peer: &str, rooms: Vec<(String, u64)>, last: bool) {
        let mut guard = self.lock();
        let Some(w) = guard.as_mut() else { return };
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
    pub fn forget(&self, peer: &str) {
        if let Some(w) = self.lock().as_mut() {
            w.peers.remove(peer);
        }
    }

    /// May this node write to `room`, holding `own` of its own messages there?
    pub fn allows(&self, room: &str, own: u64) -> bool {
        if self.retired.load(std::sync::atomic::Ordering::Relaxed) {
            return false;
        }
        match self.lock().as_ref() {
            None => true,
            Some(w) => w.peers.is_empty() && own >= w.needed.get(room).copied().unwrap_or(0),
        }
    }

    /// Ends the wait once every peer answered and every room holds what
    /// they hold of ours (`own(room)`); true when it ended now.
    pub fn try_finish(&self, own: impl Fn(&str) -> u64) -> bool {
        let mut guard = self.lock();
        let done = guard.as_ref().is_some_and(|w| w.peers.is_empty() && w.needed.iter().all(|(r, s)| own(r) >= *s));
        if done {
            *guard = None;
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_gate_lets_everything_through() {
        let g = RestoreGate::open();
        assert!(g.allows("general", 0));
        assert!(!g.try_finish(|_| 0), "nothing to finish");
    }

    #[test]
    fn writes_wait_for_every_peer_then_for_the_rooms_own_messages() {
        let g = RestoreGate::restoring(["n2".to_string(), "n3".to_string()]);
        assert!(!g.allows("quiet", 0), "no peer answered yet");
        g.on_answer("n2", vec![("general".into(), 7)], false);
        g.on_answer("n2", vec![("dev".into(), 2)], true);
        g.on_answer("n9", vec![("general".into(), 99)], true);
        assert_eq!(g.waiting_for(), vec!["n3".to_string()]);
        assert!(!g.allows("quiet", 0));
        g.on_answer("n3", vec![("general".into(), 9)], true);
        assert!(g.allows("quiet", 0), "a room nobody holds ours in");
        assert!(!g.allows("general", 8), "n3 holds our seq 9 of general");
        assert!(g.allows("general", 9));
        assert!(!g.try_finish(|r| if r == "general" { 9 } else { 1 }), "dev lacks seq 2");
        assert!(g.try_finish(|r| if r == "general" { 9 } else { 2 }));
        assert!(!g.is_restoring());
        assert!(g.allows("dev", 0));
    }

    #[test]
    fn a_removed_peer_is_not_waited_for() {
        let g = RestoreGate::restoring(["n2".to_string()]);
        g.forget("n2");
        assert!(g.allows("general", 0));
    }
}
