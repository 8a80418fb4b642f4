//! A client connection as the rest of the node sees it.
//!
//! Rooms never write to sockets: they push pre-serialised frames into the
//! connection's queue, which its session task drains. The queue is bounded
//! in items and in bytes: a client that does not read is closed (1008)
//! rather than buffered without bound, and the room moves on at once.
//! Catch-ups wait for the queue to drain below half its byte budget before
//! reading their next page.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use crate::infra::metrics::Metrics;

pub use crate::core::ConnId;

/// A serialised frame: made once, shared by every recipient.
pub type Frame = Utf8Bytes;

/// What a connection's queue carries.
#[derive(Debug)]
pub enum Outbound {
    One(Frame),
    /// Several frames that belong together (a page of a backlog), written
    /// as one queue item.
    Many(Vec<Frame>),
}

impl Outbound {
    /// Bytes on the wire (near enough: the frames' text).
    pub fn bytes(&self) -> usize {
        match self {
            Outbound::One(f) => f.len(),
            Outbound::Many(fs) => fs.iter().map(|f| f.len()).sum(),
        }
    }
}

pub use meshchat_shared::close;

/// The close reason of a client whose queue overflowed.
pub const TOO_SLOW: &str = "too slow: the client is not reading its messages";

#[derive(Clone)]
pub struct ConnHandle {
    inner: Arc<Shared>,
}

struct Shared {
    id: ConnId,
    /// Set once, by `hello`; rooms only see connections that have one.
    name: OnceLock<Arc<str>>,
    /// Asked in `hello` for room events as they are (JSON), to apply them.
    events: std::sync::atomic::AtomicBool,
    tx: mpsc::Sender<Outbound>,
    /// Bytes queued and not yet written, and the most that may be.
    queued: AtomicUsize,
    budget: usize,
    /// Woken when written bytes leave the queue.
    drained: Notify,
    closed: CancellationToken,
    /// The first reason given wins; later ones are ignored.
    reason: OnceLock<(u16, &'static str)>,
    metrics: Arc<Metrics>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl ConnHandle {
    /// A handle and the receiving end of its queue of `capacity` items
    /// and `budget` bytes.
    pub fn new(capacity: usize, budget: usize, metrics: Arc<Metrics>) -> (ConnHandle, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let inner = Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            name: OnceLock::new(),
            events: std::sync::atomic::AtomicBool::new(false),
            tx,
            queued: AtomicUsize::new(0),
            budget: budget.max(1),
            drained: Notify::new(),
            closed: CancellationToken::new(),
            reason: OnceLock::new(),
            metrics,
        };
        (ConnHandle { inner: Arc::new(inner) }, rx)
    }

    pub fn id(&self) -> ConnId {
        self.inner.id
    }

    /// Records the name given in `hello`; false if it was already set.
    pub fn set_name(&self, name: &str) -> bool {
        self.inner.name.set(name.into()).is_ok()
    }

    /// The client applies room events itself (`hello` with `events`).
    pub fn set_events(&self, raw: bool) {
        self.inner.events.store(raw, Ordering::Relaxed);
    }

    pub fn wants_events(&self) -> bool {
        self.inner.events.load(Ordering::Relaxed)
    }

    /// The user name given in `hello` ("" before it).
    pub fn name(&self) -> &str {
        self.inner.name.get().map_or("", |n| n)
    }

    pub fn name_arc(&self) -> Arc<str> {
        self.inner.name.get().cloned().unwrap_or_else(|| Arc::from(""))
    }

    /// Queues a frame; false if the connection is closed or too slow (and
    /// is now being closed).
    pub fn push(&self, frame: Frame) -> bool {
        self.enqueue(Outbound::One(frame))
    }

    pub fn push_many(&self, frames: Vec<Frame>) -> bool {
        if frames.is_empty() {
            return true;
        }
        self.enqueue(Outbound::Many(frames))
    }

    fn enqueue(&self, item: Outbound) -> bool {
        if self.inner.closed.is_cancelled() {
            return false;
        }
        let bytes = item.bytes();
        let queued = self.inner.queued.fetch_add(bytes, Ordering::AcqRel) + bytes;
        if queued > self.inner.budget {
            self.inner.queued.fetch_sub(bytes, Ordering::AcqRel);
            return self.too_slow();
        }
        match self.inner.tx.try_send(item) {
            Ok(()) => true,
            Err(e) => {
                self.inner.queued.fetch_sub(bytes, Ordering::AcqRel);
                match e {
                    mpsc::error::TrySendError::Full(_) => self.too_slow(),
                    mpsc::error::TrySendError::Closed(_) => false,
                }
            }
        }
    }

    fn too_slow(&self) -> bool {
        self.inner.metrics.slow_disconnects.inc();
        self.close(close::POLICY, TOO_SLOW);
        false
    }

    /// The session wrote `bytes` of what was queued.
    pub fn written(&self, bytes: usize) {
        self.inner.queued.fetch_sub(bytes, Ordering::AcqRel);
        self.inner.drained.notify_waiters();
    }

    /// Bytes queued and not yet written.
    pub fn queued_bytes(&self) -> usize {
        self.inner.queued.load(Ordering::Acquire)
    }

    /// Waits until at most half the byte budget is queued (or the
    /// connection closed): a catch-up reads its next page only then.
    pub async fn drained(&self) {
        loop {
            let notified = self.inner.drained.notified();
            if self.queued_bytes() <= self.inner.budget / 2 || self.is_closed() {
                return;
            }
            tokio::select! {
                _ = notified => {}
                _ = self.closed() => return,
            }
        }
    }

    /// Asks the session to close the socket with `code`.
    pub fn close(&self, code: u16, reason: &'static str) {
        let _ = self.inner.reason.set((code, reason));
        self.inner.closed.cancel();
    }

    pub fn is_closed(&self) -> bool {
        self.inner.closed.is_cancelled()
    }

    /// Resolves once [`close`](Self::close) has been called. Unlike an
    /// `async fn`, the future may be polled again after it resolved (it stays
    /// ready), so a session keeps one pinned across its select loop.
    pub fn closed(&self) -> WaitForCancellationFuture<'_> {
        self.inner.closed.cancelled()
    }

    /// The code and reason of the close, once closed.
    pub fn close_reason(&self) -> Option<(u16, &'static str)> {
        self.inner.reason.get().copied()
    }
}

impl std::fmt::Debug for ConnHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnHandle").field("id", &self.inner.id).field("name", &self.name()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_closes_the_connection_instead_of_growing() {
        let (conn, mut rx) = ConnHandle::new(2, 1 << 20, Arc::new(Metrics::default()));
        assert!(conn.push(Frame::from("1")));
        assert!(conn.push(Frame::from("2")));
        assert!(!conn.is_closed());
        assert!(!conn.push(Frame::from("3")));
        assert!(conn.is_closed());
        assert_eq!(conn.close_reason().map(|r| r.0), Some(close::POLICY));
        // Nothing more is queued once closed, even after the queue drains.
        rx.recv().await.unwrap();
        assert!(!conn.push(Frame::from("4")));
        conn.closed().await;
    }

    #[tokio::test]
    async fn the_closed_future_stays_ready_when_polled_again() {
        // The session keeps one pinned across select loops, and two selects
        // may both see it resolve: a second poll must not panic.
        let (conn, _rx) = ConnHandle::new(2, 1 << 20, Arc::new(Metrics::default()));
        let closed = conn.closed();
        tokio::pin!(closed);
        conn.close(close::POLICY, "slow");
        (&mut closed).await;
        (&mut closed).await;
    }

    #[tokio::test]
    async fn the_byte_budget_closes_a_client_that_does_not_read() {
        let (conn, mut rx) = ConnHandle::new(100, 10, Arc::new(Metrics::default()));
        assert!(conn.push(Frame::from("123456")));
        assert!(!conn.push(Frame::from("123456")), "12 bytes > 10");
        assert!(conn.is_closed());
        assert_eq!(conn.queued_bytes(), 6);
        let (conn, mut rx2) = ConnHandle::new(100, 10, Arc::new(Metrics::default()));
        assert!(conn.push(Frame::from("123456")));
        let wait = conn.clone();
        let drained = tokio::spawn(async move { wait.drained().await });
        tokio::task::yield_now().await;
        assert!(!drained.is_finished(), "6 bytes > half of 10");
        rx2.recv().await.unwrap();
        conn.written(6);
        drained.await.unwrap();
        rx.close();
    }

    #[test]
    fn the_first_close_reason_wins() {
        let (conn, _rx) = ConnHandle::new(2, 1 << 20, Arc::new(Metrics::default()));
        conn.close(close::RESTART, "restart");
        conn.close(close::POLICY, "slow");
        assert_eq!(conn.close_reason(), Some((close::RESTART, "restart")));
    }
}
