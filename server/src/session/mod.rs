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

use crate::cluster::Cluster;
use crate::conn::{ConnHandle, Frame, Outbound, close};
use crate::metrics::Metrics;
use crate::room::Hub;
use crate::store::Store;
use handler::Session;
pub use ratelimit::RateConfig;

#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Queue items per connection before it counts as too slow.
    pub queue: usize,
    pub rate: RateConfig,
    /// A ping goes out after this long without hearing from the client ...
    pub ping_after: Duration,
    /// ... and the connection is dropped after this long.
    pub idle_timeout: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            queue: 1024,
            rate: RateConfig::default(),
            ping_after: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// What every session shares.
pub struct SessionCtx {
    pub hub: Arc<Hub>,
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
    Tick,
}

/// Runs one connection to its end.
pub async fn serve<S>(socket: S, ctx: Arc<SessionCtx>)
where
    S: Sink<Message, Error = axum::Error> + Stream<Item = Result<Message, axum::Error>> + Send + Unpin,
{
    let (mut sink, mut stream) = socket.split();
    let (conn, mut rx) = ConnHandle::new(ctx.config.queue, ctx.metrics.clone());
    let mut session = Session::new(ctx.clone(), conn.clone());
    let mut nodes = ctx.cluster.subscribe();
    let mut out: Vec<Outbound> = Vec::with_capacity(16);
    let mut last_heard = Instant::now();
    let mut ticker = tokio::time::interval(ctx.config.ping_after / 2);
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

    let ending = loop {
        let event = tokio::select! {
            biased;
            _ = &mut closed => {
                let (code, reason) = conn.close_reason().unwrap_or((close::POLICY, "closed"));
                Event::Close(code, reason)
            }
            _ = &mut stopping => Event::Close(close::RESTART, "node is stopping; reconnect to another node"),
            n = rx.recv_many(&mut out, 16) => Event::Outbound(n),
            m = stream.next() => Event::Incoming(m),
            r = nodes.changed(), if session.is_named() => match r {
                Ok(()) => Event::NodesChanged,
                Err(_) => Event::Tick,
            },
            _ = ticker.tick() => Event::Tick,
        };
        match event {
            Event::Outbound(0) => break None,
            Event::Outbound(_) => {
                // A write blocked by a client that does not read must not
                // outlive a close; the loop's next turn sees which one.
                let written = tokio::select! {
                    r = write_all(&mut sink, &mut out, &ctx.metrics) => r,
                    _ = &mut closed => Ok(()),
                    _ = &mut stopping => Ok(()),
                };
                if written.is_err() {
                    break None;
                }
            }
            Event::Incoming(None) | Event::Incoming(Some(Ok(Message::Close(_)))) => break None,
            Event::Incoming(Some(Err(e))) => {
                if is_oversize(&e) {
                    ctx.metrics.oversize_closes.inc();
                    break Some((close::TOO_BIG, "frame larger than 64 KiB"));
                }
                break None;
            }
            Event::Incoming(Some(Ok(msg))) => {
                last_heard = Instant::now();
                match msg {
                    Message::Text(text) => session.on_text(&text),
                    Message::Binary(_) => session.on_binary(),
                    Message::Ping(_) | Message::Pong(_) | Message::Close(_) => {}
                }
            }
            Event::NodesChanged => session.on_nodes_changed(),
            Event::Tick => {
                let quiet = last_heard.elapsed();
                if quiet >= ctx.config.idle_timeout {
                    break Some((close::POLICY, "no answer to ping"));
                }
                if quiet >= ctx.config.ping_after && sink.send(Message::Ping(Default::default())).await.is_err() {
                    break None;
                }
            }
            Event::Close(code, reason) => {
                // Stopping cleanly: what was queued (acks above all) goes
                // out before the close. A slow client gets no such courtesy.
                if code == close::RESTART {
                    while let Ok(item) = rx.try_recv() {
                        out.push(item);
                    }
                    let _ = tokio::time::timeout(CLOSE_GRACE, write_all(&mut sink, &mut out, &ctx.metrics)).await;
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

async fn write_all<S>(sink: &mut S, out: &mut Vec<Outbound>, metrics: &Metrics) -> Result<(), axum::Error>
where
    S: Sink<Message, Error = axum::Error> + Unpin,
{
    let mut n = 0u64;
    for item in out.drain(..) {
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
    metrics.frames_out.add(n);
    sink.flush().await
}

fn text(f: Frame) -> Message {
    Message::Text(f)
}

/// Did the read fail because the frame was over the size limit?
fn is_oversize(e: &axum::Error) -> bool {
    use std::error::Error as _;
    let mut source: Option<&(dyn std::error::Error + 'static)> = e.source();
    while let Some(err) = source {
        if let Some(tungstenite::Error::Capacity(_)) = err.downcast_ref::<tungstenite::Error>() {
            return true;
        }
        source = err.source();
    }
    false
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
