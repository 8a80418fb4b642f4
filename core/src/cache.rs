//! The latest messages of a room, kept in memory.
//!
//! Joins without `since` and most resumes are served from here without a
//! database read. For each origin the cache holds a suffix of that origin's
//! log (per origin, room order is seq order, because the origin's clock only
//! goes forward), so "does the cache hold everything after `since`?" is one
//! comparison per origin against `floor`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use meshchat_shared::{Cursor, Message, RoomVector};

#[derive(Debug)]
pub struct RecentCache {
    capacity: usize,
    msgs: BTreeMap<Cursor, Arc<Message>>,
    /// Per origin: every visible message with a seq above this is cached.
    floor: HashMap<String, u64>,
    /// Idempotency lookups for cached messages: `(author, id)` → key.
    by_id: HashMap<(String, String), Cursor>,
}

impl RecentCache {
    /// A cache of the room's latest `recent` messages, given the room's vector.
    pub fn new(capacity: usize, recent: Vec<Message>, vector: &RoomVector) -> Self {
        let mut floor: HashMap<String, u64> = vector.iter().map(|(o, s)| (o.to_owned(), s)).collect();
        for m in &recent {
            let f = floor.entry(m.origin.clone()).or_insert(m.seq);
            *f = (*f).min(m.seq - 1);
        }
        let mut cache = RecentCache { capacity: capacity.max(1), msgs: BTreeMap::new(), floor, by_id: HashMap::new() };
        for m in recent {
            cache.put(Arc::new(m));
        }
        cache
    }

    pub fn insert(&mut self, msg: Arc<Message>) {
        self.put(msg);
        while self.msgs.len() > self.capacity {
            if let Some((key, old)) = self.msgs.pop_first() {
                self.by_id.remove(&(old.author.clone(), old.id.clone()));
                let f = self.floor.entry(key.origin).or_insert(0);
                *f = (*f).max(key.seq);
            }
        }
    }

    fn put(&mut self, msg: Arc<Message>) {
        let key = msg.cursor();
        self.by_id.insert((msg.author.clone(), msg.id.clone()), key.clone());
        self.msgs.insert(key, msg);
    }

    /// Drops a message that turned out to be the hidden copy of a duplicate.
    pub fn remove(&mut self, msg: &Message) {
        if self.msgs.remove(&msg.cursor()).is_some() {
            let k = (msg.author.clone(), msg.id.clone());
            if self.by_id.get(&k) == Some(&msg.cursor()) {
                self.by_id.remove(&k);
            }
        }
    }

    /// Drops the messages `gone` says are no longer part of the room (past
    /// the retention policy, their author erased): the floor still holds.
    pub fn drop_if(&mut self, gone: impl Fn(&Message) -> bool) {
        let gone: Vec<Arc<Message>> = self.msgs.values().filter(|m| gone(m)).cloned().collect();
        for m in gone {
            self.remove(&m);
        }
    }

    /// The latest `n` messages, ascending.
    pub fn latest(&self, n: usize) -> Vec<Arc<Message>> {
        let mut v: Vec<_> = self.msgs.values().rev().take(n).cloned().collect();
        v.reverse();
        v
    }

    /// The cached messages `since` does not cover, ascending; `None` if the
    /// cache no longer holds all of them.
    pub fn since(&self, since: &RoomVector, upto: &RoomVector) -> Option<Vec<Arc<Message>>> {
        for (origin, top) in upto.iter() {
            let have = since.get(origin);
            if top > have && have < self.floor.get(origin).copied().unwrap_or(0) {
                return None;
            }
        }
        Some(self.msgs.values().filter(|m| !since.covers(&m.origin, m.seq)).cloned().collect())
    }

    /// The cached message with this idempotency key.
    /// The message at `origin:seq`, if cached, with its text erased.
    pub fn redact(&mut self, origin: &str, seq: u64) {
        let found = self
            .msgs
            .iter_mut()
            .find(|(_, m)| m.origin == origin && m.seq == seq && meshchat_shared::rooms::erasable(&m.id, &m.body));
        if let Some((_, m)) = found {
            *m = super::without_text(m);
        }
    }

    pub fn find(&self, author: &str, id: &str) -> Option<&Arc<Message>> {
        let key = self.by_id.get(&(author.to_owned(), id.to_owned()))?;
        self.msgs.get(key)
    }

    pub fn len(&self) -> usize {
        self.msgs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(origin: &str, seq: u64, ts: u64) -> Message {
        Message { ts, id: format!("{origin}{seq}"), ..Message::sample("r", origin, seq) }
    }

    fn v(p: &[(&str, u64)]) -> RoomVector {
        p.iter().map(|&(o, s)| (o, s)).collect()
    }

    fn keys(ms: &[Arc<Message>]) -> Vec<(String, u64)> {
        ms.iter().map(|m| (m.origin.clone(), m.seq)).collect()
    }

    #[test]
    fn serves_since_only_while_it_holds_everything_after_it() {
        // The room has n1:1..=5 and n2:1..=2; the cache was loaded with the latest 3.
        let vector = v(&[("n1", 5), ("n2", 2)]);
        let recent = vec![m("n2", 2, 35), m("n1", 4, 40), m("n1", 5, 50)];
        let mut c = RecentCache::new(3, recent, &vector);
        assert!(c.since(&v(&[("n1", 2), ("n2", 2)]), &vector).is_none(), "n1:3 is not cached");
        assert!(c.since(&v(&[("n1", 3), ("n2", 0)]), &vector).is_none(), "n2:1 is not cached");
        let got = c.since(&v(&[("n1", 3), ("n2", 1)]), &vector).unwrap();
        assert_eq!(keys(&got), [("n2".into(), 2), ("n1".into(), 4), ("n1".into(), 5)]);
        // A new origin is cached from its first message.
        c.insert(Arc::new(m("n3", 1, 60)));
        let vector = v(&[("n1", 5), ("n2", 2), ("n3", 1)]);
        // Inserting evicted (35, n2, 2): n2's floor rises to 2.
        assert!(c.since(&v(&[("n1", 3), ("n2", 1)]), &vector).is_none());
        let got = c.since(&v(&[("n1", 4), ("n2", 2)]), &vector).unwrap();
        assert_eq!(keys(&got), [("n1".into(), 5), ("n3".into(), 1)]);
    }

    #[test]
    fn latest_and_find() {
        let vector = v(&[("n1", 3)]);
        let mut c = RecentCache::new(2, vec![m("n1", 1, 1), m("n1", 2, 2)], &vector);
        c.insert(Arc::new(m("n1", 3, 3)));
        assert_eq!(keys(&c.latest(50)), [("n1".into(), 2), ("n1".into(), 3)]);
        assert!(c.find("a", "n11").is_none(), "evicted");
        assert_eq!(c.find("a", "n13").unwrap().seq, 3);
        c.remove(&m("n1", 3, 3));
        assert!(c.find("a", "n13").is_none());
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn a_late_old_message_goes_in_order() {
        let vector = v(&[("n1", 2)]);
        let mut c = RecentCache::new(10, vec![m("n1", 1, 10), m("n1", 2, 20)], &vector);
        c.insert(Arc::new(m("n2", 1, 15)));
        assert_eq!(keys(&c.latest(3)), [("n1".into(), 1), ("n2".into(), 1), ("n1".into(), 2)]);
    }
}
