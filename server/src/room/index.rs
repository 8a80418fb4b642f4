//! What the mesh needs to know about every room without asking each room's
//! actor: its committed vector (in the anti-entropy digest) and the names
//! online on this node. Rooms update it as they change; it starts from the
//! store, so rooms whose actor is not running still take part.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use crate::core::VectorIndex;
pub use crate::core::governance::{RoomMeta, meta_of};
use meshchat_shared::RoomVector;

#[derive(Debug, Default)]
pub struct RoomIndex {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    vectors: VectorIndex,
    /// Every room that exists here: with messages, or joined (a room exists
    /// once someone joins it). What the room cap counts.
    names: HashSet<Box<str>>,
    /// Only rooms with someone online here: small even with many rooms.
    local_names: BTreeMap<String, BTreeSet<String>>,
    /// Rooms that were created (with members, maybe private).
    meta: HashMap<Box<str>, RoomMeta>,
    /// Rooms behind a peer, and those that changed last.
    lag: super::lag::Lag,
}

impl RoomIndex {
    /// Starts from what the store holds: every room's vector, and the
    /// names of rooms that exist (some may have no message yet).
    pub fn new(vectors: VectorIndex, names: impl IntoIterator<Item = String>) -> Self {
        let mut names: HashSet<Box<str>> = names.into_iter().map(String::into_boxed_str).collect();
        names.extend(vectors.iter().map(|(r, _)| r.into()));
        let inner = Inner { vectors, names, ..Inner::default() };
        RoomIndex { inner: Mutex::new(inner) }
    }

    /// A created room's summary changed (or was loaded).
    pub fn set_meta(&self, room: &str, meta: RoomMeta) {
        let mut inner = self.lock();
        if meta == RoomMeta::default() {
            inner.meta.remove(room);
        } else {
            inner.meta.insert(room.into(), meta);
        }
    }

    /// A created room's summary; `None` for an open room of protocol 1.
    pub fn meta(&self, room: &str) -> Option<RoomMeta> {
        self.lock().meta.get(room).cloned()
    }

    /// May anyone see that this room exists (listed, in the directory)?
    pub fn is_listed(&self, room: &str) -> bool {
        self.lock().meta.get(room).is_none_or(|m| !m.private && !m.deleted)
    }

    /// Does the room exist here?
    pub fn knows(&self, room: &str) -> bool {
        self.lock().names.contains(room)
    }

    /// The room exists from now on; returns how many do.
    pub fn add(&self, room: &str) -> usize {
        let mut inner = self.lock();
        if !inner.names.contains(room) {
            inner.names.insert(room.into());
        }
        inner.names.len()
    }

    /// The names of the rooms that exist here.
    pub fn names(&self) -> Vec<String> {
        self.lock().names.iter().map(|n| n.to_string()).collect()
    }

    /// Rooms that exist here.
    pub fn rooms(&self) -> usize {
        self.lock().names.len()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_vector(&self, room: &str, v: &RoomVector) {
        let mut inner = self.lock();
        inner.vectors.set(room, v, crate::infra::clock::now_ms());
        inner.lag.changed(room, v);
        if !v.is_empty() && !inner.names.contains(room) {
            inner.names.insert(room.into());
        }
    }

    pub fn vector(&self, room: &str) -> Option<RoomVector> {
        self.lock().vectors.get(room)
    }

    /// Runs `f` over the vectors (anti-entropy reads the digest this way);
    /// the lock is held only for the call.
    /// A peer holds `room` up to `theirs` (anti-entropy found this node behind).
    pub fn behind(&self, room: &str, theirs: RoomVector) {
        let mut inner = self.lock();
        let ours = inner.vectors.get(room).unwrap_or_default();
        inner.lag.behind(room, &ours, theirs, crate::infra::clock::now_ms());
    }

    /// Rooms behind a peer, and the longest that has lasted (seconds).
    pub fn lag_gauges(&self) -> (usize, u64) {
        self.lock().lag.gauges(crate::infra::clock::now_ms())
    }

    /// The `n` rooms behind the longest.
    pub fn worst_lag(&self, n: usize) -> Vec<super::lag::RoomLag> {
        let inner = self.lock();
        inner.lag.worst(n, crate::infra::clock::now_ms(), |r| inner.vectors.get(r).unwrap_or_default())
    }

    /// The rooms that changed last, newest first, with their vectors.
    pub fn recent(&self) -> Vec<(String, RoomVector)> {
        let inner = self.lock();
        inner
            .lag
            .recent()
            .into_iter()
            .map(|r| {
                let v = inner.vectors.get(&r).unwrap_or_default();
                (r, v)
            })
            .collect()
    }

    pub fn with_vectors<T>(&self, f: impl FnOnce(&VectorIndex) -> T) -> T {
        f(&self.lock().vectors)
    }

    /// Rooms with at least one message.
    pub fn len(&self) -> usize {
        self.lock().vectors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn set_local_names(&self, room: &str, names: BTreeSet<String>) {
        let mut inner = self.lock();
        if names.is_empty() {
            inner.local_names.remove(room);
        } else {
            inner.local_names.insert(room.to_owned(), names);
        }
    }

    /// Names online on this node, per room, in room order.
    pub fn presence(&self) -> Vec<(String, Vec<String>)> {
        self.lock().local_names.iter().map(|(r, n)| (r.clone(), n.iter().cloned().collect())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_vectors_and_names() {
        let mut vectors = VectorIndex::new();
        vectors.load("a", &[("n1", 2)].into_iter().collect());
        let idx = RoomIndex::new(vectors, ["empty".to_string()]);
        assert!(idx.knows("a") && idx.knows("empty") && !idx.knows("b"));
        idx.set_vector("b", &[("n2", 1)].into_iter().collect());
        assert_eq!(idx.len(), 2);
        assert_eq!(idx.rooms(), 3);
        assert_eq!(idx.add("c"), 4);
        assert_eq!(idx.vector("a"), Some([("n1", 2)].into_iter().collect()));
        idx.set_local_names("b", ["bob".to_string()].into_iter().collect());
        assert_eq!(idx.presence(), vec![("b".to_string(), vec!["bob".to_string()])]);
        idx.set_local_names("b", BTreeSet::new());
        assert!(idx.presence().is_empty());
    }
}
