//! A person of the capacity benchmark over one WebSocket, in every room of
//! theirs: a meshchat node, or a socket.io server ([`socketio`]). A phone
//! that comes back to meshchat resumes each room from what it holds (the
//! `since` of its `join`), as the apps do; socket.io keeps nothing for it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use meshchat_shared::{ClientFrame, RoomVector};
use serde::Deserialize;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::load::{Dialect, Target, Ws, connect, field, text as frame};
use super::people::{Person, Tally, when};
use super::socketio::{self, Incoming};

/// Where one person connects, from where, speaking what.
#[derive(Clone)]
pub struct Link {
    pub dialect: Dialect,
    pub target: Target,
    pub source: IpAddr,
    /// Room names are this and the room's number.
    pub prefix: Arc<str>,
}

/// How a session ended.
enum End {
    Stopped,
    Dropped,
}

/// What a person keeps across sessions.
struct Memory {
    tally: Tally,
    /// Per room: what this person holds (meshchat's resume).
    vectors: HashMap<u32, RoomVector>,
    /// Messages sent so far (the next one's number).
    n: u64,
    /// When the last session dropped (µs), until the next is in.
    down_since: Option<u64>,
    /// The next typing notice, and the message typed: kept through a drop
    /// (sent once back, as an app's outbox does).
    typing_at: Option<Instant>,
    send_at: Option<(Instant, u32)>,
}

pub async fn person(mut p: Person, link: Link) -> Tally {
    // Nothing is timed until the person is in: a backlog is not live.
    let tally = Tally { idx: p.idx, live_from: u64::MAX, ..Default::default() };
    let mut mem = Memory { tally, vectors: HashMap::new(), n: 0, down_since: None, typing_at: None, send_at: None };
    let mut first = true;
    loop {
        let opening = p.opening.clone();
        let opened = tokio::select! {
            _ = p.stop.cancelled() => break,
            r = async {
                let _permit = opening.acquire().await;
                open(&link, p.idx).await
            } => r,
        };
        let ws = match opened {
            Ok(ws) => ws,
            Err(e) if first => {
                let _ = p.ready.send(Err(e)).await;
                break;
            }
            Err(e) => {
                p.shared.error(format!("{e:#}"));
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        match session(&mut p, &link, ws, &mut mem, &mut first).await {
            Ok(End::Stopped) => break,
            Ok(End::Dropped) => {}
            Err(e) => p.shared.error(format!("{e:#}")),
        }
        mem.down_since = Some(p.shared.now_us());
        mem.tally.live_from = u64::MAX;
        p.shared.reconnects.fetch_add(1, Relaxed);
        tokio::select! {
            _ = p.stop.cancelled() => break,
            _ = tokio::time::sleep(p.habits.away) => {}
        }
    }
    mem.tally
}

/// Connects and says hello (meshchat) or joins the namespace (socket.io).
async fn open(link: &Link, idx: u32) -> anyhow::Result<Ws> {
    let mut ws = connect(link.target.addr, link.source, link.dialect).await?;
    let hello = match link.dialect {
        Dialect::Meshchat => frame(&ClientFrame::Hello {
            v: meshchat_shared::PROTOCOL_VERSION,
            name: Some(format!("p{idx}")),
            token: None,
            events: false,
        }),
        Dialect::SocketIo => WsMessage::text(socketio::CONNECT),
    };
    ws.send(hello).await?;
    Ok(ws)
}

/// In every room, then sending, typing and maybe dropping, until stopped.
async fn session(p: &mut Person, link: &Link, ws: Ws, mem: &mut Memory, first: &mut bool) -> anyhow::Result<End> {
    let (mut sink, mut stream) = ws.split();
    let rooms: Vec<u32> = p.rooms().to_vec();
    let name = |r: u32| format!("{}{r}", link.prefix);
    if link.dialect == Dialect::Meshchat {
        for &r in &rooms {
            sink.feed(frame(&ClientFrame::Join { room: name(r), since: mem.vectors.get(&r).cloned() })).await?;
        }
        sink.flush().await?;
    }
    let mut pending = rooms.len();
    let mut go = p.go.clone();
    let (mut typing_at, mut send_at) = (mem.typing_at.take(), mem.send_at.take());
    if !*p.go.borrow() {
        (typing_at, send_at) = (None, None);
    } else if typing_at.is_none() && send_at.is_none() {
        typing_at = p.next_typing();
    }
    let mut drop_at = p.next_drop();
    loop {
        tokio::select! {
            _ = p.stop.cancelled() => {
                let _ = sink.send(WsMessage::Close(None)).await;
                return Ok(End::Stopped);
            }
            f = stream.next() => {
                let text = match f {
                    Some(Ok(WsMessage::Text(t))) => t,
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(e.into()),
                    None => anyhow::bail!("the server closed the connection"),
                };
                match heard(link, &text, mem, p) {
                    Heard::In => {
                        pending = pending.saturating_sub(1);
                        if pending == 0 {
                            arrived(p, mem, first).await;
                        }
                    }
                    Heard::Connected => {
                        for &r in &rooms {
                            sink.feed(WsMessage::text(socketio::join(&name(r)))).await?;
                        }
                        sink.flush().await?;
                    }
                    Heard::Ping => sink.send(WsMessage::text(socketio::PONG)).await?,
                    Heard::Other => {}
                }
            }
            Ok(()) = go.changed() => {
                let on = *go.borrow();
                (typing_at, drop_at) = if on { (p.next_typing(), p.next_drop()) } else { (None, None) };
                send_at = None;
            }
            // Nothing goes out before every room is joined: socket.io drops a
            // connection that sends an event before its namespace is.
            _ = tokio::time::sleep_until(when(typing_at)), if typing_at.is_some() && pending == 0 => {
                typing_at = None;
                if let Some(r) = p.workspace.pick(p.idx, &mut p.rng) {
                    let typing = match link.dialect {
                        Dialect::Meshchat => frame(&ClientFrame::Typing { room: name(r) }),
                        Dialect::SocketIo => WsMessage::text(socketio::typing(&name(r))),
                    };
                    sink.send(typing).await?;
                    send_at = Some((Instant::now() + p.habits.typing_lead, r));
                }
            }
            _ = tokio::time::sleep_until(when(send_at.map(|s| s.0))), if send_at.is_some() && pending == 0 => {
                let Some((_, r)) = send_at.take() else { continue };
                sink.send(message(p, link, mem, r)).await?;
                typing_at = p.next_typing();
            }
            _ = tokio::time::sleep_until(when(drop_at)), if drop_at.is_some() => {
                // What a phone does when its network changes: gone at once.
                drop(sink);
                (mem.typing_at, mem.send_at) = (typing_at, send_at);
                return Ok(End::Dropped);
            }
        }
    }
}

/// The person's next message, to room `r`, counted as sent.
fn message(p: &Person, link: &Link, mem: &mut Memory, r: u32) -> WsMessage {
    let (n, now) = (mem.n, p.shared.now_us());
    let room = format!("{}{r}", link.prefix);
    let (id, body) = (format!("c{}-{n}", p.idx), format!("b {} {n} {now}", p.idx));
    let send = match link.dialect {
        Dialect::Meshchat => frame(&ClientFrame::Send { room, id, body }),
        Dialect::SocketIo => WsMessage::text(socketio::send(&room, &id, &body)),
    };
    mem.tally.sent.push((n, r, now));
    mem.n += 1;
    p.shared.sent.fetch_add(1, Relaxed);
    send
}

/// In every room again: timing starts, the absence ends.
async fn arrived(p: &mut Person, mem: &mut Memory, first: &mut bool) {
    let now = p.shared.now_us();
    mem.tally.live_from = now;
    if let Some(down) = mem.down_since.take() {
        mem.tally.away.push((down, now));
    }
    if std::mem::take(first) {
        let _ = p.ready.send(Ok(())).await;
    }
}

enum Heard {
    /// One more room joined (its backlog over).
    In,
    /// socket.io's namespace is joined: the rooms may be.
    Connected,
    Ping,
    Other,
}

#[derive(Deserialize)]
struct Frame {
    msg: Option<Msg>,
    room: Option<String>,
    vector: Option<RoomVector>,
}

#[derive(Deserialize)]
struct Msg {
    room: String,
    body: String,
    #[serde(default)]
    origin: String,
    #[serde(default)]
    seq: u64,
}

/// Counts what a frame says. Presence and typing are read and let be.
fn heard(link: &Link, text: &str, mem: &mut Memory, p: &Person) -> Heard {
    let room_of = |name: &str| name.strip_prefix(&*link.prefix).and_then(|r| r.parse::<u32>().ok());
    let own = |id: &str| id.strip_prefix(&format!("c{}-", p.idx)).and_then(|n| n.parse::<u64>().ok());
    match link.dialect {
        Dialect::Meshchat => {
            let kind = text.get(9..text.len().min(20)).unwrap_or("");
            if kind.starts_with("presence") || kind.starts_with("typing") {
                return Heard::Other;
            }
            if kind.starts_with("error") {
                p.shared.error(text.to_owned());
                return Heard::Other;
            }
            let Ok(f) = serde_json::from_str::<Frame>(text) else { return Heard::Other };
            if kind.starts_with("synced") {
                if let (Some(r), Some(v)) = (f.room.as_deref().and_then(room_of), f.vector) {
                    mem.vectors.insert(r, v);
                }
                return Heard::In;
            }
            let Some(m) = f.msg else { return Heard::Other };
            if let Some(r) = room_of(&m.room) {
                let v = mem.vectors.entry(r).or_default();
                if m.seq > v.get(&m.origin) {
                    v.set(&m.origin, m.seq);
                }
            }
            if kind.starts_with("ack") {
                if let Some(n) = field(text, r#""id":""#).and_then(own) {
                    mem.tally.acked(n, &p.shared);
                }
            } else if let Some(body) = m.body.strip_prefix("b ") {
                mem.tally.delivered(body, &p.shared);
            }
            Heard::Other
        }
        Dialect::SocketIo => match socketio::classify(text) {
            Incoming::Connected => Heard::Connected,
            Incoming::Joined => Heard::In,
            Incoming::Ping => Heard::Ping,
            Incoming::Ack(id) => {
                if let Some(n) = own(id) {
                    mem.tally.acked(n, &p.shared);
                }
                Heard::Other
            }
            Incoming::Message(t) => {
                if let Ok((_, m)) = serde_json::from_str::<(String, Msg)>(&t[2..])
                    && let Some(body) = m.body.strip_prefix("b ")
                {
                    mem.tally.delivered(body, &p.shared);
                }
                Heard::Other
            }
            Incoming::Failed(why) => {
                p.shared.error(why.to_owned());
                Heard::Other
            }
            Incoming::Open | Incoming::Other => Heard::Other,
        },
    }
}
