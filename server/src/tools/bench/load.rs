//! Open-loop load: many lean WebSocket clients in rooms, each sending on a
//! schedule whatever the answers, and every receiver timing what it gets.
//!
//! A body is `b <sender> <n> <sent µs>`: the receiver needs no other state
//! to know who sent it, which of their messages it is, and how long it took.
//! Frames sent are the shared crate's `ClientFrame`s. Receivers find the
//! origin and the body in the frame's text without a full JSON parse (and
//! keep no message lists, unlike the client library): the generator must
//! cost less than the nodes it loads, or it measures itself.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use meshchat_shared::ClientFrame;
use rand::Rng;
use serde::Serialize;
use tokio::net::TcpSocket;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_util::sync::CancellationToken;

use super::socketio::{self, Incoming};
use super::stats::{Histogram, Summary};

const SHARDS: usize = 16;

/// Where to connect each client.
#[derive(Debug, Clone)]
pub struct Target {
    pub node: String,
    pub addr: SocketAddr,
}

/// What all clients share: clocks, counters and histograms.
pub struct Shared {
    epoch: Instant,
    /// Microseconds between two sends of one client (changes between steps).
    period_us: AtomicU64,
    /// Only messages sent after this (µs since epoch) are timed.
    window_start: AtomicU64,
    recording: AtomicBool,
    same: Vec<Mutex<Histogram>>,
    cross: Vec<Mutex<Histogram>>,
    delivered: AtomicU64,
    sent: AtomicU64,
    acked: AtomicU64,
    errors: AtomicU64,
    duplicates: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Shared {
    fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }
}

/// One client's memory of what it sent and received.
pub struct Tally {
    idx: usize,
    room: usize,
    /// Per member of the room (by position): which of their messages arrived.
    received: Vec<Vec<u64>>,
    /// Which of our own messages were acknowledged.
    acked: Vec<u64>,
}

pub(super) fn set_bit(bits: &mut Vec<u64>, n: u64) -> bool {
    let (w, b) = ((n / 64) as usize, n % 64);
    if bits.len() <= w {
        bits.resize(w + 1, 0);
    }
    let was = bits[w] & (1 << b) != 0;
    bits[w] |= 1 << b;
    !was
}

fn bits(bits: &[u64]) -> impl Iterator<Item = u64> + '_ {
    bits.iter()
        .enumerate()
        .flat_map(|(w, &word)| (0..64).filter(move |b| word & (1 << b) != 0).map(move |b| w as u64 * 64 + b))
}

pub(super) fn has_bit(bits: &[u64], n: u64) -> bool {
    bits.get((n / 64) as usize).is_some_and(|w| w & (1 << (n % 64)) != 0)
}

#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub clients: usize,
    pub room_size: usize,
    /// Local addresses to connect from, round-robin.
    pub sources: Vec<IpAddr>,
    pub dialect: Dialect,
}

/// Whom the clients speak to: meshchat nodes, or socket.io servers for the
/// side-by-side benchmark ([`socketio`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Dialect {
    Meshchat,
    SocketIo,
}

pub struct Load {
    shared: Arc<Shared>,
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<Tally>>,
    config: LoadConfig,
}

/// One measured window.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub rate_msgs_s: f64,
    pub seconds: f64,
    pub deliveries_per_s: f64,
    pub sent: u64,
    pub acked: u64,
    pub errors: u64,
    pub same_node: Summary,
    pub cross_node: Summary,
    /// CPU time per delivery over the step (warm-up included), in µs: of
    /// all the nodes together, and of the load generator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_cpu_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver_cpu_us: Option<f64>,
}

impl Step {
    /// Whether this window counts for the fan-out goal: cross-node p99 within
    /// the bound and no errors. The ramp ends at the first that does not.
    pub fn within(&self, bound_ms: f64) -> bool {
        self.cross_node.p99_ms <= bound_ms && self.errors == 0
    }
}

/// The end of a run: what went missing or came twice.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Accounting {
    pub acked: u64,
    pub expected_deliveries: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub errors: u64,
    pub first_error: Option<String>,
}

fn room_name(r: usize) -> String {
    format!("bench-{r}")
}

impl Load {
    /// Connects every client (a few hundred at a time), says hello, joins its
    /// room and waits for the backlog; sending starts at rate 0.
    pub async fn connect(config: LoadConfig, targets: &[Target]) -> anyhow::Result<Load> {
        let shared = Arc::new(Shared {
            epoch: Instant::now(),
            period_us: AtomicU64::new(u64::MAX),
            window_start: AtomicU64::new(u64::MAX),
            recording: AtomicBool::new(false),
            same: (0..SHARDS).map(|_| Mutex::new(Histogram::default())).collect(),
            cross: (0..SHARDS).map(|_| Mutex::new(Histogram::default())).collect(),
            delivered: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            first_error: Mutex::new(None),
        });
        let stop = CancellationToken::new();
        let mut tasks = Vec::with_capacity(config.clients);
        let sem = Arc::new(tokio::sync::Semaphore::new(256));
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<anyhow::Result<()>>(config.clients.max(1));
        for idx in 0..config.clients {
            // Neighbouring clients share a room and sit on different nodes,
            // so most deliveries cross the mesh.
            let target = targets[idx % targets.len()].clone();
            let source = config.sources[idx % config.sources.len()];
            let (shared, stop, sem, ready) = (shared.clone(), stop.clone(), sem.clone(), ready_tx.clone());
            let room = idx / config.room_size;
            let (room_size, dialect) = (config.room_size, config.dialect);
            tasks.push(tokio::spawn(async move {
                let tally = Tally { idx, room, received: vec![Vec::new(); room_size], acked: Vec::new() };
                client(tally, Link { target, source, dialect }, shared, stop, sem, ready).await
            }));
        }
        drop(ready_tx);
        let mut ok = 0;
        while ok < config.clients {
            match tokio::time::timeout(Duration::from_secs(60), ready_rx.recv()).await {
                Ok(Some(Ok(()))) => ok += 1,
                Ok(Some(Err(e))) => {
                    return Err(e.context(format!("{ok} clients connected before this failed")));
                }
                Ok(None) => anyhow::bail!("clients ended before connecting"),
                Err(_) => {
                    anyhow::bail!("only {ok} of {} clients connected in 60 s", config.clients)
                }
            }
        }
        Ok(Load { shared, stop, tasks, config })
    }

    /// Sets the total send rate, in messages per second.
    pub fn set_rate(&self, msgs_per_s: f64) {
        let period = if msgs_per_s <= 0.0 { u64::MAX } else { (self.config.clients as f64 / msgs_per_s * 1e6) as u64 };
        self.shared.period_us.store(period.max(1), Relaxed);
    }

    /// Runs at `rate` for `warmup`, then measures for `measure`.
    pub async fn step(&self, rate: f64, warmup: Duration, measure: Duration) -> Step {
        let s = &self.shared;
        self.set_rate(rate);
        tokio::time::sleep(warmup).await;
        for h in s.same.iter().chain(&s.cross) {
            *h.lock().unwrap_or_else(|p| p.into_inner()) = Histogram::default();
        }
        let before = (s.delivered.load(Relaxed), s.sent.load(Relaxed), s.acked.load(Relaxed), s.errors.load(Relaxed));
        s.window_start.store(s.now_us(), Relaxed);
        s.recording.store(true, Relaxed);
        let t0 = Instant::now();
        tokio::time::sleep(measure).await;
        s.recording.store(false, Relaxed);
        let secs = t0.elapsed().as_secs_f64();
        let merge = |hs: &[Mutex<Histogram>]| {
            let mut all = Histogram::default();
            for h in hs {
                all.merge(&h.lock().unwrap_or_else(|p| p.into_inner()));
            }
            all.summary()
        };
        Step {
            rate_msgs_s: rate,
            seconds: secs,
            deliveries_per_s: (s.delivered.load(Relaxed) - before.0) as f64 / secs,
            sent: s.sent.load(Relaxed) - before.1,
            acked: s.acked.load(Relaxed) - before.2,
            errors: s.errors.load(Relaxed) - before.3,
            same_node: merge(&s.same),
            cross_node: merge(&s.cross),
            node_cpu_us: None,
            driver_cpu_us: None,
        }
    }

    /// Deliveries so far, timed or not.
    pub fn delivered(&self) -> u64 {
        self.shared.delivered.load(Relaxed)
    }

    /// Stops sending, lets what is in flight arrive, closes, and accounts for
    /// every acknowledged message: delivered to each other member once?
    pub async fn finish(self, drain: Duration) -> Accounting {
        self.set_rate(0.0);
        tokio::time::sleep(drain).await;
        self.stop.cancel();
        let mut tallies = ended(self.tasks).await;
        tallies.sort_by_key(|t| t.idx);
        let size = self.config.room_size;
        let mut acc = Accounting {
            duplicated: self.shared.duplicates.load(Relaxed),
            errors: self.shared.errors.load(Relaxed),
            first_error: self.shared.first_error.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            ..Default::default()
        };
        for sender in &tallies {
            let acked: Vec<u64> = bits(&sender.acked).collect();
            acc.acked += acked.len() as u64;
            let members = tallies.iter().filter(|t| t.room == sender.room && t.idx != sender.idx);
            for receiver in members {
                let got = &receiver.received[sender.idx % size];
                acc.expected_deliveries += acked.len() as u64;
                acc.lost += acked.iter().filter(|&&n| !has_bit(got, n)).count() as u64;
            }
        }
        acc
    }
}

/// Where one client connects, from where, speaking what.
struct Link {
    target: Target,
    source: IpAddr,
    dialect: Dialect,
}

async fn client(
    mut tally: Tally,
    link: Link,
    shared: Arc<Shared>,
    stop: CancellationToken,
    sem: Arc<tokio::sync::Semaphore>,
    ready: tokio::sync::mpsc::Sender<anyhow::Result<()>>,
) -> Tally {
    let permit = sem.acquire_owned().await;
    let ws = match open(&link, tally.idx, tally.room).await {
        Ok(ws) => ws,
        Err(e) => {
            let _ = ready.send(Err(e)).await;
            return tally;
        }
    };
    drop(permit);
    let _ = ready.send(Ok(())).await;
    let (mut sink, mut stream) = ws.split();
    let room = room_name(tally.room);
    let size = tally.received.len();
    let mut n = 0u64;
    let mut next = Instant::now();
    // The period `next` was scheduled with: when the rate changes, each
    // client starts at a random point of the new period, so that the clients
    // send evenly over it and never in lockstep.
    let mut scheduled_for = u64::MAX;
    loop {
        let period = shared.period_us.load(Relaxed);
        if period != scheduled_for && period != u64::MAX {
            next = Instant::now() + Duration::from_micros(rand::rng().random_range(0..period));
            scheduled_for = period;
        }
        let due = if period == u64::MAX { Instant::now() + Duration::from_millis(100) } else { next };
        tokio::select! {
            _ = stop.cancelled() => break,
            frame = stream.next() => match frame {
                Some(Ok(WsMessage::Text(text))) => {
                    if on_frame(link.dialect, &text, &mut tally, &link.target.node, size, &shared)
                        && sink.send(WsMessage::text(socketio::PONG)).await.is_err()
                    {
                        break;
                    }
                }
                Some(Ok(_)) => {}
                None | Some(Err(_)) => break,
            },
            _ = tokio::time::sleep_until(due) => {
                if period == u64::MAX {
                    scheduled_for = u64::MAX;
                    continue;
                }
                let (id, body) = (format!("c{}-{n}", tally.idx), format!("b {} {} {}", tally.idx, n, shared.now_us()));
                let frame = match link.dialect {
                    Dialect::Meshchat => text(&ClientFrame::Send { room: room.clone(), id, body }),
                    Dialect::SocketIo => WsMessage::text(socketio::send(&room, &id, &body)),
                };
                if sink.send(frame).await.is_err() {
                    break;
                }
                shared.sent.fetch_add(1, Relaxed);
                n += 1;
                // Open loop: the schedule does not wait for answers.
                next += Duration::from_micros(period);
                let now = Instant::now();
                if next < now {
                    next = now;
                }
            }
        }
    }
    let _ = sink.send(WsMessage::Close(None)).await;
    tally
}

pub(super) type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// Connects, says hello and joins the client's room: ready once joined.
async fn open(link: &Link, idx: usize, room: usize) -> anyhow::Result<Ws> {
    let mut ws = connect(link.target.addr, link.source, link.dialect).await?;
    match link.dialect {
        Dialect::Meshchat => {
            let hello = ClientFrame::Hello {
                v: meshchat_shared::PROTOCOL_VERSION,
                name: Some(format!("c{idx}")),
                token: None,
                events: false,
            };
            ws.send(text(&hello)).await?;
            ws.send(text(&ClientFrame::Join { room: room_name(room), since: None })).await?;
        }
        // The room is joined once the namespace is (see `wait_joined`).
        Dialect::SocketIo => ws.send(WsMessage::text(socketio::CONNECT)).await?,
    }
    wait_joined(&mut ws, link.dialect, &room_name(room)).await?;
    Ok(ws)
}

/// A WebSocket to `addr` from `source`, at `dialect`'s URL, Nagle off.
pub(super) async fn connect(addr: SocketAddr, source: IpAddr, dialect: Dialect) -> anyhow::Result<Ws> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.bind(SocketAddr::new(source, 0))?;
    let tcp = socket.connect(addr).await.with_context(|| format!("connect to {addr}"))?;
    tcp.set_nodelay(true)?;
    let url = match dialect {
        Dialect::Meshchat => format!("ws://{addr}/ws"),
        Dialect::SocketIo => socketio::url(&addr),
    };
    let config = Some(crate::tools::client::ws_config());
    Ok(tokio_tungstenite::client_async_with_config(url, tcp, config).await?.0)
}

/// What the tasks returned, those that did not panic.
pub(super) async fn ended<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        if let Ok(v) = t.await {
            out.push(v);
        }
    }
    out
}

/// Reads until the join is done (meshchat: the backlog is over).
async fn wait_joined(ws: &mut Ws, dialect: Dialect, room: &str) -> anyhow::Result<()> {
    loop {
        let t = match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
            Ok(Some(Ok(WsMessage::Text(t)))) => t,
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => return Err(e.into()),
            Ok(None) => anyhow::bail!("closed while joining"),
            Err(_) => anyhow::bail!("not joined in 30 s"),
        };
        match dialect {
            Dialect::Meshchat if t.starts_with(r#"{"type":"synced""#) => return Ok(()),
            Dialect::Meshchat if t.starts_with(r#"{"type":"error""#) => anyhow::bail!("refused: {t}"),
            Dialect::SocketIo => match socketio::classify(&t) {
                // socket.io drops a connection that sends an event before
                // its namespace connect is answered.
                Incoming::Connected => ws.send(WsMessage::text(socketio::join(room))).await?,
                Incoming::Joined => return Ok(()),
                Incoming::Ping => ws.send(WsMessage::text(socketio::PONG)).await?,
                Incoming::Failed(why) => anyhow::bail!("refused: {why}"),
                _ => {}
            },
            Dialect::Meshchat => {}
        }
    }
}

pub(super) fn text(frame: &ClientFrame) -> WsMessage {
    // A derived Serialize of strings and integers cannot fail.
    WsMessage::text(serde_json::to_string(frame).unwrap_or_default())
}

/// The text after `key` up to the next quote.
pub(super) fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let start = text.find(key)? + key.len();
    let end = text[start..].find('"')?;
    Some(&text[start..start + end])
}

/// What a frame is, in either dialect.
enum Seen<'a> {
    Message(&'a str),
    Ack(Option<u64>),
    Error(&'a str),
    Ping,
    Other,
}

fn seen(dialect: Dialect, text: &str) -> Seen<'_> {
    // The number after `c<idx>-` in an id.
    let n = |id: &str| id.split('-').nth(1).and_then(|n| n.parse().ok());
    match dialect {
        Dialect::Meshchat if text.starts_with(r#"{"type":"message""#) => Seen::Message(text),
        Dialect::Meshchat if text.starts_with(r#"{"type":"ack""#) => Seen::Ack(field(text, r#""id":"c"#).and_then(n)),
        Dialect::Meshchat if text.starts_with(r#"{"type":"error""#) => Seen::Error(text),
        Dialect::Meshchat => Seen::Other,
        Dialect::SocketIo => match socketio::classify(text) {
            Incoming::Message(m) => Seen::Message(m),
            Incoming::Ack(id) => Seen::Ack(n(id)),
            Incoming::Failed(why) => Seen::Error(why),
            Incoming::Ping => Seen::Ping,
            _ => Seen::Other,
        },
    }
}

/// Counts and times a frame; true when it is a ping to answer.
fn on_frame(dialect: Dialect, text: &str, tally: &mut Tally, node: &str, size: usize, shared: &Shared) -> bool {
    match seen(dialect, text) {
        Seen::Message(text) => {
            let now = shared.now_us();
            let (Some(origin), Some(body)) = (field(text, r#""origin":""#), field(text, r#""body":"b "#)) else {
                return false;
            };
            let mut parts = body.split(' ').map(|p| p.parse::<u64>().ok());
            let (Some(Some(sender)), Some(Some(n)), Some(Some(sent))) = (parts.next(), parts.next(), parts.next())
            else {
                return false;
            };
            shared.delivered.fetch_add(1, Relaxed);
            if !set_bit(&mut tally.received[sender as usize % size], n) {
                shared.duplicates.fetch_add(1, Relaxed);
            }
            if shared.recording.load(Relaxed) && sent >= shared.window_start.load(Relaxed) {
                let shard = tally.idx % SHARDS;
                let h = if origin == node { &shared.same[shard] } else { &shared.cross[shard] };
                h.lock().unwrap_or_else(|p| p.into_inner()).record(now.saturating_sub(sent));
            }
        }
        Seen::Ack(Some(n)) => {
            set_bit(&mut tally.acked, n);
            shared.acked.fetch_add(1, Relaxed);
        }
        Seen::Error(text) => {
            shared.errors.fetch_add(1, Relaxed);
            let mut first = shared.first_error.lock().unwrap_or_else(|p| p.into_inner());
            if first.is_none() {
                *first = Some(text.to_owned());
            }
        }
        Seen::Ping => return true,
        Seen::Ack(None) | Seen::Other => {}
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_bits() {
        let t = r#"{"type":"message","msg":{"room":"bench-1","id":"c3-9","author":"c3","body":"b 3 9 123456","origin":"n2","seq":4}}"#;
        assert_eq!(field(t, r#""origin":""#), Some("n2"));
        assert_eq!(field(t, r#""body":"b "#), Some("3 9 123456"));
        let mut b = Vec::new();
        assert!(set_bit(&mut b, 130));
        assert!(!set_bit(&mut b, 130));
        assert!(has_bit(&b, 130) && !has_bit(&b, 129));
        assert_eq!(bits(&b).collect::<Vec<_>>(), [130]);
    }

    #[test]
    fn a_step_is_within_the_bound_only_with_its_p99_under_it_and_no_errors() {
        let step = |p99_ms, errors| Step {
            rate_msgs_s: 1.0,
            seconds: 1.0,
            deliveries_per_s: 1.0,
            sent: 1,
            acked: 1,
            errors,
            same_node: Summary::default(),
            cross_node: Summary { count: 1, p50_ms: 1.0, p99_ms, p999_ms: p99_ms, max_ms: p99_ms },
            node_cpu_us: None,
            driver_cpu_us: None,
        };
        assert!(step(50.0, 0).within(50.0));
        assert!(!step(50.1, 0).within(50.0));
        assert!(!step(1.0, 1).within(50.0));
    }
}
