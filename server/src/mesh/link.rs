//! One task per peer: get a connection, run it, notice when it dies, redial.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::proto::{self, Control, Dialer, Established, MESH_VERSION, MIN_MESH_VERSION, code};
use super::session::Session;
use super::tls;
use super::{MeshCtx, PeerAddr, PeerCmd};
use crate::core::{PeerIn, PeerState};
use crate::infra::clock::now_ms;
use crate::room::with_vectors;

/// The version a connection settled on, if this node speaks it.
fn settled(conn: &quinn::Connection) -> Result<u32, String> {
    match super::proto::negotiated(conn) {
        Some(v) if (MIN_MESH_VERSION..=MESH_VERSION).contains(&v) => Ok(v),
        other => Err(format!("no common mesh version (settled on {other:?})")),
    }
}

/// The signed removal a peer gave when it closed `conn` as removed.
fn removal_told(conn: &quinn::Connection) -> Option<String> {
    match conn.close_reason()? {
        quinn::ConnectionError::ApplicationClosed(c) if c.error_code == code::REMOVED.into() => {
            String::from_utf8(c.reason.to_vec()).ok()
        }
        _ => None,
    }
}

const HANDSHAKE: Duration = Duration::from_secs(5);

pub(super) struct Link {
    pub peer: PeerAddr,
    pub endpoint: quinn::Endpoint,
    pub client: quinn::ClientConfig,
    pub cmds: mpsc::Receiver<(Instant, PeerCmd)>,
    pub accepted: mpsc::Receiver<Established>,
    /// The node stopping, or this peer removed from the mesh.
    pub stop: tokio_util::sync::CancellationToken,
    pub ctx: Arc<MeshCtx>,
}

/// Past this, a link is no longer racing a simultaneous dial: a second
/// connection from the peer means it lost this one.
const SETTLED: Duration = Duration::from_secs(1);

/// Redial delays: 100 ms doubling to 2 s, ±25 % jitter.
fn backoff(failures: u32) -> Duration {
    let ms = (100u64 << failures.min(5)).min(2_000) as f64;
    Duration::from_millis((ms * rand::rng().random_range(0.75..1.25)) as u64)
}

impl Link {
    pub async fn run(mut self) {
        let me = self.ctx.me.clone();
        let prefer = if me < self.peer.id { Dialer::Me } else { Dialer::Them };
        let mut failures = 0u32;
        let mut next_dial = Instant::now();
        let mut logged_failure = false;
        // A peer that keeps refusing us is said once a minute, not every redial.
        let mut refusals = crate::infra::logs::Every::new(Duration::from_secs(60));
        // Every decision about the peer, kept across its connections.
        let mut state = PeerState::new(self.ctx.anti_entropy.as_millis() as u64);
        loop {
            // Not connected: dial when due, or take what the peer dialed.
            let est = tokio::select! {
                biased;
                _ = self.stop.cancelled() => return,
                Some(est) = self.accepted.recv() => est,
                Some(_) = self.cmds.recv() => {
                    // Nothing to send it on; anti-entropy catches up later.
                    self.ctx.metrics.mesh_frames_dropped.inc();
                    continue;
                }
                r = async {
                    tokio::time::sleep_until(next_dial).await;
                    dial(&self.endpoint, &self.client, &self.peer, &self.ctx).await
                } => match r {
                    Ok(est) => est,
                    Err(e) => {
                        failures += 1;
                        next_dial = Instant::now() + backoff(failures);
                        match e {
                            DialError::Superseded => tracing::debug!(peer = %self.peer.id, "peer kept its own connection"),
                            // Worth an operator's attention every time.
                            DialError::Refused(why) if refusals.due() => tracing::warn!(peer = %self.peer.id, addr = %self.peer.addr, "mesh peer refused: {why}"),
                            DialError::Refused(why) => tracing::debug!(peer = %self.peer.id, "mesh peer refused: {why}"),
                            // A peer that is down or restarting: say so once.
                            DialError::Unreachable(why) if !logged_failure => {
                                tracing::info!(peer = %self.peer.id, addr = %self.peer.addr, "mesh peer unreachable, retrying: {why}");
                                logged_failure = true;
                            }
                            DialError::Unreachable(why) => tracing::debug!(peer = %self.peer.id, "mesh dial failed: {why}"),
                        }
                        continue;
                    }
                },
            };
            failures = 0;
            logged_failure = false;
            tracing::info!(peer = %self.peer.id, dialer = ?est.dialer, "mesh link up");
            let (mut session, mut inbox) = Session::start(est, self.peer.id.clone(), self.ctx.clone());
            let mut up_since = Instant::now();
            self.ctx.cluster.set_peer(&self.peer.id, true, session.url());
            self.feed(&mut state, &session, self.up(&session)).await;
            loop {
                let round =
                    state.poll_timeout().map(|at| Instant::now() + Duration::from_millis(at.saturating_sub(now_ms())));
                tokio::select! {
                    biased;
                    _ = self.stop.cancelled() => {
                        if self.ctx.shutdown.is_cancelled() {
                            session.goodbye();
                        } else {
                            tracing::warn!(peer = %self.peer.id, "removed from the mesh: link closed for good");
                            let proof = self.ctx.peers.removal(&self.peer.id).unwrap_or_default();
                            session.close(code::REMOVED, &proof);
                            self.ctx.cluster.set_peer(&self.peer.id, false, None);
                            self.feed(&mut state, &session, PeerIn::Down).await;
                        }
                        return;
                    }
                    reason = session.closed() => {
                        tracing::info!(peer = %self.peer.id, "mesh link down: {reason}");
                        break;
                    }
                    Some(est) = self.accepted.recv() => {
                        // A second connection: at first, both dialing at once,
                        // keep the preferred dialer's. Later, or from the same
                        // dialer, the new one wins: a node dials only without a
                        // connection, so the peer lost this one (restarted,
                        // say) and ours would wait out the idle timeout.
                        let settled = up_since.elapsed() > SETTLED;
                        if settled || est.dialer == session.dialer() || est.dialer == prefer && session.dialer() != prefer {
                            up_since = Instant::now();
                            session.close(code::DUPLICATE, "duplicate connection");
                            (session, inbox) = Session::start(est, self.peer.id.clone(), self.ctx.clone());
                            self.ctx.cluster.set_peer(&self.peer.id, true, session.url());
                            self.feed(&mut state, &session, self.up(&session)).await;
                        } else {
                            est.conn.close(code::DUPLICATE.into(), b"duplicate connection");
                        }
                    }
                    Some(input) = inbox.recv() => self.feed(&mut state, &session, input).await,
                    Some((queued, cmd)) = self.cmds.recv() => session.handle(queued, cmd),
                    _ = sleep_until(round) => {
                        let outs = with_vectors(&*self.ctx.rooms, |vi| state.on_timeout(now_ms(), vi));
                        self.carry(&mut state, &session, outs).await;
                    }
                }
            }
            self.ctx.cluster.set_peer(&self.peer.id, false, None);
            self.feed(&mut state, &session, PeerIn::Down).await;
            next_dial = Instant::now() + backoff(0);
        }
    }
}

impl Link {
    fn up(&self, session: &Session) -> PeerIn {
        PeerIn::Up { version: session.version(), restoring: self.ctx.rooms.restoring() }
    }

    /// One input to the peer's state, and what it decided carried out.
    async fn feed(&self, state: &mut PeerState, session: &Session, input: PeerIn) {
        match with_vectors(&*self.ctx.rooms, |vi| state.handle(input, now_ms(), vi)) {
            Ok(outs) => self.carry(state, session, outs).await,
            Err(e) => {
                tracing::warn!(peer = %self.peer.id, "bad anti-entropy frame, closing the connection: {e}");
                session.close(code::BROKEN, "bad anti-entropy frame");
            }
        }
    }

    async fn carry(&self, state: &mut PeerState, session: &Session, outs: Vec<crate::core::PeerOut>) {
        let now = now_ms();
        for room in session.carry(outs).await {
            // Dropped before it left: the room may be fetched again.
            let _ = with_vectors(&*self.ctx.rooms, |vi| state.handle(PeerIn::Fetched { room }, now, vi));
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

enum DialError {
    /// Both sides dialled; the peer kept the other connection.
    Superseded,
    /// The peer is down, restarting, or far away.
    Unreachable(String),
    /// The peer answered and said no: certificates or versions disagree.
    Refused(String),
}

async fn dial(
    endpoint: &quinn::Endpoint,
    client: &quinn::ClientConfig,
    peer: &PeerAddr,
    ctx: &MeshCtx,
) -> Result<Established, DialError> {
    let connecting = endpoint
        .connect_with(client.clone(), peer.addr, &peer.id)
        .map_err(|e| DialError::Unreachable(e.to_string()))?;
    let conn = match tokio::time::timeout(HANDSHAKE, connecting).await {
        Err(_) => return Err(DialError::Unreachable("handshake timed out".into())),
        Ok(Err(e)) if is_refusal(&e) => return Err(DialError::Refused(explain_refusal(&e))),
        Ok(Err(e)) => return Err(DialError::Unreachable(e.to_string())),
        Ok(Ok(c)) => c,
    };
    let handshake = async {
        let ours = settled(&conn)?;
        let (mut send, mut recv) = conn.open_bi().await.map_err(|e| e.to_string())?;
        let hello = Control::Hello { node: ctx.me.clone(), version: ours, url: ctx.url.clone() };
        send.write_all(&proto::encode(&hello).map_err(|e| e.to_string())?).await.map_err(|e| e.to_string())?;
        match proto::read_frame::<Control>(&mut recv).await.map_err(|e| e.to_string())? {
            Some((Control::Hello { node, version, url }, _)) if node == peer.id && version == ours => {
                Ok(Established { conn: conn.clone(), send, recv, dialer: Dialer::Me, url, version })
            }
            Some((Control::Hello { node, version, .. }, _)) => Err(format!(
                "peer answered as {node:?} speaking mesh version {version}, expected {:?} version {ours}",
                peer.id
            )),
            _ => Err("peer closed the handshake".to_owned()),
        }
    };
    match tokio::time::timeout(HANDSHAKE, handshake).await {
        Ok(Ok(est)) => Ok(est),
        Ok(Err(e)) => {
            if let Some(proof) = removal_told(&conn) {
                ctx.cluster.heard_removal(proof);
                return Err(DialError::Refused("this node was removed from the mesh".into()));
            }
            let superseded = matches!(conn.close_reason(),
                Some(quinn::ConnectionError::ApplicationClosed(c)) if c.error_code == code::DUPLICATE.into());
            conn.close(code::REFUSED.into(), b"handshake failed");
            Err(if superseded { DialError::Superseded } else { DialError::Refused(e) })
        }
        Err(_) => {
            conn.close(code::REFUSED.into(), b"handshake timed out");
            Err(DialError::Unreachable("hello timed out".into()))
        }
    }
}

/// QUIC transport error codes (RFC 9000 §20.1).
mod transport {
    pub const NO_ERROR: u64 = 0x0;
    pub const CONNECTION_REFUSED: u64 = 0x2;
    pub const APPLICATION_ERROR: u64 = 0xc;
    /// TLS alerts are carried as 0x100 + alert.
    pub const CRYPTO: std::ops::Range<u64> = 0x100..0x200;
    pub const NO_APPLICATION_PROTOCOL: u64 = 0x100 + 120;
}

fn close_code(e: &quinn::ConnectionError) -> Option<u64> {
    match e {
        quinn::ConnectionError::ConnectionClosed(c) => Some(u64::from(c.error_code)),
        quinn::ConnectionError::TransportError(t) => Some(u64::from(t.code)),
        _ => None,
    }
}

/// A TLS-level "no" (certificate, ALPN), as opposed to nobody answering.
fn is_refusal(e: &quinn::ConnectionError) -> bool {
    close_code(e).is_some_and(|c| transport::CRYPTO.contains(&c))
}

/// The peer gave up on a connection of its own while we were handshaking:
/// the dial tie-break, or a peer stopping.
fn is_abandoned(e: &quinn::ConnectionError) -> bool {
    matches!(e, quinn::ConnectionError::ApplicationClosed(_) | quinn::ConnectionError::LocallyClosed)
        || close_code(e).is_some_and(|c| {
            [transport::NO_ERROR, transport::CONNECTION_REFUSED, transport::APPLICATION_ERROR].contains(&c)
        })
}

/// A refused TLS handshake in words an operator can act on.
fn explain_refusal(e: &quinn::ConnectionError) -> String {
    let text = e.to_string();
    if close_code(e) == Some(transport::NO_APPLICATION_PROTOCOL) {
        format!(
            "the peer speaks no mesh version from {MIN_MESH_VERSION} to {MESH_VERSION} (upgrade the older node): {text}"
        )
    } else if text.contains("certificate") || text.contains("Certificate") || text.contains("UnknownIssuer") {
        format!("certificate refused (is it signed by this cluster's CA?): {text}")
    } else {
        text
    }
}

/// Accepts connections, checks who they are, and hands them to their link.
pub(super) async fn accept_loop(endpoint: quinn::Endpoint, ctx: Arc<MeshCtx>) {
    // Refused connections are logged once a minute per address.
    let refusals = Arc::new(std::sync::Mutex::new(crate::infra::logs::EveryKey::new(Duration::from_secs(60))));
    loop {
        let incoming = tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            i = endpoint.accept() => match i {
                Some(i) => i,
                None => return,
            },
        };
        let (ctx, refusals) = (ctx.clone(), refusals.clone());
        tokio::spawn(async move {
            let remote = incoming.remote_address();
            match accept_one(incoming, &ctx).await {
                Ok((peer, est)) => {
                    if let Some(tx) = ctx.peers.accepted(&peer) {
                        let _ = tx.send(est).await;
                    }
                }
                // Both sides dialled at once and the peer dropped its own
                // attempt: the tie-break, not a refusal.
                Err(Refusal::Abandoned(e)) => {
                    tracing::debug!(%remote, "mesh dial abandoned by the peer: {e}")
                }
                Err(Refusal::Refused(e)) => {
                    let due = refusals.lock().map(|mut r| r.due(&remote.ip())).unwrap_or(None);
                    match due {
                        Some(held) => tracing::warn!(%remote, held, "refused a mesh connection: {e}"),
                        None => tracing::debug!(%remote, "refused a mesh connection: {e}"),
                    }
                }
            }
        });
    }
}

enum Refusal {
    Refused(String),
    Abandoned(String),
}

async fn accept_one(incoming: quinn::Incoming, ctx: &MeshCtx) -> Result<(String, Established), Refusal> {
    let conn = match tokio::time::timeout(HANDSHAKE, incoming).await {
        Err(_) => return Err(Refusal::Refused("TLS handshake timed out".into())),
        Ok(Err(e)) if is_abandoned(&e) => return Err(Refusal::Abandoned(e.to_string())),
        Ok(Err(e)) => return Err(Refusal::Refused(explain_refusal(&e))),
        Ok(Ok(c)) => c,
    };
    let refuse = |why: String| {
        // The dialer dropped this connection for the one we dialled: no refusal.
        if let Some(reason) = conn.close_reason().filter(is_abandoned) {
            return Err(Refusal::Abandoned(reason.to_string()));
        }
        conn.close(code::REFUSED.into(), b"refused");
        Err(Refusal::Refused(why))
    };
    let handshake = async {
        let (send, mut recv) = match conn.accept_bi().await {
            Ok(s) => s,
            Err(quinn::ConnectionError::ApplicationClosed(c)) => {
                return Err(Refusal::Abandoned(c.to_string()));
            }
            Err(e) => return Err(Refusal::Refused(format!("handshake failed: {e}"))),
        };
        match proto::read_frame::<Control>(&mut recv).await {
            Ok(hello) => Ok((send, recv, hello)),
            Err(e) => Err(Refusal::Refused(format!("handshake failed: {e}"))),
        }
    };
    let (mut send, recv, hello) = match tokio::time::timeout(HANDSHAKE, handshake).await {
        Ok(Ok(x)) => x,
        Ok(Err(Refusal::Refused(e))) => return refuse(e),
        Ok(Err(abandoned)) => return Err(abandoned),
        Err(_) => return refuse("no hello in time".into()),
    };
    let Some((Control::Hello { node, version, url }, _)) = hello else {
        return refuse("the first frame was not a hello".into());
    };
    match settled(&conn) {
        Ok(v) if v == version => {}
        Ok(v) => return refuse(format!("{node:?} says mesh version {version}, the handshake settled on {v}")),
        Err(e) => return refuse(e),
    }
    if let Some(proof) = ctx.peers.removal(&node) {
        // Told why, so that it stops taking writes no peer will ever hear of.
        conn.close(code::REMOVED.into(), proof.as_bytes());
        return Err(Refusal::Refused(format!("{node:?} was removed from the mesh")));
    }
    if !ctx.peers.contains(&node) {
        return refuse(format!("{node:?} is not one of this node's peers"));
    }
    // The TLS layer checked the chain to our CA; now the name.
    let Some(leaf) = tls::peer_leaf(&conn) else {
        return refuse("no client certificate".into());
    };
    if let Err(e) = tls::names_node(&leaf, &node) {
        return refuse(format!("claims to be {node:?} but its {e}"));
    }
    let reply = Control::Hello { node: ctx.me.clone(), version, url: ctx.url.clone() };
    let frame = proto::encode(&reply).map_err(|e| Refusal::Refused(e.to_string()))?;
    if let Err(e) = send.write_all(&frame).await {
        return refuse(format!("cannot answer the hello: {e}"));
    }
    Ok((node, Established { conn, send, recv, dialer: Dialer::Them, url, version }))
}
