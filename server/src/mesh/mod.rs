//! The mesh: nodes connected pairwise over QUIC, replicating every room.
//!
//! One QUIC endpoint per node, both server and client. One link task per
//! peer owns that peer's connection (iroh-gossip style): it dials with
//! backoff, adopts connections the accept loop verified, and keeps exactly
//! one when both sides dial at once. Rooms talk to the mesh through a
//! cloneable [`MeshHandle`] that only queues commands.
//!
//! Rooms publish to the mesh through [`Broker`], which [`MeshHandle`]
//! implements; the mesh reaches rooms through [`RoomEvents`] only. Per connection: a
//! control stream (hello, anti-entropy, wants, presence, typing) and a
//! fixed set of lanes that carry every room's messages.
//!
//! - [`tls`]: certificates, mutual TLS, ALPN.
//! - [`proto`]: the frames and their encoding.
//! - [`faults`]: injected delay and loss for demos and tests.
//! - `link`: the per-peer task; `session`: one live connection.
//! - `files`: shared files between nodes, a stream each.

pub mod cluster;
pub mod faults;
mod files;
mod link;
pub(crate) mod peers;
pub mod proto;
mod restore;
mod session;
pub mod tls;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

use crate::core::Range;
use crate::infra::metrics::Metrics;
use crate::mesh::cluster::Cluster;
use crate::room::{Broker, PeerEvent, RoomEvents};
use crate::store::Store;
use crate::trust::sign;
pub use faults::Faults;
use proto::Control;

#[derive(Debug, Clone)]
pub struct PeerAddr {
    pub id: String,
    pub addr: SocketAddr,
}

#[derive(Debug, Clone)]
pub struct MeshConfig {
    /// Where this node's QUIC endpoint listens.
    pub listen: SocketAddr,
    pub peers: Vec<PeerAddr>,
    /// The directory with `ca.pem`, `<id>.pem` and `<id>.key`.
    pub certs: PathBuf,
    pub faults: Faults,
    /// How often connected peers compare room vectors.
    pub anti_entropy: Duration,
}

#[derive(Debug, Error)]
pub enum MeshError {
    #[error("mesh certificates: {0}")]
    Tls(#[from] tls::TlsError),
    #[error("cannot listen for the mesh on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("peer {0:?} is this node")]
    SelfPeer(String),
    #[error("invalid peer id {0:?}: {1}")]
    BadPeer(String, meshchat_shared::Invalid),
    #[error("signing key: {0}")]
    Sign(#[from] sign::SignError),
}

/// What a link task is asked to do.
pub(crate) enum PeerCmd {
    /// A job for the lane that carries `room`.
    Lane { room: String, job: LaneJob },
    /// A control frame, already encoded.
    Control(Bytes),
}

pub(crate) enum LaneJob {
    /// Encoded `LaneFrame::Msgs` (live messages).
    Frame(Bytes),
    /// Send these ranges from the store (anti-entropy, gap fill).
    Fetch(Vec<Range>),
}

/// Queue depth per peer; a full queue drops live frames (anti-entropy
/// repairs them) rather than slowing the rooms down.
const PEER_QUEUE: usize = 8192;

/// What rooms publish to; the mesh's side of [`Broker`]. Cheap to clone;
/// never blocks.
#[derive(Clone)]
pub struct MeshHandle {
    inner: Arc<HandleInner>,
}

struct HandleInner {
    peers: Arc<peers::Peers>,
    /// The node's shutdown: links of peers added later stop with it.
    shutdown: CancellationToken,
    metrics: Arc<Metrics>,
    /// Live connections, for file streams.
    conns: files::Conns,
}

impl MeshHandle {
    fn push(&self, peer: &str, cmd: PeerCmd) {
        if !self.inner.peers.push(peer, cmd) {
            self.inner.metrics.mesh_frames_dropped.inc();
        }
    }

    fn broadcast(&self, make: impl Fn() -> PeerCmd) {
        for peer in self.inner.peers.ids() {
            self.push(&peer, make());
        }
    }

    /// Links to a new member of the mesh (joined with a token) from now on.
    pub fn add_peer(&self, addr: PeerAddr) -> bool {
        self.inner.peers.add(addr, &self.inner.shutdown)
    }

    /// Takes a member out for good: its link stops, its connections are refused.
    /// Takes `id` out for good; `proof` (the CA's signed removal) is what
    /// it is told when it dials.
    pub fn remove_peer(&self, id: &str, proof: String) -> bool {
        self.inner.peers.remove(id, proof)
    }

    /// Round-trip time of each live connection.
    pub fn rtts(&self) -> BTreeMap<String, Duration> {
        let conns = self.inner.conns.lock().unwrap_or_else(|p| p.into_inner());
        conns.iter().filter(|(_, c)| c.close_reason().is_none()).map(|(p, c)| (p.clone(), c.rtt())).collect()
    }

    /// The peers this node links to, with their mesh addresses.
    pub fn peers(&self) -> Vec<PeerAddr> {
        self.inner.peers.addrs()
    }

    fn control(&self, frame: &Control) {
        match proto::encode(frame) {
            Ok(bytes) => self.broadcast(|| PeerCmd::Control(bytes.clone())),
            Err(e) => tracing::error!(error = %e, "cannot encode a control frame"),
        }
    }
}

impl MeshHandle {
    /// Pushes a file this node just took to every connected peer; returns
    /// how many had it durably, with the message `shared_by` (room,
    /// origin, seq) that shares it, by the time the first one did (0 or 1).
    pub async fn replicate_file(
        &self,
        files: &Arc<crate::store::files::FileStore>,
        blob: &crate::store::files::Blob,
        shared_by: Option<(String, String, u64)>,
    ) -> usize {
        files::replicate(&self.inner.conns, files, blob, shared_by).await
    }

    /// Fetches a file this node lacks from a peer that holds it.
    pub async fn fetch_file(&self, files: &crate::store::files::FileStore, hash: &str, max: u64) -> bool {
        files::fetch(&self.inner.conns, files, hash, max).await
    }

    pub(crate) fn conns(&self) -> files::Conns {
        self.inner.conns.clone()
    }
}

impl crate::accounts::ClaimNet for MeshHandle {
    fn send(&self, to: &str, msg: crate::core::claims::ClaimMsg) {
        match proto::encode(&Control::Claim(msg)) {
            Ok(bytes) => self.push(to, PeerCmd::Control(bytes)),
            Err(e) => tracing::error!(error = %e, "cannot encode a claim"),
        }
    }
}

impl Broker for MeshHandle {
    fn publish(&self, room: &str, event: PeerEvent) {
        match event {
            // Encoded once for every peer.
            PeerEvent::Messages(msgs) => match proto::encode_msgs(room, &msgs) {
                Ok(frames) => {
                    for frame in frames {
                        self.broadcast(|| PeerCmd::Lane { room: room.to_owned(), job: LaneJob::Frame(frame.clone()) });
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot encode messages for the mesh"),
            },
            PeerEvent::Want { peer, ranges } => match proto::encode(&Control::Want { room: room.to_owned(), ranges }) {
                Ok(bytes) => self.push(&peer, PeerCmd::Control(bytes)),
                Err(e) => tracing::error!(error = %e, "cannot encode a want"),
            },
            PeerEvent::Presence { name, online } => {
                self.control(&Control::Presence { room: room.to_owned(), name: name.to_string(), online })
            }
            PeerEvent::Typing { name } => {
                self.control(&Control::Typing { room: room.to_owned(), name: name.to_string() })
            }
        }
    }
}

/// What the mesh's tasks share.
pub(crate) struct MeshCtx {
    pub me: String,
    /// This node's WebSocket URL, told to peers.
    pub url: String,
    /// This node's rooms: the only way the mesh reaches them.
    pub rooms: Arc<dyn RoomEvents>,
    pub store: Store,
    pub cluster: Arc<Cluster>,
    pub metrics: Arc<Metrics>,
    pub faults: Faults,
    pub anti_entropy: Duration,
    /// Certificates of the mesh's nodes: what forwarded messages are checked with.
    pub book: Arc<sign::CertBook>,
    /// Claims of names and invitations: peers' messages go here.
    pub claims: crate::accounts::Registry,
    /// Live connections by peer (shared with the handle), for file streams.
    pub conns: files::Conns,
    /// The largest file this node takes, from clients or peers.
    pub max_file_bytes: u64,
    pub shutdown: CancellationToken,
    /// Who this node links to (shared with the handle).
    pub(crate) peers: Arc<peers::Peers>,
}

/// A mesh that is bound but not yet running (rooms need its handle first).
pub struct Mesh {
    endpoint: quinn::Endpoint,
    client: quinn::ClientConfig,
    handle: MeshHandle,
}

impl Mesh {
    /// Loads the certificates and binds the endpoint.
    pub fn bind(
        me: &str,
        config: MeshConfig,
        metrics: Arc<Metrics>,
        keys: &crate::trust::identity::NodeKeys,
        shutdown: CancellationToken,
    ) -> Result<Mesh, MeshError> {
        for p in &config.peers {
            meshchat_shared::limits::validate_node_id(&p.id).map_err(|e| MeshError::BadPeer(p.id.clone(), e))?;
            if p.id == me {
                return Err(MeshError::SelfPeer(p.id.clone()));
            }
        }
        let server = tls::server_config(&keys.identity, proto::alpn())?;
        let client = tls::client_config(&keys.identity, proto::alpn())?;
        let endpoint = quinn::Endpoint::server(server, config.listen).map_err(|e| MeshError::Bind(config.listen, e))?;
        let peers = Arc::new(peers::Peers::default());
        for p in &config.peers {
            peers.add(p.clone(), &shutdown);
        }
        let conns = files::Conns::default();
        let handle = MeshHandle { inner: Arc::new(HandleInner { peers, shutdown, metrics, conns }) };
        Ok(Mesh { endpoint, client, handle })
    }

    pub fn handle(&self) -> MeshHandle {
        self.handle.clone()
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.endpoint.local_addr().ok()
    }

    /// The peer table, for the context [`Mesh::start`] takes.
    pub(crate) fn peer_table(&self) -> Arc<peers::Peers> {
        self.handle.inner.peers.clone()
    }

    /// Starts the accept loop and one link task per peer.
    pub(crate) fn start(self, ctx: MeshCtx) -> MeshRunning {
        let ctx = Arc::new(ctx);
        let peers = ctx.peers.clone();
        peers.start(peers::Runner {
            endpoint: self.endpoint.clone(),
            client: self.client.clone(),
            ctx: Arc::downgrade(&ctx),
        });
        let accept = tokio::spawn(link::accept_loop(self.endpoint.clone(), ctx));
        MeshRunning { endpoint: self.endpoint, peers, accept }
    }
}

pub(crate) struct MeshRunning {
    endpoint: quinn::Endpoint,
    peers: Arc<peers::Peers>,
    accept: tokio::task::JoinHandle<()>,
}

impl MeshRunning {
    /// After the shutdown token: waits for links to say goodbye, then closes.
    pub async fn stop(self) {
        self.peers.tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(2), self.peers.tasks.wait()).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), self.accept).await;
        self.endpoint.close(quinn::VarInt::from_u32(0), b"stopping");
        let _ = tokio::time::timeout(Duration::from_secs(1), self.endpoint.wait_idle()).await;
    }
}
