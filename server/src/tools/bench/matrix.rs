//! A person of the capacity benchmark on Matrix Synapse, through its
//! client-server API as a Matrix client does it: messages `PUT` to
//! `/rooms/{id}/send`, typing to `/rooms/{id}/typing`, and everything
//! received from `/sync` long polls, each over a kept-alive HTTP/1.1
//! connection of its own. A phone that comes back syncs on from its last
//! `next_batch`, as Matrix clients resume.
//!
//! [`prepare`] makes the workspace first: an account per person
//! (registration without verification, `m.login.dummy`), each room made by
//! its first member (public, so the others join without an invitation).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde::Deserialize;
use serde_json::json;
use tokio::time::Instant;

use super::people::{Person, Shared, Tally, when};
use super::workspace::Workspace;

/// One kept-alive HTTP/1.1 connection to the server, opened again when it
/// breaks.
pub struct Http {
    addr: SocketAddr,
    send: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>>,
}

impl Http {
    pub fn new(addr: SocketAddr) -> Http {
        Http { addr, send: None }
    }

    pub async fn call(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<Bytes> {
        let sender = match &mut self.send {
            Some(s) if !s.is_closed() => s,
            _ => {
                let tcp = tokio::net::TcpStream::connect(self.addr).await?;
                tcp.set_nodelay(true)?;
                let (s, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await?;
                tokio::spawn(conn);
                self.send.insert(s)
            }
        };
        sender.ready().await?;
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("Host", self.addr.to_string())
            .header("Content-Type", "application/json");
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let body = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
        let res = sender.send_request(req.body(Full::new(body))?).await?;
        let status = res.status();
        let bytes = res.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            self.send = None;
            anyhow::bail!("{method} {path}: {status}: {}", String::from_utf8_lossy(&bytes[..bytes.len().min(300)]));
        }
        Ok(bytes)
    }
}

/// The accounts and rooms of a workspace on the server.
pub struct Prepared {
    pub tokens: Vec<String>,
    pub users: Vec<String>,
    /// Room number → room id.
    pub rooms: Vec<String>,
}

/// Registers everyone (names start with `prefix`), makes every room and
/// joins its members, `at_once` requests at a time.
pub async fn prepare(addr: SocketAddr, w: &Workspace, prefix: &str, at_once: usize) -> anyhow::Result<Prepared> {
    #[derive(Deserialize)]
    struct Registered {
        user_id: String,
        access_token: String,
    }
    #[derive(Deserialize)]
    struct Made {
        room_id: String,
    }
    let register = |i| Post {
        path: "/_matrix/client/v3/register".into(),
        token: None,
        body: json!({"username": format!("{prefix}p{i}"), "password": "capacity-bench-password",
            "auth": {"type": "m.login.dummy"}}),
    };
    let accounts = parallel(addr, w.of.len(), at_once, register, |b| {
        let r: Registered = serde_json::from_slice(&b)?;
        Ok((r.user_id, r.access_token))
    })
    .await
    .context("registering")?;
    let (users, tokens): (Vec<String>, Vec<String>) = accounts.into_iter().unzip();
    let make = |r: usize| Post {
        path: "/_matrix/client/v3/createRoom".into(),
        token: Some(tokens[w.rooms[r].members[0] as usize].clone()),
        body: json!({"preset": "public_chat", "name": format!("{prefix}{r}")}),
    };
    let rooms = parallel(addr, w.rooms.len(), at_once, make, |b| Ok(serde_json::from_slice::<Made>(&b)?.room_id))
        .await
        .context("making rooms")?;
    // Every other member joins; interleaved so that one room's joins are
    // spread over the run (the server orders a room's joins one by one).
    let mut joins: Vec<(u32, u32)> = Vec::new();
    let longest = w.rooms.iter().map(|r| r.members.len()).max().unwrap_or(0);
    for k in 1..longest {
        joins.extend(w.rooms.iter().enumerate().filter_map(|(r, room)| Some((r as u32, *room.members.get(k)?))));
    }
    let join = |j: usize| Post {
        path: format!("/_matrix/client/v3/join/{}", escape(&rooms[joins[j].0 as usize])),
        token: Some(tokens[joins[j].1 as usize].clone()),
        body: json!({}),
    };
    parallel(addr, joins.len(), at_once, join, |_| Ok(())).await.context("joining rooms")?;
    Ok(Prepared { tokens, users, rooms })
}

/// A `POST` of the preparation.
struct Post {
    path: String,
    token: Option<String>,
    body: serde_json::Value,
}

/// Posts `post(i)` for i in 0..n over `at_once` connections; what `parse`
/// makes of each answer, in order.
async fn parallel<T: Send>(
    addr: SocketAddr,
    n: usize,
    at_once: usize,
    post: impl Fn(usize) -> Post + Sync,
    parse: impl Fn(Bytes) -> anyhow::Result<T> + Sync,
) -> anyhow::Result<Vec<T>> {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<T>>> = Mutex::new((0..n).map(|_| None).collect());
    let worker = || async {
        let mut http = Http::new(addr);
        loop {
            let i = next.fetch_add(1, Relaxed);
            if i >= n {
                return Ok::<(), anyhow::Error>(());
            }
            let Post { path, token, body } = post(i);
            let v = parse(http.call("POST", &path, token.as_deref(), Some(body)).await?)?;
            out.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(v);
        }
    };
    futures_util::future::try_join_all((0..at_once.max(1)).map(|_| worker())).await?;
    Ok(out.into_inner().unwrap_or_else(|p| p.into_inner()).into_iter().flatten().collect())
}

/// A room id or user id in a path.
fn escape(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// What the long polls keep: the timeline of joined rooms, members loaded
/// lazily (a room of 1,500 would otherwise come whole in the first sync).
const FILTER: &str = r#"{"room":{"timeline":{"limit":100},"state":{"lazy_load_members":true}}}"#;

#[derive(Deserialize)]
struct SyncReply {
    next_batch: String,
    #[serde(default)]
    rooms: SyncRooms,
}

#[derive(Deserialize, Default)]
struct SyncRooms {
    #[serde(default)]
    join: HashMap<String, SyncRoom>,
}

#[derive(Deserialize)]
struct SyncRoom {
    #[serde(default)]
    timeline: Timeline,
}

#[derive(Deserialize, Default)]
struct Timeline {
    #[serde(default)]
    events: Vec<Event>,
    #[serde(default)]
    limited: bool,
}

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    content: serde_json::Value,
}

/// Counts what a sync brought; ends an absence (`down`) or the first sync:
/// what comes after is live.
fn take_in(rooms: HashMap<String, SyncRoom>, tally: &Mutex<Tally>, shared: &Shared, first: bool, down: Option<u64>) {
    let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
    for room in rooms.values() {
        if room.timeline.limited && !first {
            shared.error("a sync left messages out (limited)".into());
        }
        for e in room.timeline.events.iter().filter(|e| e.kind == "m.room.message") {
            if let Some(body) = e.content.get("body").and_then(|b| b.as_str()).and_then(|b| b.strip_prefix("b ")) {
                t.delivered(body, shared);
            }
        }
    }
    let now = shared.now_us();
    if let Some(down) = down {
        t.away.push((down, now));
    }
    if first || down.is_some() {
        t.live_from = now;
    }
}

/// One person: a sender and a syncer on connections of their own.
pub async fn person(p: Person, addr: SocketAddr, prepared: Arc<Prepared>) -> Tally {
    // Nothing is timed until the first sync is in: it is not live.
    let tally = Mutex::new(Tally { idx: p.idx, live_from: u64::MAX, ..Default::default() });
    let p = tokio::sync::Mutex::new(p);
    tokio::join!(sender(&p, addr, &prepared, &tally), syncer(&p, addr, &prepared, &tally));
    tally.into_inner().unwrap_or_else(|e| e.into_inner())
}

async fn sender(p: &tokio::sync::Mutex<Person>, addr: SocketAddr, prepared: &Prepared, tally: &Mutex<Tally>) {
    let (mut http, mut go, stop) = {
        let p = p.lock().await;
        (Http::new(addr), p.go.clone(), p.stop.clone())
    };
    let idx = p.lock().await.idx as usize;
    let token = prepared.tokens[idx].as_str();
    let user = escape(&prepared.users[idx]);
    let mut typing_at = None;
    let mut n = 0u64;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            Ok(()) = go.changed() => typing_at = p.lock().await.next_typing(),
            _ = tokio::time::sleep_until(when(typing_at)), if typing_at.is_some() => {
                let (room, lead, shared) = {
                    let mut p = p.lock().await;
                    let person = &mut *p;
                    (person.workspace.pick(person.idx, &mut person.rng), person.habits.typing_lead, person.shared.clone())
                };
                typing_at = None;
                let Some(r) = room else { continue };
                let room_id = escape(&prepared.rooms[r as usize]);
                let typing = format!("/_matrix/client/v3/rooms/{room_id}/typing/{user}");
                if let Err(e) = http.call("PUT", &typing, Some(token), Some(json!({"typing": true, "timeout": 5000}))).await {
                    shared.error(format!("{e:#}"));
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(lead) => {}
                }
                let now = shared.now_us();
                let path = format!("/_matrix/client/v3/rooms/{room_id}/send/m.room.message/c{idx}-{n}");
                let body = json!({"msgtype": "m.text", "body": format!("b {idx} {n} {now}")});
                tally.lock().unwrap_or_else(|e| e.into_inner()).sent.push((n, r, now));
                shared.sent.fetch_add(1, Relaxed);
                match http.call("PUT", &path, Some(token), Some(body)).await {
                    Ok(_) => tally.lock().unwrap_or_else(|e| e.into_inner()).acked(n, &shared),
                    Err(e) => shared.error(format!("{e:#}")),
                }
                n += 1;
                if *go.borrow() {
                    typing_at = p.lock().await.next_typing();
                }
            }
        }
    }
}

async fn syncer(p: &tokio::sync::Mutex<Person>, addr: SocketAddr, prepared: &Prepared, tally: &Mutex<Tally>) {
    let (stop, shared, idx) = {
        let p = p.lock().await;
        (p.stop.clone(), p.shared.clone(), p.idx as usize)
    };
    let token = prepared.tokens[idx].as_str();
    let filter = escape(FILTER);
    let mut http = Http::new(addr);
    let mut since: Option<String> = None;
    let mut drop_at: Option<Instant> = None;
    let mut down_since: Option<u64> = None;
    loop {
        let path = match &since {
            None => format!("/_matrix/client/v3/sync?filter={filter}&timeout=0"),
            Some(s) => format!("/_matrix/client/v3/sync?filter={filter}&timeout=30000&since={}", escape(s)),
        };
        let opening = p.lock().await.opening.clone();
        let poll = async {
            // The first sync is the heavy one: no more than so many at once.
            let _permit = if since.is_none() { opening.acquire().await.ok() } else { None };
            http.call("GET", &path, Some(token), None).await
        };
        let reply = tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep_until(when(drop_at)), if drop_at.is_some() => {
                // The phone's network changes: the poll is gone, and so is
                // its connection; back after a while, from `since`.
                http = Http::new(addr);
                down_since = Some(shared.now_us());
                // What the next sync brings was sent while away.
                tally.lock().unwrap_or_else(|e| e.into_inner()).live_from = u64::MAX;
                shared.reconnects.fetch_add(1, Relaxed);
                let away = p.lock().await.habits.away;
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(away) => {}
                }
                drop_at = None;
                continue;
            }
            r = poll => r,
        };
        let reply = match reply.and_then(|b| Ok(serde_json::from_slice::<SyncReply>(&b)?)) {
            Ok(r) => r,
            Err(e) => {
                shared.error(format!("{e:#}"));
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        // Drops are planned between polls (a poll is never left half-read
        // but by a drop).
        if drop_at.is_none() {
            drop_at = p.lock().await.next_drop();
        }
        let first = since.is_none();
        since = Some(reply.next_batch);
        take_in(reply.rooms.join, tally, &shared, first, down_since.take());
        if first {
            let ready = p.lock().await.ready.clone();
            let _ = ready.send(Ok(())).await;
        }
    }
}
