//! What the mesh needs to know about every room without asking each room's
//! actor: its committed vector and the names online on this node. Rooms
//! update it as they change; it starts from the store, so rooms whose actor
//! is not running still take part in anti-entropy.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use meshchat_shared::RoomVector;

#[derive(Debug, Default)]
pub struct RoomIndex {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    vectors: HashMap<String, RoomVector>,
    local_names: HashMap<String, BTreeSet<String>>,
}

impl RoomIndex {
    pub fn new(vectors: HashMap<String, RoomVector>) -> Self {
        RoomIndex { inner: Mutex::new(Inner { vectors, local_names: HashMap::new() }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_vector(&self, room: &str, v: &RoomVector) {
        let mut inner = self.lock();
        match inner.vectors.get_mut(room) {
            Some(old) if old == v => {}
            Some(old) => *old = v.clone(),
            None => {
                inner.vectors.insert(room.to_owned(), v.clone());
            }
        }
    }

    pub fn set_local_names(&self, room: &str, names: BTreeSet<String>) {
        let mut inner = self.lock();
        if names.is_empty() {
            inner.local_names.remove(room);
        } else {
            inner.local_names.insert(room.to_owned(), names);
        }
    }

    /// Every room's committed vector, in room order.
    pub fn vectors(&self) -> Vec<(String, RoomVector)> {
        let mut v: Vec<_> = self.lock().vectors.iter().map(|(r, v)| (r.clone(), v.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Names online on this node, per room.
    pub fn presence(&self) -> Vec<(String, Vec<String>)> {
        let mut v: Vec<_> =
            self.lock().local_names.iter().map(|(r, n)| (r.clone(), n.iter().cloned().collect())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_vectors_and_names() {
        let idx = RoomIndex::new([("a".to_string(), [("n1", 2)].into_iter().collect())].into_iter().collect());
        idx.set_vector("b", &[("n2", 1)].into_iter().collect());
        idx.set_local_names("b", ["bob".to_string()].into_iter().collect());
        assert_eq!(idx.vectors().iter().map(|(r, _)| r.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(idx.presence(), vec![("b".to_string(), vec!["bob".to_string()])]);
        idx.set_local_names("b", BTreeSet::new());
        assert!(idx.presence().is_empty());
    }
}
