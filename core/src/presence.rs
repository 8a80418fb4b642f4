//! Who is online in a room, across the mesh.
//!
//! A name is online if any of its connections, on any node, is in the room.
//! When a node goes away its names are not dropped at once: they stay for a
//! grace period, so a user whose browser moves to another node meanwhile is
//! never seen to leave and come back.

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
}

impl Presence {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_online(&self, name: &str) -> bool {
        self.local.contains_key(name)
            || self.remote.values().any(|s| s.contains(name))
            || self.leaving.values().any(|(_, s)| s.contains(name))
    }

    /// Every name online, in order.
    pub fn online(&self) -> BTreeSet<String> {
        let mut all: BTreeSet<String> = self.local.keys().cloned().collect();
        for s in self.remote.values() {
            all.extend(s.iter().cloned());
        }
        for (_, s) in self.leaving.values() {
            all.extend(s.iter().cloned());
        }
        all
    }

    /// The names with a connection on this node.
    pub fn local_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.local.keys().map(String::as_str)
    }

    /// A connection of `name` joined here. Returns whether it is the name's
    /// first here (tell peers) and the room-wide change, if any.
    pub fn local_join(&mut self, name: &str) -> (bool, Option<Change>) {
        let was = self.is_online(name);
        let n = self.local.entry(name.to_owned()).or_insert(0);
        *n += 1;
        let first_here = *n == 1;
        (first_here, (!was).then(|| Change::Online(name.to_owned())))
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
    pub fn tick(&mut self, now_ms: u64) -> Vec<Change> {
        if !self.leaving.values().any(|(until, _)| *until <= now_ms) {
            return Vec::new();
        }
        let before = self.online();
        self.leaving.retain(|_, (until, _)| *until > now_ms);
        diff(&before, &self.online())
    }

    /// When the next grace period ends.
    pub fn next_deadline(&self) -> Option<u64> {
        self.leaving.values().map(|(until, _)| *until).min()
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
        assert!(p.tick(5_999).is_empty());
        assert_eq!(p.tick(6_000), [Change::Offline("bob".into())]);
        assert_eq!(p.online(), set(&["alice"]));
        assert_eq!(p.next_deadline(), None);
    }

    #[test]
    fn a_peer_that_comes_back_within_the_grace_changes_nothing() {
        let mut p = Presence::new();
        p.peer_set("n1", set(&["bob"]));
        p.peer_down("n1", 0, 5_000);
        assert!(p.peer_set("n1", set(&["bob"])).is_empty());
        assert!(p.tick(10_000).is_empty());
        assert!(p.is_online("bob"));
    }
}
