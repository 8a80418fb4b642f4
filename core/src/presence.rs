//! Who is online in a room, across the mesh.
//!
//! A name is online if any of its connections, on any node, is in the room.
//! When a node goes away its names are not dropped at once: they stay for a
//! grace period, so a user whose browser moves to another node meanwhile is
//! never seen to leave and come back. The same holds for a connection that
//! ends without leaving (a phone changing networks, a reload): its name
//! lingers here for the grace, and one that is back by then changed nothing
//! for anyone.

use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Online(String),
    Offline(String),
}

#[derive(Debug, Default, Clone)]
pub struct Presence {
    /// Name → connections on this node.
    local: HashMap<String, usize>,
    /// Peer → names online there.
    remote: BTreeMap<String, BTreeSet<String>>,
    /// Peer → (until when, names) for peers that went away.
    leaving: BTreeMap<String, (u64, BTreeSet<String>)>,
    /// Name → until when, for names whose last connection here ended
    /// without leaving. Peers still count them here until then.
    lingering: HashMap<String, u64>,
}

/// What the end of grace periods changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expired {
    /// Room-wide changes for the members here.
    pub changes: Vec<Change>,
    /// Names that lingered here and are gone now: tell the peers.
    pub left_here: Vec<String>,
}

impl Presence {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_online(&self, name: &str) -> bool {
        self.local.contains_key(name)
            || self.lingering.contains_key(name)
            || self.remote.values().any(|s| s.contains(name))
            || self.leaving.values().any(|(_, s)| s.contains(name))
    }

    /// Every name online, in order.
    pub fn online(&self) -> BTreeSet<String> {
        let mut all: BTreeSet<String> = self.local_names().map(str::to_owned).collect();
        for s in self.remote.values() {
            all.extend(s.iter().cloned());
        }
        for (_, s) in self.leaving.values() {
            all.extend(s.iter().cloned());
        }
        all
    }

    /// The names online through this node: with a connection here, or
    /// lingering after their last one ended.
    pub fn local_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.local.keys().chain(self.lingering.keys()).map(String::as_str)
    }

    /// A connection of `name` joined here. Returns whether it is the name's
    /// first here (tell peers) and the room-wide change, if any.
    pub fn local_join(&mut self, name: &str) -> (bool, Option<Change>) {
        let was = self.is_online(name);
        let lingered = self.lingering.remove(name).is_some();
        let n = self.local.entry(name.to_owned()).or_insert(0);
        *n += 1;
        let first_here = *n == 1 && !lingered;
        (first_here, (!was).then(|| Change::Online(name.to_owned())))
    }

    /// A connection of `name` ended here without leaving: if it was the
    /// name's last, the name lingers until `until` (nothing changes yet).
    pub fn local_gone(&mut self, name: &str, until: u64) {
        let Some(n) = self.local.get_mut(name) else { return };
        *n -= 1;
        if *n == 0 {
            self.local.remove(name);
            self.lingering.insert(name.to_owned(), until);
        }
    }

    /// A connection of `name` left here. Returns whether it was the name's
    /// last here (tell peers) and the room-wide change, if any.
    pub fn local_leave(&mut self, name: &str) -> (bool, Option<Change>) {
        let Some(n) = self.local.get_mut(name) else {
            return (false, None);
        };
        *n -= 1;
        if *n > 0 {
            return (false, None);
        }
        self.local.remove(name);
        (true, (!self.is_online(name)).then(|| Change::Offline(name.to_owned())))
    }

    /// A peer's full list of names here (on connect, and periodically).
    pub fn peer_set(&mut self, peer: &str, names: BTreeSet<String>) -> Vec<Change> {
        let before = self.online();
        self.leaving.remove(peer);
        if names.is_empty() {
            self.remote.remove(peer);
        } else {
            self.remote.insert(peer.to_owned(), names);
        }
        diff(&before, &self.online())
    }

    /// One name came or went on a peer.
    pub fn peer_update(&mut self, peer: &str, name: &str, online: bool) -> Option<Change> {
        let was = self.is_online(name);
        if online {
            self.remote.entry(peer.to_owned()).or_default().insert(name.to_owned());
        } else if let Some(s) = self.remote.get_mut(peer) {
            s.remove(name);
            if s.is_empty() {
                self.remote.remove(peer);
            }
        }
        let is = self.is_online(name);
        match (was, is) {
            (false, true) => Some(Change::Online(name.to_owned())),
            (true, false) => Some(Change::Offline(name.to_owned())),
            _ => None,
        }
    }

    /// A peer went away: its names stay until `now + grace`.
    pub fn peer_down(&mut self, peer: &str, now_ms: u64, grace_ms: u64) {
        if let Some(names) = self.remote.remove(peer) {
            self.leaving.insert(peer.to_owned(), (now_ms + grace_ms, names));
        }
    }

    /// Ends the grace periods that are over.
    pub fn tick(&mut self, now_ms: u64) -> Expired {
        if self.next_deadline().is_none_or(|d| d > now_ms) {
            return Expired::default();
        }
        let before = self.online();
        self.leaving.retain(|_, (until, _)| *until > now_ms);
        let mut left_here: Vec<String> =
            self.lingering.iter().filter(|(_, until)| **until <= now_ms).map(|(n, _)| n.clone()).collect();
        left_here.sort();
        for name in &left_here {
            self.lingering.remove(name);
        }
        Expired { changes: diff(&before, &self.online()), left_here }
    }

    /// When the next grace period ends.
    pub fn next_deadline(&self) -> Option<u64> {
        self.leaving.values().map(|(until, _)| *until).chain(self.lingering.values().copied()).min()
    }
}

fn diff(before: &BTreeSet<String>, after: &BTreeSet<String>) -> Vec<Change> {
    let mut out: Vec<Change> = before.difference(after).map(|n| Change::Offline(n.clone())).collect();
    out.extend(after.difference(before).map(|n| Change::Online(n.clone())));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn two_tabs_are_one_presence() {
        let mut p = Presence::new();
        assert_eq!(p.local_join("bob"), (true, Some(Change::Online("bob".into()))));
        assert_eq!(p.local_join("bob"), (false, None));
        assert_eq!(p.local_leave("bob"), (false, None));
        assert_eq!(p.local_leave("bob"), (true, Some(Change::Offline("bob".into()))));
        assert_eq!(p.local_leave("bob"), (false, None));
    }

    #[test]
    fn a_name_on_two_nodes_is_one_presence() {
        let mut p = Presence::new();
        assert_eq!(p.peer_update("n2", "bob", true), Some(Change::Online("bob".into())));
        assert_eq!(p.local_join("bob"), (true, None), "already online via n2");
        assert_eq!(p.peer_update("n2", "bob", false), None, "still here locally");
        assert_eq!(p.local_leave("bob"), (true, Some(Change::Offline("bob".into()))));
    }

    #[test]
    fn snapshots_replace_a_peers_names() {
        let mut p = Presence::new();
        assert_eq!(p.peer_set("n2", set(&["a", "b"])), [Change::Online("a".into()), Change::Online("b".into())]);
        assert_eq!(p.peer_set("n2", set(&["b", "c"])), [Change::Offline("a".into()), Change::Online("c".into())]);
        assert_eq!(p.peer_set("n2", set(&[])), [Change::Offline("b".into()), Change::Offline("c".into())]);
        assert!(p.online().is_empty());
    }

    #[test]
    fn a_dead_nodes_users_leave_after_the_grace_unless_they_moved() {
        let mut p = Presence::new();
        p.peer_set("n1", set(&["alice", "bob"]));
        p.peer_down("n1", 1_000, 5_000);
        assert_eq!(p.online(), set(&["alice", "bob"]), "nobody leaves at once");
        // alice's browser moved here within the grace: no change for anyone.
        assert_eq!(p.local_join("alice"), (true, None));
        assert_eq!(p.next_deadline(), Some(6_000));
        assert_eq!(p.tick(5_999), Expired::default());
        assert_eq!(p.tick(6_000).changes, [Change::Offline("bob".into())]);
        assert_eq!(p.online(), set(&["alice"]));
        assert_eq!(p.next_deadline(), None);
    }

    #[test]
    fn a_peer_that_comes_back_within_the_grace_changes_nothing() {
        let mut p = Presence::new();
        p.peer_set("n1", set(&["bob"]));
        p.peer_down("n1", 0, 5_000);
        assert!(p.peer_set("n1", set(&["bob"])).is_empty());
        assert_eq!(p.tick(10_000), Expired::default());
        assert!(p.is_online("bob"));
    }

    #[test]
    fn a_connection_that_ends_lingers_for_the_grace_and_one_back_by_then_changes_nothing() {
        let mut p = Presence::new();
        p.local_join("bob");
        p.local_gone("bob", 5_000);
        assert!(p.is_online("bob") && p.local_names().any(|n| n == "bob"), "peers still count bob here");
        assert_eq!(p.next_deadline(), Some(5_000));
        // Back on another connection: not a first here, no change for anyone.
        assert_eq!(p.local_join("bob"), (false, None));
        assert_eq!(p.next_deadline(), None);
        assert_eq!(p.tick(9_000), Expired::default());
        // Gone for good: offline once the grace is over, and peers are told.
        p.local_gone("bob", 12_000);
        assert_eq!(p.tick(11_999), Expired::default());
        let e = p.tick(12_000);
        assert_eq!((e.changes, e.left_here), (vec![Change::Offline("bob".into())], vec!["bob".to_owned()]));
        assert!(!p.is_online("bob") && p.online().is_empty());
        // A name also online on a peer: it leaves here, stays online.
        p.local_join("carol");
        p.peer_update("n2", "carol", true);
        p.local_gone("carol", 20_000);
        let e = p.tick(20_000);
        assert_eq!((e.changes, e.left_here), (vec![], vec!["carol".to_owned()]));
        assert!(p.is_online("carol"));
    }
}
