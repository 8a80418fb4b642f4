//! A fresh mesh of real node processes for one benchmark run.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, bail};

pub struct BenchNode {
    pub id: String,
    pub http: String,
    child: Child,
    data: PathBuf,
    args: Vec<String>,
}

impl BenchNode {
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.http)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory in KiB, from /proc.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .context("no VmRSS")
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The same node again, same address and data.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let fresh = spawn(&self.id, &self.data, &self.http, &args)?;
        *self = fresh;
        Ok(())
    }
}

impl Drop for BenchNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port(udp: bool) -> anyhow::Result<u16> {
    Ok(if udp {
        std::net::UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port()
    } else {
        std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port()
    })
}

fn spawn(id: &str, data: &Path, http: &str, args: &[&str]) -> anyhow::Result<BenchNode> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args(["node", "--id", id, "--http", http, "--data"])
        .arg(data)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().context("node stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    if !line.contains("listening") {
        bail!("node {id} did not start: {line}");
    }
    Ok(BenchNode {
        id: id.to_owned(),
        http: http.to_owned(),
        child,
        data: data.to_owned(),
        args: args.iter().map(|s| s.to_string()).collect(),
    })
}

/// Starts `n` nodes (a mesh when n > 1) in `dir`, each with `extra` flags.
pub fn start(dir: &Path, n: usize, extra: &[&str]) -> anyhow::Result<Vec<BenchNode>> {
    let ids: Vec<String> = (1..=n).map(|i| format!("n{i}")).collect();
    let certs = dir.join("certs");
    if n > 1 {
        crate::certs::generate(&certs, &ids, &["127.0.0.1".into()], true)?;
    }
    let http: Vec<u16> = (0..n).map(|_| free_port(false)).collect::<Result<_, _>>()?;
    let mesh: Vec<u16> = (0..n).map(|_| free_port(true)).collect::<Result<_, _>>()?;
    let mut nodes = Vec::new();
    for i in 0..n {
        let mut args: Vec<String> = Vec::new();
        if n > 1 {
            let peers: Vec<String> =
                (0..n).filter(|&j| j != i).map(|j| format!("{}=127.0.0.1:{}", ids[j], mesh[j])).collect();
            args.extend([
                "--mesh".into(),
                format!("127.0.0.1:{}", mesh[i]),
                "--peers".into(),
                peers.join(","),
                "--certs".into(),
                certs.display().to_string(),
            ]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        nodes.push(spawn(&ids[i], &dir.join(&ids[i]), &format!("127.0.0.1:{}", http[i]), &args)?);
    }
    Ok(nodes)
}
