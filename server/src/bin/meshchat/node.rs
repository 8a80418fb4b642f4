//! `meshchat node`: its flags and how they become a [`NodeConfig`].

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use meshchat::edge::session::RateConfig;
use meshchat::mesh::{Faults, MeshConfig, PeerAddr};
use meshchat::store::Sync;
use meshchat::{Node, NodeConfig};

#[derive(Args)]
pub struct NodeArgs {
    /// Settings from a TOML file: a key per flag (`max_file_bytes = 1000`);
    /// MESHCHAT_<FLAG> variables come next, the command line last and wins.
    #[arg(long)]
    config: Option<PathBuf>,
    /// This node's id: 1-32 of a-z, 0-9 and -.
    #[arg(long)]
    id: String,
    /// Where the WebSocket, the API and the web app listen.
    #[arg(long, default_value = "127.0.0.1:8081")]
    http: SocketAddr,
    /// Directory of this node's database.
    #[arg(long)]
    data: PathBuf,
    /// Serve the web app from this directory instead of the one built into
    /// the binary (a release build carries dist/ as it was when compiled).
    #[arg(long)]
    web: Option<PathBuf>,
    /// This node's WebSocket URL as browsers reach it (default: ws://<http>/ws,
    /// or wss:// with --tls-cert).
    #[arg(long)]
    public_url: Option<String>,
    /// Serve HTTPS and wss:// on --http with this certificate chain (PEM);
    /// it is read again when the file changes.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// How often the certificate files are checked for a change.
    #[arg(long, default_value_t = 10_000, hide = true)]
    tls_reload_ms: u64,
    /// Durability of each commit: full survives power loss, normal a killed process.
    #[arg(long, value_enum, default_value_t = Sync::Full)]
    sync: Sync,
    /// Frames per second a connection may send, sustained.
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
    /// Frames a connection may send in a burst.
    #[arg(long, default_value_t = 200.0)]
    burst: f64,
    /// Frames queued per connection before it counts as too slow and is closed.
    #[arg(long, default_value_t = 1024)]
    queue: usize,
    /// A resume lacking more messages than this gets the latest 50 and gap.
    #[arg(long, default_value_t = 1000)]
    catchup_limit: u64,
    /// Commands queued per room before clients get `unavailable`.
    #[arg(long, default_value_t = 4096)]
    room_mailbox: usize,
    /// A room with nobody in it and nothing in flight frees its memory after
    /// this long (it loads again from the store when next used).
    #[arg(long, default_value_t = 30_000)]
    room_idle_ms: u64,
    /// Where this node's mesh (QUIC) endpoint listens; without it, a single node.
    #[arg(long)]
    mesh: Option<SocketAddr>,
    /// The other nodes: id=host:port, comma-separated.
    #[arg(long, value_delimiter = ',')]
    peers: Vec<String>,
    /// Join a running mesh with a token from `meshchat invite-node` (once:
    /// later starts find the certificate in --certs and go straight on).
    #[arg(long, requires = "mesh")]
    join: Option<String>,
    /// The directory with ca.pem, <id>.pem and <id>.key.
    #[arg(long, default_value = "certs")]
    certs: PathBuf,
    /// Fault injection: delay every outgoing mesh frame this long ...
    #[arg(long, default_value_t = 0)]
    mesh_delay_ms: u64,
    /// ... plus or minus up to this much ...
    #[arg(long, default_value_t = 0)]
    mesh_jitter_ms: u64,
    /// ... and drop this fraction (0.0-1.0) of them; the mesh recovers.
    #[arg(long, default_value_t = 0.0)]
    mesh_drop: f64,
    /// How often connected nodes compare what they hold.
    #[arg(long, default_value_t = 2000)]
    anti_entropy_ms: u64,
    /// A connection that ended without leaving, and the users of a node that
    /// went away, stay online this long, so that a phone changing networks
    /// or a browser moving to another node is not seen as leaving.
    #[arg(long, default_value_t = 5000)]
    presence_grace_ms: u64,
    /// Refuse WebSockets (HTTP only, as behind a proxy that cannot pass
    /// them): clients use the long poll and POST.
    #[arg(long)]
    no_websocket: bool,
    /// A peer's message stamped further ahead of this node's clock than
    /// this is refused until the clock catches up (it would drag every later
    /// stamp into the future).
    #[arg(long, default_value_t = 60_000)]
    max_clock_drift_ms: u64,
    /// For tests of clock skew: run this node's clock this far off the system's.
    #[arg(long, default_value_t = 0, hide = true, allow_hyphen_values = true)]
    clock_offset_ms: i64,
    /// Take guests: a name-only hello as in protocol version 1, for names
    /// that belong to no account (demos, kiosks, old clients).
    #[arg(long)]
    guests: bool,
    /// Who may create an account (the mesh's first account always may).
    #[arg(long, value_enum, default_value_t = meshchat::accounts::Registration::Open)]
    registration: meshchat::accounts::Registration,
    /// What a person wrote when they delete their account: kept under
    /// their name, or erased from every room on every node. Give every
    /// node the same.
    #[arg(long, value_enum, default_value_t = meshchat::accounts::DeletedMessages::Keep)]
    deleted_account_messages: meshchat::accounts::DeletedMessages,
    /// Sessions from register and login last this long.
    #[arg(long, default_value_t = 30)]
    session_days: u64,
    /// Accounts one address may register per hour.
    #[arg(long, default_value_t = 20)]
    registrations_per_hour: u32,
    /// API tokens one account may make at once (then one every 6 minutes;
    /// at most 50 live).
    #[arg(long, default_value_t = 10)]
    tokens_at_once: u32,
    /// The mesh's VAPID key for Web Push: a P-256 private key, PKCS#8 PEM
    /// (`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`),
    /// the same file on every node. Without it the mesh makes one.
    #[arg(long)]
    vapid_key: Option<PathBuf>,
    /// Single sign-on: the OpenID Connect issuer people sign in through
    /// (`https://id.example.org/realms/main`); with the client id and secret
    /// the provider gave this mesh. Its redirect URI is this node's
    /// `https://<host>/api/sso/callback`.
    #[arg(long, requires_all = ["oidc_client_id", "oidc_client_secret_file"])]
    oidc_issuer: Option<String>,
    #[arg(long)]
    oidc_client_id: Option<String>,
    /// A file holding the client secret (kept out of the command line).
    #[arg(long)]
    oidc_client_secret_file: Option<PathBuf>,
    /// What the sign-in button says: "Sign in with <label>".
    #[arg(long, default_value = "single sign-on")]
    oidc_label: String,
    /// Who this node is to push services: `mailto:you@example.com` or an
    /// https URL (default: the node's public page).
    #[arg(long)]
    push_subject: Option<String>,
    /// Push endpoints may be http:// and private addresses: for a local
    /// push service in tests, never in production (the node posts to them).
    #[arg(long, hide = true)]
    push_any_endpoint: bool,
    /// Origins allowed to open WebSockets and post, comma-separated
    /// (default: every node's own page).
    #[arg(long, value_delimiter = ',')]
    allowed_origins: Vec<String>,
    #[command(flatten)]
    limits: LimitArgs,
}

/// What one client, or all of them, may make a node spend.
#[derive(Args)]
struct LimitArgs {
    /// Bytes queued for a connection before it counts as too slow and is closed (1008).
    #[arg(long, default_value_t = 8 << 20)]
    queue_bytes: usize,
    /// Open connections in all (never more than the open-file limit allows).
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// Open connections from one address.
    #[arg(long, default_value_t = 1_000)]
    max_connections_per_ip: usize,
    /// Long polls waiting at once from one address.
    #[arg(long, default_value_t = 32)]
    polls_per_ip: usize,
    /// HTTP writes and polls per second from one address ...
    #[arg(long, default_value_t = 50.0)]
    http_rate: f64,
    /// ... and the burst allowed.
    #[arg(long, default_value_t = 200)]
    http_burst: u32,
    /// Rooms one address may create per hour.
    #[arg(long, default_value_t = 1_000)]
    rooms_per_hour: u32,
    /// Rooms this node's clients may create, in all.
    #[arg(long, default_value_t = 1_000_000)]
    max_rooms: usize,
    /// A request's headers must arrive within this.
    #[arg(long, default_value_t = 10_000)]
    header_timeout_ms: u64,
    /// A WebSocket must say hello within this.
    #[arg(long, default_value_t = 10_000)]
    hello_timeout_ms: u64,
    /// A WebSocket that sends no frame for this long is closed (clients ping every minute).
    #[arg(long, default_value_t = 300_000)]
    idle_timeout_ms: u64,
    /// The largest file one may share, in bytes (25 MiB).
    #[arg(long, default_value_t = meshchat::store::files::DEFAULT_MAX_FILE_BYTES)]
    max_file_bytes: u64,
}

impl LimitArgs {
    fn apply(&self, cfg: &mut NodeConfig) {
        cfg.session.queue_bytes = self.queue_bytes.max(64 * 1024);
        cfg.max_file_bytes = self.max_file_bytes;
        cfg.session.hello_timeout = Duration::from_millis(self.hello_timeout_ms.max(100));
        cfg.session.idle_timeout = Duration::from_millis(self.idle_timeout_ms.max(1_000));
        cfg.limits = meshchat::edge::guard::Limits {
            max_connections: self.max_connections.max(1),
            max_connections_per_ip: self.max_connections_per_ip.max(1),
            polls_per_ip: self.polls_per_ip.max(1),
            http_rate: self.http_rate.max(0.001),
            http_burst: self.http_burst.max(1),
            rooms_per_hour: self.rooms_per_hour.max(1),
            max_rooms: self.max_rooms.max(1),
            header_timeout: Duration::from_millis(self.header_timeout_ms.max(100)),
        };
    }
}

fn parse_peers(specs: &[String]) -> anyhow::Result<Vec<PeerAddr>> {
    specs
        .iter()
        .filter(|s| !s.is_empty())
        .map(|spec| {
            let (id, addr) = spec.split_once('=').with_context(|| format!("peer {spec:?} is not id=host:port"))?;
            let addr = addr
                .to_socket_addrs()
                .with_context(|| format!("cannot resolve {addr:?}"))?
                .next()
                .with_context(|| format!("no address for {addr:?}"))?;
            Ok(PeerAddr { id: id.to_owned(), addr })
        })
        .collect()
}

pub async fn run_node(args: NodeArgs) -> anyhow::Result<()> {
    let sso = sso_config(&args)?;
    let mut cfg = NodeConfig::new(&args.id, args.http, args.data.clone());
    cfg.web = args.web;
    cfg.public_url = args.public_url;
    if let (Some(cert), Some(key)) = (args.tls_cert, args.tls_key) {
        let reload_every = Duration::from_millis(args.tls_reload_ms.max(100));
        cfg.tls = Some(meshchat::edge::http::tls::TlsFiles { cert, key, reload_every });
    }
    let scheme = if cfg.tls.is_some() { "https" } else { "http" };
    cfg.sync = args.sync;
    cfg.session.rate = RateConfig { per_sec: args.rate, burst: args.burst };
    cfg.session.queue = args.queue;
    cfg.room.core.catchup_limit = args.catchup_limit;
    cfg.room.core.grace_ms = args.presence_grace_ms;
    cfg.room.mailbox = args.room_mailbox.max(1);
    cfg.room.idle_after = Duration::from_millis(args.room_idle_ms.max(10));
    cfg.websocket = !args.no_websocket;
    args.limits.apply(&mut cfg);
    cfg.accounts.guests = args.guests;
    cfg.accounts.deleted_messages = args.deleted_account_messages;
    cfg.accounts.registration = args.registration;
    cfg.accounts.session_ttl = Duration::from_secs(args.session_days.max(1) * 86_400);
    cfg.accounts.registrations_per_hour = args.registrations_per_hour.max(1);
    cfg.accounts.tokens_at_once = args.tokens_at_once.max(1);
    if let Some(path) = &args.vapid_key {
        cfg.accounts.vapid_pkcs8 = Some(read_vapid(path)?);
    }
    cfg.accounts.push_any_endpoint = args.push_any_endpoint;
    cfg.accounts.sso = sso;
    cfg.push_subject = args.push_subject.clone();
    cfg.allowed_origins = args.allowed_origins.iter().filter(|o| !o.is_empty()).cloned().collect();
    cfg.room.core.max_drift_ms = args.max_clock_drift_ms;
    meshchat::infra::clock::set_offset_ms(args.clock_offset_ms);
    if !(0.0..=1.0).contains(&args.mesh_drop) {
        bail!("--mesh-drop must be between 0.0 and 1.0");
    }
    meshchat::node::check_public_url(args.http, cfg.public_url.as_deref())?;
    if let (Some(token), Some(mesh)) = (&args.join, args.mesh) {
        let url = cfg
            .public_url
            .clone()
            .unwrap_or_else(|| format!("{}://{}/ws", if scheme == "https" { "wss" } else { "ws" }, args.http));
        meshchat::membership::join_once(token, &args.id, &args.certs, &args.data, &mesh.to_string(), &url).await?;
    }
    // One list of every node may serve every node's config: a node skips itself.
    let mut peers: Vec<PeerAddr> = parse_peers(&args.peers)?.into_iter().filter(|p| p.id != args.id).collect();
    for seed in meshchat::membership::seed_peers(&args.data, &args.id).await {
        if !peers.iter().any(|p| p.id == seed.id) {
            peers.push(seed);
        }
    }
    cfg.mesh = match args.mesh {
        Some(listen) => Some(MeshConfig {
            listen,
            peers,
            certs: args.certs.clone(),
            faults: Faults { delay_ms: args.mesh_delay_ms, jitter_ms: args.mesh_jitter_ms, drop: args.mesh_drop },
            anti_entropy: Duration::from_millis(args.anti_entropy_ms.max(50)),
        }),
        None if !args.peers.is_empty() => {
            bail!("--peers needs --mesh (the address this node's mesh listens on)")
        }
        None => None,
    };
    let node = Node::start(cfg).await?;
    let mesh = node.mesh_addr().map(|a| format!(", mesh on {a}")).unwrap_or_default();
    println!(
        "meshchat node {} listening on {scheme}://{} (WebSocket {}){mesh}, data in {}",
        args.id,
        node.http_addr(),
        node.public_url(),
        args.data.display()
    );
    wait_for_signal().await;
    eprintln!("meshchat node {}: stopping", args.id);
    node.stop();
    node.wait().await?;
    Ok(())
}

/// Ctrl-C or SIGTERM.
pub async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// A PKCS#8 PEM file's key, checked as a P-256 signing key.
fn sso_config(args: &NodeArgs) -> anyhow::Result<Option<meshchat::trust::oidc::OidcConfig>> {
    let (Some(issuer), Some(client_id), Some(secret)) =
        (&args.oidc_issuer, &args.oidc_client_id, &args.oidc_client_secret_file)
    else {
        return Ok(None);
    };
    let client_secret = std::fs::read_to_string(secret)
        .map_err(|e| anyhow::anyhow!("--oidc-client-secret-file {}: {e}", secret.display()))?
        .trim()
        .to_owned();
    let label = args.oidc_label.clone();
    Ok(Some(meshchat::trust::oidc::OidcConfig {
        issuer: issuer.clone(),
        client_id: client_id.clone(),
        client_secret,
        label,
    }))
}

fn read_vapid(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    use base64::Engine;
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .with_context(|| format!("{}: not a PEM file", path.display()))?;
    meshchat::trust::webpush::Vapid::from_pkcs8(&der).with_context(|| format!("{}", path.display()))?;
    Ok(der)
}
