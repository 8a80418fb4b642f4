//! `meshchat cluster`: a local mesh for trying meshchat out.
//!
//! Makes certificates if missing, starts n1..nN as child processes of this
//! binary (HTTP on 8081.., mesh on 9081..), prints their URLs, and reads
//! simple commands on stdin to stop, kill, pause and restart single nodes,
//! so failover can be tried by hand. Ctrl-C or SIGTERM stops them all.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

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
    id: String,
    args: Vec<String>,
    child: Option<Child>,
    http: String,
}

pub async fn run(cfg: ClusterConfig, shutdown: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
    anyhow::ensure!((1..=32).contains(&cfg.nodes), "--nodes must be 1-32");
    let exe = std::env::current_exe()?;
    let ids: Vec<String> = (1..=cfg.nodes).map(|i| format!("n{i}")).collect();
    let missing: Vec<String> =
        ids.iter().filter(|id| !crate::certs::node_cert_path(&cfg.certs, id).exists()).cloned().collect();
    if !missing.is_empty() {
        let hosts = vec![cfg.host.clone(), "localhost".into()];
        crate::certs::generate(&cfg.certs, &missing, &hosts, false)?;
        println!("made mesh certificates in {} for {}", cfg.certs.display(), missing.join(", "));
    }
    let mut members: BTreeMap<String, Member> = BTreeMap::new();
    for (i, id) in ids.iter().enumerate() {
        let http = format!("{}:{}", cfg.host, cfg.http_base + i as u16);
        let mesh = format!("{}:{}", cfg.host, cfg.mesh_base + i as u16);
        let peers: Vec<String> = ids
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(j, p)| format!("{p}={}:{}", cfg.host, cfg.mesh_base + j as u16))
            .collect();
        let mut args = vec![
            "node".into(),
            "--id".into(),
            id.clone(),
            "--http".into(),
            http.clone(),
            "--data".into(),
            cfg.data.join(id).display().to_string(),
            "--mesh".into(),
            mesh,
            "--certs".into(),
            cfg.certs.display().to_string(),
        ];
        if !peers.is_empty() {
            args.extend(["--peers".into(), peers.join(",")]);
        }
        if let Some(web) = &cfg.web {
            args.extend(["--web".into(), web.display().to_string()]);
        }
        args.extend(cfg.node_args.iter().cloned());
        members.insert(id.clone(), Member { id: id.clone(), args, child: None, http });
    }
    for m in members.values_mut() {
        start(&exe, m)?;
    }
    // Print the URLs once they answer, so the first click works.
    for m in members.values() {
        if !wait_ready(&m.http).await {
            println!("{} is not answering yet; `status` shows what it sees", m.id);
        }
    }
    println!();
    for m in members.values() {
        println!("  {}  http://{}   (WebSocket ws://{}/ws)", m.id, m.http, m.http);
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
            (Some("stop"), Some(m)) => signal(m, "TERM").await,
            (Some("kill"), Some(m)) => signal(m, "KILL").await,
            (Some("pause"), Some(m)) => signal(m, "STOP").await,
            (Some("resume"), Some(m)) => signal(m, "CONT").await,
            (Some("start"), Some(m)) => {
                if m.child.as_mut().is_some_and(|c| c.try_wait().ok().flatten().is_none()) {
                    println!("{} is already running", m.id);
                } else {
                    start(&exe, m)?;
                    announce_ready(m).await;
                }
            }
            (Some("restart"), Some(m)) => {
                signal(m, "TERM").await;
                start(&exe, m)?;
                announce_ready(m).await;
            }
            (Some(_), _) => println!("unknown command or node; type `help`"),
        }
    }
    println!("stopping every node…");
    // All at once: the last node would otherwise wait out its dials to the
    // ones already stopped, once per node.
    let stops = members.values_mut().map(|m| signal(m, "TERM"));
    futures_util::future::join_all(stops).await;
    Ok(())
}

fn help() {
    println!(
        "commands:\n  status            every node and what it sees of its peers\n  stop <node>       SIGTERM: a clean stop (clients move, close 1012)\n  kill <node>       SIGKILL: a crash\n  pause <node>      SIGSTOP: alive but silent (a partition)\n  resume <node>     SIGCONT\n  start <node>      start a stopped node again\n  restart <node>    stop, then start\n  quit              stop everything"
    );
}

fn start(exe: &std::path::Path, m: &mut Member) -> anyhow::Result<()> {
    let child = Command::new(exe).args(&m.args).stdin(Stdio::null()).kill_on_drop(true).spawn()?;
    println!("started {} (pid {})", m.id, child.id().unwrap_or(0));
    m.child = Some(child);
    Ok(())
}

/// Sends a signal with `kill` and, for TERM and KILL, waits for the exit.
async fn signal(m: &mut Member, sig: &str) {
    let Some(child) = m.child.as_mut() else {
        println!("{} is not running", m.id);
        return;
    };
    if let Ok(Some(status)) = child.try_wait() {
        println!("{} had already exited ({status})", m.id);
        m.child = None;
        return;
    }
    let Some(pid) = child.id() else { return };
    let _ = Command::new("kill").args([format!("-{sig}"), pid.to_string()]).status().await;
    if sig == "TERM" || sig == "KILL" {
        match tokio::time::timeout(std::time::Duration::from_secs(10), child.wait()).await {
            Ok(Ok(status)) => println!("{} stopped ({status})", m.id),
            _ => {
                let _ = child.kill().await;
                println!("{} did not stop in time and was killed", m.id);
            }
        }
        m.child = None;
    } else {
        println!("sent SIG{sig} to {}", m.id);
    }
}

async fn status(members: &mut BTreeMap<String, Member>) {
    for m in members.values_mut() {
        let running = m.child.as_mut().is_some_and(|c| c.try_wait().ok().flatten().is_none());
        let health = if running { health(&m.http).await } else { "not running".into() };
        println!("  {}  {:<22} {health}", m.id, m.http);
    }
}

async fn announce_ready(m: &Member) {
    if wait_ready(&m.http).await {
        println!("{} is up on http://{}", m.id, m.http);
    } else {
        println!("{} is not answering yet; `status` shows what it sees", m.id);
    }
}

/// Waits up to ten seconds for a freshly started node to answer health checks.
async fn wait_ready(addr: &str) -> bool {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if health(addr).await.starts_with("up") {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

/// `GET /api/health` with a one-second budget, as one line.
async fn health(addr: &str) -> String {
    let fetch = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        let req = format!("GET /api/health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.ok()?;
        let mut buf = String::new();
        s.read_to_string(&mut buf).await.ok()?;
        let body = buf.split_once("\r\n\r\n")?.1.to_owned();
        let h: meshchat_shared::api::Health = serde_json::from_str(&body).ok()?;
        let peers: Vec<String> = h
            .peers
            .iter()
            .map(|(p, s)| format!("{p} {}", if *s == meshchat_shared::api::PeerState::Up { "up" } else { "down" }))
            .collect();
        Some(format!("up {} s; peers: {}", h.uptime_s, peers.join(", ")))
    };
    tokio::time::timeout(std::time::Duration::from_secs(1), fetch)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| "not answering".into())
}
