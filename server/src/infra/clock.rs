//! Wall-clock time for the parts of the node that live in the real world;
//! the core never reads it: time is passed in.
//!
//! The clock does not follow the system clock when it jumps ahead: a step
//! of more than the allowed drift (say, to 2046) would stamp this node's
//! messages in the future and drag every peer's stamps after them. Such a
//! jump is logged once, counted, and time goes on from the monotonic clock
//! instead; the system clock is followed again once it agrees. Steps back
//! are followed (the hybrid logical clock keeps stamps increasing).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A jump ahead larger than this is not followed (milliseconds).
pub const MAX_JUMP_MS: u64 = 60_000;

/// For tests: this node's clock runs this far off the system's.
static OFFSET_MS: AtomicI64 = AtomicI64::new(0);
/// Jumps ahead that were not followed.
static JUMPS: AtomicU64 = AtomicU64::new(0);

fn system_ms() -> u64 {
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    (ms + OFFSET_MS.load(Ordering::Relaxed)).max(0) as u64
}

/// Milliseconds since the Unix epoch (0 if the clock is before 1970).
pub fn now_ms() -> u64 {
    static CLOCK: OnceLock<Mutex<SaneClock>> = OnceLock::new();
    let clock = CLOCK.get_or_init(|| Mutex::new(SaneClock::new(system_ms(), Instant::now())));
    let mut c = clock.lock().unwrap_or_else(|p| p.into_inner());
    c.now(system_ms(), Instant::now())
}

/// Runs this node's clock `ms` off the system clock (tests of skew only).
pub fn set_offset_ms(ms: i64) {
    OFFSET_MS.store(ms, Ordering::Relaxed);
}

/// How many jumps ahead were not followed.
pub fn jumps() -> u64 {
    JUMPS.load(Ordering::Relaxed)
}

/// The system clock, except where it jumps ahead.
#[derive(Debug)]
pub struct SaneClock {
    /// Time at `base`, as this clock told it.
    base_ms: u64,
    base: Instant,
    /// Currently not following a jumped system clock.
    held: bool,
}

impl SaneClock {
    pub fn new(system_ms: u64, now: Instant) -> SaneClock {
        SaneClock { base_ms: system_ms, base: now, held: false }
    }

    /// The time, given the system's idea of it and the monotonic clock.
    pub fn now(&mut self, system_ms: u64, now: Instant) -> u64 {
        let expected = self.base_ms + now.saturating_duration_since(self.base).as_millis() as u64;
        if system_ms > expected + MAX_JUMP_MS {
            if !self.held {
                self.held = true;
                JUMPS.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "the system clock jumped {} s ahead; not followed (stamps go on from the monotonic clock)",
                    (system_ms - expected) / 1000
                );
            }
            return expected;
        }
        if self.held {
            self.held = false;
            tracing::info!("the system clock agrees again; following it");
        }
        self.base_ms = system_ms;
        self.base = now;
        system_ms
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn follows_the_system_clock_but_not_a_jump_ahead() {
        let t0 = Instant::now();
        let mut c = SaneClock::new(1_000_000, t0);
        assert_eq!(c.now(1_000_500, t0 + Duration::from_millis(500)), 1_000_500);
        // Twenty years ahead, one second later: not followed.
        let twenty_years = 20 * 365 * 86_400_000;
        let t = t0 + Duration::from_millis(1_500);
        assert_eq!(c.now(1_001_500 + twenty_years, t), 1_001_500);
        assert_eq!(c.now(1_002_500 + twenty_years, t + Duration::from_secs(1)), 1_002_500);
        // The system clock is put right: followed again.
        assert_eq!(c.now(1_003_400, t + Duration::from_secs(2)), 1_003_400);
        // A small step ahead (NTP) and steps back are followed.
        assert_eq!(c.now(1_030_000, t + Duration::from_secs(3)), 1_030_000);
        assert_eq!(c.now(900_000, t + Duration::from_secs(4)), 900_000);
    }
}
