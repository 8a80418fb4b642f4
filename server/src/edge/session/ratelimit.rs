//! A token bucket per connection: a burst, then a steady rate.

use std::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct RateConfig {
    /// Frames per second sustained.
    pub per_sec: f64,
    /// Frames allowed at once after a quiet spell.
    pub burst: f64,
}

impl Default for RateConfig {
    /// Generous: far above a person typing, well below a flood.
    fn default() -> Self {
        RateConfig { per_sec: 50.0, burst: 200.0 }
    }
}

#[derive(Debug)]
pub struct TokenBucket {
    config: RateConfig,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(config: RateConfig, now: Instant) -> Self {
        TokenBucket { config, tokens: config.burst, last: now }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.config.per_sec).min(self.config.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn allows_a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(RateConfig { per_sec: 10.0, burst: 5.0 }, t0);
        assert_eq!((0..8).filter(|_| b.take(t0)).count(), 5);
        // 100 ms at 10/s is one more token.
        let t1 = t0 + Duration::from_millis(100);
        assert!(b.take(t1));
        assert!(!b.take(t1));
        // A long pause refills only up to the burst.
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!((0..8).filter(|_| b.take(t2)).count(), 5);
    }
}
