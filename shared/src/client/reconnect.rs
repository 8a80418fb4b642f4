//! Which node next, and when: the reconnect policy every client follows.
//!
//! After a clean stop (close 1012) or a connection that was working, the
//! next node is tried at once (with a little jitter, so a node's clients
//! spread out over the others); after failures, with backoff from 0.25 s
//! doubling to 5 s. Randomness comes in as a number, so the policy is a
//! pure function the tests can drive.

use super::Chat;

/// How one connection ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ended {
    /// It got as far as `welcome`.
    pub ready: bool,
    /// The node said it is stopping (close 1012).
    pub restarting: bool,
}

/// The next connection attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub url: String,
    pub delay_ms: u64,
}

/// The pause before moving after a clean stop or a working connection.
const MOVE_MS: f64 = 150.0;

/// After the `n`-th failure in a row: 0.25 s doubling to 5 s.
pub fn backoff_ms(failures: u32) -> f64 {
    (250.0 * 2f64.powi(failures.min(5) as i32)).min(5_000.0)
}

/// `ms` ±30 %, with `random` in `[0, 1)`.
pub fn jitter(ms: f64, random: f64) -> u64 {
    (ms * (0.7 + 0.6 * random.clamp(0.0, 1.0))) as u64
}

impl Chat {
    /// The connection to `url` ended. Notes it (a node that never answered
    /// or is stopping is believed down) and says which node to try next and
    /// after how long; `fallback` is tried when no other URL is known.
    pub fn reconnect(&mut self, url: &str, ended: Ended, fallback: &str, random: f64) -> Attempt {
        self.on_closed(ended.ready);
        if !ended.ready || ended.restarting {
            self.nodes.mark_down(url);
        }
        let next = self.nodes.next_after(Some(url)).unwrap_or_else(|| fallback.to_owned());
        let delay = if ended.ready || ended.restarting { MOVE_MS } else { backoff_ms(self.failures) };
        Attempt { url: next, delay_ms: jitter(delay, random) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NodeInfo;

    fn chat() -> Chat {
        let mut c = Chat::new("ada", &[], None);
        let node = |id: &str| NodeInfo { id: id.into(), url: format!("ws://{id}/ws"), up: true };
        c.nodes.learn(&[node("n1"), node("n2"), node("n3")]);
        c
    }

    #[test]
    fn a_clean_stop_moves_at_once_to_the_next_node() {
        let mut c = chat();
        let a = c.reconnect("ws://n1/ws", Ended { ready: true, restarting: true }, "ws://n1/ws", 0.5);
        assert_eq!(a, Attempt { url: "ws://n2/ws".into(), delay_ms: 150 });
        assert!(!c.nodes.all()[0].up, "a stopping node is believed down");
    }

    #[test]
    fn failures_back_off_with_jitter_and_rotate() {
        let mut c = chat();
        let mut url = "ws://n1/ws".to_owned();
        let mut delays = Vec::new();
        for _ in 0..7 {
            let a = c.reconnect(&url, Ended::default(), "ws://n1/ws", 0.5);
            delays.push(a.delay_ms);
            url = a.url;
        }
        assert_eq!(delays, [500, 1000, 2000, 4000, 5000, 5000, 5000]);
        assert_eq!(jitter(1000.0, 0.0), 700);
        assert_eq!(jitter(1000.0, 0.999_999), 1299);
        // A connection that worked resets the streak.
        let a = c.reconnect(&url, Ended { ready: false, restarting: false }, "", 0.5);
        assert_eq!(a.delay_ms, 5000);
        c.on_frame(crate::ServerFrame::Welcome { v: 1, node: "n2".into(), name: "ada".into(), nodes: vec![] }, 0);
        let a = c.reconnect("ws://n2/ws", Ended { ready: true, restarting: false }, "", 0.5);
        assert_eq!((a.url.as_str(), a.delay_ms), ("ws://n3/ws", 150));
    }
}
