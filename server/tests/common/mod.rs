//! Helpers for tests over real sockets: a node as a child process of the
//! real binary, and a WebSocket client that speaks JSON frames.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

pub const WAIT: Duration = Duration::from_secs(10);

/// A `meshchat node` child process; killed when dropped.
pub struct NodeProc {
    pub child: Child,
    pub http: String,
    pub id: String,
    pub data: PathBuf,
    pub args: Vec<String>,
    /// Where its log goes, kept across restarts.
    pub log: Option<PathBuf>,
}

impl NodeProc {
    /// Starts `meshchat node --id <id> --http 127.0.0.1:<port or 0> --data <data> <extra>`.
    pub fn start(id: &str, data: &Path, port: u16, extra: &[&str]) -> NodeProc {
        Self::start_logged(id, data, port, extra, None)
    }

    /// As [`start`](Self::start), with the node's log appended to `log`.
    pub fn start_logged(id: &str, data: &Path, port: u16, extra: &[&str], log: Option<&Path>) -> NodeProc {
        let args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let stderr = match log {
            Some(path) => Stdio::from(
                std::fs::OpenOptions::new().create(true).append(true).open(path).expect("open the node log"),
            ),
            None => Stdio::inherit(),
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_meshchat"))
            .args(["node", "--id", id, "--http", &format!("127.0.0.1:{port}"), "--data"])
            .arg(data)
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start meshchat");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read the listening line");
        let http = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        NodeProc { child, http, id: id.to_owned(), data: data.to_owned(), args, log: log.map(Path::to_owned) }
    }

    pub fn port(&self) -> u16 {
        self.http.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port")
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.http)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// `kill -9`: no chance to flush anything.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().expect("kill -TERM");
        self.child.wait().expect("wait")
    }

    /// SIGSTOP or SIGCONT: a node that stops answering without dying.
    pub fn signal(&self, sig: &str) {
        Command::new("kill").args([&format!("-{sig}"), &self.child.id().to_string()]).status().expect("kill");
    }

    /// The same node again on the same port and data.
    pub fn restart(&mut self) {
        let extra: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let fresh = NodeProc::start_logged(&self.id, &self.data, self.port(), &extra, self.log.as_deref());
        *self = fresh;
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A protocol client that keeps frames it skipped over for later.
pub struct Client {
    pub ws: Ws,
    pub name: String,
}

impl Client {
    pub async fn connect(url: &str) -> Client {
        let (ws, _) =
            tokio::time::timeout(WAIT, connect_async(url)).await.expect("connect timed out").expect("connect");
        Client { ws, name: String::new() }
    }

    /// Connects and says hello; returns the client and the welcome.
    pub async fn hello(url: &str, name: &str) -> (Client, Value) {
        let mut c = Client::connect(url).await;
        c.name = name.to_owned();
        c.send(json!({"type":"hello","v":1,"name":name})).await;
        let welcome = c.expect("welcome").await;
        (c, welcome)
    }

    pub async fn send(&mut self, v: Value) {
        self.ws.send(WsMessage::text(v.to_string())).await.expect("send");
    }

    pub async fn send_raw(&mut self, m: WsMessage) {
        self.ws.send(m).await.expect("send");
    }

    /// The next text frame, as JSON.
    pub async fn recv(&mut self) -> Value {
        self.try_recv(WAIT).await.expect("no frame in time")
    }

    /// The next text frame, or None if none comes within `d` or the socket ends.
    pub async fn try_recv(&mut self, d: Duration) -> Option<Value> {
        loop {
            match tokio::time::timeout(d, self.ws.next()).await {
                Err(_) => return None,
                Ok(None) | Ok(Some(Err(_))) => return None,
                Ok(Some(Ok(WsMessage::Text(t)))) => {
                    return Some(serde_json::from_str(&t).expect("frame is JSON"));
                }
                Ok(Some(Ok(WsMessage::Close(_)))) => return None,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// The next frame of type `ty`, skipping presence and typing frames
    /// (which arrive whenever others come and go) but nothing else.
    pub async fn expect(&mut self, ty: &str) -> Value {
        loop {
            let f = self.recv().await;
            if f["type"] == ty {
                return f;
            }
            if f["type"] == "presence" || f["type"] == "typing" {
                continue;
            }
            panic!("{}: expected {ty}, got {f}", self.name);
        }
    }

    /// The next frame of type `ty`, skipping anything else.
    pub async fn wait_for(&mut self, ty: &str) -> Value {
        loop {
            let f = self.recv().await;
            if f["type"] == ty {
                return f;
            }
        }
    }

    /// An error frame; returns (code, id).
    pub async fn expect_error(&mut self) -> (String, Option<String>) {
        let f = self.expect("error").await;
        assert!(f["message"].as_str().is_some_and(|m| !m.is_empty()), "error without message: {f}");
        (f["code"].as_str().unwrap().to_owned(), f["id"].as_str().map(str::to_owned))
    }

    /// Joins and reads the answer: (members, backlog, synced frame).
    pub async fn join(&mut self, room: &str, since: Option<Value>) -> (Vec<String>, Vec<Value>, Value) {
        let mut f = json!({"type":"join","room":room});
        if let Some(s) = since {
            f["since"] = s;
        }
        self.send(f).await;
        let joined = self.expect("joined").await;
        let members = joined["members"].as_array().unwrap().iter().map(|m| m.as_str().unwrap().to_owned()).collect();
        let mut backlog = Vec::new();
        loop {
            let f = self.recv().await;
            match f["type"].as_str().unwrap() {
                "message" => backlog.push(f["msg"].clone()),
                "synced" => return (members, backlog, f),
                "presence" | "typing" => {}
                other => panic!("unexpected {other} in a backlog: {f}"),
            }
        }
    }

    /// Sends a message and waits for its ack; returns the acked message.
    pub async fn say(&mut self, room: &str, id: &str, body: &str) -> Value {
        self.send(json!({"type":"send","room":room,"id":id,"body":body})).await;
        let ack = self.expect("ack").await;
        assert_eq!(ack["id"], id);
        ack["msg"].clone()
    }

    /// Sends and waits for the ack, skipping whatever else arrives meanwhile
    /// (other people's messages in a busy room).
    pub async fn say_busy(&mut self, room: &str, id: &str, body: &str) -> Value {
        self.send(json!({"type":"send","room":room,"id":id,"body":body})).await;
        loop {
            let f = self.recv().await;
            if f["type"] == "ack" && f["id"] == id {
                return f["msg"].clone();
            }
            assert_ne!(f["type"], "error", "{}: {f}", self.name);
        }
    }

    /// Reads until the socket closes; the close code, if a close frame came.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await.expect("no close in time") {
                Some(Ok(WsMessage::Close(Some(c)))) => return Some(c.code.into()),
                Some(Ok(WsMessage::Close(None))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }
}

pub async fn http_get(url: &str) -> (u16, Value) {
    http("GET", url, None).await
}

pub async fn http_post(url: &str, body: &str) -> (u16, Value) {
    http("POST", url, Some(body)).await
}

/// A minimal HTTP/1.1 client: one request per connection.
pub async fn http(method: &str, url: &str, body: Option<&str>) -> (u16, Value) {
    let (status, text) = http_text(method, url, body).await;
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, v)
}

pub async fn http_text(method: &str, url: &str, body: Option<&str>) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let mut s = TcpStream::connect(host).await.expect("connect");
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(90), s.read_to_end(&mut buf)).await.expect("http timeout").expect("read");
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status: u16 = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status");
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_owned() };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A `(room order)` key of a message as JSON.
pub fn key(m: &Value) -> (u64, String, u64) {
    (m["ts"].as_u64().unwrap(), m["origin"].as_str().unwrap().to_owned(), m["seq"].as_u64().unwrap())
}

/// Reads the value of a metric line from `/metrics` text.
pub async fn metric(node: &NodeProc, name: &str) -> u64 {
    let (_, text) = http_text("GET", &node.url("/metrics"), None).await;
    text.lines()
        .find(|l| l.starts_with(&format!("{name}{{")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no metric {name}"))
}

/// A free UDP port on 127.0.0.1 (for a node's mesh endpoint).
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Makes mesh certificates for `ids` in `dir` with the real binary.
pub fn make_certs(dir: &Path, ids: &[&str]) {
    let status = Command::new(env!("CARGO_BIN_EXE_meshchat"))
        .args(["certs", "--dir"])
        .arg(dir)
        .args(["--nodes", &ids.join(",")])
        .stdout(Stdio::null())
        .status()
        .expect("meshchat certs");
    assert!(status.success());
}

/// A mesh of real nodes n1..nN on 127.0.0.1, each logging to its own file.
pub struct Mesh {
    pub dir: tempfile::TempDir,
    pub nodes: Vec<NodeProc>,
    pub mesh_ports: Vec<u16>,
}

impl Mesh {
    pub async fn start(n: usize, extra: &[&str]) -> Mesh {
        let dir = tempfile::tempdir().unwrap();
        let ids: Vec<String> = (1..=n).map(|i| format!("n{i}")).collect();
        let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        make_certs(&dir.path().join("certs"), &id_refs);
        let mesh_ports: Vec<u16> = (0..n).map(|_| free_udp_port()).collect();
        let mut nodes = Vec::new();
        for i in 0..n {
            nodes.push(Self::spawn(dir.path(), &ids, &mesh_ports, i, extra, &dir.path().join("certs")));
        }
        let m = Mesh { dir, nodes, mesh_ports };
        for node in &m.nodes {
            wait_peers_up(node, n - 1).await;
        }
        m
    }

    pub fn peers_arg(ids: &[String], ports: &[u16], me: usize) -> String {
        (0..ids.len())
            .filter(|&j| j != me)
            .map(|j| format!("{}=127.0.0.1:{}", ids[j], ports[j]))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn spawn(root: &Path, ids: &[String], ports: &[u16], i: usize, extra: &[&str], certs: &Path) -> NodeProc {
        let peers = Self::peers_arg(ids, ports, i);
        let mesh = format!("127.0.0.1:{}", ports[i]);
        let certs = certs.to_str().unwrap().to_owned();
        let mut args: Vec<&str> = vec!["--mesh", &mesh, "--peers", &peers, "--certs", &certs];
        args.extend_from_slice(extra);
        let log = root.join(format!("{}.log", ids[i]));
        NodeProc::start_logged(&ids[i], &root.join(&ids[i]), 0, &args, Some(&log))
    }

    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("n{}.log", i + 1))).unwrap_or_default()
    }
}

/// Waits until `node`'s health shows `count` peers up.
pub async fn wait_peers_up(node: &NodeProc, count: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, h) = http_get(&node.url("/api/health")).await;
        let up = h["peers"].as_object().map_or(0, |p| p.values().filter(|v| *v == "up").count());
        if up == count {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{}: {up} peers up, want {count}: {h}", node.id);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until every node holds the same messages of `room`; returns them.
pub async fn wait_converged(nodes: &[&NodeProc], room: &str, at_least: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut views = Vec::new();
        for n in nodes {
            views.push(all_messages(n, room).await);
        }
        if views.iter().all(|v| *v == views[0]) && views[0].len() >= at_least {
            return views.swap_remove(0);
        }
        let sizes: Vec<usize> = views.iter().map(Vec::len).collect();
        assert!(std::time::Instant::now() < deadline, "{room} did not converge: sizes {sizes:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every message of a room through the HTTP API, ascending.
pub async fn all_messages(n: &NodeProc, room: &str) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut url = n.url(&format!("/api/rooms/{room}/messages?limit=200"));
    loop {
        let (status, page) = http_get(&url).await;
        assert_eq!(status, 200, "{page}");
        let msgs = page["messages"].as_array().unwrap().clone();
        let first = msgs.first().cloned();
        out.splice(0..0, msgs);
        match (page["more"].as_bool(), first) {
            (Some(true), Some(f)) => {
                url = n.url(&format!(
                    "/api/rooms/{room}/messages?limit=200&before_ts={}&before_origin={}&before_seq={}",
                    f["ts"],
                    f["origin"].as_str().unwrap(),
                    f["seq"]
                ));
            }
            _ => return out,
        }
    }
}
