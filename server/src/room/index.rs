//! What the mesh needs to know about every room without asking each room's
//! actor: its committed vector (in the anti-entropy digest) and the names
//! online on this node. Rooms update it as they change; it starts from the
//! store, so rooms whose actor is not running still take part.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

use meshchat_shared::RoomVector;

use crate::core::VectorIndex;

#[derive(Debug, Default)]
pub struct RoomIndex {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    vectors: VectorIndex,
    /// Only rooms with someone online here: small even with many rooms.
    local_names: BTreeMap<String, BTreeSet<String>>,
}

impl RoomIndex {
    /// Starts from the vectors loaded from the store.
    pub fn new(vectors: VectorIndex) -> Self {
        RoomIndex { inner: Mutex::new(Inner { vectors, local_names: BTreeMap::new() }) }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_vector(&self, room: &str, v: &RoomVector) {
        self.lock().vectors.set(room, v, crate::clock::now_ms());
    }

    pub fn vector(&self, room: &str) -> Option<RoomVector> {
        self.lock().vectors.get(room)
    }

    /// Runs `f` over the vectors (anti-entropy reads the digest this way);
    /// the lock is held only for the call.
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
        let idx = RoomIndex::new(vectors);
        idx.set_vector("b", &[("n2", 1)].into_iter().collect());
        assert_eq!(idx.len(), 2);
        assert_eq!(idx.vector("a"), Some([("n1", 2)].into_iter().collect()));
        idx.set_local_names("b", ["bob".to_string()].into_iter().collect());
        assert_eq!(idx.presence(), vec![("b".to_string(), vec!["bob".to_string()])]);
        idx.set_local_names("b", BTreeSet::new());
        assert!(idx.presence().is_empty());
    }
}
