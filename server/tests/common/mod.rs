//! Helpers for tests over real sockets: nodes as child processes of the
//! real binary (through [`meshchat::tools::harness`], as the benchmarks and the
//! launcher start them), and a WebSocket client that speaks JSON frames.
#![allow(dead_code)]

pub mod net;
pub mod pty;

use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
pub use meshchat::tools::harness::NodeProcess as NodeProc;
use meshchat::tools::harness::{MeshSpec, NodeSpec};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

pub const WAIT: Duration = Duration::from_secs(10);

/// The `meshchat` binary under test; `MESHCHAT_EXE` runs the tests against
/// another build (an older one, to see a new test fail on it).
pub fn exe() -> std::path::PathBuf {
    std::env::var_os("MESHCHAT_EXE").map_or_else(|| Path::new(env!("CARGO_BIN_EXE_meshchat")).to_owned(), Into::into)
}

/// Starts `meshchat node --id <id> --http 127.0.0.1:<port or 0> --data
/// <data> --guests <extra>`: a node that takes name-only `hello`s, as
/// most tests are about chat; [`start_node_accounts`] for one that needs
/// sign-in.
pub fn start_node(id: &str, data: &Path, port: u16, extra: &[&str]) -> NodeProc {
    start_node_logged(id, data, port, extra, None)
}

/// As [`start_node`], with the node's log appended to `log`.
pub fn start_node_logged(id: &str, data: &Path, port: u16, extra: &[&str], log: Option<&Path>) -> NodeProc {
    let mut args = vec!["--guests"];
    args.extend_from_slice(extra);
    start_node_accounts(id, data, port, &args, log)
}

/// A node as it runs by default: everyone signs in.
pub fn start_node_accounts(id: &str, data: &Path, port: u16, extra: &[&str], log: Option<&Path>) -> NodeProc {
    NodeProc::start(NodeSpec {
        exe: exe(),
        id: id.to_owned(),
        http: format!("127.0.0.1:{port}"),
        data: data.to_owned(),
        args: extra.iter().map(|s| s.to_string()).collect(),
        log: log.map(Path::to_owned),
        nofile: None,
        netns: None,
    })
    .expect("start meshchat")
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
            // Presence, typing and a room's members come whenever others
            // come, go or change the room.
            if f["type"] == "presence" || f["type"] == "typing" || f["type"] == "room" {
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
                "presence" | "typing" | "room" => {}
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

/// One request through the harness's client; the body as JSON, or as a
/// JSON string when it is not JSON.
pub async fn http(method: &str, url: &str, body: Option<&str>) -> (u16, Value) {
    let (status, text) = http_text(method, url, body).await;
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, v)
}

pub async fn http_text(method: &str, url: &str, body: Option<&str>) -> (u16, String) {
    let headers = [("Content-Type", "application/json")];
    let r = meshchat::infra::http::request(method, url, &headers, body.map(str::as_bytes)).await.expect("http");
    (r.status, r.text())
}

/// One request with an optional bearer token: (status, JSON body).
pub async fn api(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a));
    }
    let body = body.map(|b| b.to_string());
    let r =
        meshchat::infra::http::request(method, url, &headers, body.as_deref().map(str::as_bytes)).await.expect("http");
    (r.status, r.json())
}

pub async fn register(node: &NodeProc, name: &str, password: &str) -> (u16, Value) {
    api("POST", &node.url("/api/register"), None, Some(json!({"name": name, "password": password}))).await
}

pub async fn login(node: &NodeProc, name: &str, password: &str) -> (u16, Value) {
    api("POST", &node.url("/api/login"), None, Some(json!({"name": name, "password": password}))).await
}

pub async fn me(node: &NodeProc, token: &str) -> (u16, Value) {
    api("GET", &node.url("/api/me"), Some(token), None).await
}

pub fn token(session: &Value) -> String {
    session["token"].as_str().unwrap_or_else(|| panic!("no token in {session}")).to_owned()
}

/// Polls `f` until it says yes; panics with `what` after `within`.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t = Instant::now();
    while !f().await {
        assert!(t.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    t.elapsed()
}

/// A WebSocket client signed in with `token`: (client, first frame).
pub async fn ws_with_token(node: &NodeProc, token: &str) -> (Client, Value) {
    let mut c = Client::connect(&node.ws_url()).await;
    c.send(json!({"type":"hello","v":1,"token":token})).await;
    let f = c.recv().await;
    (c, f)
}

/// Registers `name` on `first`, and waits until every node of `m` knows
/// the account; its token.
pub async fn account_everywhere(m: &Mesh, name: &str) -> String {
    let (status, s) = register(&m.nodes[0], name, &format!("{name}'s password")).await;
    assert_eq!(status, 201, "{s}");
    let t = token(&s);
    for node in &m.nodes {
        eventually(Duration::from_secs(10), "every node knows the account", || async { me(node, &t).await.0 == 200 })
            .await;
    }
    t
}

/// A reply in the thread of `root` (a message as JSON) by `token` over
/// HTTP on `node`, once `node` holds the root (asked again for 5 s).
pub async fn thread_reply_on(node: &NodeProc, token: &str, id: &str, root: &Value, body: &str) -> (u16, Value) {
    let action = json!({"event": "reply", "origin": root["origin"], "seq": root["seq"], "body": body, "thread": true});
    let url = node.url("/api/rooms/general/actions");
    for _ in 0..50 {
        let (status, answer) = api("POST", &url, Some(token), Some(json!({"id": id, "action": action.clone()}))).await;
        if status == 200 {
            return (status, answer);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    api("POST", &url, Some(token), Some(json!({"id": id, "action": action}))).await
}

/// Waits until every node of `m` knows `room` (made on one of them moments
/// ago: it reaches the others through the mesh).
pub async fn room_everywhere(m: &Mesh, token: &str, room: &str) {
    for node in &m.nodes {
        let url = node.url(&format!("/api/rooms/{room}"));
        eventually(Duration::from_secs(10), &format!("{room} on {}", node.id()), || async {
            api("GET", &url, Some(token), None).await.0 == 200
        })
        .await;
    }
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
    meshchat::tools::harness::free_port().expect("a free port")
}

/// Makes mesh certificates for `ids` in `dir`.
pub fn make_certs(dir: &Path, ids: &[&str]) {
    let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    meshchat::trust::certs::generate(dir, &ids, &["127.0.0.1".into(), "localhost".into()], false)
        .expect("certificates");
}

/// A mesh of real nodes n1..nN on 127.0.0.1, each logging to its own file.
pub struct Mesh {
    pub dir: tempfile::TempDir,
    pub nodes: Vec<NodeProc>,
    pub mesh_ports: Vec<u16>,
}

impl Mesh {
    /// A mesh that takes guests, as [`start_node`] does.
    pub async fn start(n: usize, extra: &[&str]) -> Mesh {
        let args: Vec<&str> = std::iter::once("--guests").chain(extra.iter().copied()).collect();
        Mesh::start_accounts(n, &args).await
    }

    /// A mesh as it runs by default: everyone signs in.
    pub async fn start_accounts(n: usize, extra: &[&str]) -> Mesh {
        Mesh::start_tweaked(n, extra, |_| {}).await
    }

    /// As [`Mesh::start_accounts`], each node's spec changed by `tweak`
    /// first (its data on a small disk, say).
    pub async fn start_tweaked(n: usize, extra: &[&str], tweak: impl Fn(&mut NodeSpec)) -> Mesh {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = MeshSpec::new(&exe(), dir.path(), n);
        spec.args = extra.iter().map(|s| s.to_string()).collect();
        spec.logs = true;
        let mut specs = spec.node_specs().expect("mesh specs");
        specs.iter_mut().for_each(tweak);
        let mesh_ports = specs
            .iter()
            .map(|s| s.arg("--mesh").and_then(|a| a.rsplit(':').next()?.parse().ok()).unwrap_or(0))
            .collect();
        let nodes = specs.into_iter().map(|s| NodeProc::start(s).expect("start a node")).collect();
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
        assert!(std::time::Instant::now() < deadline, "{}: {up} peers up, want {count}: {h}", node.id());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until every node holds the same messages of `room`; returns them.
pub async fn wait_converged(nodes: &[&NodeProc], room: &str, at_least: usize) -> Vec<Value> {
    wait_converged_as(nodes, room, at_least, None).await
}

/// As [`wait_converged`], read with a session (a node that needs sign-in).
pub async fn wait_converged_as(nodes: &[&NodeProc], room: &str, at_least: usize, token: Option<&str>) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut views = Vec::new();
        for n in nodes {
            views.push(all_messages_as(n, room, token).await);
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
    all_messages_as(n, room, None).await
}

/// As [`all_messages`], read with a session (a node that needs sign-in).
pub async fn all_messages_as(n: &NodeProc, room: &str, token: Option<&str>) -> Vec<Value> {
    paged_messages(n, room, token, "").await
}

/// As [`all_messages_as`], with every event message as stored (`events=1`).
pub async fn all_events_as(n: &NodeProc, room: &str, token: Option<&str>) -> Vec<Value> {
    paged_messages(n, room, token, "&events=1").await
}

async fn paged_messages(n: &NodeProc, room: &str, token: Option<&str>, extra: &str) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut url = n.url(&format!("/api/rooms/{room}/messages?limit=200{extra}"));
    loop {
        let (status, page) = api("GET", &url, token, None).await;
        assert_eq!(status, 200, "{page}");
        let msgs = page["messages"].as_array().unwrap().clone();
        let first = msgs.first().cloned();
        out.splice(0..0, msgs);
        match (page["more"].as_bool(), first) {
            (Some(true), Some(f)) => {
                url = n.url(&format!(
                    "/api/rooms/{room}/messages?limit=200&before_ts={}&before_origin={}&before_seq={}{extra}",
                    f["ts"],
                    f["origin"].as_str().unwrap(),
                    f["seq"]
                ));
            }
            _ => return out,
        }
    }
}

/// POSTs one message to each `(room, id, body)` over one kept-alive
/// connection; returns the status of each answer.
pub async fn post_many(addr: &str, posts: Vec<(String, String, String)>) -> Vec<u16> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut statuses = Vec::new();
    for (room, id, body) in posts {
        let body = json!({"name": "loader", "id": id, "body": body}).to_string();
        let req = format!(
            "POST /api/rooms/{room}/messages HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        write.write_all(req.as_bytes()).await.expect("write");
        let mut status = String::new();
        read.read_line(&mut status).await.expect("status line");
        statuses.push(status.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0));
        let mut len = 0;
        loop {
            let mut line = String::new();
            read.read_line(&mut line).await.expect("header");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; len];
        read.read_exact(&mut body).await.expect("body");
    }
    statuses
}

/// Files under `dir` (a node's database, its `-wal` and `-shm`, shared
/// files, anything) whose raw bytes hold `needle`: what a promise about
/// stored data is checked on.
pub fn files_holding(dir: &Path, needle: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_holding(&path, needle));
        } else if std::fs::read(&path).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes())) {
            out.push(path);
        }
    }
    out
}

/// A small tmpfs, unmounted when dropped (root only).
pub struct SmallDisk {
    pub dir: tempfile::TempDir,
}

impl SmallDisk {
    pub fn mount(mib: u32) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk { dir })
    }

    /// Writes a file until the disk is full; returns its path.
    pub fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.dir.path().join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let block = vec![7u8; 64 * 1024];
        while f.write_all(&block).and_then(|_| f.sync_all()).is_ok() {}
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}
