//! The accept loop: every connection is counted against the [`Guard`]
//! before hyper sees it, request headers must arrive in time, and a stop
//! lets connections finish their response.
//!
//! A connection over a limit is answered at once with a 503 (or 429 for
//! one address's limit) and closed, so the node never stalls accepting:
//! the file-descriptor limit is raised at start and the connection cap keeps
//! a reserve below it, so health checks and the store always have room.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use meshchat_shared::ErrorCode;
use meshchat_shared::api::ErrorBody;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::edge::guard::{Guard, Refusal, Refused, Slot};
use crate::infra::metrics::Metrics;

/// The client's address, for per-address limits: a request extension.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// The connection's slot, a request extension: a WebSocket takes it, so it
/// counts for as long as the socket lives, not only its HTTP upgrade.
#[derive(Clone)]
pub struct HeldSlot(Arc<std::sync::Mutex<Option<Slot>>>);

impl HeldSlot {
    pub fn take(&self) -> Option<Slot> {
        self.0.lock().ok().and_then(|mut s| s.take())
    }
}

/// How long a stop waits for in-flight HTTP responses.
const DRAIN: Duration = Duration::from_secs(5);

/// File descriptors kept back from connections: the store, the mesh,
/// logs, and what the accept loop holds past the cap (at most twice
/// [`crate::edge::guard::OVERSHOOT`]: connections whose evicted idle one is
/// closing, and refusals being answered).
pub const FD_RESERVE: u64 = 128;

/// Serves `router` (over TLS with `tls`) until `shutdown`, then drains.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    guard: Arc<Guard>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let tracker = tokio_util::task::TaskTracker::new();
    let idle = Idle::default();
    let mut refusals = crate::infra::logs::Every::new(Duration::from_secs(60));
    loop {
        // Past the cap by as many as may be closing: wait for them, leaving
        // new connections in the kernel's backlog, not in our descriptors.
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = guard.room_to_accept() => {}
        }
        let (stream, addr) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or the like: say so (once a minute)
                    // and let closing connections free some.
                    if refusals.due() {
                        tracing::warn!("accept failed: {e}");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let slot = match guard.connection(addr.ip()) {
            Ok(slot) => slot,
            // Full: a connection that never sent a request makes room.
            Err(Refused::Connections) if idle.evict_one() => match guard.connection_for_evicted(addr.ip()) {
                Ok(slot) => slot,
                Err(why) => {
                    metrics.refused_connections.inc();
                    refuse(stream, why, guard.refusal(), tls.is_some());
                    continue;
                }
            },
            Err(why) => {
                metrics.refused_connections.inc();
                refuse(stream, why, guard.refusal(), tls.is_some());
                continue;
            }
        };
        // Chat frames are small and must go now: no Nagle (with delayed
        // ACKs it holds small writes for up to 40 ms).
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
        let conn = Conn {
            addr,
            router: router.clone(),
            held: HeldSlot(Arc::new(std::sync::Mutex::new(Some(slot)))),
            // Evictable until its first request arrives.
            fresh: idle.track(),
            header_timeout: guard.limits.header_timeout,
            stop: shutdown.clone(),
        };
        match &tls {
            None => tracker.spawn(conn.serve(stream)),
            Some(acceptor) => tracker.spawn(conn.serve_tls(stream, acceptor.clone())),
        };
    }
    drop(listener);
    tracker.close();
    let _ = tokio::time::timeout(DRAIN, tracker.wait()).await;
}

/// One accepted connection, and what serving it needs.
struct Conn {
    addr: SocketAddr,
    router: Router,
    /// Held for as long as the connection lives, unless a WebSocket takes it.
    held: HeldSlot,
    fresh: Arc<Fresh>,
    header_timeout: Duration,
    stop: CancellationToken,
}

impl Conn {
    /// The TLS handshake must finish within the header timeout too.
    async fn serve_tls(self, stream: TcpStream, acceptor: TlsAcceptor) {
        let evicted = self.fresh.evict.clone();
        let handshake = tokio::time::timeout(self.header_timeout, acceptor.accept(stream));
        let tls = tokio::select! {
            r = handshake => r,
            _ = evicted.cancelled() => return,
        };
        match tls {
            Ok(Ok(tls)) => self.serve(tls).await,
            Ok(Err(e)) => tracing::debug!(addr = %self.addr, "TLS handshake failed: {e}"),
            Err(_) => tracing::debug!(addr = %self.addr, "TLS handshake timed out"),
        }
    }

    async fn serve<I>(self, io: I)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let Conn { addr, router, held, fresh, header_timeout, stop } = self;
        let evicted = fresh.evict.clone();
        let for_requests = held.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            fresh.used();
            req.extensions_mut().insert(ClientAddr(addr));
            req.extensions_mut().insert(for_requests.clone());
            router.clone().oneshot(req)
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .keep_alive(true)
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        let _held = held;
        tokio::pin!(conn);
        let ended = tokio::select! {
            r = conn.as_mut() => r,
            // Never sent a request, and the node is full: it goes first.
            _ = evicted.cancelled() => Ok(()),
            _ = stop.cancelled() => {
                // Finish the response in flight, take no new request.
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(e) = ended {
            tracing::debug!(%addr, "connection ended: {e}");
        }
    }
}

/// Answers a refused connection with its reason, then closes it (a TLS
/// client is only closed on: it would not read plain HTTP).
fn refuse(stream: TcpStream, why: Refused, counted: Refusal, tls: bool) {
    if !tls {
        tokio::spawn(refuse_plain(stream, why, counted));
    }
}

async fn refuse_plain(mut stream: TcpStream, why: Refused, _counted: Refusal) {
    let (status, text) = match why {
        Refused::Connections | Refused::Rooms => (503, "Service Unavailable"),
        _ => (429, "Too Many Requests"),
    };
    let body = serde_json::to_string(&ErrorBody::new(ErrorCode::LimitReached, why.to_string())).unwrap_or_default();
    let response = format!(
        "HTTP/1.1 {status} {text}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nRetry-After: 5\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.write_all(response.as_bytes())).await;
}

/// Raises the open-file limit to the hard limit; returns the soft limit now.
pub fn raise_fd_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!("cannot raise the open-file limit: {e}");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    }
}

/// Connections that have not sent a request yet, oldest first: when the
/// node is full, the oldest of them is closed to make room (sockets opened
/// and left idle cannot keep anyone else out, even before their header
/// timeout).
#[derive(Default)]
struct Idle {
    queue: std::sync::Mutex<std::collections::VecDeque<Arc<Fresh>>>,
}

struct Fresh {
    used: std::sync::atomic::AtomicBool,
    evict: CancellationToken,
}

impl Fresh {
    fn used(&self) {
        self.used.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn gone(self: &Arc<Self>) -> bool {
        // Used, evicted, or its connection already ended (only the queue holds it).
        self.used.load(std::sync::atomic::Ordering::Relaxed)
            || self.evict.is_cancelled()
            || Arc::strong_count(self) == 1
    }
}

impl Idle {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::VecDeque<Arc<Fresh>>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new connection, evictable until it is used.
    fn track(&self) -> Arc<Fresh> {
        let fresh = Arc::new(Fresh { used: Default::default(), evict: CancellationToken::new() });
        let mut q = self.lock();
        while q.front().is_some_and(Fresh::gone) {
            q.pop_front();
        }
        q.push_back(fresh.clone());
        fresh
    }

    /// Closes the oldest connection that never sent a request; false if none.
    fn evict_one(&self) -> bool {
        let mut q = self.lock();
        while let Some(f) = q.pop_front() {
            if !f.gone() {
                f.evict.cancel();
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::guard::{Limits, OVERSHOOT};

    /// Opens `n` idle connections to a listener not yet accepting, then
    /// serves on one thread (where evicted and refused connections close
    /// only when the accept loop yields) and returns the guard once every
    /// one was taken or turned away.
    fn burst(limits: Limits, n: usize) -> Arc<Guard> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let idle: Vec<_> = (0..n).map(|_| std::net::TcpStream::connect(addr).unwrap()).collect();
            for s in &idle {
                s.set_nonblocking(true).unwrap();
            }
            let guard = Guard::new(limits);
            let stop = CancellationToken::new();
            let metrics = Arc::new(Metrics::default());
            let served =
                tokio::spawn(serve(listener, None, Router::new(), guard.clone(), metrics.clone(), stop.clone()));
            // All but the cap's worth were closed on or answered.
            let kept = limits_kept(&guard);
            while idle.iter().filter(|s| answered(s)).count() < n - kept {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            stop.cancel();
            served.await.unwrap();
            drop(idle);
            guard
        })
    }

    fn limits_kept(guard: &Guard) -> usize {
        guard.limits.max_connections.min(guard.limits.max_connections_per_ip)
    }

    /// The node closed this connection or wrote to it.
    fn answered(s: &std::net::TcpStream) -> bool {
        let mut b = [0u8; 1];
        !matches!(s.peek(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }

    #[test]
    fn a_burst_past_the_cap_holds_few_descriptors_beyond_it() {
        // Every connection past the cap evicts an idle one.
        let cap = Limits { max_connections: 8, ..Limits::default() };
        let guard = burst(cap, 100);
        assert!(guard.most_held() <= 8 + OVERSHOOT, "held {} at once", guard.most_held());
        // Every connection past one address's limit is refused.
        let per_ip = Limits { max_connections_per_ip: 8, ..Limits::default() };
        let guard = burst(per_ip, 100);
        assert!(guard.most_held() <= 8 + OVERSHOOT, "held {} at once", guard.most_held());
    }
}
