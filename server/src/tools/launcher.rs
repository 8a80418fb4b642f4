//! `meshchat cluster`: a local mesh for trying meshchat out.
//!
//! Makes certificates if missing, starts n1..nN as child processes of this
//! binary (HTTP on 8081.., mesh on 9081..), prints their URLs, and reads
//! simple commands on stdin to stop, kill, pause and restart single nodes,
//! so failover can be tried by hand. Ctrl-C or SIGTERM stops them all.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::tools::harness::{MeshSpec, NodeProcess, NodeSpec, http};

#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub nodes: usize,
    pub host: String,
    pub http_base: u16,
    pub mesh_base: u16,
    pub data: PathBuf,
    pub certs: PathBuf,
    pub web: Option<PathBuf>,
    /// Passed through to every node (fault injection, rate limits…).
    pub node_args: Vec<String>,
}

struct Member {
    spec: NodeSpec,
    process: Option<NodeProcess>,
}

impl Member {
    fn id(&self) -> &str {
        &self.spec.id
    }

    fn http(&self) -> &str {
        &self.spec.http
    }
}

pub async fn run(cfg: ClusterConfig, shutdown: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
    anyhow::ensure!((1..=32).contains(&cfg.nodes), "--nodes must be 1-32");
    let mut mesh = MeshSpec::new(&std::env::current_exe()?, &cfg.data, cfg.nodes);
    mesh.host = cfg.host.clone();
    mesh.http_base = Some(cfg.http_base);
    mesh.mesh_base = Some(cfg.mesh_base);
    mesh.certs = cfg.certs.clone();
    if let Some(web) = &cfg.web {
        mesh.args.extend(["--web".into(), web.display().to_string()]);
    }
    mesh.args.extend(cfg.node_args.iter().cloned());
    let missing: Vec<String> =
        mesh.ids().into_iter().filter(|id| !crate::trust::certs::node_cert_path(&cfg.certs, id).exists()).collect();
    let specs = mesh.node_specs()?;
    if !missing.is_empty() && cfg.nodes > 1 {
        println!("made mesh certificates in {} for {}", cfg.certs.display(), missing.join(", "));
    }
    let mut members: BTreeMap<String, Member> =
        specs.into_iter().map(|spec| (spec.id.clone(), Member { spec, process: None })).collect();
    for m in members.values_mut() {
        start(m);
    }
    // Print the URLs once they answer, so the first click works.
    for m in members.values() {
        if !wait_ready(m.http()).await {
            println!("{} is not answering yet; `status` shows what it sees", m.id());
        }
    }
    println!();
    for m in members.values() {
        println!("  {}  http://{}   (WebSocket ws://{}/ws)", m.id(), m.http(), m.http());
    }
    println!("\nOpen any of them in a browser. Type `help` for commands; Ctrl-C stops every node.\n");

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    tokio::pin!(shutdown);
    loop {
        let line = tokio::select! {
            _ = &mut shutdown => break,
            l = lines.next_line(), if stdin_open => match l {
                Ok(Some(l)) => l,
                // No terminal (run in the background): only signals stop us.
                _ => { stdin_open = false; continue }
            },
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        let target = words.get(1).and_then(|w| members.get_mut(*w));
        match (words.first().copied(), target) {
            (None, _) => {}
            (Some("help"), _) => help(),
            (Some("status"), _) => status(&mut members).await,
            (Some("quit" | "exit"), _) => break,
            (Some("stop"), Some(m)) => signal(m, "TERM"),
            (Some("kill"), Some(m)) => signal(m, "KILL"),
            (Some("pause"), Some(m)) => signal(m, "STOP"),
            (Some("resume"), Some(m)) => signal(m, "CONT"),
            (Some("start"), Some(m)) => {
                if m.process.as_mut().is_some_and(NodeProcess::is_running) {
                    println!("{} is already running", m.id());
                } else {
                    start(m);
                    announce_ready(m).await;
                }
            }
            (Some("restart"), Some(m)) => {
                signal(m, "TERM");
                start(m);
                announce_ready(m).await;
            }
            (Some(_), _) => println!("unknown command or node; type `help`"),
        }
    }
    println!("stopping every node…");
    // All at once: the last node would otherwise wait out its dials to the
    // ones already stopped, once per node.
    for m in members.values() {
        if let Some(p) = &m.process {
            p.signal("TERM");
        }
    }
    for m in members.values_mut() {
        signal(m, "TERM");
    }
    Ok(())
}

fn help() {
    println!(
        "commands:\n  status            every node and what it sees of its peers\n  stop <node>       SIGTERM: a clean stop (clients move, close 1012)\n  kill <node>       SIGKILL: a crash\n  pause <node>      SIGSTOP: alive but silent (a partition)\n  resume <node>     SIGCONT\n  start <node>      start a stopped node again\n  restart <node>    stop, then start\n  quit              stop everything"
    );
}

fn start(m: &mut Member) {
    match NodeProcess::start(m.spec.clone()) {
        Ok(p) => {
            println!("started {} (pid {})", m.id(), p.pid());
            m.process = Some(p);
        }
        Err(e) => println!("{} did not start: {e}", m.id()),
    }
}

/// Sends a signal and, for TERM and KILL, waits for the exit.
fn signal(m: &mut Member, sig: &str) {
    let id = m.id().to_owned();
    let Some(p) = m.process.as_mut() else {
        println!("{id} is not running");
        return;
    };
    if !p.is_running() {
        println!("{id} had already exited");
        m.process = None;
        return;
    }
    match sig {
        "TERM" => {
            let status = tokio::task::block_in_place(|| p.terminate_within(Duration::from_secs(10)));
            match status {
                Some(status) => println!("{id} stopped ({status})"),
                None => println!("{id} did not stop in time and was killed"),
            }
            m.process = None;
        }
        "KILL" => {
            tokio::task::block_in_place(|| p.kill9());
            println!("{id} stopped (killed with SIGKILL)");
            m.process = None;
        }
        _ => {
            p.signal(sig);
            println!("sent SIG{sig} to {id}");
        }
    }
}

async fn status(members: &mut BTreeMap<String, Member>) {
    for m in members.values_mut() {
        let running = m.process.as_mut().is_some_and(NodeProcess::is_running);
        let health = if running { health(m.http()).await } else { "not running".into() };
        println!("  {}  {:<22} {health}", m.id(), m.http());
    }
}

async fn announce_ready(m: &Member) {
    if wait_ready(m.http()).await {
        println!("{} is up on http://{}", m.id(), m.http());
    } else {
        println!("{} is not answering yet; `status` shows what it sees", m.id());
    }
}

/// Waits up to ten seconds for a freshly started node to answer health checks.
async fn wait_ready(addr: &str) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if health(addr).await.starts_with("up") {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// `GET /api/health` with a one-second budget, as one line.
async fn health(addr: &str) -> String {
    let url = format!("http://{addr}/api/health");
    let Ok(r) = http::request_within(Duration::from_secs(1), "GET", &url, &[], None).await else {
        return "not answering".into();
    };
    let Ok(h) = serde_json::from_slice::<meshchat_shared::api::Health>(&r.body) else {
        return "not answering".into();
    };
    let peers: Vec<String> = h
        .peers
        .iter()
        .map(|(p, s)| format!("{p} {}", if *s == meshchat_shared::api::PeerState::Up { "up" } else { "down" }))
        .collect();
    format!("up {} s; peers: {}", h.uptime_s, peers.join(", "))
}
