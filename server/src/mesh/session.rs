//! One live connection to a peer and the tasks that serve it.
//!
//! - control writer and reader: sync frames, wants, presence and the
//!   restore's frames go to the link task, which owns the peer's state
//!   (`core::PeerState`, every decision about the peer); typing goes to
//!   the room as a hint;
//! - [`LANES`] lane writers, opened on first use: live messages and ranges
//!   read back from the store, each frame naming its room;
//! - one reader per incoming lane, feeding the rooms' actors.
//!
//! All of them stop with the connection.

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use meshchat_shared::{Message, limits};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::proto::{self, Control, Dialer, Established, LANES, LaneFrame, code, lane_of};
use super::{LaneJob, MeshCtx, PeerCmd};
use crate::core::{PeerIn, PeerOut, Range, Signed};

/// Frames queued per outgoing stream before live ones are dropped.
const STREAM_QUEUE: usize = 4096;
/// Messages read from the store per query when sending a range.
const FETCH_PAGE: u64 = 512;
/// The peer's frames waiting for the link task.
const INBOX: usize = 1024;

pub(super) struct Session {
    shared: Arc<Shared>,
    dialer: Dialer,
    url: String,
}

/// A job for a lane: when it was queued, for which room.
type LaneItem = (Instant, String, LaneJob);

pub(super) struct Shared {
    conn: quinn::Connection,
    pub(super) peer: String,
    pub(super) ctx: Arc<MeshCtx>,
    pub(super) control: mpsc::Sender<(Instant, Bytes)>,
    lanes: Mutex<Vec<Option<mpsc::Sender<LaneItem>>>>,
    /// Refusals of its messages, logged at most once a minute.
    forged: Mutex<crate::infra::logs::Every>,
    /// To the link task, which owns the peer's state.
    inbox: mpsc::Sender<PeerIn>,
    cancel: CancellationToken,
    /// The mesh version this connection speaks.
    pub(super) version: u32,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Session {
    /// Starts serving the connection; also returns what the peer says and
    /// what the lanes did, for the link task, which owns the peer's state.
    pub fn start(est: Established, peer: String, ctx: Arc<MeshCtx>) -> (Session, mpsc::Receiver<PeerIn>) {
        let Established { conn, send, recv, dialer, url, version } = est;
        let (control, control_rx) = mpsc::channel(STREAM_QUEUE);
        let (inbox, inbox_rx) = mpsc::channel(INBOX);
        let cancel = ctx.shutdown.child_token();
        let shared = Arc::new(Shared {
            conn,
            peer,
            ctx,
            control,
            lanes: Mutex::new(vec![None; LANES]),
            forged: Mutex::new(crate::infra::logs::Every::new(std::time::Duration::from_secs(60))),
            inbox,
            cancel,
            version,
        });
        // The peer's certificate, as its TLS handshake proved it; then every
        // certificate this node knows, so the peer can check what it passes on.
        if let Some(leaf) = super::tls::peer_leaf(&shared.conn) {
            shared.learn_cert(&shared.peer.clone(), &leaf);
        }
        match proto::encode(&Control::Certs(shared.ctx.book.all())) {
            Ok(bytes) => shared.send_control(Instant::now(), bytes),
            Err(e) => tracing::error!(error = %e, "cannot encode certificates"),
        }
        shared.spawn(write_control(shared.clone(), send, control_rx));
        shared.spawn(read_control(shared.clone(), recv));
        shared.spawn(accept_lanes(shared.clone()));
        shared.ctx.conns.lock().unwrap_or_else(|p| p.into_inner()).insert(shared.peer.clone(), shared.conn.clone());
        shared.spawn(super::files::serve(shared.conn.clone(), shared.ctx.clone()));
        (Session { shared, dialer, url }, inbox_rx)
    }

    pub fn dialer(&self) -> Dialer {
        self.dialer
    }

    /// The mesh version this connection speaks.
    pub fn version(&self) -> u32 {
        self.shared.version
    }

    pub fn url(&self) -> Option<&str> {
        Some(self.url.as_str()).filter(|u| !u.is_empty())
    }

    /// Resolves when the connection is gone, with why.
    pub async fn closed(&self) -> String {
        match self.shared.conn.closed().await {
            quinn::ConnectionError::ApplicationClosed(c) if c.error_code == code::GOODBYE.into() => {
                "the peer is stopping".to_owned()
            }
            quinn::ConnectionError::ApplicationClosed(c) if c.error_code == code::REMOVED.into() => {
                self.shared.ctx.cluster.heard_removal(String::from_utf8_lossy(&c.reason).into_owned());
                "the peer says this node was removed from the mesh".to_owned()
            }
            quinn::ConnectionError::TimedOut => "no answer for 3 s".to_owned(),
            e => e.to_string(),
        }
    }

    pub fn handle(&self, queued: Instant, cmd: PeerCmd) {
        match cmd {
            PeerCmd::Control(bytes) => self.shared.send_control(queued, bytes),
            PeerCmd::Lane { room, job } => {
                self.shared.lane_job(&room, queued, job);
            }
        }
    }

    /// Carries out what the peer's state decided, in order; returns the
    /// rooms whose range could not be queued (the state must hear so).
    pub async fn carry(&self, outs: Vec<PeerOut>) -> Vec<String> {
        let mut unsent = Vec::new();
        let peer: Arc<str> = self.shared.peer.as_str().into();
        for out in outs {
            match out {
                PeerOut::Sync(frame) => self.control(&Control::Sync(frame)),
                PeerOut::Fetch { room, ranges } => {
                    self.shared.ctx.metrics.mesh_repairs.inc();
                    if !self.shared.lane_job(&room, Instant::now(), LaneJob::Fetch(ranges)) {
                        unsent.push(room);
                    }
                }
                PeerOut::Behind { room, theirs } => self.shared.ctx.rooms.behind(&room, theirs),
                // This node's names online: repairs lost presence frames.
                PeerOut::Snapshot => self.control(&Control::PresenceSnapshot(self.shared.ctx.rooms.presence())),
                PeerOut::Room { room, note } => self.shared.ctx.rooms.note(&room, peer.clone(), note),
                PeerOut::AskOwn => self.send_all(vec![Control::AskOwn]),
                PeerOut::CannotAsk { version } => super::restore::cannot_ask(&self.shared.peer, version),
                PeerOut::AnswerOwn => self.send_all(super::restore::answer(&*self.shared.ctx.rooms, &self.shared.peer)),
                PeerOut::Own { rooms, last } => {
                    self.shared.ctx.rooms.restore_answer(&self.shared.peer, rooms, last).await
                }
            }
        }
        unsent
    }

    /// Queues frames in order, waiting for room rather than dropping any
    /// (a restored node waits for every one of them).
    fn send_all(&self, frames: Vec<Control>) {
        let tx = self.shared.control.clone();
        let encoded: Vec<_> = frames.iter().filter_map(|f| proto::encode(f).ok()).collect();
        self.shared.spawn(async move {
            for bytes in encoded {
                if tx.send((Instant::now(), bytes)).await.is_err() {
                    return;
                }
            }
        });
    }

    fn control(&self, frame: &Control) {
        match proto::encode(frame) {
            Ok(bytes) => self.shared.send_control(Instant::now(), bytes),
            Err(e) => tracing::error!(error = %e, "cannot encode a control frame"),
        }
    }

    pub fn close(&self, code: u32, why: &str) {
        self.shared.cancel.cancel();
        self.shared.conn.close(code.into(), why.as_bytes());
    }

    /// A clean stop: the peer treats this node's users as moving, not leaving.
    pub fn goodbye(&self) {
        self.close(code::GOODBYE, "stopping");
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.shared.cancel.cancel();
    }
}

impl Shared {
    pub(super) fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let cancel = self.cancel.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = task => {}
            }
        });
    }

    /// Trusts a node's certificate (checked against the CA) and keeps it.
    fn learn_cert(&self, node: &str, der: &[u8]) {
        if limits::validate_node_id(node).is_err() {
            return;
        }
        match self.ctx.book.learn(node, der) {
            Ok(true) => self.ctx.store.keep_node_cert(node, der),
            Ok(false) => {}
            Err(e) => tracing::warn!(peer = %self.peer, node, "refused a certificate: {e}"),
        }
    }

    fn send_control(&self, queued: Instant, bytes: Bytes) {
        if self.control.try_send((queued, bytes)).is_err() {
            self.ctx.metrics.mesh_frames_dropped.inc();
        }
    }

    /// Queues a job on the room's lane; false when it was dropped.
    fn lane_job(self: &Arc<Self>, room: &str, queued: Instant, job: LaneJob) -> bool {
        let lane = lane_of(room);
        let tx = lock(&self.lanes)[lane]
            .get_or_insert_with(|| {
                let (tx, rx) = mpsc::channel(STREAM_QUEUE);
                self.spawn(write_lane(self.clone(), lane, rx));
                tx
            })
            .clone();
        if tx.try_send((queued, room.to_owned(), job)).is_err() {
            // Anti-entropy repairs what is dropped here.
            self.ctx.metrics.mesh_frames_dropped.inc();
            return false;
        }
        true
    }

    /// Writes one frame subject to the injected faults; false if the stream broke.
    async fn write(&self, send: &mut quinn::SendStream, frame: &[u8], queued: Instant, last: &mut Instant) -> bool {
        let faults = self.ctx.faults;
        if faults.drop_one() {
            self.ctx.metrics.mesh_frames_dropped.inc();
            return true;
        }
        let at = faults.release_at(queued, *last);
        if at > Instant::now() {
            tokio::time::sleep_until(at).await;
        }
        *last = at;
        self.ctx.metrics.mesh_frames_out.inc();
        self.ctx.metrics.mesh_bytes_out.inc_by(frame.len() as u64);
        send.write_all(frame).await.is_ok()
    }
}

async fn write_control(shared: Arc<Shared>, mut send: quinn::SendStream, mut rx: mpsc::Receiver<(Instant, Bytes)>) {
    let mut last = Instant::now();
    while let Some((queued, frame)) = rx.recv().await {
        if !shared.write(&mut send, &frame, queued, &mut last).await {
            break;
        }
    }
    shared.conn.close(code::BROKEN.into(), b"control stream failed");
}

async fn read_control(shared: Arc<Shared>, mut recv: quinn::RecvStream) {
    loop {
        match proto::read_frame::<Control>(&mut recv).await {
            Ok(Some((frame, bytes))) => {
                shared.ctx.metrics.mesh_frames_in.inc();
                shared.ctx.metrics.mesh_bytes_in.inc_by(bytes as u64);
                if !on_control(&shared, frame).await {
                    break;
                }
            }
            Ok(None) => break,
            Err(proto::ProtoError::Read(e)) => {
                tracing::debug!(peer = %shared.peer, "control stream ended: {e}");
                break;
            }
            Err(e) => {
                // Without its control stream a connection is useless: the
                // link redials; the node itself carries on.
                tracing::warn!(peer = %shared.peer, "bad control frame, closing the connection: {e}");
                break;
            }
        }
    }
    shared.conn.close(code::BROKEN.into(), b"control stream ended");
}

/// Handles one control frame; false when the connection should end.
async fn on_control(shared: &Arc<Shared>, frame: Control) -> bool {
    let ctx = &shared.ctx;
    match frame {
        Control::Hello { .. } => {}
        // Backpressure: a peer that floods frames waits for the link.
        Control::Sync(f) => return shared.inbox.send(PeerIn::Sync(f)).await.is_ok(),
        Control::Want { room, ranges } => return shared.inbox.send(PeerIn::Want { room, ranges }).await.is_ok(),
        Control::Claim(msg) => ctx.claims.peer(&shared.peer, msg),
        Control::AskOwn => return shared.inbox.send(PeerIn::AskOwn).await.is_ok(),
        Control::Own { rooms, last } => return shared.inbox.send(PeerIn::Own { rooms, last }).await.is_ok(),
        Control::Certs(certs) => {
            for (node, der) in certs.iter().take(MAX_CERTS) {
                shared.learn_cert(node, der);
            }
        }
        Control::Presence { room, name, online } => {
            return shared.inbox.send(PeerIn::Presence { room, name, online }).await.is_ok();
        }
        Control::PresenceSnapshot(rooms) => return shared.inbox.send(PeerIn::Snapshot(rooms)).await.is_ok(),
        Control::Typing { room, name } => {
            if limits::validate_mesh_room(&room).is_ok() && limits::validate_name(&name).is_ok() {
                // A hint: dropped if the room is busy.
                ctx.rooms.typing(&room, name.as_str().into());
            }
        }
    }
    true
}

/// One outgoing lane: live frames, and ranges read from the store.
async fn write_lane(shared: Arc<Shared>, lane: usize, mut rx: mpsc::Receiver<LaneItem>) {
    let Ok(mut send) = shared.conn.open_uni().await else {
        lock(&shared.lanes)[lane] = None;
        return give_back(&shared, rx).await;
    };
    let mut last = Instant::now();
    while let Some((queued, room, job)) = rx.recv().await {
        let ok = match job {
            LaneJob::Frame(frame) => shared.write(&mut send, &frame, queued, &mut last).await,
            LaneJob::Fetch(ranges) => {
                let ok = send_ranges(&shared, &room, &ranges, &mut send, &mut last).await;
                let _ = shared.inbox.send(PeerIn::Fetched { room }).await;
                ok
            }
        };
        if !ok {
            break;
        }
    }
    // Reopened on the next job.
    lock(&shared.lanes)[lane] = None;
    give_back(&shared, rx).await;
}

/// Ranges queued on a lane that broke are not on their way: the peer's
/// state hears so, and the next round asks again.
async fn give_back(shared: &Shared, mut rx: mpsc::Receiver<LaneItem>) {
    rx.close();
    while let Some((_, room, job)) = rx.recv().await {
        if let LaneJob::Fetch(_) = job {
            let _ = shared.inbox.send(PeerIn::Fetched { room }).await;
        }
    }
}

/// Certificates taken from one `Certs` frame, at most.
const MAX_CERTS: usize = 1024;
async fn send_ranges(
    shared: &Shared,
    room: &str,
    ranges: &[Range],
    send: &mut quinn::SendStream,
    last: &mut Instant,
) -> bool {
    for r in ranges {
        let mut after = r.after;
        while after < r.upto {
            let upto = r.upto.min(after + FETCH_PAGE);
            let msgs = match shared.ctx.store.range(room, &r.origin, after, upto).await {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(room, error = %e, "cannot read a range to send");
                    return true;
                }
            };
            if msgs.is_empty() {
                break;
            }
            after = msgs.last().map_or(upto, |m| m.msg.seq);
            let Ok(frames) = proto::encode_msgs(room, &msgs) else { continue };
            for frame in frames {
                if !shared.write(send, &frame, Instant::now(), last).await {
                    return false;
                }
            }
        }
    }
    true
}

async fn accept_lanes(shared: Arc<Shared>) {
    while let Ok(recv) = shared.conn.accept_uni().await {
        let s = shared.clone();
        shared.spawn(read_lane(s, recv));
    }
}

/// One incoming lane. A frame that does not decode ends this lane only;
/// the sender reopens it with its next frame.
async fn read_lane(shared: Arc<Shared>, mut recv: quinn::RecvStream) {
    let from: Arc<str> = shared.peer.as_str().into();
    loop {
        match proto::read_frame::<LaneFrame>(&mut recv).await {
            Ok(Some((LaneFrame::Msgs { room, msgs }, bytes))) => {
                shared.ctx.metrics.mesh_frames_in.inc();
                shared.ctx.metrics.mesh_bytes_in.inc_by(bytes as u64);
                if limits::validate_mesh_room(&room).is_err() {
                    tracing::warn!(peer = %shared.peer, "messages for an invalid room name; dropped");
                    continue;
                }
                let (good, bad): (Vec<Signed>, Vec<Signed>) =
                    msgs.into_iter().map(Signed::from).partition(|m| admissible(&shared, m, &room));
                if !bad.is_empty() {
                    shared.ctx.metrics.mesh_refused_msgs.inc_by(bad.len() as u64);
                    if lock(&shared.forged).due() {
                        let why = "malformed, or of another origin without that origin's valid signature";
                        tracing::warn!(peer = %shared.peer, room, count = bad.len(), "refused messages: {why}");
                    }
                }
                if good.is_empty() {
                    continue;
                }
                // Backpressure: a busy room slows this lane.
                if shared.ctx.rooms.remote(&room, from.clone(), good).await.is_err() {
                    return;
                }
            }
            Ok(None) => return,
            Err(proto::ProtoError::Read(e)) => {
                tracing::debug!(peer = %shared.peer, "lane ended: {e}");
                return;
            }
            Err(e) => {
                tracing::warn!(peer = %shared.peer, "closing a lane: {e}");
                let _ = recv.stop(code::BROKEN.into());
                return;
            }
        }
    }
}

/// A peer may send its own messages (the TLS handshake proved who it is)
/// and pass on others' that carry their origin's valid signature.
fn admissible(shared: &Shared, m: &Signed, room: &str) -> bool {
    well_formed(&m.msg, room) && (m.msg.origin == shared.peer || shared.ctx.book.verify(&m.msg, &m.proof).is_ok())
}

/// A message from a peer obeys the rules its origin checked before it
/// stored it: the same function (`meshchat_shared::stored`).
fn well_formed(m: &Message, room: &str) -> bool {
    meshchat_shared::stored::validate_stored(m, room).is_ok()
}
