//! Who is in the room: joins with their backlog, leaves, catch-ups for the
//! long poll, presence across the mesh, typing.

use std::sync::Arc;

use meshchat_shared::limits::BACKLOG;
use meshchat_shared::{ErrorCode, Message, RoomVector};

use super::{CatchUp, ConnId, Effect, Loading, Member, Out, ReadFor, ReqId, RoomState};
use crate::presence::Change;

/// How a catch-up is served.
enum Plan {
    Now(CatchUp),
    /// From the store: what `since` lacks up to the committed vector.
    Read(RoomVector),
}

impl RoomState {
    pub(super) fn on_join(&mut self, conn: ConnId, name: Arc<str>, since: Option<RoomVector>, now_ms: u64) {
        if let Some(member) = self.members.get(&conn) {
            // Joined already: everything up to `committed` has been (or, while
            // loading, will be) sent on this connection; no second backlog.
            if member.loading.is_none() {
                let mut vector = self.committed.clone();
                if let Some(s) = &since {
                    vector.merge(s);
                }
                self.answer_join(conn, CatchUp { messages: Vec::new(), vector, gap: false });
            }
            return;
        }
        if let Some(other) = self.looks_like(&name) {
            let message = format!("that name looks like {other}, who is in this room");
            return self.deliver(conn, Out::Refused { code: ErrorCode::NameTaken, message });
        }
        if !self.admit(conn, &name, now_ms) {
            return;
        }
        self.local_join(conn, &name);
        let who = name.clone();
        let mut member = Member { name, skip: None, loading: None, lost_seen: RoomVector::default() };
        match self.plan(since.as_ref()) {
            Plan::Now(catch_up) => {
                let early = self.early_for(since.as_ref());
                member.skip = since.filter(|s| !catch_up.gap && !self.committed.dominates(s));
                self.members.insert(conn, member);
                self.answer_join(conn, catch_up);
                self.deliver_each(conn, early);
            }
            Plan::Read(since) => {
                let read = self.next_id();
                let upto = self.committed.clone();
                let progress = since.clone();
                let buffered = self.early_for(Some(&since));
                member.loading = Some(Loading { read, since, progress, upto, buffered, overflow: false });
                self.members.insert(conn, member);
                self.deliver(conn, Out::Joined { members: self.presence.online().into_iter().collect() });
                self.read_next_page(conn);
            }
        }
        self.show_room(conn, &who);
        if !self.touched {
            self.touched = true;
            self.emit(Effect::Touch);
        }
    }

    /// A name online here that looks like `name` without being it.
    fn looks_like(&self, name: &str) -> Option<String> {
        let online = self.presence.online();
        if online.contains(name) {
            return None;
        }
        let mine = crate::names::skeleton(name);
        online.into_iter().find(|other| crate::names::skeleton(other) == mine)
    }

    /// `joined`, the backlog, `synced`, all at once.
    fn answer_join(&mut self, conn: ConnId, c: CatchUp) {
        self.deliver(conn, Out::Joined { members: self.presence.online().into_iter().collect() });
        let messages = self.shown(c.messages);
        if !messages.is_empty() {
            self.deliver(conn, Out::Backlog(messages));
        }
        self.deliver(conn, Out::Synced { vector: c.vector, gap: c.gap });
    }

    fn deliver(&mut self, conn: ConnId, out: Out) {
        self.emit(Effect::Deliver { to: vec![conn], out });
    }

    /// Live `message` frames, one each.
    fn deliver_each(&mut self, conn: ConnId, msgs: Vec<Arc<Message>>) {
        for msg in msgs {
            self.deliver(conn, Out::Message(msg));
        }
    }

    /// Asks for the next page of a loading member's backlog.
    fn read_next_page(&mut self, conn: ConnId) {
        let limit = self.config.page.max(1);
        let Some(l) = self.members.get(&conn).and_then(|m| m.loading.as_ref()) else { return };
        let (read, since, upto) = (l.read, l.progress.clone(), l.upto.clone());
        self.reads.insert(read, ReadFor::Join(conn));
        self.emit(Effect::Read { read, conn: Some(conn), since, upto, limit });
    }

    pub(super) fn on_catch_up(&mut self, req: ReqId, since: RoomVector) {
        match self.plan(Some(&since)) {
            Plan::Now(catch_up) => self.emit(Effect::CaughtUp { req, catch_up }),
            Plan::Read(since) => {
                let read = self.next_id();
                let upto = self.committed.clone();
                let limit = self.config.page.max(1);
                self.reads.insert(read, ReadFor::Poll { req, since: since.clone(), upto: upto.clone() });
                self.emit(Effect::Read { read, conn: None, since, upto, limit });
            }
        }
    }

    /// The latest messages, the cache, or a read: whatever serves `since`.
    fn plan(&self, since: Option<&RoomVector>) -> Plan {
        let Some(since) = since else {
            return Plan::Now(self.latest(false));
        };
        let mut vector = self.committed.clone();
        vector.merge(since);
        let missing = since.missing_from(&self.committed);
        if missing == 0 {
            return Plan::Now(CatchUp { messages: Vec::new(), vector, gap: false });
        }
        if missing > self.config.catchup_limit {
            return Plan::Now(self.latest(true));
        }
        match self.cache.since(since, &self.committed) {
            Some(messages) => Plan::Now(CatchUp { messages: self.shown(messages), vector, gap: false }),
            None => Plan::Read(since.clone()),
        }
    }

    fn latest(&self, gap: bool) -> CatchUp {
        CatchUp { messages: self.shown(self.cache.latest(BACKLOG)), vector: self.committed.clone(), gap }
    }

    pub(super) fn on_read(&mut self, read: u64, msgs: Option<Vec<Message>>) {
        let Some(who) = self.reads.remove(&read) else { return };
        let full = msgs.as_ref().is_some_and(|m| m.len() >= self.config.page.max(1));
        match who {
            ReadFor::Poll { req, since, upto } => {
                let catch_up = match msgs {
                    // A page: the client holds `since` and this page, a
                    // prefix in room order, so per origin a prefix too.
                    Some(msgs) => {
                        let mut vector = since;
                        if full {
                            absorb(&mut vector, &msgs);
                        } else {
                            vector.merge(&upto);
                        }
                        CatchUp { messages: self.shown(msgs.into_iter().map(Arc::new).collect()), vector, gap: false }
                    }
                    None => self.latest(true),
                };
                self.emit(Effect::CaughtUp { req, catch_up });
            }
            ReadFor::Join(conn) => self.on_page(conn, msgs, full),
        }
    }

    /// A page of a joiner's backlog came back.
    fn on_page(&mut self, conn: ConnId, msgs: Option<Vec<Message>>, full: bool) {
        let Some(loading) = self.members.get_mut(&conn).and_then(|m| m.loading.as_mut()) else { return };
        let page = match msgs {
            Some(page) if !loading.overflow => page,
            // The store could not say, or too much happened meanwhile: the
            // latest, and the client starts its view over.
            _ => {
                self.members.get_mut(&conn).map(|m| m.loading.take());
                let c = self.latest(true);
                self.deliver(conn, Out::Backlog(c.messages));
                self.deliver(conn, Out::Synced { vector: c.vector, gap: true });
                return self.deliver_each(conn, self.early_for(None));
            }
        };
        absorb(&mut loading.progress, &page);
        let page = self.shown(page.into_iter().map(Arc::new).collect());
        if !page.is_empty() {
            self.deliver(conn, Out::Backlog(page));
        }
        if full {
            return self.read_next_page(conn);
        }
        let Some(l) = self.members.get_mut(&conn).and_then(|m| m.loading.take()) else { return };
        let mut vector = l.upto;
        vector.merge(&l.since);
        self.deliver(conn, Out::Synced { vector, gap: false });
        // What came meanwhile, but what the client said it holds: this node
        // may have caught up with `since` during the read.
        for msg in l.buffered {
            if !l.since.covers(&msg.origin, msg.seq) {
                self.deliver(conn, Out::Message(msg));
            }
        }
        let skip = Some(l.since).filter(|s| !self.committed.dominates(s));
        if let Some(m) = self.members.get_mut(&conn) {
            m.skip = skip;
        }
    }

    /// Counts a connection of `name` in; tells peers about a first one, and
    /// the others here about a name newly online.
    fn local_join(&mut self, conn: ConnId, name: &Arc<str>) {
        let (first_here, change) = self.presence.local_join(name);
        self.presence_dirty = true;
        if first_here {
            self.emit(Effect::AnnouncePresence { name: name.clone(), online: true });
            self.emit_local_names();
        }
        if let Some(c) = change {
            self.announce(c, Some(conn));
        }
    }

    /// A connection is out of the room: at once (it left), or with its
    /// name lingering until `linger` (it ended without leaving).
    pub(super) fn remove_member(&mut self, conn: ConnId, linger: Option<u64>) {
        let Some(member) = self.members.remove(&conn) else { return };
        if let Some(l) = &member.loading {
            self.reads.remove(&l.read);
        }
        self.presence_dirty = true;
        if let Some(until) = linger {
            return self.presence.local_gone(&member.name, until);
        }
        let (last_here, change) = self.presence.local_leave(&member.name);
        if last_here {
            self.emit(Effect::AnnouncePresence { name: member.name.clone(), online: false });
            self.emit_local_names();
        }
        if let Some(c) = change {
            self.announce(c, None);
        }
    }

    /// Grace periods that are over: names that lingered here leave (peers
    /// are told), and the members here hear who is gone.
    pub(super) fn grace_over(&mut self, now_ms: u64) {
        let expired = self.presence.tick(now_ms);
        for name in &expired.left_here {
            self.emit(Effect::AnnouncePresence { name: name.as_str().into(), online: false });
        }
        if !expired.left_here.is_empty() {
            self.emit_local_names();
        }
        self.announce_all(expired.changes);
    }

    fn emit_local_names(&mut self) {
        let names = self.presence.local_names().map(str::to_owned).collect();
        self.emit(Effect::LocalNames(names));
    }

    pub(super) fn announce_all(&mut self, changes: impl IntoIterator<Item = Change>) {
        self.presence_dirty = true;
        for c in changes {
            self.announce(c, None);
        }
    }

    /// Tells the members here (but `except`) that a name came or went.
    fn announce(&mut self, change: Change, except: Option<ConnId>) {
        let (name, online) = match change {
            Change::Online(n) => (n, true),
            Change::Offline(n) => (n, false),
        };
        let to = self.ready_members(|id, _| Some(id) != except);
        if !to.is_empty() {
            self.emit(Effect::Deliver { to, out: Out::Presence { name: name.into(), online } });
        }
    }

    pub(super) fn on_typing(&mut self, conn: ConnId) {
        let Some(name) = self.members.get(&conn).map(|m| m.name.clone()) else { return };
        self.show_typing(name.clone());
        self.emit(Effect::AnnounceTyping { name });
    }

    /// Shows `name` typing to everyone here but that name's own connections.
    pub(super) fn show_typing(&mut self, name: Arc<str>) {
        let to = self.ready_members(|_, m| m.name != name);
        if !to.is_empty() {
            self.emit(Effect::Deliver { to, out: Out::Typing { name } });
        }
    }

    /// Members that `pick` selects (each has had its `joined`).
    fn ready_members(&self, pick: impl Fn(ConnId, &Member) -> bool) -> Vec<ConnId> {
        self.members.iter().filter(|(id, m)| pick(**id, m)).map(|(id, _)| *id).collect()
    }
}

/// Raises `v` to cover every message of `page` (a prefix per origin).
fn absorb(v: &mut RoomVector, page: &[Message]) {
    for m in page {
        if m.seq > v.get(&m.origin) {
            v.set(&m.origin, m.seq);
        }
    }
}
