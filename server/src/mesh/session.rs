//! One live connection to a peer and the tasks that serve it.
//!
//! - control writer and reader: vectors, wants, presence, typing;
//! - one writer per room, opened on first use: live messages and ranges
//!   read back from the store;
//! - one reader per incoming room stream, feeding that room's actor.
//!
//! All of them stop with the connection.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use meshchat_shared::{Message, RoomVector, limits};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::link::{Dialer, Established, code};
use super::proto::{self, Control, MSGS_PER_FRAME, RoomFrame};
use super::{MeshCtx, PeerCmd, RoomJob};
use crate::repl::{Range, missing};
use crate::room::RoomCmd;

/// Frames queued per outgoing stream before live ones are dropped.
const STREAM_QUEUE: usize = 4096;
/// Messages read from the store per query when sending a range.
const FETCH_PAGE: u64 = 512;

pub(super) struct Session {
    shared: Arc<Shared>,
    dialer: Dialer,
    url: String,
}

struct Shared {
    conn: quinn::Connection,
    peer: String,
    ctx: Arc<MeshCtx>,
    control: mpsc::Sender<(Instant, Bytes)>,
    rooms: Mutex<HashMap<String, mpsc::Sender<(Instant, RoomJob)>>>,
    /// Rooms with a range being sent: a second request waits for the next round.
    fetching: Mutex<HashSet<String>>,
    /// Rooms where the peer has reported names online.
    reported: Mutex<BTreeSet<String>>,
    cancel: CancellationToken,
}

impl Session {
    pub fn start(est: Established, peer: String, ctx: Arc<MeshCtx>) -> Session {
        let Established { conn, send, recv, dialer, url } = est;
        let (control, control_rx) = mpsc::channel(STREAM_QUEUE);
        let cancel = ctx.shutdown.child_token();
        let shared = Arc::new(Shared {
            conn,
            peer,
            ctx,
            control,
            rooms: Mutex::new(HashMap::new()),
            fetching: Mutex::new(HashSet::new()),
            reported: Mutex::new(BTreeSet::new()),
            cancel,
        });
        shared.spawn(write_control(shared.clone(), send, control_rx));
        shared.spawn(read_control(shared.clone(), recv));
        shared.spawn(accept_rooms(shared.clone()));
        let session = Session { shared, dialer, url };
        session.anti_entropy();
        session
    }

    pub fn dialer(&self) -> Dialer {
        self.dialer
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
            quinn::ConnectionError::TimedOut => "no answer for 3 s".to_owned(),
            e => e.to_string(),
        }
    }

    pub fn handle(&self, queued: Instant, cmd: PeerCmd) {
        match cmd {
            PeerCmd::Control(bytes) => {
                if self.shared.control.try_send((queued, bytes)).is_err() {
                    self.shared.ctx.metrics.mesh_frames_dropped.inc();
                }
            }
            PeerCmd::Room { room, job } => self.shared.room_job(&room, queued, job),
        }
    }

    /// Sends every room's vector and this node's presence: the peer answers
    /// with what this node lacks, and repairs lost presence frames.
    pub fn anti_entropy(&self) {
        let vectors = Control::Vectors(self.shared.ctx.index.vectors());
        let presence = Control::PresenceSnapshot(self.shared.ctx.index.presence());
        for frame in [vectors, presence] {
            match proto::encode(&frame) {
                Ok(bytes) => self.handle(Instant::now(), PeerCmd::Control(bytes)),
                Err(e) => tracing::error!(error = %e, "cannot encode an anti-entropy frame"),
            }
        }
    }

    pub fn close(&self, code: u32, why: &'static str) {
        self.shared.cancel.cancel();
        self.shared.conn.close(code.into(), why.as_bytes());
    }

    /// A clean stop: the peer treats this node's users as moving, not leaving.
    pub async fn goodbye(&self) {
        self.close(code::GOODBYE, "stopping");
    }

    /// The peer is gone: its users start their grace period in every room
    /// where it had any.
    pub fn peer_down(&self) {
        self.shared.cancel.cancel();
        let rooms = std::mem::take(&mut *self.shared.reported.lock().unwrap_or_else(|p| p.into_inner()));
        let peer: Arc<str> = self.shared.peer.as_str().into();
        for room in rooms {
            self.shared.ctx.hub.room(&room).send_reliably(RoomCmd::PeerDown { peer: peer.clone() });
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.shared.cancel.cancel();
    }
}

impl Shared {
    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let cancel = self.cancel.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = task => {}
            }
        });
    }

    fn room_job(self: &Arc<Self>, room: &str, queued: Instant, job: RoomJob) {
        if let RoomJob::Fetch(_) = &job {
            let mut fetching = self.fetching.lock().unwrap_or_else(|p| p.into_inner());
            if !fetching.insert(room.to_owned()) {
                return;
            }
        }
        let tx = {
            let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
            rooms
                .entry(room.to_owned())
                .or_insert_with(|| {
                    let (tx, rx) = mpsc::channel(STREAM_QUEUE);
                    self.spawn(write_room(self.clone(), room.to_owned(), rx));
                    tx
                })
                .clone()
        };
        if let Err(mpsc::error::TrySendError::Full((_, job)) | mpsc::error::TrySendError::Closed((_, job))) =
            tx.try_send((queued, job))
        {
            self.ctx.metrics.mesh_frames_dropped.inc();
            if let RoomJob::Fetch(_) = job {
                self.fetching.lock().unwrap_or_else(|p| p.into_inner()).remove(room);
            }
        }
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
            Ok(Some(frame)) => {
                shared.ctx.metrics.mesh_frames_in.inc();
                on_control(&shared, frame);
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

fn on_control(shared: &Arc<Shared>, frame: Control) {
    let ctx = &shared.ctx;
    let peer: Arc<str> = shared.peer.as_str().into();
    match frame {
        Control::Hello { .. } => {}
        Control::Vectors(theirs) => {
            let theirs: BTreeMap<String, RoomVector> = theirs.into_iter().collect();
            let empty = RoomVector::new();
            for (room, ours) in ctx.index.vectors() {
                let ranges = missing(&ours, theirs.get(&room).unwrap_or(&empty));
                if !ranges.is_empty() {
                    shared.room_job(&room, Instant::now(), RoomJob::Fetch(ranges));
                }
            }
        }
        Control::Want { room, ranges } => {
            if limits::validate_room(&room).is_ok() {
                shared.room_job(&room, Instant::now(), RoomJob::Fetch(ranges));
            }
        }
        Control::Presence { room, name, online } => {
            if limits::validate_room(&room).is_err() || limits::validate_name(&name).is_err() {
                return;
            }
            if online {
                shared.reported.lock().unwrap_or_else(|p| p.into_inner()).insert(room.clone());
            }
            ctx.hub.room(&room).send_reliably(RoomCmd::PeerPresenceUpdate { peer, name, online });
        }
        Control::PresenceSnapshot(rooms) => {
            let now: BTreeMap<String, BTreeSet<String>> = rooms
                .into_iter()
                .filter(|(room, _)| limits::validate_room(room).is_ok())
                .map(|(room, names)| (room, names.into_iter().filter(|n| limits::validate_name(n).is_ok()).collect()))
                .collect();
            let gone: Vec<String> = {
                let mut reported = shared.reported.lock().unwrap_or_else(|p| p.into_inner());
                let gone = reported.iter().filter(|r| !now.contains_key(*r)).cloned().collect();
                *reported = now.keys().cloned().collect();
                gone
            };
            for room in gone {
                ctx.hub.room(&room).send_reliably(RoomCmd::PeerPresence { peer: peer.clone(), names: BTreeSet::new() });
            }
            for (room, names) in now {
                ctx.hub.room(&room).send_reliably(RoomCmd::PeerPresence { peer: peer.clone(), names });
            }
        }
        Control::Typing { room, name } => {
            if limits::validate_room(&room).is_ok() && limits::validate_name(&name).is_ok() {
                // A hint: dropped if the room is busy.
                let _ = ctx.hub.room(&room).send(RoomCmd::PeerTyping { name: name.as_str().into() });
            }
        }
    }
}

/// One room's outgoing stream: live frames, and ranges read from the store.
async fn write_room(shared: Arc<Shared>, room: String, mut rx: mpsc::Receiver<(Instant, RoomJob)>) {
    let Ok(mut send) = shared.conn.open_uni().await else {
        return;
    };
    let Ok(open) = proto::encode(&RoomFrame::Open { room: room.clone() }) else {
        return;
    };
    // The header is part of the handshake of this stream: never dropped.
    if send.write_all(&open).await.is_err() {
        return;
    }
    let mut last = Instant::now();
    while let Some((queued, job)) = rx.recv().await {
        let ok = match job {
            RoomJob::Frame(frame) => shared.write(&mut send, &frame, queued, &mut last).await,
            RoomJob::Fetch(ranges) => {
                let ok = send_ranges(&shared, &room, &ranges, &mut send, &mut last).await;
                shared.fetching.lock().unwrap_or_else(|p| p.into_inner()).remove(&room);
                ok
            }
        };
        if !ok {
            break;
        }
    }
    shared.rooms.lock().unwrap_or_else(|p| p.into_inner()).remove(&room);
}

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
            // Hidden duplicates too: every seq of every origin must arrive.
            let msgs = match shared.ctx.store.range(room, &r.origin, after, upto, true).await {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(room, error = %e, "cannot read a range to send");
                    return true;
                }
            };
            if msgs.is_empty() {
                break;
            }
            after = msgs.last().map_or(upto, |m| m.seq);
            for chunk in msgs.chunks(MSGS_PER_FRAME) {
                let Ok(frame) = proto::encode(&RoomFrame::Msgs(chunk.to_vec())) else {
                    continue;
                };
                if !shared.write(send, &frame, Instant::now(), last).await {
                    return false;
                }
            }
        }
    }
    true
}

async fn accept_rooms(shared: Arc<Shared>) {
    while let Ok(recv) = shared.conn.accept_uni().await {
        let s = shared.clone();
        shared.spawn(read_room(s, recv));
    }
}

/// One room's incoming stream. A frame that does not decode ends this
/// stream only; the sender reopens it on its next message.
async fn read_room(shared: Arc<Shared>, mut recv: quinn::RecvStream) {
    let room = match proto::read_frame::<RoomFrame>(&mut recv).await {
        Ok(Some(RoomFrame::Open { room })) if limits::validate_room(&room).is_ok() => room,
        other => {
            tracing::warn!(peer = %shared.peer, "room stream without a valid header: {other:?}");
            let _ = recv.stop(code::BROKEN.into());
            return;
        }
    };
    let handle = shared.ctx.hub.room(&room);
    let from: Arc<str> = shared.peer.as_str().into();
    loop {
        match proto::read_frame::<RoomFrame>(&mut recv).await {
            Ok(Some(RoomFrame::Msgs(msgs))) => {
                shared.ctx.metrics.mesh_frames_in.inc();
                let (good, bad): (Vec<Message>, Vec<Message>) = msgs.into_iter().partition(|m| well_formed(m, &room));
                if !bad.is_empty() {
                    tracing::warn!(peer = %shared.peer, room, count = bad.len(), "dropped malformed messages");
                }
                if !good.is_empty()
                    && handle.send_wait(RoomCmd::Remote { from: from.clone(), msgs: good }).await.is_err()
                {
                    return;
                }
            }
            Ok(Some(RoomFrame::Open { .. })) => {}
            Ok(None) => return,
            Err(proto::ProtoError::Read(e)) => {
                tracing::debug!(peer = %shared.peer, room, "room stream ended: {e}");
                return;
            }
            Err(e) => {
                tracing::warn!(peer = %shared.peer, room, "closing a room stream: {e}");
                let _ = recv.stop(code::BROKEN.into());
                return;
            }
        }
    }
}

/// A message from a peer obeys the same rules as one from a client.
fn well_formed(m: &Message, room: &str) -> bool {
    m.room == room
        && m.seq > 0
        && limits::validate_node_id(&m.origin).is_ok()
        && limits::validate_name(&m.author).is_ok()
        && limits::validate_msg_id(&m.id).is_ok()
        && limits::validate_body(&m.body).is_ok()
        && m.vc.validate().is_ok()
        && m.vc.get(&m.origin) == m.seq
}
