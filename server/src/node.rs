//! A running node: storage, rooms, sessions and the HTTP listener, wired
//! together, and the order in which they stop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshchat_shared::NodeInfo;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::accounts::{Accounts, AccountsConfig, ClaimNet, Registry};
use crate::core::restore::Restore;
use crate::edge::guard::{Guard, Limits};
use crate::edge::http::{self, AppState, serve};
use crate::edge::session::{SessionConfig, SessionCtx};
use crate::infra::metrics::Metrics;
use crate::mesh::cluster::Cluster;
use crate::mesh::{Mesh, MeshConfig, MeshCtx, MeshError};
use crate::room::restore::{Driver, RestoreGate};
use crate::room::{Broker, Hub, RoomConfig, RoomCtx, RoomIndex, Rooms, Sign};
use crate::store::{Store, StoreError, Sync};
use crate::trust::identity::NodeKeys;

#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub id: String,
    pub http: SocketAddr,
    pub data: PathBuf,
    /// The built web app to serve at `/`.
    pub web: Option<PathBuf>,
    /// This node's WebSocket URL as browsers reach it; derived from `http` if unset.
    pub public_url: Option<String>,
    /// Who the node is to push services (VAPID `sub`: a `mailto:` or
    /// https URL); the public URL by default.
    pub push_subject: Option<String>,
    pub sync: Sync,
    pub session: SessionConfig,
    pub room: RoomConfig,
    /// tungstenite's initial read buffer per connection (it grows for larger
    /// frames): reserved for every connection, so it sets the idle cost.
    pub ws_read_buffer: usize,
    /// Peers to replicate with; `None` for a single node.
    pub mesh: Option<MeshConfig>,
    /// Accept WebSockets (`false`: HTTP only, as behind a proxy that cannot
    /// pass them; clients fall back to the long poll).
    pub websocket: bool,
    /// What one client address may make the node spend.
    pub limits: Limits,
    /// Who may register, whether guests may chat, how long sessions last.
    pub accounts: AccountsConfig,
    /// Origins allowed to open WebSockets and post; empty: every node's page.
    pub allowed_origins: Vec<String>,
    /// Serve HTTPS and wss:// with this certificate.
    pub tls: Option<crate::edge::http::tls::TlsFiles>,
    /// The largest file one may share.
    pub max_file_bytes: u64,
}

impl NodeConfig {
    /// A single node with defaults for everything but where it lives.
    pub fn new(id: &str, http: SocketAddr, data: PathBuf) -> Self {
        NodeConfig {
            id: id.to_owned(),
            http,
            data,
            web: None,
            public_url: None,
            push_subject: None,
            sync: Sync::Full,
            session: SessionConfig::default(),
            room: RoomConfig::default(),
            ws_read_buffer: 1024,
            mesh: None,
            websocket: true,
            limits: Limits::default(),
            accounts: AccountsConfig::default(),
            allowed_origins: Vec::new(),
            tls: None,
            max_file_bytes: crate::store::files::DEFAULT_MAX_FILE_BYTES,
        }
    }
}

#[derive(Debug, Error)]
pub enum NodeError {
    #[error("invalid node id {0:?}: {1}")]
    BadId(String, meshchat_shared::Invalid),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("HTTP server failed: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Mesh(#[from] MeshError),
    #[error("this node's keys: {0}")]
    Keys(#[from] crate::trust::identity::KeyError),
    #[error("HTTPS: {0}")]
    Tls(#[source] crate::trust::tls::TlsError),
    #[error(
        "--http {0} listens on every address, so this node cannot tell the address browsers reach it at: \
         give --public-url (wss://chat.example.org/ws, or ws://… without TLS); the node list and the pages \
         allowed to post are made from it"
    )]
    NoPublicUrl(SocketAddr),
}

/// A node listening on every address must be told its public URL:
/// `ws://0.0.0.0/ws` would be its address in every node list (and what a
/// joining node tells the mesh), and the only page allowed to post to it.
pub fn check_public_url(http: SocketAddr, public_url: Option<&str>) -> Result<(), NodeError> {
    if http.ip().is_unspecified() && public_url.is_none() {
        return Err(NodeError::NoPublicUrl(http));
    }
    Ok(())
}

/// How long a stop waits for sessions to close before dropping them.
const STOP_GRACE: Duration = Duration::from_secs(5);

pub struct Node {
    http_addr: SocketAddr,
    mesh_addr: Option<SocketAddr>,
    public_url: String,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), NodeError>>,
}

impl Node {
    /// Opens storage, binds the listener and starts serving.
    pub async fn start(cfg: NodeConfig) -> Result<Node, NodeError> {
        meshchat_shared::limits::validate_node_id(&cfg.id).map_err(|e| NodeError::BadId(cfg.id.clone(), e))?;
        check_public_url(cfg.http, cfg.public_url.as_deref())?;
        let metrics = Arc::new(Metrics::default());
        // Connections never take the descriptors the rest of the node needs.
        let fds = serve::raise_fd_limit();
        let mut limits = cfg.limits.clone();
        limits.max_connections = limits.max_connections.min(fds.saturating_sub(serve::FD_RESERVE) as usize).max(1);
        let guard = Guard::new(limits);
        let store = Store::open(&cfg.data, &cfg.id, cfg.sync, metrics.clone())?;
        let listener = TcpListener::bind(cfg.http).await.map_err(|e| NodeError::Bind(cfg.http, e))?;
        let http_addr = listener.local_addr().map_err(|e| NodeError::Bind(cfg.http, e))?;
        let scheme = if cfg.tls.is_some() { "wss" } else { "ws" };
        let public_url = cfg.public_url.clone().unwrap_or_else(|| format!("{scheme}://{http_addr}/ws"));
        tracing::info!(node = %cfg.id, %http_addr, "listening");

        let shutdown = CancellationToken::new();
        let tls = match cfg.tls.clone() {
            Some(files) => Some(http::tls::acceptor(files, shutdown.clone()).map_err(NodeError::Tls)?),
            None => None,
        };
        let keys = Arc::new(match &cfg.mesh {
            Some(m) => NodeKeys::load(&cfg.id, &m.certs)?,
            None => NodeKeys::local(&cfg.id, &cfg.data)?,
        });
        // Certificates of nodes learned from peers in earlier runs.
        for (node, der) in store.node_certs().await? {
            if let Err(e) = keys.book.learn(&node, &der) {
                tracing::warn!(node, "a stored certificate is no longer trusted: {e}");
            }
        }
        let mesh = match &cfg.mesh {
            Some(m) => Some(Mesh::bind(&cfg.id, m.clone(), metrics.clone(), &keys, shutdown.clone())?),
            None => None,
        };
        let mesh_addr = mesh.as_ref().and_then(Mesh::local_addr);
        let peer_ids: Vec<String> = cfg.mesh.iter().flat_map(|m| &m.peers).map(|p| p.id.clone()).collect();
        let peers = peer_ids.iter().map(|id| NodeInfo { id: id.clone(), url: String::new(), up: false });
        let cluster =
            Arc::new(Cluster::new(NodeInfo { id: cfg.id.clone(), url: public_url.clone(), up: true }, peers.collect()));
        // Every stored room takes part in anti-entropy, running or not.
        let index = Arc::new(RoomIndex::new(store.vectors().await?, store.room_names().await?));
        for (room, meta) in store.room_metas().await? {
            index.set_meta(&room, meta);
        }
        // Restored from a backup: no write until the peers gave back ours.
        let restoring = cfg.mesh.is_some() && crate::store::backup::was_restored(&cfg.data);
        let restore = match &cfg.mesh {
            Some(m) if restoring => Restore::restoring(m.peers.iter().map(|p| p.id.clone())),
            _ => Restore::open(),
        };
        let gate = RestoreGate::start(
            restore,
            Driver {
                index: index.clone(),
                me: cfg.id.clone(),
                marker: crate::store::backup::marker_path(&cfg.data),
                shutdown: shutdown.clone(),
            },
        );
        // Web Push hears of this node's messages; its sender starts once the
        // accounts (whose subscriptions it reads) have.
        let (pusher, push_rx) = crate::push::channel(metrics.clone());
        let hub = Hub::new(RoomCtx {
            on_commit: Some(Arc::new(pusher)),
            node: cfg.id.as_str().into(),
            store: store.clone(),
            metrics: metrics.clone(),
            config: cfg.room.clone(),
            broker: mesh.as_ref().map(|m| Arc::new(m.handle()) as Arc<dyn Broker>),
            // Only peers need signatures to pass messages on.
            signer: mesh.as_ref().map(|_| keys.signer.clone() as Arc<dyn Sign>),
            index: index.clone(),
            gate: gate.clone(),
            refusals: std::sync::Mutex::new(crate::infra::logs::EveryKey::new(Duration::from_secs(60))),
            shutdown: shutdown.clone(),
            retention: tokio::sync::watch::Sender::new(0),
        });
        let mut nodes = vec![cfg.id.clone()];
        nodes.extend(peer_ids);
        let net = mesh.as_ref().map(|m| Arc::new(m.handle()) as Arc<dyn ClaimNet>);
        let registry = Registry::start(&cfg.id, nodes, store.clone(), net);
        let membership_registry = registry.clone();
        let accounts =
            Accounts::start(cfg.accounts.clone(), &cfg.id, keys.clone(), registry.clone(), &hub, store.clone()).await?;
        // Before anyone is served: a node back from a long absence shows
        // nothing past the policy.
        crate::room::retention::sweep(&hub).await?;
        crate::room::retention::start(&hub, shutdown.clone());
        crate::push::start(
            push_rx,
            crate::push::PushCtx {
                accounts: accounts.clone(),
                store: store.clone(),
                metrics: metrics.clone(),
                subject: cfg.push_subject.clone().unwrap_or_else(|| crate::push::subject_of(&public_url)),
                shutdown: shutdown.clone(),
            },
        );
        let mesh_handle = mesh.as_ref().map(Mesh::handle);
        let mesh_conns = mesh_handle.as_ref().map(crate::mesh::MeshHandle::conns).unwrap_or_default();
        let mesh = mesh.map(|m| {
            let ae = cfg.mesh.as_ref().map(|c| (c.faults, c.anti_entropy));
            let (faults, anti_entropy) = ae.unwrap_or_default();
            let peers = m.peer_table();
            m.start(MeshCtx {
                me: cfg.id.clone(),
                url: public_url.clone(),
                rooms: Arc::new(Rooms { hub: hub.clone(), index, gate: gate.clone() }),
                store: store.clone(),
                cluster: cluster.clone(),
                metrics: metrics.clone(),
                faults,
                anti_entropy,
                book: keys.book.clone(),
                claims: registry,
                conns: mesh_conns.clone(),
                max_file_bytes: cfg.max_file_bytes,
                shutdown: shutdown.clone(),
                peers,
            })
        });
        let membership = match (&mesh_handle, &cfg.mesh) {
            (Some(handle), Some(m)) => {
                let ctx = crate::membership::MembershipCtx {
                    me: cfg.id.clone(),
                    mesh_addr: m.listen.to_string(),
                    certs: m.certs.clone(),
                    data: cfg.data.clone(),
                    book: keys.book.clone(),
                    mesh: handle.clone(),
                    cluster: cluster.clone(),
                    registry: membership_registry,
                    gate: gate.clone(),
                    store: store.clone(),
                };
                Some(crate::membership::Membership::start(ctx, &hub).await?)
            }
            _ => None,
        };
        let sessions = Arc::new(SessionCtx {
            hub: hub.clone(),
            accounts: accounts.clone(),
            guard: guard.clone(),
            store: store.clone(),
            cluster: cluster.clone(),
            metrics: metrics.clone(),
            shutdown: shutdown.clone(),
            config: cfg.session.clone(),
        });
        let tracker = TaskTracker::new();
        let app = Arc::new(AppState {
            guard: guard.clone(),
            accounts,
            hub,
            store: store.clone(),
            cluster,
            metrics: metrics.clone(),
            sessions,
            tracker: tracker.clone(),
            started: Instant::now(),
            shutdown: shutdown.clone(),
            ws_read_buffer: cfg.ws_read_buffer,
            websocket: cfg.websocket,
            tls: tls.is_some(),
            allowed_origins: cfg.allowed_origins.clone(),
            inline_scripts: http::app_script_hashes(cfg.web.as_deref()),
            mesh: mesh_handle,
            membership,
            max_file_bytes: cfg.max_file_bytes,
            oidc: cfg.accounts.sso.clone().map(|c| Arc::new(crate::trust::oidc::Oidc::new(c))),
        });
        let metrics_for_http = metrics;
        http::start_picture_sweeper(&app);
        let router = http::router(app, cfg.web.clone());
        let token = shutdown.clone();
        let sweeper = guard.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                sweeper.sweep();
            }
        });
        let task = tokio::spawn(async move {
            let server = tokio::spawn(serve::serve(listener, tls, router, guard, metrics_for_http, token.clone()));
            token.cancelled().await;
            // Sessions see the same token and close with 1012 after writing
            // what they had queued.
            tracker.close();
            if tokio::time::timeout(STOP_GRACE, tracker.wait()).await.is_err() {
                tracing::warn!("some sessions did not close in time");
            }
            // Peers hear a goodbye, so this node's users get a grace period.
            if let Some(mesh) = mesh {
                mesh.stop().await;
            }
            let _ = tokio::time::timeout(STOP_GRACE, server).await;
            store.flush().await?;
            store.close().await;
            Ok(())
        });
        Ok(Node { http_addr, mesh_addr, public_url, shutdown, task })
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Where the mesh endpoint listens, if this node has peers.
    pub fn mesh_addr(&self) -> Option<SocketAddr> {
        self.mesh_addr
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// Starts a clean stop; [`wait`](Self::wait) for it to finish.
    pub fn stop(&self) {
        self.shutdown.cancel();
    }

    /// Resolves when the node has stopped and storage is flushed.
    pub async fn wait(self) -> Result<(), NodeError> {
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(NodeError::Serve(std::io::Error::other(e.to_string()))),
        }
    }
}
