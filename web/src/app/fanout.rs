//! Values many short-lived views read (every row of the timeline), each
//! through a signal of its own.
//!
//! reactive_graph 0.2 leaves a disposed memo or effect in the subscriber
//! set of everything it read, and clones that set on every change: a
//! memo read by every row grew by one dead subscriber per row ever drawn,
//! and after 30,000 messages 40 % of the page's time went to those clones
//! (the timeline benchmark's profile). A row reads a value here through a
//! signal it owns, set by the one effect that follows the source, gone
//! with the row.

use std::collections::HashMap;
use std::hash::Hash;

use leptos::prelude::*;

/// One value for every reader.
pub struct Fanout<T: Send + Sync + 'static> {
    readers: StoredValue<Readers<T>>,
    next: StoredValue<u64>,
    source: Memo<T>,
}

impl<T: Send + Sync + 'static> Clone for Fanout<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Fanout<T> {}

impl<T: Clone + PartialEq + Send + Sync + 'static> Fanout<T> {
    pub fn new(source: Memo<T>) -> Fanout<T> {
        let readers = StoredValue::new(Readers::<T>::new());
        Effect::new(move |_| {
            let now = source.get();
            readers.with_value(|rs| rs.iter().for_each(|(_, s)| set_if_changed(*s, &now)));
        });
        Fanout { readers, next: StoredValue::new(0), source }
    }

    /// A signal of the calling view's, that follows the source.
    pub fn signal(self) -> RwSignal<T> {
        let s = RwSignal::new(self.source.get_untracked());
        let id = self.next.get_value();
        self.next.set_value(id + 1);
        self.readers.update_value(|r| r.push((id, s)));
        on_cleanup(move || self.readers.update_value(|r| r.retain(|(i, _)| *i != id)));
        s
    }
}

/// Values by key (the rows of the timeline, by what each row is): each
/// reader follows its key's value.
pub struct Keyed<K: Send + Sync + 'static, T: Send + Sync + 'static> {
    readers: StoredValue<HashMap<K, RwSignal<T>>>,
}

impl<K: Send + Sync + 'static, T: Send + Sync + 'static> Clone for Keyed<K, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K: Send + Sync + 'static, T: Send + Sync + 'static> Copy for Keyed<K, T> {}

impl<K, T> Keyed<K, T>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
    T: Clone + PartialEq + Send + Sync + 'static,
{
    /// Follows `source`: each of its items, by `key`, reaches the reader
    /// of that key.
    pub fn new(source: Memo<Vec<T>>, key: fn(&T) -> K) -> Keyed<K, T> {
        let readers = StoredValue::new(HashMap::<K, RwSignal<T>>::new());
        Effect::new(move |_| {
            source.with(|items| {
                readers.with_value(|rs| {
                    for item in items {
                        if let Some(s) = rs.get(&key(item)) {
                            set_if_changed(*s, item);
                        }
                    }
                })
            })
        });
        Keyed { readers }
    }

    /// The calling view's signal for `key`, starting at `now`.
    pub fn signal(self, key: K, now: T) -> RwSignal<T> {
        let s = RwSignal::new(now);
        self.readers.update_value(|r| {
            r.insert(key.clone(), s);
        });
        // Only its own: a row of the same key drawn meanwhile keeps its.
        on_cleanup(move || {
            self.readers.update_value(|r| {
                if r.get(&key) == Some(&s) {
                    r.remove(&key);
                }
            })
        });
        s
    }
}

fn set_if_changed<T: Clone + PartialEq + Send + Sync + 'static>(s: RwSignal<T>, now: &T) {
    if s.try_with_untracked(|old| old != now).unwrap_or(false) {
        s.set(now.clone());
    }
}

/// Readers' signals, each with the id that takes it back.
type Readers<T> = Vec<(u64, RwSignal<T>)>;

/// How a key's value is made.
type Compute<K, T> = Box<dyn Fn(&K) -> T>;

/// A value per key computed from shared state (a person's name as shown,
/// their picture), for views that each read it through a signal of their
/// own: one effect follows the state and sets the readers' signals.
pub struct PerKey<K: Send + Sync + 'static, T: Send + Sync + 'static> {
    readers: StoredValue<HashMap<K, Readers<T>>>,
    next: StoredValue<u64>,
    /// Bumped when a key gets its first reader: the effect reads what that
    /// key's value depends on from then on.
    added: RwSignal<u64>,
    compute: StoredValue<Compute<K, T>, LocalStorage>,
}

impl<K: Send + Sync + 'static, T: Send + Sync + 'static> Clone for PerKey<K, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K: Send + Sync + 'static, T: Send + Sync + 'static> Copy for PerKey<K, T> {}

impl<K, T> PerKey<K, T>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
    T: Clone + PartialEq + Send + Sync + 'static,
{
    /// `compute` gives a key's value; what it reads is followed.
    pub fn new(compute: impl Fn(&K) -> T + 'static) -> PerKey<K, T> {
        let readers = StoredValue::new(HashMap::<K, Readers<T>>::new());
        let added = RwSignal::new(0u64);
        let compute = StoredValue::new_local(Box::new(compute) as Compute<K, T>);
        Effect::new(move |_| {
            added.track();
            let keys: Vec<K> = readers.with_value(|r| r.keys().cloned().collect());
            for k in keys {
                let now = compute.with_value(|c| c(&k));
                readers.with_value(|r| r.get(&k).into_iter().flatten().for_each(|(_, s)| set_if_changed(*s, &now)));
            }
        });
        PerKey { readers, next: StoredValue::new(0), added, compute }
    }

    /// The calling view's signal for `key`'s value.
    pub fn signal(self, key: K) -> RwSignal<T> {
        let s = RwSignal::new(untrack(|| self.compute.with_value(|c| c(&key))));
        let id = self.next.get_value();
        self.next.set_value(id + 1);
        let mut first = false;
        self.readers.update_value(|r| {
            let list = r.entry(key.clone()).or_default();
            first = list.is_empty();
            list.push((id, s));
        });
        if first {
            self.added.update(|n| *n += 1);
        }
        on_cleanup(move || {
            self.readers.update_value(|r| {
                if let Some(list) = r.get_mut(&key) {
                    list.retain(|(i, _)| *i != id);
                    if list.is_empty() {
                        r.remove(&key);
                    }
                }
            })
        });
        s
    }
}
