//! What a session does with each client frame.
//!
//! Everything it answers goes through the connection's own queue, the same
//! path rooms use, so the socket has exactly one writer and replies keep
//! their order with the acks and messages around them.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use meshchat_shared::frames::{DecodeError, decode_client};
use meshchat_shared::limits::history_limit;
use meshchat_shared::rooms::{EVENT_PREFIX, RoomEvent};
use meshchat_shared::{ClientFrame, Cursor, ErrorCode, PROTOCOL_VERSION, RoomVector, ServerFrame};

use super::SessionCtx;
use super::ratelimit::TokenBucket;
use crate::accounts::AuthError;
use crate::edge::conn::{ConnHandle, Frame};
use crate::room::{AckTo, RoomCmd, RoomHandle};

pub(super) struct Session {
    ctx: Arc<SessionCtx>,
    conn: ConnHandle,
    /// The client's address: its budget for creating rooms.
    ip: Option<IpAddr>,
    named: bool,
    /// An admin of the mesh (may act in any room); the signed-in account
    /// (its last seen is noted when the connection ends).
    admin: bool,
    me: Option<crate::accounts::Me>,
    joined: HashMap<String, RoomHandle>,
    bucket: TokenBucket,
    /// Rooms with a history page being read: one at a time per room.
    histories: Arc<Mutex<HashSet<String>>>,
    /// People whose profile changes the client is told (`watch`).
    watched: HashSet<Arc<str>>,
}

impl Session {
    pub(super) fn new(ctx: Arc<SessionCtx>, conn: ConnHandle, ip: Option<IpAddr>) -> Session {
        let bucket = TokenBucket::new(ctx.config.rate, Instant::now());
        let histories = Arc::new(Mutex::new(HashSet::new()));
        let (joined, watched) = (HashMap::new(), HashSet::new());
        Session { ctx, conn, ip, named: false, admin: false, me: None, joined, bucket, histories, watched }
    }

    /// Whether the client watches anyone's profile.
    pub(super) fn watches(&self) -> bool {
        !self.watched.is_empty()
    }

    /// `name`'s profile changed here: told to the client if it watches them
    /// (what anyone in the chat may read over HTTP, by the same function).
    pub(super) fn on_profile_changed(&mut self, change: &crate::accounts::ProfileChange) {
        if self.watched.contains(&change.name) {
            self.conn.push(change.frame.clone());
        }
    }

    pub(super) fn is_named(&self) -> bool {
        self.named
    }

    pub(super) fn on_binary(&mut self) {
        self.error(ErrorCode::BadFrame, "frames are JSON text, not binary", None);
    }

    pub(super) fn on_text(&mut self, text: &str) {
        self.ctx.metrics.frames_in.inc();
        let frame = decode_client(text);
        // Whatever is refused, the answer names the request (a send's or an act's id).
        let id = match &frame {
            Ok(f) => f.answer_id(),
            Err(_) => ClientFrame::answer_id_of(text),
        };
        if !self.bucket.take(Instant::now()) {
            // A typing hint is dropped without a word: nothing to retry.
            if let Ok(ClientFrame::Typing { .. }) = frame {
                return self.ctx.metrics.error(ErrorCode::RateLimited);
            }
            return self.error(ErrorCode::RateLimited, "too many frames; slow down", id.as_deref());
        }
        let frame = match frame {
            Ok(f) => f,
            Err(e @ (DecodeError::BadFrame(_) | DecodeError::Invalid(_))) => {
                return self.error(e.code(), e.message(), id.as_deref());
            }
        };
        if !self.named && !matches!(frame, ClientFrame::Hello { .. }) {
            return self.error(ErrorCode::NoHello, "send hello first", id.as_deref());
        }
        if let Err(e) = frame.validate() {
            return self.error(ErrorCode::Invalid, &e.to_string(), id.as_deref());
        }
        match frame {
            ClientFrame::Hello { v, name, token, events } => {
                self.conn.set_events(events);
                self.on_hello(v, name, token)
            }
            ClientFrame::Join { room, since } => self.on_join(room, since),
            ClientFrame::Leave { room } => self.on_leave(&room),
            ClientFrame::Send { room, id, body } => self.on_send(&room, id, body),
            ClientFrame::Typing { room } => self.on_typing(&room),
            ClientFrame::History { room, before, limit } => self.on_history(room, before, limit),
            ClientFrame::Ping => self.push(ServerFrame::Pong),
            ClientFrame::Create { room, title, topic, private } => {
                self.on_create(room, RoomEvent::Created { title, topic, private, dm: Vec::new() })
            }
            ClientFrame::Act { room, id, action } => self.on_act(room, id, action),
            ClientFrame::Dm { users } => self.on_dm(users),
            // As `GET /api/profiles`: for a session of an account (forbidden,
            // not unauthorized: a guest's connection itself stands). In
            // place of the last (`validate` bounded it).
            ClientFrame::Watch { .. } if self.me.is_none() => {
                self.error(ErrorCode::Forbidden, "sign in to an account to watch people's profiles", None)
            }
            ClientFrame::Watch { names } => self.watched = names.into_iter().map(Arc::from).collect(),
        }
    }

    fn on_hello(&mut self, v: u32, name: Option<String>, token: Option<String>) {
        if v != PROTOCOL_VERSION {
            let msg = format!("this node speaks protocol version {PROTOCOL_VERSION}");
            return self.error(ErrorCode::UnsupportedVersion, &msg, None);
        }
        if self.named {
            return self.error(ErrorCode::Invalid, "hello was already received", None);
        }
        // Checked before the name is set: a refused hello leaves the
        // connection unnamed, free to try again (a bad token aside).
        let name = match (token, name) {
            (Some(token), _) => match self.ctx.accounts.authenticate(&token) {
                Ok(me) => {
                    // Closed the moment the session ends, on any node.
                    self.ctx.accounts.watch(&me, self.conn.clone());
                    self.admin = self.ctx.accounts.acts_as_admin(&me);
                    let name = me.name.clone();
                    self.me = Some(me);
                    name
                }
                Err(AuthError::Unauthorized) => {
                    return self.refuse_hello(ErrorCode::Unauthorized, "sign in again: that session has ended");
                }
                // This node is behind: the client moves on and comes back.
                Err(e) => {
                    self.error(e.code(), &e.to_string(), None);
                    return self.conn.close(crate::edge::conn::close::TRY_AGAIN, "behind on accounts");
                }
            },
            (None, Some(name)) if self.ctx.accounts.guests() => match crate::core::names::canonical(&name) {
                Ok(n) if self.ctx.accounts.is_account_name(&n) => {
                    return self.error(
                        ErrorCode::NameTaken,
                        "that name belongs to an account: sign in to use it",
                        None,
                    );
                }
                Ok(n) => n,
                Err(e) => return self.error(ErrorCode::Invalid, &e.to_string(), None),
            },
            _ => return self.refuse_hello(ErrorCode::Unauthorized, "this node needs a session: sign in first"),
        };
        self.conn.set_name(&name);
        self.named = true;
        let welcome = ServerFrame::Welcome {
            v: PROTOCOL_VERSION,
            node: self.ctx.cluster.me().id.clone(),
            name,
            nodes: self.ctx.cluster.nodes(),
        };
        self.push(welcome);
    }

    /// `unauthorized`, then close 1008.
    fn refuse_hello(&mut self, code: ErrorCode, message: &str) {
        self.error(code, message, None);
        self.conn.close(crate::edge::conn::close::POLICY, "not signed in");
    }

    fn on_join(&mut self, room: String, since: Option<RoomVector>) {
        let (guard, ip) = (&self.ctx.guard, self.ip);
        let created = self.ctx.hub.open_or_create(&room, |rooms| match ip {
            Some(ip) => guard.create_room(ip, rooms),
            None => guard.create_room(std::net::Ipv4Addr::UNSPECIFIED.into(), rooms),
        });
        let handle = match created {
            Ok(h) => h,
            Err(why) => return self.error(ErrorCode::LimitReached, &why.to_string(), None),
        };
        match handle.send(RoomCmd::Join { conn: self.conn.clone(), since }) {
            Ok(()) => {
                self.joined.insert(room, handle);
            }
            Err(code) => self.error(code, "the room is busy; try again", None),
        }
    }

    fn on_leave(&mut self, room: &str) {
        match self.joined.remove(room) {
            Some(handle) => handle.send_reliably(RoomCmd::Leave { conn: self.conn.id() }),
            None => self.error(ErrorCode::NotJoined, "not joined to that room", None),
        }
    }

    fn on_send(&mut self, room: &str, id: String, body: String) {
        let Some(handle) = self.joined.get(room) else {
            return self.error(ErrorCode::NotJoined, "join the room before sending to it", Some(&id));
        };
        let cmd =
            RoomCmd::Send { to: AckTo::Conn(self.conn.clone()), author: self.conn.name_arc(), id: id.clone(), body };
        if let Err(code) = handle.send(cmd) {
            self.error(code, "the room is busy; send again", Some(&id));
        }
    }

    fn asker(&self) -> crate::edge::govern::Asker {
        crate::edge::govern::Asker { name: self.conn.name_arc(), admin: self.admin, account: self.me.is_some() }
    }

    /// Finds or makes a room's actor under this address's room budget.
    fn opener(&self) -> crate::edge::govern::Opener {
        let ip = self.ip.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into());
        crate::edge::govern::Opener { hub: self.ctx.hub.clone(), guard: self.ctx.guard.clone(), ip }
    }

    /// `create`: answered with `room` (then the client joins) or `error`.
    fn on_create(&mut self, room: String, created: RoomEvent) {
        let (open, who, ctx, conn) = (self.opener(), self.asker(), self.ctx.clone(), self.conn.clone());
        tokio::spawn(async move {
            let frame = match crate::edge::govern::create(&open, &ctx.accounts, &who, &room, created).await {
                Ok(info) => ServerFrame::Room { info },
                Err(e) => ServerFrame::Error { code: e.code(), message: e.to_string(), id: None },
            };
            conn.push(Frame::from(frame.to_json()));
        });
    }

    /// `dm`: the conversation's `room` frame (then the client joins).
    fn on_dm(&mut self, users: Vec<String>) {
        let (open, who, ctx, conn) = (self.opener(), self.asker(), self.ctx.clone(), self.conn.clone());
        tokio::spawn(async move {
            let frame = match crate::edge::govern::dm(&open, &ctx.accounts, &who, &users).await {
                Ok(info) => ServerFrame::Room { info },
                Err(e) => ServerFrame::Error { code: e.code(), message: e.to_string(), id: None },
            };
            conn.push(Frame::from(frame.to_json()));
        });
    }

    /// `act`: an event of the room, answered like a `send` (`ack` or
    /// `error`, with the id `§` + `id`).
    fn on_act(&mut self, room: String, id: String, action: RoomEvent) {
        let event_id = format!("{EVENT_PREFIX}{id}");
        let Some(handle) = self.joined.get(&room).cloned() else {
            return self.error(ErrorCode::NotJoined, "join the room before acting in it", Some(&event_id));
        };
        let (ctx, conn, who) = (self.ctx.clone(), self.conn.clone(), self.asker());
        // Off the session task: an edit or a delete looks its target up.
        tokio::spawn(async move {
            let sent = match crate::edge::govern::prepare(&ctx.accounts, &ctx.store, &room, action, &who.name).await {
                Ok(prepared) => {
                    crate::edge::govern::submit(&handle, &ctx.guard, &who, &id, prepared, AckTo::Conn(conn.clone()))
                }
                Err(e) => Err(e),
            };
            if let Err(e) = sent {
                refuse_with(&conn, e.code(), &e.to_string(), &event_id);
            }
        });
    }

    fn on_typing(&mut self, room: &str) {
        match self.joined.get(room) {
            // Typing is a hint: dropping one under load is harmless.
            Some(handle) => drop(handle.send(RoomCmd::Typing { conn: self.conn.id() })),
            None => self.error(ErrorCode::NotJoined, "not joined to that room", None),
        }
    }

    fn on_history(&mut self, room: String, before: Option<Cursor>, limit: Option<u32>) {
        let limit = history_limit(limit).unwrap_or(meshchat_shared::limits::DEFAULT_HISTORY_LIMIT);
        if !lock(&self.histories).insert(room.clone()) {
            let msg = "one history request at a time per room; wait for the answer";
            return self.error(ErrorCode::RateLimited, msg, None);
        }
        let store = self.ctx.store.clone();
        let conn = self.conn.clone();
        let histories = self.histories.clone();
        let key = room.clone();
        let hub = self.ctx.hub.clone();
        // Off the session task, so a slow read never stalls the socket.
        tokio::spawn(async move {
            let frame = match history(&hub, &store, &conn, room, before, limit).await {
                Ok(frame) => frame,
                Err(code) => ServerFrame::Error { code, message: code.describe().to_owned(), id: None },
            };
            lock(&histories).remove(&key);
            conn.push(Frame::from(frame.to_json()));
        });
    }

    pub(super) fn on_nodes_changed(&mut self) {
        self.push(ServerFrame::Nodes { nodes: self.ctx.cluster.nodes() });
    }

    fn error(&mut self, code: ErrorCode, message: &str, id: Option<&str>) {
        self.ctx.metrics.error(code);
        self.push(ServerFrame::Error { code, message: message.to_owned(), id: id.map(str::to_owned) });
    }

    fn push(&self, frame: ServerFrame) {
        self.conn.push(Frame::from(frame.to_json()));
    }

    /// Out of every room; called once when the connection ends (its name
    /// lingers for the presence grace, in case it comes straight back).
    pub(super) fn end(&mut self) {
        for (_, handle) in self.joined.drain() {
            handle.send_reliably(RoomCmd::Gone { conn: self.conn.id() });
        }
        if let Some(me) = &self.me {
            self.ctx.accounts.left(me);
        }
    }
}

/// A page of history, of what is part of the room, for someone who may
/// read it (a room nobody created here is empty).
async fn history(
    hub: &Arc<crate::room::Hub>,
    store: &crate::store::Store,
    conn: &ConnHandle,
    room: String,
    before: Option<Cursor>,
    limit: u32,
) -> Result<ServerFrame, ErrorCode> {
    let gov = match crate::edge::govern::readable(hub, &room, conn.name()).await {
        Ok((_, gov)) => gov,
        Err(_) if hub.open(&room).is_none() => {
            return Ok(ServerFrame::History { room, messages: Vec::new(), more: false });
        }
        Err(e) => return Err(e.code()),
    };
    let (messages, more) = store.history(&room, before, limit).await.map_err(|e| {
        tracing::warn!(error = %e, "history read failed");
        ErrorCode::Unavailable
    })?;
    let messages = messages
        .into_iter()
        .filter(|m| gov.visible(m) && (conn.wants_events() || !meshchat_shared::rooms::is_read_marker(m)))
        .map(|m| meshchat_shared::rooms::present_as(&m, conn.wants_events()).into_owned())
        .collect();
    Ok(ServerFrame::History { room, messages, more })
}

/// An `error` frame answering the request `id`.
/// An `error` for the request `id`, saying why.
fn refuse_with(conn: &ConnHandle, code: ErrorCode, message: &str, id: &str) {
    let frame = ServerFrame::Error { code, message: message.to_owned(), id: Some(id.to_owned()) };
    conn.push(Frame::from(frame.to_json()));
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
