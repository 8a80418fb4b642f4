//! The people of the capacity benchmark, whatever they speak: the clock and
//! counters they share, what each remembers, and the accounting at the end.
//!
//! A person sends on a Poisson schedule (a typing notice two seconds
//! before each message), and one in five is on a phone that drops its
//! connection every few minutes and comes back. A body is `b <sender> <n>
//! <sent µs>`, so a receiver needs no other state to time it. Only what
//! arrives live is timed: what a person catches up on after coming back
//! was sent while they were away.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use rand::rngs::StdRng;
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::load::{ended, has_bit, set_bit};
use super::stats::{Histogram, Summary};
use super::workspace::Workspace;

const SHARDS: usize = 16;

/// How people behave.
#[derive(Debug, Clone, Copy)]
pub struct Habits {
    /// Mean seconds between one person's messages.
    pub gap_s: f64,
    /// The share of people on phones.
    pub phones: f64,
    /// Mean seconds a phone stays connected.
    pub phone_online_s: f64,
    /// How long a phone is away before it reconnects.
    pub away: Duration,
    /// The typing notice comes this long before the message.
    pub typing_lead: Duration,
}

/// What all people share: the clock, counters, histograms.
pub struct Shared {
    epoch: Instant,
    recording: AtomicBool,
    window_start: AtomicU64,
    hist: Vec<Mutex<Histogram>>,
    pub delivered: AtomicU64,
    pub sent: AtomicU64,
    pub acked: AtomicU64,
    pub errors: AtomicU64,
    pub duplicates: AtomicU64,
    pub reconnects: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Shared {
    fn new() -> Shared {
        let zero = || AtomicU64::new(0);
        Shared {
            epoch: Instant::now(),
            recording: AtomicBool::new(false),
            window_start: AtomicU64::new(u64::MAX),
            hist: (0..SHARDS).map(|_| Mutex::new(Histogram::default())).collect(),
            delivered: zero(),
            sent: zero(),
            acked: zero(),
            errors: zero(),
            duplicates: zero(),
            reconnects: zero(),
            first_error: Mutex::new(None),
        }
    }

    pub fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    pub fn error(&self, what: String) {
        self.errors.fetch_add(1, Relaxed);
        let mut first = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
        first.get_or_insert(what);
    }
}

/// What one person remembers.
#[derive(Debug, Default)]
pub struct Tally {
    pub idx: u32,
    /// Each message sent: its number, room and time (µs).
    pub sent: Vec<(u64, u32, u64)>,
    pub acked: Vec<u64>,
    /// Per sender: which of their messages arrived.
    pub received: HashMap<u32, Vec<u64>>,
    /// When this person was away: [down, up) in µs.
    pub away: Vec<(u64, u64)>,
    /// Messages sent after this arrive live, and are timed.
    pub live_from: u64,
}

impl Tally {
    /// Counts and times a delivery of `body` (`<sender> <n> <sent µs>`,
    /// after the `b `).
    pub fn delivered(&mut self, body: &str, shared: &Shared) {
        let mut parts = body.split(' ').map(|p| p.parse::<u64>().ok());
        let (Some(Some(sender)), Some(Some(n)), Some(Some(sent))) = (parts.next(), parts.next(), parts.next()) else {
            return;
        };
        if sender as u32 == self.idx {
            return; // one's own message, caught up after a drop
        }
        shared.delivered.fetch_add(1, Relaxed);
        if !set_bit(self.received.entry(sender as u32).or_default(), n) {
            shared.duplicates.fetch_add(1, Relaxed);
            return;
        }
        if sent >= self.live_from && shared.recording.load(Relaxed) && sent >= shared.window_start.load(Relaxed) {
            let now = shared.now_us();
            let h = &shared.hist[self.idx as usize % SHARDS];
            h.lock().unwrap_or_else(|p| p.into_inner()).record(now.saturating_sub(sent));
        }
    }

    pub fn acked(&mut self, n: u64, shared: &Shared) {
        if set_bit(&mut self.acked, n) {
            shared.acked.fetch_add(1, Relaxed);
        }
    }

    /// Whether a message sent at `t` found this person away (a second of
    /// slack before the drop: what was on its way then went with it).
    fn away_at(&self, t: u64) -> bool {
        self.away.iter().any(|&(down, up)| t + 1_000_000 >= down && t < up)
    }
}

/// What one person's task is given.
pub struct Person {
    pub idx: u32,
    pub workspace: Arc<Workspace>,
    pub shared: Arc<Shared>,
    pub stop: CancellationToken,
    /// Becomes true when everyone is in and sending may start.
    pub go: watch::Receiver<bool>,
    pub ready: mpsc::Sender<anyhow::Result<()>>,
    pub habits: Habits,
    pub rng: StdRng,
    pub phone: bool,
    /// Connections being opened at once, at most (a server's accept queue
    /// is not what is measured).
    pub opening: Arc<tokio::sync::Semaphore>,
}

impl Person {
    pub fn rooms(&self) -> &[u32] {
        &self.workspace.of[self.idx as usize]
    }

    /// A draw from the exponential distribution of this mean (Poisson arrivals).
    pub fn exp(&mut self, mean_s: f64) -> Duration {
        let u: f64 = self.rng.random();
        Duration::from_secs_f64(-mean_s * (1.0 - u).ln())
    }

    /// When this person next starts typing, once sending may start.
    pub fn next_typing(&mut self) -> Option<Instant> {
        let (gap, on) = (self.habits.gap_s, *self.go.borrow());
        on.then(|| Instant::now() + self.exp(gap))
    }

    /// When a phone next drops its connection.
    pub fn next_drop(&mut self) -> Option<Instant> {
        let (online, on) = (self.habits.phone_online_s, self.phone && *self.go.borrow());
        on.then(|| Instant::now() + self.exp(online))
    }
}

/// A time that never comes, for a `select!` arm with nothing scheduled.
pub fn when(t: Option<Instant>) -> Instant {
    t.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))
}

/// Everyone, connected.
pub struct Crowd {
    pub shared: Arc<Shared>,
    stop: CancellationToken,
    go: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<Tally>>,
    workspace: Arc<Workspace>,
}

/// One measured window.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub seconds: f64,
    pub messages_per_s: f64,
    pub deliveries_per_s: f64,
    pub latency: Summary,
    pub reconnects: u64,
    pub errors: u64,
}

/// Every acknowledged message, delivered to every other member once?
#[derive(Debug, Clone, Default, Serialize)]
pub struct Accounting {
    pub acked: u64,
    pub sent: u64,
    pub expected_deliveries: u64,
    /// Missing though the receiver was connected when it was sent, or
    /// came back and should have caught up.
    pub lost: u64,
    /// Missing, sent while the receiver was away (socket.io keeps nothing
    /// for a client that comes back; the others should have none).
    pub missed_while_away: u64,
    pub duplicated: u64,
    pub errors: u64,
    pub first_error: Option<String>,
}

impl Crowd {
    /// Starts a task per person (`spawn`) and waits until everyone is in
    /// their rooms.
    pub async fn gather(
        workspace: Arc<Workspace>,
        habits: Habits,
        seed: u64,
        spawn: impl Fn(Person) -> tokio::task::JoinHandle<Tally>,
    ) -> anyhow::Result<Crowd> {
        use rand::SeedableRng;
        let shared = Arc::new(Shared::new());
        let (stop, (go, go_rx)) = (CancellationToken::new(), watch::channel(false));
        let people = workspace.of.len();
        let (ready, mut ready_rx) = mpsc::channel(people.max(1));
        let mut tasks = Vec::with_capacity(people);
        let mut rng = StdRng::seed_from_u64(seed);
        let opening = Arc::new(tokio::sync::Semaphore::new(256));
        for idx in 0..people as u32 {
            let person = Person {
                idx,
                workspace: workspace.clone(),
                shared: shared.clone(),
                stop: stop.clone(),
                go: go_rx.clone(),
                ready: ready.clone(),
                habits,
                rng: StdRng::seed_from_u64(seed ^ (u64::from(idx) << 20)),
                phone: rng.random::<f64>() < habits.phones,
                opening: opening.clone(),
            };
            tasks.push(spawn(person));
        }
        drop(ready);
        let mut ok = 0;
        while ok < people {
            match tokio::time::timeout(Duration::from_secs(120), ready_rx.recv()).await {
                Ok(Some(Ok(()))) => ok += 1,
                Ok(Some(Err(e))) => {
                    stop.cancel();
                    return Err(e.context(format!("{ok} people in before this failed")));
                }
                Ok(None) => anyhow::bail!("people ended before they were in"),
                Err(_) => {
                    stop.cancel();
                    anyhow::bail!("only {ok} of {people} people in within 120 s")
                }
            }
        }
        Ok(Crowd { shared, stop, go, tasks, workspace })
    }

    /// Sending starts.
    pub fn go(&self) {
        let _ = self.go.send(true);
    }

    /// Times every live delivery for `measure`.
    pub async fn window(&self, measure: Duration) -> Window {
        let s = &self.shared;
        for h in &s.hist {
            *h.lock().unwrap_or_else(|p| p.into_inner()) = Histogram::default();
        }
        let before = [&s.delivered, &s.sent, &s.reconnects, &s.errors].map(|c| c.load(Relaxed));
        s.window_start.store(s.now_us(), Relaxed);
        s.recording.store(true, Relaxed);
        let t0 = Instant::now();
        tokio::time::sleep(measure).await;
        s.recording.store(false, Relaxed);
        let secs = t0.elapsed().as_secs_f64();
        let after = [&s.delivered, &s.sent, &s.reconnects, &s.errors].map(|c| c.load(Relaxed));
        let mut all = Histogram::default();
        for h in &s.hist {
            all.merge(&h.lock().unwrap_or_else(|p| p.into_inner()));
        }
        Window {
            seconds: secs,
            deliveries_per_s: (after[0] - before[0]) as f64 / secs,
            messages_per_s: (after[1] - before[1]) as f64 / secs,
            latency: all.summary(),
            reconnects: after[2] - before[2],
            errors: after[3] - before[3],
        }
    }

    /// Stops sending (and dropping), lets what is in flight arrive (until
    /// nothing has for `quiet`, at most a minute), and accounts for every
    /// acknowledged message.
    pub async fn finish(self, quiet: Duration) -> Accounting {
        let _ = self.go.send(false);
        let (start, mut last, mut changed) = (Instant::now(), u64::MAX, Instant::now());
        while changed.elapsed() < quiet && start.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let now = self.shared.delivered.load(Relaxed) + self.shared.acked.load(Relaxed);
            if now != last {
                (last, changed) = (now, Instant::now());
            }
        }
        self.stop.cancel();
        let mut tallies = ended(self.tasks).await;
        tallies.sort_by_key(|t| t.idx);
        let mut acc = Accounting {
            duplicated: self.shared.duplicates.load(Relaxed),
            errors: self.shared.errors.load(Relaxed),
            first_error: self.shared.first_error.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            ..Default::default()
        };
        for sender in &tallies {
            acc.sent += sender.sent.len() as u64;
            for &(n, room, at) in sender.sent.iter().filter(|(n, ..)| has_bit(&sender.acked, *n)) {
                acc.acked += 1;
                for &m in &self.workspace.rooms[room as usize].members {
                    let Some(receiver) = tallies.get(m as usize).filter(|r| r.idx != sender.idx) else {
                        continue;
                    };
                    acc.expected_deliveries += 1;
                    if receiver.received.get(&sender.idx).is_some_and(|b| has_bit(b, n)) {
                        continue;
                    }
                    if receiver.away_at(at) {
                        acc.missed_while_away += 1;
                    } else {
                        acc.lost += 1;
                    }
                }
            }
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_counts_once_and_only_live_ones_are_timed() {
        let shared = Shared::new();
        shared.recording.store(true, Relaxed);
        shared.window_start.store(0, Relaxed);
        let mut t = Tally { idx: 1, live_from: 50, ..Default::default() };
        t.delivered("2 7 10", &shared); // sent before we were back: not timed
        t.delivered("2 7 10", &shared); // twice
        t.delivered("1 3 100", &shared); // our own, from a catch-up
        t.delivered("3 0 100", &shared);
        t.delivered("garbage", &shared);
        assert_eq!(shared.delivered.load(Relaxed), 3);
        assert_eq!(shared.duplicates.load(Relaxed), 1);
        let timed: u64 = shared.hist.iter().map(|h| h.lock().unwrap_or_else(|p| p.into_inner()).summary().count).sum();
        assert_eq!(timed, 1);
        assert!(has_bit(&t.received[&2], 7) && !t.received.contains_key(&1));
        t.away.push((5_000_000, 9_000_000));
        assert!(t.away_at(4_500_000) && t.away_at(8_999_999) && !t.away_at(9_000_000) && !t.away_at(3_000_000));
    }
}
