//! One client connection: the protocol, frame by frame.
//!
//! [`serve`] is generic over the socket (any `Sink` + `Stream` of WebSocket
//! messages), so the same code runs on an axum WebSocket and, in unit tests,
//! on a pair of channels. One task per connection: it reads frames, answers
//! them, and writes what rooms queue for it, in batches with one flush.

mod handler;
pub mod ratelimit;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::edge::conn::{ConnHandle, Frame, Outbound, close};
use crate::infra::metrics::Metrics;
use crate::mesh::cluster::Cluster;
use crate::room::Hub;
use crate::store::Store;
use handler::Session;
pub use ratelimit::RateConfig;

#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Queue items per connection before it counts as too slow ...
    pub queue: usize,
    /// ... and bytes.
    pub queue_bytes: usize,
    pub rate: RateConfig,
    /// A ping goes out after this long without hearing from the client ...
    pub ping_after: Duration,
    /// ... and the connection is dropped after this long (a dead peer).
    pub dead_after: Duration,
    /// `hello` must come within this.
    pub hello_timeout: Duration,
    /// A connection that sends no frame for this long (pongs do not count:
    /// a client that only answers pings is not using its connection).
    pub idle_timeout: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            queue: 1024,
            queue_bytes: 8 << 20,
            rate: RateConfig::default(),
            ping_after: Duration::from_secs(20),
            dead_after: Duration::from_secs(60),
            hello_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// What every session shares.
pub struct SessionCtx {
    pub hub: Arc<Hub>,
    /// Who a token speaks for; whether guests may chat.
    pub accounts: Arc<crate::accounts::Accounts>,
    /// Room creation per address.
    pub guard: Arc<crate::edge::guard::Guard>,
    /// History pages are read straight from the store.
    pub store: Store,
    pub cluster: Arc<Cluster>,
    pub metrics: Arc<Metrics>,
    /// Cancelled when the node stops: sessions close with 1012.
    pub shutdown: CancellationToken,
    pub config: SessionConfig,
}

/// Frames written per flush, at most.
const WRITE_BATCH: usize = 128;
/// How long a closing handshake may take before the socket is just dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

enum Event {
    Outbound(usize),
    Incoming(Option<Result<Message, axum::Error>>),
    Close(u16, &'static str),
    NodesChanged,
    /// Someone's profile changed on this node.
    Profile(crate::accounts::ProfileChange),
    Tick,
}

/// Runs one connection to its end; `ip` is the client's address (for its
/// room-creation budget), when known.
pub async fn serve<S>(socket: S, ctx: Arc<SessionCtx>, ip: Option<std::net::IpAddr>)
where
    S: Sink<Message, Error = axum::Error> + Stream<Item = Result<Message, axum::Error>> + Send + Unpin,
{
    let (mut sink, mut stream) = socket.split();
    let (conn, mut rx) = ConnHandle::new(ctx.config.queue, ctx.config.queue_bytes, ctx.metrics.clone());
    let mut session = Session::new(ctx.clone(), conn.clone(), ip);
    let mut nodes = ctx.cluster.subscribe();
    let mut profiles = ctx.accounts.profile_changes();
    let mut profiles_open = true;
    let mut out: Vec<Outbound> = Vec::with_capacity(16);
    let opened = Instant::now();
    let mut last_heard = opened;
    let mut last_frame = opened;
    let tick = (ctx.config.ping_after / 2).min(ctx.config.hello_timeout / 2).max(Duration::from_millis(50));
    let mut ticker = tokio::time::interval(tick);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ctx.metrics.connections.inc();
    ctx.metrics.connections_total.inc();
    // Made once, polled on every turn: re-registering with the connection's
    // token and the node-wide one on each wake-up showed in profiles.
    let closed = conn.clone();
    let closed = closed.closed();
    tokio::pin!(closed);
    let stopping = ctx.shutdown.clone();
    let stopping = stopping.cancelled();
    tokio::pin!(stopping);
    let cluster = ctx.cluster.clone();
    let removed = cluster.removed().cancelled();
    tokio::pin!(removed);

    let ending = loop {
        let event = tokio::select! {
            biased;
            _ = &mut closed => {
                let (code, reason) = conn.close_reason().unwrap_or((close::POLICY, "closed"));
                Event::Close(code, reason)
            }
            _ = &mut stopping => Event::Close(close::RESTART, "node is stopping; reconnect to another node"),
            _ = &mut removed => Event::Close(close::RESTART, "this node was removed from the mesh; use another node"),
            n = rx.recv_many(&mut out, 16) => Event::Outbound(n),
            m = stream.next() => Event::Incoming(m),
            r = nodes.changed(), if session.is_named() => match r {
                Ok(()) => Event::NodesChanged,
                Err(_) => Event::Tick,
            },
            r = profiles.recv(), if profiles_open && session.watches() => match r {
                Ok(name) => Event::Profile(name),
                // Fell behind: some changes are missed until the client's
                // next look (it asks profiles every 15 s anyway).
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Event::Tick,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                    profiles_open = false;
                    Event::Tick
                }
            },
            _ = ticker.tick() => Event::Tick,
        };
        match event {
            Event::Outbound(0) => break None,
            Event::Outbound(_) => {
                // A write blocked by a client that does not read must not
                // outlive a close; the loop's next turn sees which one.
                let written = tokio::select! {
                    r = write_all(&mut sink, &mut out, &conn, &ctx.metrics) => r,
                    _ = &mut closed => Ok(()),
                    _ = &mut stopping => Ok(()),
                };
                if written.is_err() {
                    break None;
                }
            }
            Event::Incoming(None) | Event::Incoming(Some(Ok(Message::Close(_)))) => break None,
            Event::Incoming(Some(Err(e))) => match read_error(&e) {
                ReadError::TooBig => {
                    ctx.metrics.oversize_closes.inc();
                    break Some((close::TOO_BIG, "frame larger than 64 KiB"));
                }
                ReadError::NotUtf8 => break Some((close::INVALID_DATA, "a text frame that is not UTF-8")),
                ReadError::Other => break None,
            },
            Event::Incoming(Some(Ok(msg))) => {
                last_heard = Instant::now();
                match msg {
                    Message::Text(text) => {
                        last_frame = last_heard;
                        session.on_text(&text)
                    }
                    Message::Binary(_) => {
                        last_frame = last_heard;
                        session.on_binary()
                    }
                    Message::Ping(_) | Message::Pong(_) | Message::Close(_) => {}
                }
            }
            Event::NodesChanged => session.on_nodes_changed(),
            Event::Profile(change) => session.on_profile_changed(&change),
            Event::Tick => {
                if !session.is_named() && opened.elapsed() >= ctx.config.hello_timeout {
                    break Some((close::POLICY, "no hello in time"));
                }
                if last_frame.elapsed() >= ctx.config.idle_timeout {
                    break Some((close::POLICY, "idle: no frame from the client for too long"));
                }
                let quiet = last_heard.elapsed();
                if quiet >= ctx.config.dead_after {
                    break Some((close::POLICY, "no answer to ping"));
                }
                if quiet >= ctx.config.ping_after && sink.send(Message::Ping(Default::default())).await.is_err() {
                    break None;
                }
            }
            Event::Close(code, reason) => {
                // What was queued (acks above all; the error that explains
                // a refusal) goes out before the close. A slow client gets
                // no such courtesy.
                if reason != crate::edge::conn::TOO_SLOW {
                    while let Ok(item) = rx.try_recv() {
                        out.push(item);
                    }
                    let _ =
                        tokio::time::timeout(CLOSE_GRACE, write_all(&mut sink, &mut out, &conn, &ctx.metrics)).await;
                }
                break Some((code, reason));
            }
        }
    };

    session.end();
    conn.close(close::POLICY, "session ended");
    ctx.metrics.connections.dec();
    if let Some((code, reason)) = ending {
        let frame = CloseFrame { code, reason: reason.into() };
        let closing = async {
            sink.send(Message::Close(Some(frame))).await?;
            // Wait for the client's close so the handshake completes.
            while let Some(Ok(_)) = stream.next().await {}
            Ok::<_, axum::Error>(())
        };
        let _ = tokio::time::timeout(CLOSE_GRACE, closing).await;
    }
}

async fn write_all<S>(
    sink: &mut S,
    out: &mut Vec<Outbound>,
    conn: &ConnHandle,
    metrics: &Metrics,
) -> Result<(), axum::Error>
where
    S: Sink<Message, Error = axum::Error> + Unpin,
{
    let mut n = 0u64;
    for item in out.drain(..) {
        // Counted out of the byte budget as it leaves the queue.
        conn.written(item.bytes());
        match item {
            Outbound::One(f) => {
                sink.feed(text(f)).await?;
                n += 1;
            }
            Outbound::Many(frames) => {
                for (i, f) in frames.into_iter().enumerate() {
                    sink.feed(text(f)).await?;
                    n += 1;
                    if i % WRITE_BATCH == WRITE_BATCH - 1 {
                        sink.flush().await?;
                    }
                }
            }
        }
    }
    metrics.frames_out.inc_by(n);
    sink.flush().await
}

fn text(f: Frame) -> Message {
    Message::Text(f)
}

enum ReadError {
    /// Over the 64 KiB limit: close 1009.
    TooBig,
    /// A text frame that is not UTF-8: close 1007.
    NotUtf8,
    Other,
}

/// Why reading the socket failed.
fn read_error(e: &axum::Error) -> ReadError {
    use std::error::Error as _;
    let mut source: Option<&(dyn std::error::Error + 'static)> = e.source();
    while let Some(err) = source {
        match err.downcast_ref::<tungstenite::Error>() {
            Some(tungstenite::Error::Capacity(_)) => return ReadError::TooBig,
            Some(tungstenite::Error::Utf8(_)) => return ReadError::NotUtf8,
            _ => {}
        }
        source = err.source();
    }
    ReadError::Other
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
