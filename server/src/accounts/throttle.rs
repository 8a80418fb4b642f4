//! Throttling of failed sign-ins: a key (a name, an address) may fail a
//! few times freely, then once per period. Only failures count, so an
//! office of people behind one address signing in is never throttled.

use std::collections::HashMap;
use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// How many keys may be locked at once before expired locks are dropped.
const PRUNE_AT: usize = 10_000;

pub struct Throttle<K: Hash + Eq + Clone> {
    /// One cell per failure: `burst` free, then one per period.
    failures: DefaultKeyedRateLimiter<K>,
    /// Keys out of failures, until when: no attempt at all until then.
    locked: Mutex<HashMap<K, Instant>>,
    clock: DefaultClock,
}

impl<K: Hash + Eq + Clone> Throttle<K> {
    pub fn new(burst: u32, every: Duration) -> Throttle<K> {
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(every).unwrap_or_else(|| Quota::per_minute(burst)).allow_burst(burst);
        Throttle {
            failures: RateLimiter::keyed(quota),
            locked: Mutex::new(HashMap::new()),
            clock: DefaultClock::default(),
        }
    }

    fn locked(&self) -> std::sync::MutexGuard<'_, HashMap<K, Instant>> {
        self.locked.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// May `key` try now?
    pub fn allows(&self, key: &K) -> bool {
        self.locked().get(key).is_none_or(|until| *until <= Instant::now())
    }

    /// `key` failed: once it has no failures left, it is locked until the
    /// next one comes due.
    pub fn failed(&self, key: &K) {
        if let Err(not_until) = self.failures.check_key(key) {
            let until = Instant::now() + not_until.wait_time_from(self.clock.now());
            let mut locked = self.locked();
            if locked.len() >= PRUNE_AT {
                let now = Instant::now();
                locked.retain(|_, t| *t > now);
            }
            locked.insert(key.clone(), until);
        }
    }

    /// Forgets keys that have not failed for a while.
    pub fn prune(&self) {
        self.failures.retain_recent();
        let now = Instant::now();
        self.locked().retain(|_, t| *t > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_count_and_then_lock_the_key() {
        let t = Throttle::new(3, Duration::from_secs(60));
        for _ in 0..100 {
            assert!(t.allows(&"ok"), "trying without failing is never throttled");
        }
        for _ in 0..3 {
            assert!(t.allows(&"bad"));
            t.failed(&"bad");
        }
        assert!(t.allows(&"bad"), "three failures are free");
        t.failed(&"bad");
        assert!(!t.allows(&"bad"), "the fourth locks the key");
        assert!(t.allows(&"ok"), "other keys are not affected");
    }

    #[test]
    fn a_lock_ends_when_the_next_failure_comes_due() {
        let t = Throttle::new(1, Duration::from_millis(50));
        t.failed(&1);
        t.failed(&1);
        assert!(!t.allows(&1));
        std::thread::sleep(Duration::from_millis(60));
        assert!(t.allows(&1));
        t.prune();
    }
}
