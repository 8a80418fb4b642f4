//! Fault injection for demos and tests: `--mesh-delay-ms` and `--mesh-drop`.
//!
//! Applied to outgoing mesh frames after the handshake: a dropped frame is
//! simply not written (the mesh recovers it by gap requests and
//! anti-entropy); a delayed one is held back, keeping the stream's order.

use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    /// Added to every outgoing frame ...
    pub delay_ms: u64,
    /// ... plus or minus up to this much.
    pub jitter_ms: u64,
    /// Fraction of outgoing frames dropped, 0.0–1.0.
    pub drop: f64,
}

impl Faults {
    pub fn is_none(&self) -> bool {
        self.delay_ms == 0 && self.jitter_ms == 0 && self.drop <= 0.0
    }

    /// Should this frame be dropped?
    pub fn drop_one(&self) -> bool {
        self.drop > 0.0 && rand::rng().random_bool(self.drop.min(1.0))
    }

    /// When a frame queued at `queued` may go out, never before the previous
    /// frame of its stream (`after`).
    pub fn release_at(&self, queued: Instant, after: Instant) -> Instant {
        if self.delay_ms == 0 && self.jitter_ms == 0 {
            return queued.max(after);
        }
        let jitter = if self.jitter_ms > 0 {
            rand::rng().random_range(-(self.jitter_ms as i64)..=self.jitter_ms as i64)
        } else {
            0
        };
        let ms = (self.delay_ms as i64 + jitter).max(0) as u64;
        (queued + Duration::from_millis(ms)).max(after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_faults_changes_nothing() {
        let f = Faults::default();
        assert!(f.is_none());
        let t = Instant::now();
        assert!(!(0..1000).any(|_| f.drop_one()));
        assert_eq!(f.release_at(t, t), t);
    }

    #[test]
    fn drops_about_the_fraction_asked() {
        let f = Faults { drop: 0.3, ..Default::default() };
        let dropped = (0..10_000).filter(|_| f.drop_one()).count();
        assert!((2_500..3_500).contains(&dropped), "{dropped}");
    }

    #[test]
    fn delays_keep_stream_order() {
        let f = Faults { delay_ms: 50, jitter_ms: 40, drop: 0.0 };
        let t0 = Instant::now();
        let mut last = t0;
        for i in 0..200u64 {
            let at = f.release_at(t0 + Duration::from_millis(i), last);
            assert!(at >= last);
            assert!(at >= t0 + Duration::from_millis(i + 10));
            last = at;
        }
    }
}
