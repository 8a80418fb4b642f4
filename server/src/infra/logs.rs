//! Logging: colours only on a terminal, and lines that could flood (a
//! refused peer, a failing accept) at most once per period.

use std::collections::HashMap;
use std::hash::Hash;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Sets up logging to stderr: `-v` info, `-vv` debug (`RUST_LOG` overrides);
/// plain text when stderr is not a terminal (a file, journald).
pub fn init(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    // An empty RUST_LOG (exported but unset, as some shells do) means the default.
    let directives = std::env::var("RUST_LOG").ok().filter(|v| !v.trim().is_empty());
    let filter = tracing_subscriber::EnvFilter::new(directives.as_deref().unwrap_or(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// Says yes at most once per period.
#[derive(Debug)]
pub struct Every {
    period: Duration,
    last: Option<Instant>,
}

impl Every {
    pub fn new(period: Duration) -> Every {
        Every { period, last: None }
    }

    pub fn due(&mut self) -> bool {
        let now = Instant::now();
        if self.last.is_some_and(|t| now.duration_since(t) < self.period) {
            return false;
        }
        self.last = Some(now);
        true
    }
}

/// [`Every`] per key (a peer, an address), with how many were held back.
#[derive(Debug)]
pub struct EveryKey<K> {
    period: Duration,
    seen: HashMap<K, (Instant, u64)>,
}

impl<K: Hash + Eq + Clone> EveryKey<K> {
    pub fn new(period: Duration) -> Self {
        EveryKey { period, seen: HashMap::new() }
    }

    /// `Some(n)` when a line for `key` is due, `n` being how many were
    /// suppressed since the last one.
    pub fn due(&mut self, key: &K) -> Option<u64> {
        let now = Instant::now();
        if self.seen.len() > 10_000 {
            let period = self.period;
            self.seen.retain(|_, (t, _)| now.duration_since(*t) < period);
        }
        match self.seen.get_mut(key) {
            Some((t, held)) if now.duration_since(*t) < self.period => {
                *held += 1;
                None
            }
            Some((t, held)) => {
                *t = now;
                Some(std::mem::take(held))
            }
            None => {
                self.seen.insert(key.clone(), (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_period_per_key() {
        let mut e = Every::new(Duration::from_secs(60));
        assert!(e.due());
        assert!(!e.due());
        let mut k = EveryKey::new(Duration::from_secs(60));
        assert_eq!(k.due(&1), Some(0));
        assert_eq!(k.due(&1), None);
        assert_eq!(k.due(&1), None);
        assert_eq!(k.due(&2), Some(0));
        let mut fast = EveryKey::new(Duration::ZERO);
        fast.due(&1);
        assert_eq!(fast.due(&1), Some(0));
    }
}
