//! The nemesis's users: signed in, acting on random nodes over HTTP with an
//! outbox (posts, edits, reactions, deletes, files, joining and leaving a
//! room, claiming names), two of them also as WebSocket clients that move
//! between nodes with their own outbox. Every operation is recorded.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meshchat::tools::client::{ClientConfig, ClientHandle, Event};
use meshchat::tools::harness::NodeProcess;
use meshchat_shared::Message;
use rand::Rng;
use rand::rngs::StdRng;
use serde_json::{Value, json};

use super::common::SmallDisk;
use super::common::net::Net;

pub const ROOMS: [&str; 3] = ["general", "dev", "random"];
/// A created public room people join and leave.
pub const CLUB: &str = "club";
pub const USERS: usize = 4;
/// u0 and u1 are also WebSocket clients.
pub const FOLLOWERS: usize = 2;

#[derive(Debug, Clone)]
pub enum What {
    Post(String),
    Act(Value),
    File(Vec<u8>),
}

/// A request a user makes; sent again, anywhere, until acknowledged.
#[derive(Debug, Clone)]
pub struct Req {
    pub user: usize,
    pub room: &'static str,
    pub id: String,
    pub what: What,
}

/// An acknowledged request: where it sits in its room's log.
#[derive(Debug, Clone)]
pub struct Acked {
    pub user: usize,
    pub room: &'static str,
    /// As stored (`§` before an event's).
    pub id: String,
    pub origin: String,
    pub seq: u64,
    pub ts: u64,
    pub what: What,
}

/// A message's place: its room, origin and seq.
pub type Place = (&'static str, String, u64);

impl Acked {
    pub fn target(&self) -> Place {
        (self.room, self.origin.clone(), self.seq)
    }
}

/// Where an edit, reaction or delete points.
pub fn target_of(room: &'static str, action: &Value) -> Place {
    (room, action["origin"].as_str().unwrap_or_default().to_owned(), action["seq"].as_u64().unwrap_or_default())
}

/// One operation of the history, kept to print when a check fails (its
/// fields are read by that `Debug` print).
#[derive(Debug)]
#[allow(dead_code)]
pub enum Op {
    Fault(String),
    /// `at`: where an acknowledged request sits (origin:seq).
    Req {
        user: usize,
        room: &'static str,
        id: String,
        act: String,
        node: usize,
        status: u16,
        at: String,
    },
    Claim {
        name: String,
        node: usize,
        status: u16,
    },
}

/// A WebSocket client (the shared client state, as the apps use it).
pub struct Follower {
    pub user: usize,
    pub handle: ClientHandle,
    /// Its sends a node acknowledged, not yet taken into the history.
    pub acked: Arc<Mutex<Vec<Message>>>,
    pub failed: Arc<Mutex<Vec<String>>>,
    /// Every room's backlog came on some connection: it holds its rooms.
    pub synced: Arc<std::sync::atomic::AtomicBool>,
}

/// Declared in drop order: nodes killed, then their disks unmounted, then
/// the network taken down.
pub struct World {
    pub nodes: Vec<NodeProcess>,
    pub disks: Vec<SmallDisk>,
    pub net: Net,
    pub tokens: Vec<String>,
    pub followers: Vec<Follower>,
    pub history: Vec<Op>,
    pub outbox: Vec<Req>,
    pub acked: Vec<Acked>,
    /// Targets of deletes sent: neither edited nor deleted again.
    pub deleting: BTreeSet<Place>,
    /// Targets of deletes acknowledged: acts on them are refused rightly.
    pub deleted: BTreeSet<Place>,
    /// Who is in the club as far as acknowledged requests say.
    pub in_club: Vec<bool>,
    pub seed: u64,
    pub step: u64,
    /// Where the nodes log (`n1.log`…): their warnings go with a failure.
    pub logs: std::path::PathBuf,
}

impl World {
    pub fn url(&self, i: usize, path: &str) -> String {
        format!("http://{}:8081{path}", self.net.addr(i))
    }

    pub fn fail(&self, why: &str) -> ! {
        if let Ok(path) = std::env::var("NEMESIS_HISTORY") {
            let all: Vec<String> = self.history.iter().map(|o| format!("{o:?}")).collect();
            let _ = std::fs::write(path, all.join("\n"));
        }
        let tail: Vec<String> = self.history.iter().rev().take(40).map(|o| format!("{o:?}")).collect();
        panic!(
            "{why}\nNEMESIS_SEED={} reproduces it; the last operations, newest first:\n{}\n{}",
            self.seed,
            tail.join("\n"),
            self.warnings()
        );
    }

    /// Each node's warnings and errors: how many of each kind, the last few.
    fn warnings(&self) -> String {
        let mut out = String::new();
        for i in 0..self.nodes.len() {
            let log = std::fs::read_to_string(self.logs.join(format!("n{}.log", i + 1))).unwrap_or_default();
            let lines: Vec<&str> = log.lines().filter(|l| l.contains(" WARN ") || l.contains(" ERROR ")).collect();
            let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
            for l in &lines {
                // The words after the level, up to the first field (`key=…`).
                let text = l.split_once("WARN ").or_else(|| l.split_once("ERROR ")).map_or(*l, |(_, t)| t);
                let cut = text.find('=').and_then(|e| text[..e].rfind(' ')).unwrap_or(text.len());
                *kinds.entry(&text[..cut]).or_default() += 1;
            }
            out += &format!("n{}'s warnings: {kinds:?}; the last:\n", i + 1);
            for l in &lines[lines.len().saturating_sub(6)..] {
                out += &format!("  {l}\n");
            }
        }
        out
    }

    /// Sends `req` to `node`: acknowledged, kept for a retry, or a failure.
    pub async fn send(&mut self, req: Req, node: usize) {
        let token = self.tokens[req.user].clone();
        let (room, id) = (req.room, req.id.clone());
        let (status, answer) = match &req.what {
            What::Post(body) => {
                let url = self.url(node, &format!("/api/rooms/{room}/messages"));
                try_api("POST", &url, Some(&token), Some(json!({"id": id, "body": body}))).await
            }
            What::Act(action) => {
                let url = self.url(node, &format!("/api/rooms/{room}/actions"));
                try_api("POST", &url, Some(&token), Some(json!({"id": id, "action": action}))).await
            }
            What::File(bytes) => {
                let url = self.url(node, &format!("/api/rooms/{room}/files?id={id}"));
                let headers = [("X-File-Name", id.as_str()), ("Content-Type", "application/octet-stream")];
                let (status, bytes) = fetch("POST", &url, Some(&token), &headers, Some(bytes.clone())).await;
                (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
            }
        };
        let act = match &req.what {
            What::Act(a) => format!("{} {}:{}", a["event"], a["origin"], a["seq"]),
            _ => String::new(),
        };
        // A post's or a file's answer wraps the message; an act's is it.
        let msg = if answer["msg"].is_object() { &answer["msg"] } else { &answer };
        let at = format!("{}:{}", msg["origin"].as_str().unwrap_or("-"), msg["seq"]);
        self.history.push(Op::Req { user: req.user, room, id, act, node, status, at });
        let retry = match (&req.what, status) {
            (_, 200 | 201) => return self.acknowledged(req, msg),
            (_, 0 | 500..) => true,
            // Refused rightly: its target was deleted since it was made.
            (What::Act(a), 403) if self.deleted.contains(&target_of(room, a)) => return,
            // The node holds the user no member (a concurrent `left` it
            // has, placed first): nothing to leave.
            (What::Act(a), 403) if a["event"] == "left" => {
                self.in_club[req.user] = false;
                return;
            }
            // An edit or a delete reaching a node that lacks its target yet.
            (What::Act(_), 403 | 404) => true,
            _ => false,
        };
        if !retry {
            self.fail(&format!("u{}'s {} refused with {status}: {answer}", req.user, req.id));
        }
        self.outbox.push(req);
    }

    fn acknowledged(&mut self, req: Req, msg: &Value) {
        if let What::Act(a) = &req.what {
            match a["event"].as_str() {
                Some("joined") => self.in_club[req.user] = true,
                Some("left") => self.in_club[req.user] = false,
                Some("deleted") => {
                    self.deleted.insert(target_of(req.room, a));
                }
                _ => {}
            }
        }
        self.acked.push(Acked {
            user: req.user,
            room: req.room,
            id: msg["id"].as_str().unwrap_or_default().to_owned(),
            origin: msg["origin"].as_str().unwrap_or_default().to_owned(),
            seq: msg["seq"].as_u64().unwrap_or_default(),
            ts: msg["ts"].as_u64().unwrap_or_default(),
            what: req.what,
        });
    }

    /// Takes the followers' acknowledged sends into the history.
    pub fn collect_followers(&mut self) {
        for f in &self.followers {
            for m in std::mem::take(&mut *f.acked.lock().unwrap()) {
                let room = ROOMS.into_iter().find(|r| *r == m.room).unwrap_or(ROOMS[0]);
                self.acked.push(Acked {
                    user: f.user,
                    room,
                    id: m.id.clone(),
                    origin: m.origin.clone(),
                    seq: m.seq,
                    ts: m.ts,
                    what: What::Post(m.body.clone()),
                });
            }
        }
    }

    /// One step of traffic: an operation by a random user on a random
    /// node, a retry from the outbox, now and then a name claimed twice.
    pub async fn traffic(&mut self, rng: &mut StdRng) {
        self.step += 1;
        self.collect_followers();
        let (user, node) = (rng.random_range(0..USERS), rng.random_range(0..self.nodes.len()));
        let pick = rng.random_range(0..100);
        if pick >= 90 && user < FOLLOWERS {
            let (room, id) = (ROOMS[rng.random_range(0..ROOMS.len())], format!("w{}", self.step));
            self.followers[user].handle.send_with_id(room, &id, &format!("x{id} from u{user}"));
        } else {
            let req = self.make(user, pick, rng);
            self.send(req, node).await;
        }
        if !self.outbox.is_empty() {
            let req = self.outbox.remove(0);
            self.send(req, rng.random_range(0..self.nodes.len())).await;
        }
        if self.step.is_multiple_of(25) {
            self.claim(rng).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    /// The request `pick` (0..90) stands for, or a post where it has no target.
    fn make(&mut self, user: usize, pick: u32, rng: &mut StdRng) -> Req {
        let id = |p: &str| format!("{p}{}", self.step);
        let room = ROOMS[rng.random_range(0..ROOMS.len())];
        let post = Req { user, room, id: id("p"), what: What::Post(format!("x{} from u{user}", id("p"))) };
        let target = match pick {
            // Edits of one's own messages, reactions to anything, deletes
            // of one's own messages and files.
            50..62 => self.pick_target(rng, |a| a.user == user && matches!(a.what, What::Post(_))),
            62..72 => self.pick_target(rng, |_| true),
            72..78 => self.pick_target(rng, |a| a.user == user),
            _ => None,
        };
        match (pick, target) {
            (0..50, _) | (50..78, None) => post,
            (50..62, Some(t)) => self.act(
                user,
                t.room,
                id("e"),
                json!({"event": "edited", "origin": t.origin, "seq": t.seq, "body": format!("x{} edited", id("e"))}),
            ),
            (62..72, Some(t)) => {
                let emoji = ["👍", "🎉"][rng.random_range(0..2)];
                let on = rng.random_bool(0.7);
                let action = json!({"event": "reacted", "origin": t.origin, "seq": t.seq, "emoji": emoji, "on": on});
                self.act(user, t.room, id("r"), action)
            }
            (72..78, Some(t)) => {
                self.deleting.insert(t.target());
                self.act(user, t.room, id("d"), json!({"event": "deleted", "origin": t.origin, "seq": t.seq}))
            }
            (78..84, _) => {
                let bytes: Vec<u8> = (0..rng.random_range(100..4_000)).map(|_| rng.random()).collect();
                Req { user, room, id: id("f"), what: What::File(bytes) }
            }
            _ => self.membership(user, id("m")).unwrap_or(post),
        }
    }

    /// A message or file in any room, one `ok` accepts and no delete names.
    fn pick_target(&self, rng: &mut StdRng, ok: impl Fn(&&Acked) -> bool) -> Option<Acked> {
        let live: Vec<&Acked> = self
            .acked
            .iter()
            .filter(|a| matches!(a.what, What::Post(_) | What::File(_)) && !self.deleting.contains(&a.target()))
            .filter(ok)
            .collect();
        (!live.is_empty()).then(|| live[rng.random_range(0..live.len())].clone())
    }

    fn act(&self, user: usize, room: &'static str, id: String, action: Value) -> Req {
        Req { user, room, id, what: What::Act(action) }
    }

    /// Joining or leaving the club, unless a change of that user's is
    /// still in the outbox (then their state is not known).
    fn membership(&self, user: usize, id: String) -> Option<Req> {
        let waiting = self.outbox.iter().any(|r| r.user == user && r.room == CLUB);
        let event = if self.in_club[user] { "left" } else { "joined" };
        (!waiting && user != 0).then(|| self.act(user, CLUB, id, json!({"event": event})))
    }

    /// The same new name registered on two nodes at once.
    async fn claim(&mut self, rng: &mut StdRng) {
        let name = format!("claim{}", self.step);
        let (a, b) = (rng.random_range(0..self.nodes.len()), rng.random_range(0..self.nodes.len()));
        let body = json!({"name": name, "password": "a long password"});
        let (ua, ub) = (self.url(a, "/api/register"), self.url(b, "/api/register"));
        let (ra, rb) = tokio::join!(
            try_api("POST", &ua, None, Some(body.clone())),
            try_api("POST", &ub, None, Some(body.clone()))
        );
        self.history.push(Op::Claim { name: name.clone(), node: a, status: ra.0 });
        self.history.push(Op::Claim { name, node: b, status: rb.0 });
    }
}

/// Starts user `user`'s WebSocket client, first on node `user`.
pub fn follower(user: usize, token: &str, urls: &[String]) -> Follower {
    let nodes = (0..urls.len()).map(|k| urls[(user + k) % urls.len()].clone()).collect();
    let rooms = ROOMS.iter().map(|r| r.to_string()).collect();
    let mut config = ClientConfig::guest(&format!("u{user}"), nodes, rooms);
    config.token = Some(token.to_owned());
    let (handle, mut events) = ClientHandle::start(config);
    let (acked, failed) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
    let synced = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (a, f, s) = (acked.clone(), failed.clone(), synced.clone());
    tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            match e {
                Event::Acked { msg, .. } => a.lock().unwrap().push(msg),
                Event::Failed { id, reason } => f.lock().unwrap().push(format!("{id}: {reason}")),
                Event::Synced => s.store(true, std::sync::atomic::Ordering::Relaxed),
                _ => {}
            }
        }
    });
    Follower { user, handle, acked, failed, synced }
}

/// An API call that may meet a node down or paused: `(0, null)` then.
pub async fn try_api(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let headers = [("Content-Type", "application/json")];
    let (status, bytes) = fetch(method, url, token, &headers, body.map(|b| b.to_string().into_bytes())).await;
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// The status and the body's bytes; `(0, [])` without an answer in 5 s.
pub async fn fetch(
    method: &str,
    url: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> (u16, Vec<u8>) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut all = headers.to_vec();
    if let Some(a) = &auth {
        all.push(("Authorization", a.as_str()));
    }
    let r = meshchat::infra::http::request_within(Duration::from_secs(5), method, url, &all, body.as_deref()).await;
    r.map_or((0, Vec::new()), |r| (r.status, r.body))
}
