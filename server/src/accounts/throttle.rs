//! Throttling of guesses: a key (a name, an address, an account) may fail
//! a few times freely, then once per period.
//!
//! A try takes one of its key's tries *before* the password is checked,
//! and a try that succeeds gives it back. So guesses sent at once cannot
//! all be checked before the first failure is counted (the check takes
//! tens of milliseconds), and only failures count in the end: an office of
//! people behind one address signing in is never throttled.
//!
//! Written here rather than on `governor` (which the per-address request
//! limits use): a try given back is something its limiters cannot do.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Keys tracked before full ones (nobody failed lately) are dropped ...
const PRUNE_AT: usize = 10_000;
/// ... and at most this many: past it, new keys are refused until some
/// recover (a flood of failures from many addresses must not grow memory).
const MAX_KEYS: usize = 200_000;

pub struct Throttle<K: Hash + Eq + Clone> {
    /// Tries a key may take at once.
    burst: f64,
    /// One try comes back per period.
    every: Duration,
    keys: Mutex<HashMap<K, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tries: f64,
    at: Instant,
}

impl<K: Hash + Eq + Clone> Throttle<K> {
    pub fn new(burst: u32, every: Duration) -> Throttle<K> {
        Throttle { burst: f64::from(burst.max(1)), every: every.max(Duration::from_millis(1)), keys: Mutex::default() }
    }

    fn keys(&self) -> MutexGuard<'_, HashMap<K, Bucket>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The tries `b` has at `now`.
    fn refill(&self, b: &Bucket, now: Instant) -> f64 {
        let back = now.saturating_duration_since(b.at).as_secs_f64() / self.every.as_secs_f64();
        (b.tries + back).min(self.burst)
    }

    /// Takes one of `key`'s tries: `false` if it has none left now.
    pub fn reserve(&self, key: &K) -> bool {
        self.reserve_at(key, Instant::now())
    }

    fn reserve_at(&self, key: &K, now: Instant) -> bool {
        let mut keys = self.keys();
        if !keys.contains_key(key) && keys.len() >= PRUNE_AT {
            self.prune_locked(&mut keys, now);
            if keys.len() >= MAX_KEYS {
                return false;
            }
        }
        let bucket = keys.entry(key.clone()).or_insert(Bucket { tries: self.burst, at: now });
        let tries = self.refill(bucket, now);
        if tries < 1.0 {
            return false;
        }
        *bucket = Bucket { tries: tries - 1.0, at: now };
        true
    }

    /// `key`'s try succeeded: it does not count.
    pub fn give_back(&self, key: &K) {
        let now = Instant::now();
        if let Some(b) = self.keys().get_mut(key) {
            *b = Bucket { tries: (self.refill(b, now) + 1.0).min(self.burst), at: now };
        }
    }

    /// Forgets keys that have all their tries again.
    pub fn prune(&self) {
        let now = Instant::now();
        let mut keys = self.keys();
        self.prune_locked(&mut keys, now);
    }

    fn prune_locked(&self, keys: &mut HashMap<K, Bucket>, now: Instant) {
        keys.retain(|_, b| self.refill(b, now) < self.burst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successes_give_their_try_back_and_failures_lock_the_key() {
        let t = Throttle::new(3, Duration::from_secs(60));
        for _ in 0..100 {
            assert!(t.reserve(&"ok"), "tries that succeed are never throttled");
            t.give_back(&"ok");
        }
        for _ in 0..3 {
            assert!(t.reserve(&"bad"));
        }
        assert!(!t.reserve(&"bad"), "three failures are free, the fourth try waits");
        assert!(t.reserve(&"ok"), "other keys are not affected");
    }

    #[test]
    fn tries_at_once_are_counted_before_any_is_checked() {
        let t = Throttle::new(10, Duration::from_secs(60));
        // Forty guesses reserve before the first is checked: ten get through.
        let taken = (0..40).filter(|_| t.reserve(&"alice")).count();
        assert_eq!(taken, 10);
    }

    #[test]
    fn a_try_comes_back_each_period() {
        let t = Throttle::new(1, Duration::from_millis(50));
        let now = Instant::now();
        assert!(t.reserve_at(&1, now));
        assert!(!t.reserve_at(&1, now + Duration::from_millis(10)));
        assert!(t.reserve_at(&1, now + Duration::from_millis(60)));
        t.prune();
    }
}
