//! A client of the protocol, sans-IO: what the web app and the native client
//! (and the load generator built on it) share.
//!
//! No sockets, no browser APIs, no clock: the owner feeds a [`Chat`] what
//! happens (frames from a node, the user's actions, the time) and sends the
//! frames it asks for. Resuming rooms from their vectors, resending
//! unacknowledged messages with their original ids, one copy per
//! `(author, id)`, choosing the next node: all of it lives here once,
//! unit-tested natively.

pub mod annotate;
pub mod kept;
mod news;
pub mod nodes;
mod outbox;
mod read;
pub mod reconnect;
pub mod room;
pub mod rooms;
pub mod threads;
pub mod timeline;
mod watch;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::limits::{self, Invalid};
use crate::{ClientFrame, ErrorCode, Message, NodeInfo, PROTOCOL_VERSION, ServerFrame};

pub use news::{Alert, MAX_ALERTS};
use room::{Pending, RoomView};

/// A send without an ack for this long, while connected, is sent again.
pub const ACK_TIMEOUT_MS: u64 = 10_000;
/// After this many sends without an ack (refusals, timeouts), it has failed.
pub const MAX_ATTEMPTS: u32 = 5;
/// A connected client says `ping` this often, so that a node does not take
/// a quiet reader for an abandoned connection.
pub const PING_EVERY_MS: u64 = 60_000;

/// The state of the link to a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Not connected, waiting to try again.
    Offline,
    /// Opening a socket.
    Connecting,
    /// Socket open, `hello` sent, no `welcome` yet.
    Open,
    /// `welcome` received: frames flow.
    Ready,
}

/// What to tell the user about the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// On this node.
    Connected(String),
    /// The first connection is being made.
    Connecting,
    /// Was on a node, is moving to another.
    Moving,
    /// Every known node was tried since the last success; still trying.
    Offline,
    /// The node refused the session (expired, logged out, password
    /// changed): no node will take it, so the client stops and asks the
    /// user to sign in again.
    SignedOut,
}

/// A message of the outbox as kept across reloads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub room: String,
    pub id: String,
    pub body: String,
    pub created_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    /// A reply, an edit, a reaction or a delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<crate::rooms::RoomEvent>,
}

#[derive(Debug, Clone)]
pub struct Chat {
    pub name: String,
    /// A session token (protocol 1.1); without one the client is a guest.
    pub token: Option<String>,
    /// Joined rooms, by name.
    pub rooms: BTreeMap<String, RoomView>,
    /// The room on screen.
    pub current: Option<String>,
    pub link: Link,
    /// The node this link is (or was last) on.
    pub node: Option<String>,
    /// Every node known, and what this client believes of it.
    pub nodes: nodes::NodeList,
    /// Connection attempts that failed since the last `welcome`.
    pub failures: u32,
    /// The last refusal that was not about a message, in words.
    pub notice: Option<String>,
    /// The session was refused: stop connecting.
    pub signed_out: bool,
    /// Live messages from others since last asked (for a new-message sound).
    fresh: u32,
    /// Of those, the ones that mention this user.
    fresh_mentions: u32,
    /// The live messages from others since last asked, for notifications
    /// (the latest [`MAX_ALERTS`]).
    alerts: Vec<Alert>,
    outgoing: Vec<ClientFrame>,
    /// Per room, when this client last sent `typing`.
    typing_sent: BTreeMap<String, u64>,
    /// When this connection last said `ping` (or started).
    pinged_ms: Option<u64>,
    /// People whose profiles are watched, and what the node pushed of them.
    watching: watch::Watching,
}

impl Chat {
    /// A chat for `name` that wants to be in `rooms`, showing `current`.
    pub fn new(name: &str, rooms: &[String], current: Option<&str>) -> Chat {
        let mut chat = Chat {
            name: name.to_owned(),
            token: None,
            rooms: BTreeMap::new(),
            current: None,
            link: Link::Offline,
            node: None,
            nodes: nodes::NodeList::default(),
            failures: 0,
            notice: None,
            signed_out: false,
            fresh: 0,
            fresh_mentions: 0,
            alerts: Vec::new(),
            outgoing: Vec::new(),
            typing_sent: BTreeMap::new(),
            pinged_ms: None,
            watching: watch::Watching::default(),
        };
        for r in rooms {
            if limits::validate_room(r).is_ok() {
                chat.rooms.insert(r.clone(), RoomView::new(r));
            }
        }
        chat.current = current
            .filter(|c| chat.rooms.contains_key(*c))
            .map(str::to_owned)
            .or_else(|| chat.rooms.keys().next().cloned());
        chat
    }

    /// Frames to send now; empties the queue.
    pub fn take_outgoing(&mut self) -> Vec<ClientFrame> {
        std::mem::take(&mut self.outgoing)
    }

    pub fn is_ready(&self) -> bool {
        self.link == Link::Ready
    }

    pub fn room(&self, name: &str) -> Option<&RoomView> {
        self.rooms.get(name)
    }

    pub fn current_room(&self) -> Option<&RoomView> {
        self.current.as_deref().and_then(|c| self.rooms.get(c))
    }

    pub fn status(&self) -> Status {
        if self.signed_out {
            return Status::SignedOut;
        }
        match (self.link, &self.node) {
            (Link::Ready, Some(node)) => Status::Connected(node.clone()),
            _ if self.failures as usize >= self.nodes.reachable().max(1) => Status::Offline,
            (_, Some(_)) => Status::Moving,
            (_, None) => Status::Connecting,
        }
    }

    // ---- the link ----

    pub fn on_connecting(&mut self) {
        self.link = Link::Connecting;
    }

    /// The socket opened: say hello first.
    pub fn on_open(&mut self) {
        self.link = Link::Open;
        self.outgoing.clear();
        // Signed in: the token says who; a guest gives its name.
        let hello = match &self.token {
            Some(t) => ClientFrame::Hello { v: PROTOCOL_VERSION, name: None, token: Some(t.clone()), events: true },
            None => {
                ClientFrame::Hello { v: PROTOCOL_VERSION, name: Some(self.name.clone()), token: None, events: true }
            }
        };
        self.outgoing.push(hello);
    }

    /// The socket closed or never opened. `reached` says whether it got as
    /// far as a `welcome`.
    pub fn on_closed(&mut self, reached: bool) {
        if !reached {
            self.failures += 1;
        }
        self.link = Link::Offline;
        self.outgoing.clear();
        self.pinged_ms = None;
        for room in self.rooms.values_mut() {
            room.synced = false;
            room.loading_older = false;
            room.clear_typing();
            room.members.clear();
        }
    }

    // ---- frames from the node ----

    pub fn on_frame(&mut self, frame: ServerFrame, now_ms: u64) {
        match frame {
            ServerFrame::Welcome { node, name, nodes, .. } => self.on_welcome(node, name, nodes, now_ms),
            ServerFrame::Joined { room, members } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.members = members.into_iter().collect();
                    r.begin_backlog();
                }
            }
            ServerFrame::Message { msg } => self.on_message(msg),
            ServerFrame::Synced { room, vector, gap } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    let fresh = !r.resumes();
                    let added = r.finish_backlog(&vector, gap, fresh);
                    let away = self.current.as_deref() != Some(room.as_str());
                    if away && !fresh {
                        news::count_resumed(r, &added, &self.name);
                    }
                    if away && fresh {
                        self.count_fresh(&room);
                    } else {
                        self.recount(&room);
                    }
                }
            }
            ServerFrame::Ack { id, msg } => self.on_ack(&id, msg),
            ServerFrame::Presence { room, name, online } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.note_presence(&name, online, now_ms);
                }
            }
            ServerFrame::Typing { room, name } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.note_typing(&name, now_ms);
                }
            }
            ServerFrame::History { room, messages, more } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.prepend_history(messages, more);
                }
            }
            ServerFrame::Nodes { nodes } => self.nodes.learn(&nodes),
            ServerFrame::Pong => {}
            ServerFrame::Room { info } => {
                if let Some(r) = self.rooms.get_mut(&info.room) {
                    r.removed = None;
                    r.info = Some(info);
                }
            }
            ServerFrame::Hidden { room, author, from } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.hide_from(&author, &from);
                }
            }
            ServerFrame::Deleted { room, origin, seq } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.delete(&origin, seq);
                }
            }
            ServerFrame::Removed { room, reason } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.removed = Some(reason);
                    r.synced = false;
                }
            }
            ServerFrame::Error { code, message, id } => self.on_error(code, &message, id.as_deref(), now_ms),
            ServerFrame::Profile { profile } => self.on_profile(profile),
        }
    }

    fn on_welcome(&mut self, node: String, name: String, nodes: Vec<NodeInfo>, now_ms: u64) {
        self.link = Link::Ready;
        // The node says who we are (with a token: the account's name).
        self.name = name;
        self.failures = 0;
        self.nodes.learn(&nodes);
        self.node = Some(node);
        self.notice = None;
        // Resume every room from exactly what this view holds, then resend
        // what was never acknowledged, with its original id.
        let names: Vec<String> = self.rooms.keys().cloned().collect();
        for name in names {
            self.emit_join(&name);
            self.resend_pending(&name, now_ms);
        }
        self.emit_watch();
    }

    fn emit_join(&mut self, room: &str) {
        let Some(r) = self.rooms.get(room) else {
            return;
        };
        let since = r.resumes().then(|| r.vector.clone());
        self.outgoing.push(ClientFrame::Join { room: room.to_owned(), since });
    }

    fn resend_pending(&mut self, room: &str, now_ms: u64) {
        let Some(r) = self.rooms.get_mut(room) else {
            return;
        };
        for p in r.pending.iter_mut().filter(|p| p.failed.is_none()) {
            p.sent_ms = Some(now_ms);
            p.retry_at = None;
            p.attempts += 1;
            self.outgoing.push(p.frame(room));
        }
    }

    fn on_ack(&mut self, id: &str, msg: Message) {
        let Some(r) = self.rooms.get_mut(&msg.room) else {
            return;
        };
        r.remove_pending(id);
        r.absorb(&msg.origin, msg.seq);
        r.insert(msg);
    }

    fn on_error(&mut self, code: ErrorCode, message: &str, id: Option<&str>, now_ms: u64) {
        // A refused session, or a guest's name that belongs to an account
        // (refused before `welcome`): no node will take it, so stop.
        let refused_hello = code == ErrorCode::NameTaken && self.link == Link::Open && self.token.is_none();
        if code == ErrorCode::Unauthorized || refused_hello {
            self.signed_out = true;
        }
        if let Some(id) = id {
            for r in self.rooms.values_mut() {
                if let Some(p) = r.pending_mut(id) {
                    refused(p, code, message, now_ms);
                    return;
                }
            }
        }
        self.notice = Some(explain(code, message));
    }

    // ---- the user ----

    /// Sends a message: pending at once, on the wire when connected.
    pub fn send(&mut self, room: &str, id: &str, body: &str, now_ms: u64) -> Result<(), Invalid> {
        limits::validate_body(body)?;
        limits::validate_msg_id(id)?;
        let ready = self.is_ready();
        let r = self.rooms.get_mut(room).ok_or(Invalid::Room)?;
        let mut p = Pending::new(id, body, now_ms);
        if ready {
            p.sent_ms = Some(now_ms);
            p.attempts = 1;
            self.outgoing.push(ClientFrame::Send { room: room.to_owned(), id: id.to_owned(), body: body.to_owned() });
        }
        r.pending.push(p);
        self.typing_sent.remove(room);
        Ok(())
    }

    /// A reply, an edit, a reaction or a delete in `room`: kept in the
    /// outbox like a message (id `§` + `id`) until a node acknowledges it.
    pub fn act(&mut self, room: &str, id: &str, action: crate::rooms::RoomEvent, now_ms: u64) -> Result<(), Invalid> {
        crate::rooms::validate_act(id, &action)?;
        let ready = self.is_ready();
        let r = self.rooms.get_mut(room).ok_or(Invalid::Room)?;
        let shown = match &action {
            crate::rooms::RoomEvent::Reply { body, .. } | crate::rooms::RoomEvent::Edited { body, .. } => body.clone(),
            other => crate::rooms::describe(&self.name, other),
        };
        let mut p = Pending::new(&format!("{}{id}", crate::rooms::EVENT_PREFIX), &shown, now_ms);
        p.action = Some(action);
        if ready {
            p.sent_ms = Some(now_ms);
            p.attempts = 1;
            self.outgoing.push(p.frame(room));
        }
        r.pending.push(p);
        Ok(())
    }

    /// Sends a failed message again, with its original id.
    pub fn retry(&mut self, room: &str, id: &str, now_ms: u64) {
        let ready = self.is_ready();
        let Some(p) = self.rooms.get_mut(room).and_then(|r| r.pending_mut(id)) else {
            return;
        };
        p.failed = None;
        p.attempts = 0;
        p.retry_at = None;
        p.sent_ms = None;
        if ready {
            p.sent_ms = Some(now_ms);
            p.attempts = 1;
            self.outgoing.push(p.frame(room));
        }
    }

    pub fn discard(&mut self, room: &str, id: &str) {
        if let Some(r) = self.rooms.get_mut(room) {
            r.remove_pending(id);
        }
    }

    /// Joins (or creates) a room and shows it.
    pub fn join(&mut self, room: &str) -> Result<(), Invalid> {
        self.add_room(room)?;
        self.select(room);
        Ok(())
    }

    /// Joins `room` without showing it (a room one was added to): it is
    /// shown only if nothing else is.
    pub fn add_room(&mut self, room: &str) -> Result<(), Invalid> {
        limits::validate_room(room)?;
        if !self.rooms.contains_key(room) {
            self.rooms.insert(room.to_owned(), RoomView::new(room));
            if self.is_ready() {
                self.emit_join(room);
            }
        }
        if self.current.is_none() {
            self.select(room);
        }
        Ok(())
    }

    pub fn leave(&mut self, room: &str) {
        if self.rooms.remove(room).is_none() {
            return;
        }
        if self.is_ready() {
            self.outgoing.push(ClientFrame::Leave { room: room.to_owned() });
        }
        if self.current.as_deref() == Some(room) {
            self.current = self.rooms.keys().next().cloned();
        }
    }

    pub fn select(&mut self, room: &str) {
        if let Some(r) = self.rooms.get_mut(room) {
            r.unread = 0;
            r.mentioned = 0;
            r.seen_upto = annotate::read_marker(r, &self.name);
            self.current = Some(room.to_owned());
        }
    }

    /// The user typed in `room`: tells the others, at most once per 2 s.
    pub fn typing(&mut self, room: &str, now_ms: u64) {
        if !self.is_ready() || !self.rooms.contains_key(room) {
            return;
        }
        let last = self.typing_sent.get(room).copied();
        if last.is_some_and(|t| now_ms < t + limits::TYPING_INTERVAL_MS) {
            return;
        }
        self.typing_sent.insert(room.to_owned(), now_ms);
        self.outgoing.push(ClientFrame::Typing { room: room.to_owned() });
    }

    /// Asks for the page of messages before the oldest shown.
    pub fn load_older(&mut self, room: &str) {
        let ready = self.is_ready();
        let Some(r) = self.rooms.get_mut(room) else {
            return;
        };
        if !ready || !r.more || r.loading_older || !r.synced {
            return;
        }
        r.loading_older = true;
        let before = r.oldest();
        self.outgoing.push(ClientFrame::History { room: room.to_owned(), before, limit: None });
    }

    /// Time passes: typing indicators expire; sends that were refused for a
    /// while, or not acked in time, go out again (with their original id)
    /// until they have been tried [`MAX_ATTEMPTS`] times. Returns true if
    /// anything visible changed.
    pub fn tick(&mut self, now_ms: u64) -> bool {
        let ready = self.is_ready();
        let mut changed = false;
        if ready {
            let last = *self.pinged_ms.get_or_insert(now_ms);
            if now_ms >= last + PING_EVERY_MS {
                self.pinged_ms = Some(now_ms);
                self.outgoing.push(ClientFrame::Ping);
            }
        }
        for (name, r) in self.rooms.iter_mut() {
            changed |= r.expire_typing(now_ms);
            if !ready {
                continue;
            }
            for p in r.pending.iter_mut().filter(|p| p.failed.is_none()) {
                let timed_out = p.retry_at.is_none() && p.sent_ms.is_some_and(|t| now_ms >= t + ACK_TIMEOUT_MS);
                let due = p.retry_at.is_some_and(|t| now_ms >= t) || timed_out;
                if !due {
                    continue;
                }
                changed = true;
                if p.attempts >= MAX_ATTEMPTS {
                    p.failed = Some("The server did not take this message; it was tried several times.".into());
                    continue;
                }
                p.attempts += 1;
                p.sent_ms = Some(now_ms);
                p.retry_at = None;
                self.outgoing.push(p.frame(name));
            }
        }
        changed
    }

    /// Unread messages over all rooms, for the page title.
    pub fn unread_total(&self) -> u32 {
        self.rooms.values().map(|r| r.unread).sum()
    }
}

/// What a message says, as people read it: a reply's text, an edit's new
/// text; nothing for other events.
pub fn shown_text(msg: &Message) -> String {
    if !crate::rooms::is_event_id(&msg.id) {
        return msg.body.clone();
    }
    match serde_json::from_str::<crate::rooms::RoomEvent>(&msg.body) {
        Ok(crate::rooms::RoomEvent::Reply { body, .. }) => body,
        Ok(crate::rooms::RoomEvent::File { name, body, .. }) if body.is_empty() => name,
        Ok(crate::rooms::RoomEvent::File { body, .. }) => body,
        _ => String::new(),
    }
}

/// Backoff of a refused send: 1 s doubling to 16 s.
fn retry_delay(attempts: u32) -> u64 {
    1_000u64 << attempts.saturating_sub(1).min(4)
}

/// A node said no to one of our sends.
fn refused(p: &mut Pending, code: ErrorCode, message: &str, now_ms: u64) {
    match code {
        // Worth trying again (here or on another node), after a pause.
        ErrorCode::RateLimited | ErrorCode::Unavailable | ErrorCode::NotJoined => {
            if p.attempts < MAX_ATTEMPTS {
                p.retry_at = Some(now_ms + retry_delay(p.attempts));
                p.sent_ms = None;
            } else {
                p.failed = Some(format!("{} It was tried several times.", explain(code, message)));
            }
        }
        // Sending it unchanged would be refused again.
        _ => p.failed = Some(explain(code, message)),
    }
}

/// An error in words for people: the code's meaning, then the node's detail.
pub fn explain(code: ErrorCode, message: &str) -> String {
    explain_as(code.describe(), code, message)
}

/// As [`explain`], with the code's words given (a client in another
/// language): the node's detail of an invalid request follows them.
pub fn explain_as(what: &str, code: ErrorCode, message: &str) -> String {
    if message.is_empty() || code != ErrorCode::Invalid {
        what.to_owned()
    } else {
        let mut detail = message.to_owned();
        // Only an ASCII first letter: the node's details are English.
        if let Some(first) = detail.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        format!("{what} {detail}.")
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
