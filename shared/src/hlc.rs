//! The hybrid logical clock that stamps `ts`.
//!
//! `ts` is wall-clock milliseconds when the clock is ahead of everything seen,
//! and one more than the last stamp otherwise. So a node's next message always
//! sorts after every message it delivered before, even when its wall clock
//! steps back or a peer's clock runs ahead. Time is passed in: the clock never
//! reads it, which keeps it deterministic under simulation.

/// One clock per (node, room): a room is the unit of ordering, and separate
/// clocks keep a busy room from pushing the stamps of quiet ones ahead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hlc {
    last: u64,
}

impl Hlc {
    /// A clock that has already seen `last` (the largest stored `ts`).
    pub fn new(last: u64) -> Self {
        Hlc { last }
    }

    /// A stamp for a new local message: larger than every stamp seen.
    pub fn tick(&mut self, now_ms: u64) -> u64 {
        self.last = now_ms.max(self.last + 1);
        self.last
    }

    /// Notes a stamp delivered from elsewhere.
    pub fn observe(&mut self, ts: u64) {
        self.last = self.last.max(ts);
    }

    /// The largest stamp seen.
    pub fn last(&self) -> u64 {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_wall_clock_when_it_moves() {
        let mut c = Hlc::default();
        assert_eq!(c.tick(1000), 1000);
        assert_eq!(c.tick(1005), 1005);
    }

    #[test]
    fn strictly_increases_when_the_clock_stalls_or_steps_back() {
        let mut c = Hlc::new(1000);
        assert_eq!(c.tick(1000), 1001);
        assert_eq!(c.tick(1000), 1002);
        assert_eq!(c.tick(900), 1003);
    }

    #[test]
    fn a_remote_stamp_ahead_pushes_the_next_tick() {
        let mut c = Hlc::new(1000);
        c.observe(5000);
        assert_eq!(c.tick(1001), 5001);
        c.observe(10);
        assert_eq!(c.last(), 5001);
    }
}
