//! `meshchat cluster`, the local mesh of the README's run command, driven
//! through its stdin like a person at the terminal.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{WAIT, http_get};
use serde_json::json;

/// Consecutive free ports for HTTP (TCP) and the mesh (UDP), so the test can
/// run next to a real cluster on 8081 and 9081.
fn free_bases(n: u16) -> (u16, u16) {
    let run = || meshchat::tools::harness::free_ports(n).expect("free ports");
    (run(), run())
}

struct Launcher {
    child: Child,
    /// An open pipe, as a terminal would be; closed only in `drop`.
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Launcher {
    /// Reads stdout until a line contains `needle`; every line read is returned.
    fn until(&self, needle: &str) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let done = line.contains(needle);
                    seen.push(line);
                    if done {
                        return seen;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no line with {needle:?}; saw {seen:#?}");
    }

    fn command(&mut self, line: &str) {
        writeln!(self.stdin.as_mut().expect("stdin"), "{line}").expect("write a command");
    }
}

impl Drop for Launcher {
    /// Ctrl-C rather than a kill, which would leave its nodes running.
    fn drop(&mut self) {
        drop(self.stdin.take());
        if self.child.try_wait().is_ok_and(|s| s.is_none()) {
            let _ = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status();
            let _ = self.child.wait();
        }
    }
}

fn start(dir: &std::path::Path, http: u16, mesh: u16) -> Launcher {
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshchat"))
        .args(["cluster", "--nodes", "2", "--http-base", &http.to_string(), "--mesh-base", &mesh.to_string()])
        .arg("--data")
        .arg(dir.join("data"))
        .arg("--certs")
        .arg(dir.join("certs"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start meshchat cluster");
    let stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Launcher { child, stdin: Some(stdin), lines }
}

fn pid_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

fn pids(lines: &[String]) -> Vec<u32> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("started ")?.split("(pid ").nth(1)?.trim_end_matches(')').parse().ok())
        .collect()
}

#[tokio::test]
async fn a_local_cluster_starts_is_driven_from_stdin_and_stops_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let (http, mesh) = free_bases(2);
    let mut launcher = start(dir.path(), http, mesh);
    let boot = launcher.until("Open any of them");
    assert!(boot.iter().any(|l| l.contains("made mesh certificates")), "{boot:#?}");
    let mut children = pids(&boot);
    assert_eq!(children.len(), 2, "{boot:#?}");

    // Both nodes serve and see each other over the mesh.
    let health = |port: u16| async move {
        let deadline = Instant::now() + WAIT;
        loop {
            let listening = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok();
            let (code, h) =
                if listening { http_get(&format!("http://127.0.0.1:{port}/api/health")).await } else { (0, json!({})) };
            if code == 200 && h["peers"].as_object().is_some_and(|p| p.values().all(|s| s == "up") && !p.is_empty()) {
                return h;
            }
            assert!(Instant::now() < deadline, "peers never up: {h}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    assert_eq!(health(http).await["node"], "n1");
    assert_eq!(health(http + 1).await["node"], "n2");

    launcher.command("status");
    launcher.until("n2  ");

    // A crash and a restart of one node, as the README suggests for failover.
    launcher.command("kill n2");
    launcher.until("n2 stopped");
    assert!(!pid_alive(children[1]), "n2 still runs after kill");
    launcher.command("start n2");
    let restarted = launcher.until("n2 is up");
    children.extend(pids(&restarted));
    assert_eq!(health(http + 1).await["node"], "n2");

    launcher.command("frobnicate n1");
    launcher.until("unknown command");

    // Ctrl-C with stdin still open stops every node and the launcher itself:
    // the stdin reader must not keep the process alive.
    let pid = launcher.child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let stopped = launcher.until("stopping every node");
    assert!(!stopped.is_empty());
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = launcher.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the launcher did not exit after Ctrl-C");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    for pid in children {
        assert!(!pid_alive(pid), "node pid {pid} outlived the launcher");
    }
}
