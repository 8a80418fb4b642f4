//! Real node processes, for the tests, the benchmarks and `meshchat
//! cluster`: one way to start, stop, crash, pause and restart a node, and
//! one small HTTP client to ask it things.
//!
//! - [`NodeProcess`]: one `meshchat node` child process.
//! - [`MeshSpec`]: n1..nN wired into a full mesh (certificates, ports, peers).
//! - [`http`]: HTTP/1.1 requests over a plain TCP socket.

/// The outbound HTTP client, where the tests have always found it.
pub use crate::infra::http;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum HarnessError {
    #[error("cannot start {exe}: {source}")]
    Spawn { exe: PathBuf, source: std::io::Error },
    #[error("node {id} did not start: {line:?}; its log ends: {log}")]
    NoStart { id: String, line: String, log: String },
    #[error("cannot open the log {path}: {source}")]
    Log { path: PathBuf, source: std::io::Error },
    #[error("certificates: {0}")]
    Certs(#[from] crate::trust::certs::CertsError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// How to start one node.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// The `meshchat` binary.
    pub exe: PathBuf,
    pub id: String,
    /// `host:port`; port 0 picks a free one (read back from the node).
    pub http: String,
    pub data: PathBuf,
    /// Everything after `--data`.
    pub args: Vec<String>,
    /// Append the node's stderr here; `None` inherits it.
    pub log: Option<PathBuf>,
    /// Run it under this open-file limit (soft and hard), through `prlimit`.
    pub nofile: Option<u64>,
    /// Run it inside this network namespace (`ip netns exec`), for faults
    /// of a real network.
    pub netns: Option<String>,
}

impl NodeSpec {
    /// The value given to a flag, as in `--mesh 127.0.0.1:9081`.
    pub fn arg(&self, flag: &str) -> Option<&str> {
        self.args.iter().position(|a| a == flag).and_then(|i| self.args.get(i + 1)).map(String::as_str)
    }
}

/// A `meshchat node` child process; killed when dropped.
pub struct NodeProcess {
    pub spec: NodeSpec,
    /// Where it listens, as it printed it.
    pub http: String,
    child: Child,
}

impl NodeProcess {
    /// Starts the node and waits for its "listening" line.
    pub fn start(spec: NodeSpec) -> Result<NodeProcess, HarnessError> {
        let stderr = match &spec.log {
            Some(path) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| HarnessError::Log { path: path.clone(), source })?,
            ),
            None => Stdio::inherit(),
        };
        let mut command = match (&spec.netns, spec.nofile) {
            (Some(ns), _) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(&spec.exe);
                c
            }
            (None, Some(n)) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--nofile={n}:{n}")).arg("--").arg(&spec.exe);
                c
            }
            (None, None) => Command::new(&spec.exe),
        };
        let mut child = command
            .args(["node", "--id", &spec.id, "--http", &spec.http, "--data"])
            .arg(&spec.data)
            .args(&spec.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|source| HarnessError::Spawn { exe: spec.exe.clone(), source })?;
        let stdout = child.stdout.take().ok_or_else(|| std::io::Error::other("no stdout"))?;
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let Some(http) = line.split_whitespace().find_map(|w| w.strip_prefix("http://").or(w.strip_prefix("https://")))
        else {
            let _ = child.kill();
            let _ = child.wait();
            let log = spec.log.as_deref().map(log_tail).unwrap_or_else(|| "(on stderr)".into());
            return Err(HarnessError::NoStart { id: spec.id.clone(), line, log });
        };
        let http = http.to_owned();
        // Whatever else it prints is read, so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in reader.lines() {});
        Ok(NodeProcess { spec, http, child })
    }

    pub fn id(&self) -> &str {
        &self.spec.id
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn port(&self) -> u16 {
        self.http.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.http)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// Still running?
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// `kill -9`: no chance to flush anything.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends a signal by name (`TERM`, `STOP`, `CONT`…).
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill").args([format!("-{sig}"), self.child.id().to_string()]).status();
    }

    /// Waits up to `grace` for the process to exit by itself.
    pub fn wait_exit(&mut self, grace: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(_) => break,
            }
        }
        None
    }

    /// SIGTERM and the exit status; `None` if it had to be killed after `grace`.
    pub fn terminate_within(&mut self, grace: Duration) -> Option<ExitStatus> {
        self.signal("TERM");
        let status = self.wait_exit(grace);
        if status.is_none() {
            self.kill9();
        }
        status
    }

    /// SIGTERM, then whether it exited cleanly (within a minute).
    pub fn terminate(&mut self) -> bool {
        self.terminate_within(Duration::from_secs(60)).is_some_and(|s| s.success())
    }

    /// The same node again: same address (the port it got), data and flags.
    pub fn restart(&mut self) -> Result<(), HarnessError> {
        self.kill9();
        let mut spec = self.spec.clone();
        spec.http = self.http.clone();
        *self = NodeProcess::start(spec)?;
        Ok(())
    }

    /// Resident memory in KiB, from /proc.
    pub fn rss_kib(&self) -> Option<u64> {
        rss_kib_of(self.pid())
    }

    /// CPU time used so far (user + system), from /proc.
    pub fn cpu_time(&self) -> Option<Duration> {
        cpu_time_of(self.pid())
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// n1..nN as a full mesh, in one directory.
#[derive(Debug, Clone)]
pub struct MeshSpec {
    pub exe: PathBuf,
    pub dir: PathBuf,
    pub nodes: usize,
    pub host: String,
    /// HTTP ports: `base + i`, or free ones when `None`.
    pub http_base: Option<u16>,
    /// Mesh (UDP) ports: `base + i`, or free ones when `None`.
    pub mesh_base: Option<u16>,
    pub certs: PathBuf,
    /// Flags for every node.
    pub args: Vec<String>,
    /// Each node logs to `<dir>/<id>.log` instead of inheriting stderr.
    pub logs: bool,
}

/// Resident memory of process `pid`, from /proc.
pub fn rss_kib_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok())
}

impl MeshSpec {
    pub fn new(exe: &Path, dir: &Path, nodes: usize) -> MeshSpec {
        MeshSpec {
            exe: exe.to_owned(),
            dir: dir.to_owned(),
            nodes,
            host: "127.0.0.1".into(),
            http_base: None,
            mesh_base: None,
            certs: dir.join("certs"),
            args: Vec::new(),
            logs: false,
        }
    }

    pub fn ids(&self) -> Vec<String> {
        (1..=self.nodes).map(|i| format!("n{i}")).collect()
    }

    /// Each node's spec: its ports, peers and certificates (made if missing).
    pub fn node_specs(&self) -> Result<Vec<NodeSpec>, HarnessError> {
        let ids = self.ids();
        if self.nodes > 1 {
            let missing: Vec<String> = ids
                .iter()
                .filter(|id| !crate::trust::certs::node_cert_path(&self.certs, id).exists())
                .cloned()
                .collect();
            if !missing.is_empty() {
                crate::trust::certs::generate(&self.certs, &missing, &[self.host.clone(), "localhost".into()], false)?;
            }
        }
        let port = |base: Option<u16>, i: usize| -> Result<u16, HarnessError> {
            Ok(match base {
                Some(b) => b + i as u16,
                None => free_port()?,
            })
        };
        let mesh: Vec<u16> = (0..self.nodes).map(|i| port(self.mesh_base, i)).collect::<Result<_, _>>()?;
        let mut specs = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let mut args = Vec::new();
            if self.nodes > 1 {
                let peers: Vec<String> = (0..self.nodes)
                    .filter(|&j| j != i)
                    .map(|j| format!("{}={}:{}", ids[j], self.host, mesh[j]))
                    .collect();
                args.extend(["--mesh".into(), format!("{}:{}", self.host, mesh[i]), "--peers".into(), peers.join(",")]);
                args.extend(["--certs".into(), self.certs.display().to_string()]);
            }
            args.extend(self.args.iter().cloned());
            specs.push(NodeSpec {
                exe: self.exe.clone(),
                id: id.clone(),
                http: format!("{}:{}", self.host, port(self.http_base, i)?),
                data: self.dir.join(id),
                args,
                log: self.logs.then(|| self.dir.join(format!("{id}.log"))),
                nofile: None,
                netns: None,
            });
        }
        Ok(specs)
    }

    /// Starts every node.
    pub fn start(&self) -> Result<Vec<NodeProcess>, HarnessError> {
        self.node_specs()?.into_iter().map(NodeProcess::start).collect()
    }
}

/// The last lines of a node's log, for an error that says why it stopped.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

/// A port free on 127.0.0.1 for both TCP and UDP, for a node to bind
/// later. It comes from below the kernel's ephemeral range, never from
/// it: a port the kernel picked for a bind to port 0 was free only then,
/// and any outgoing connection or port-0 bind (the tests make thousands)
/// could take it before the node binds it. Each port is handed out once
/// per process; processes start at different places in the range.
pub fn free_port() -> std::io::Result<u16> {
    free_ports(1)
}

/// The first of `n` consecutive ports, each as [`free_port`] gives one.
pub fn free_ports(n: u16) -> std::io::Result<u16> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let (low, high) = handed_out_range();
    let span = u32::from(high - low - n);
    let start = std::process::id().wrapping_mul(7919) % span;
    let free = |p: u16| {
        std::net::TcpListener::bind(("127.0.0.1", p)).is_ok() && std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok()
    };
    for _ in 0..span / u32::from(n) {
        let first = low + ((start + NEXT.fetch_add(u32::from(n), Ordering::Relaxed)) % span) as u16;
        if (first..first + n).all(free) {
            return Ok(first);
        }
    }
    Err(std::io::Error::new(std::io::ErrorKind::AddrInUse, "no free port below the ephemeral range"))
}

/// `[low, high)` for [`free_port`]: up to 12,000 ports just below the
/// kernel's ephemeral range (`ip_local_port_range`, 32768 by default).
fn handed_out_range() -> (u16, u16) {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let high = ephemeral_low.max(2048);
    (high.saturating_sub(12_000).max(1024), high)
}

/// CPU time process `pid` has used so far (user + system), from /proc.
pub fn cpu_time_of(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

#[cfg(test)]
mod tests {
    /// Ports come from outside the kernel's ephemeral range (where a port
    /// picked by binding port 0 could be taken again before the node binds
    /// it), and never twice.
    #[test]
    fn ports_handed_out_are_below_the_ephemeral_range_and_never_twice() {
        let (_, ephemeral_low) = super::handed_out_range();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..500 {
            let port = super::free_port().unwrap();
            assert!(port < ephemeral_low, "{port} is in the ephemeral range");
            assert!(seen.insert(port), "{port} handed out twice");
        }
        let first = super::free_ports(3).unwrap();
        assert!((first..first + 3).all(|p| !seen.contains(&p)));
    }
}
