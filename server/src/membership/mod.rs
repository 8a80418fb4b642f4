//! Who is in the mesh beyond the `--peers` a node started with: nodes that
//! joined with a token, and nodes removed for good.
//!
//! Changes are events of an internal room (`!mesh`), so they are durable,
//! replicated and caught up like any room; every node folds them the same
//! way and links to (or drops) the nodes they name without a restart. No
//! node has to be trusted for them: a joined node's certificate must chain
//! to the cluster CA, and a removal carries the CA's own signature.
//!
//! - [`invite`]: join tokens, and the exchange that signs a new node's key.

pub mod invite;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use meshchat_shared::{Message, NodeInfo, RoomVector};
use serde::{Deserialize, Serialize};

use crate::accounts::Registry;
use crate::mesh::cluster::Cluster;
use crate::mesh::{MeshHandle, PeerAddr};
use crate::room::{Hub, RoomHandle, system_log};
use crate::store::{Store, StoreError};
use crate::trust::sign::CertBook;
pub use invite::{JoinError, JoinRequest, JoinResponse, Seed, Token};

/// The internal room of membership changes (no client can name it).
pub const ROOM: &str = "!mesh";
const AUTHOR: &str = "meshchat";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum MemberEvent {
    /// A node joined with a token; `cert` (DER, base64url) is what the CA
    /// signed for it.
    Added { id: String, mesh: String, url: String, cert: String },
    /// Taken out for good; `sig` is the CA's over [`invite::removal_bytes`].
    Removed { id: String, at: u64, sig: String },
}

/// A node's removal as the CA signed it: what `POST /api/mesh/remove`
/// takes, and what a removed node is told when it dials a peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removal {
    pub id: String,
    pub at: u64,
    pub sig: String,
}

/// What an event changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added(Seed),
    /// `proof` is the [`Removal`] as JSON.
    Removed {
        id: String,
        proof: String,
    },
}

/// The membership events folded: any order gives the same result, and a
/// removal wins over any addition of the same node.
#[derive(Debug, Default)]
pub struct Roster {
    joined: BTreeMap<String, Seed>,
    removed: BTreeSet<String>,
}

impl Roster {
    /// Applies an event whose proof checks out against `book`.
    pub fn apply(&mut self, e: MemberEvent, book: &CertBook) -> Option<Change> {
        match e {
            MemberEvent::Added { id, mesh, url, cert } => {
                if self.removed.contains(&id) || self.joined.contains_key(&id) {
                    return None;
                }
                let der = B64.decode(&cert).ok()?;
                if let Err(e) = book.learn(&id, &der) {
                    tracing::warn!(node = %id, "a joined node's certificate is not the CA's: {e}");
                    return None;
                }
                let seed = Seed { id: id.clone(), mesh, url };
                self.joined.insert(id, seed.clone());
                Some(Change::Added(seed))
            }
            MemberEvent::Removed { id, at, sig } => {
                let sig = B64.decode(&sig).ok()?;
                if let Err(e) = book.verify_ca(&invite::removal_bytes(&id, at), &sig) {
                    tracing::warn!(node = %id, "a removal not signed by the CA: {e}");
                    return None;
                }
                self.joined.remove(&id);
                let proof = serde_json::to_string(&Removal { id: id.clone(), at, sig: B64.encode(sig) }).ok()?;
                self.removed.insert(id.clone()).then_some(Change::Removed { id, proof })
            }
        }
    }

    pub fn is_removed(&self, id: &str) -> bool {
        self.removed.contains(id)
    }
}

/// Where a node that joined keeps the nodes it was told of, to dial them
/// again after a restart (before the `!mesh` log has caught up).
pub fn seeds_path(data: &Path) -> PathBuf {
    data.join("mesh-seeds.json")
}

pub fn load_seeds(data: &Path) -> Vec<Seed> {
    std::fs::read(seeds_path(data)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

pub fn save_seeds(data: &Path, seeds: &[Seed]) -> std::io::Result<()> {
    std::fs::create_dir_all(data)?;
    std::fs::write(seeds_path(data), serde_json::to_vec_pretty(seeds).unwrap_or_default())
}

/// `host:port` to an address (a name is looked up).
pub async fn resolve(mesh: &str) -> Option<SocketAddr> {
    tokio::net::lookup_host(mesh).await.ok()?.next()
}

/// What the membership service works on.
pub struct MembershipCtx {
    pub me: String,
    /// This node's mesh address as others dial it.
    pub mesh_addr: String,
    /// Where `ca.key` and the invitations are, if this node holds them
    /// (read only: the node may not write there).
    pub certs: PathBuf,
    /// The node's data directory: which invitations were used is kept there.
    pub data: PathBuf,
    pub book: Arc<CertBook>,
    pub mesh: MeshHandle,
    pub cluster: Arc<Cluster>,
    pub registry: Registry,
    pub store: Store,
    /// A removed peer is no longer waited for after a restore.
    pub gate: crate::room::restore::RestoreGate,
}

pub struct Membership {
    ctx: MembershipCtx,
    log: RoomHandle,
    roster: Mutex<Roster>,
    /// Past the log as it was at the start: changes from now on are news
    /// (said at warn level; replays at the start are not).
    live: std::sync::atomic::AtomicBool,
}

impl Membership {
    /// Applies the `!mesh` log from the store, then follows it.
    pub async fn start(ctx: MembershipCtx, hub: &Arc<Hub>) -> Result<Arc<Membership>, StoreError> {
        let m = Arc::new(Membership {
            log: hub.room(ROOM),
            ctx,
            roster: Mutex::new(Roster::default()),
            live: std::sync::atomic::AtomicBool::new(false),
        });
        let applied = m.catch_up(RoomVector::new()).await?;
        m.live.store(true, std::sync::atomic::Ordering::Relaxed);
        tokio::spawn(follow(Arc::downgrade(&m), applied));
        tokio::spawn(heed_removal(Arc::downgrade(&m), m.ctx.cluster.removal_heard()));
        Ok(m)
    }

    fn roster(&self) -> std::sync::MutexGuard<'_, Roster> {
        self.roster.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn catch_up(&self, applied: RoomVector) -> Result<RoomVector, StoreError> {
        let mut changes = Vec::new();
        let applied =
            system_log::catch_up(&self.ctx.store, &self.log, applied, |m: &Message| {
                match serde_json::from_str::<MemberEvent>(&m.body) {
                    Ok(e) => changes.extend(self.roster().apply(e, &self.ctx.book)),
                    Err(e) => tracing::warn!(origin = %m.origin, seq = m.seq, "unreadable membership event: {e}"),
                }
            })
            .await?;
        for c in changes {
            self.enact(c).await;
        }
        Ok(applied)
    }

    /// Links to a new node, or drops a removed one, and tells browsers.
    async fn enact(&self, change: Change) {
        match change {
            Change::Added(seed) if seed.id != self.ctx.me => {
                let Some(addr) = resolve(&seed.mesh).await else {
                    tracing::warn!(node = %seed.id, mesh = %seed.mesh, "cannot resolve a joined node's mesh address");
                    return;
                };
                if self.ctx.mesh.add_peer(PeerAddr { id: seed.id.clone(), addr }) {
                    tracing::info!(node = %seed.id, %addr, "a node joined the mesh");
                }
                self.ctx.cluster.add_peer(NodeInfo { id: seed.id, url: seed.url, up: false });
            }
            Change::Added(_) => {}
            Change::Removed { id, .. } if id == self.ctx.me => {
                // Nothing written here could ever reach the mesh again.
                self.ctx.cluster.set_removed();
                self.ctx.gate.retire().await;
                tracing::error!(
                    "this node was removed from the mesh: it takes no writes and sends its clients to other nodes; stop it"
                );
            }
            Change::Removed { id, proof } => {
                self.ctx.mesh.remove_peer(&id, proof);
                self.ctx.cluster.remove_peer(&id);
                self.ctx.gate.forget(&id).await;
                if self.live.load(std::sync::atomic::Ordering::Relaxed) {
                    tracing::warn!(node = %id, "a node was removed from the mesh");
                } else {
                    tracing::debug!(node = %id, "a node removed from the mesh earlier");
                }
            }
        }
        let mut nodes = vec![self.ctx.me.clone()];
        nodes.extend(self.ctx.mesh.peers().into_iter().map(|p| p.id));
        self.ctx.registry.set_nodes(nodes);
    }

    async fn record(&self, e: MemberEvent) -> Result<(), JoinError> {
        let body = serde_json::to_string(&e).unwrap_or_default();
        system_log::append(&self.log, AUTHOR, body).await.map_err(|code| {
            JoinError::Unavailable(format!("the membership log did not take it: {}", code.describe()))
        })?;
        let change = self.roster().apply(e, &self.ctx.book);
        if let Some(c) = change {
            self.enact(c).await;
        }
        Ok(())
    }

    /// `POST /api/mesh/join`: a node with a token. `peer_ip` stands in for an
    /// unspecified address in what it says it listens on.
    pub async fn admit(&self, mut req: JoinRequest, peer_ip: std::net::IpAddr) -> Result<JoinResponse, JoinError> {
        let taken = req.id == self.ctx.me
            || self.ctx.mesh.peers().iter().any(|p| p.id == req.id)
            || self.roster().is_removed(&req.id);
        if taken {
            return Err(JoinError::Taken(req.id));
        }
        let (certs, used) = (self.ctx.certs.clone(), self.used_invitations());
        let admitted = {
            let req = req.clone();
            tokio::task::spawn_blocking(move || invite::admit(&certs, &used, &req, crate::infra::clock::now_ms()))
                .await
                .map_err(|e| JoinError::Unavailable(e.to_string()))??
        };
        req.mesh = with_host(&req.mesh, peer_ip);
        let der =
            crate::trust::tls::parse_certs(admitted.cert_pem.as_bytes()).map_err(|e| JoinError::Certs(e.into()))?;
        let cert = B64.encode(der.first().map(|c| c.as_ref()).unwrap_or_default());
        let event = MemberEvent::Added { id: req.id.clone(), mesh: req.mesh.clone(), url: req.url.clone(), cert };
        self.record(event).await?;
        Ok(admitted.respond(self.seeds(&req.id)))
    }

    fn used_invitations(&self) -> PathBuf {
        self.ctx.data.join("invitations-used")
    }

    /// Whether an invitation `key` waits here (`meshchat invite-node` asks
    /// the node it names, so that a token this node cannot take is never
    /// handed out).
    pub fn invitation_waits(&self, key: &str) -> bool {
        invite::is_waiting(&self.ctx.certs, &self.used_invitations(), key)
    }

    /// Every node but `except`, as a newcomer dials them.
    fn seeds(&self, except: &str) -> Vec<Seed> {
        let urls: BTreeMap<String, String> = self.ctx.cluster.nodes().into_iter().map(|n| (n.id, n.url)).collect();
        let url = |id: &str| urls.get(id).cloned().unwrap_or_default();
        let mut out = vec![Seed { id: self.ctx.me.clone(), mesh: self.ctx.mesh_addr.clone(), url: url(&self.ctx.me) }];
        for p in self.ctx.mesh.peers().into_iter().filter(|p| p.id != except) {
            out.push(Seed { url: url(&p.id), id: p.id, mesh: p.addr.to_string() });
        }
        out
    }

    /// `POST /api/mesh/remove`: a removal the CA signed.
    pub async fn remove(&self, id: String, at: u64, sig: String) -> Result<(), JoinError> {
        let bytes = B64.decode(&sig).map_err(|_| JoinError::BadMac)?;
        self.ctx.book.verify_ca(&invite::removal_bytes(&id, at), &bytes).map_err(|_| JoinError::BadMac)?;
        if self.roster().is_removed(&id) {
            return Ok(());
        }
        self.record(MemberEvent::Removed { id, at, sig }).await
    }
}

/// `0.0.0.0:9084` said by a node at 10.0.0.4 → `10.0.0.4:9084`.
fn with_host(mesh: &str, ip: std::net::IpAddr) -> String {
    match mesh.parse::<SocketAddr>() {
        Ok(a) if a.ip().is_unspecified() => SocketAddr::new(ip, a.port()).to_string(),
        _ => mesh.to_owned(),
    }
}

/// A peer refused this node as removed and gave the CA's signed removal:
/// checked like any removal, and recorded (so that a restart remembers).
async fn heed_removal(m: std::sync::Weak<Membership>, mut heard: tokio::sync::watch::Receiver<Option<String>>) {
    while heard.changed().await.is_ok() {
        let Some(m) = m.upgrade() else { return };
        let proof = heard.borrow_and_update().clone();
        let Some(r) = proof.and_then(|p| serde_json::from_str::<Removal>(&p).ok()) else { continue };
        if r.id != m.ctx.me {
            continue;
        }
        if let Err(e) = m.remove(r.id, r.at, r.sig).await {
            tracing::warn!("a peer says this node was removed, but its proof does not hold: {e}");
        }
    }
}

async fn follow(m: std::sync::Weak<Membership>, mut applied: RoomVector) {
    let Some(mut status) = m.upgrade().map(|m| m.log.watch()) else { return };
    while status.changed().await.is_ok() {
        let Some(m) = m.upgrade() else { return };
        match m.catch_up(applied.clone()).await {
            Ok(v) => applied = v,
            Err(e) => tracing::warn!(error = %e, "cannot read the membership log"),
        }
    }
}

/// `meshchat node --join TOKEN`: on first start, gets this node's
/// certificate with the token and keeps the nodes it was told of; later
/// starts (certificate and seeds in place) go straight on.
pub async fn join_once(
    token: &str,
    id: &str,
    certs: &Path,
    data: &Path,
    mesh: &str,
    url: &str,
) -> Result<(), JoinError> {
    let have_cert = crate::trust::certs::node_cert_path(certs, id).exists();
    if have_cert && seeds_path(data).exists() {
        return Ok(());
    }
    let token = Token::decode(token)?;
    if token.id != id {
        return Err(JoinError::WrongNode(token.id));
    }
    if have_cert {
        return Err(JoinError::Io(
            crate::trust::certs::node_cert_path(certs, id),
            std::io::Error::new(std::io::ErrorKind::AlreadyExists, "this node has a certificate already"),
        ));
    }
    let seeds = invite::join(&token, certs, mesh, url).await?;
    save_seeds(data, &seeds).map_err(|e| JoinError::Io(seeds_path(data), e))?;
    tracing::info!(nodes = seeds.len(), "joined the mesh");
    Ok(())
}

/// The nodes a joined node was told of, as peers to dial (not `me`).
pub async fn seed_peers(data: &Path, me: &str) -> Vec<PeerAddr> {
    let mut out = Vec::new();
    for s in load_seeds(data).into_iter().filter(|s| s.id != me) {
        match resolve(&s.mesh).await {
            Some(addr) => out.push(PeerAddr { id: s.id, addr }),
            None => tracing::warn!(node = %s.id, mesh = %s.mesh, "cannot resolve a node's mesh address"),
        }
    }
    out
}

/// `meshchat remove-node`: signs the removal with the CA key in `certs` and
/// hands it to the node at `url`, which records it for the whole mesh.
pub async fn remove_node(certs: &Path, id: &str, url: &str) -> Result<(), JoinError> {
    let at = crate::infra::clock::now_ms();
    let sig = crate::trust::certs::ca_sign(certs, &invite::removal_bytes(id, at))?;
    let body = serde_json::json!({ "id": id, "at": at, "sig": B64.encode(sig) }).to_string();
    let r = crate::infra::http::post_json(&format!("{}/api/mesh/remove", url.trim_end_matches('/')), &body).await?;
    match r.status {
        204 => Ok(()),
        _ => Err(invite::refusal(&r)),
    }
}
