//! The room's governance at work: who may send, join and read; what an
//! event changes for the connections in the room.

use std::sync::Arc;

use meshchat_shared::rooms::{RoomEvent, StoredEvent, erasable, expirable, is_event_id};
use meshchat_shared::{ErrorCode, Message};

use super::{ConnId, Effect, Held, Out, RoomState, Waiter};
use crate::governance::Consequence;
use crate::without_text;

impl RoomState {
    /// May `author` send this now? An event must be allowed by the room's
    /// state; a message needs the right to post.
    pub(super) fn check_send(&self, author: &str, id: &str, body: &str) -> Result<(), ErrorCode> {
        if !is_event_id(id) {
            return if self.gov.can_post(author) { Ok(()) } else { Err(ErrorCode::Forbidden) };
        }
        match serde_json::from_str::<StoredEvent>(body) {
            Ok(e) if self.gov.permits_stored(author, &e) => Ok(()),
            Ok(_) => Err(ErrorCode::Forbidden),
            Err(_) => Err(ErrorCode::Invalid),
        }
    }

    /// A join: refused if `name` may not read the room; a first join of a
    /// public room makes a member (a `joined` event).
    pub(super) fn admit(&mut self, conn: ConnId, name: &Arc<str>, now_ms: u64) -> bool {
        if self.gov.joins_as_member(name) {
            let body = serde_json::to_string(&StoredEvent::new(RoomEvent::Joined));
            let n = self.next_id();
            let id = format!("§joined-{}-{now_ms}-{n}", self.node);
            // Nobody waits for this one's ack.
            let waiter = Waiter { req: 0, conn: None };
            let body = body.unwrap_or_default();
            if self.parked.is_some() {
                // Behind the lookup, as sends wait: its vector would name
                // peers' messages delivered but not yet handed to the
                // store, and it would be stored before them (sim seed 8002169).
                self.held.push_back(Held::Send(waiter, name.clone(), id, body));
            } else {
                self.accept(waiter, name.clone(), id, body, now_ms);
            }
            return true;
        }
        if self.gov.can_read(name) {
            return true;
        }
        let message = "you are not a member of this room".to_owned();
        self.emit(Effect::Deliver { to: vec![conn], out: Out::Refused { code: ErrorCode::Forbidden, message } });
        false
    }

    /// Takes a stored or accepted message into the governance if it is an
    /// event, and tells the connections here what changed. What this costs
    /// does not grow with the room's history: the room is shown again, and
    /// who may still read it checked, only when its members or settings
    /// changed; the state published for readers is a cheap clone.
    pub(super) fn govern(&mut self, msg: &Message) {
        if !is_event_id(&msg.id) {
            return;
        }
        let changes = self.gov.insert(msg);
        self.erase_new(changes.erased, changes.authors);
        if !changes.changed {
            return;
        }
        let everyone: Vec<ConnId> = self.members.keys().copied().collect();
        for c in changes.consequences {
            let out = match c {
                Consequence::Hidden { user, from } => Out::Hidden { user: user.into(), from },
                Consequence::Deleted { origin, seq } => Out::Deleted { origin, seq },
            };
            self.emit(Effect::Deliver { to: everyone.clone(), out });
        }
        if changes.reshaped {
            self.reshaped();
        }
        self.emit(Effect::Governance(Arc::new(self.gov.view().clone())));
    }

    /// Who belongs to the room, or how it is set up, changed: whoever may
    /// no longer read it is out of it (on this node), the others are shown
    /// it again.
    fn reshaped(&mut self) {
        let out: Vec<(ConnId, Arc<str>)> = self
            .members
            .iter()
            .filter(|(_, m)| !self.gov.can_read(&m.name))
            .map(|(c, m)| (*c, m.name.clone()))
            .collect();
        for (conn, _) in &out {
            let reason = if self.gov.is_deleted() { "the room was deleted" } else { "you are no longer in this room" };
            self.emit(Effect::Deliver { to: vec![*conn], out: Out::Removed { reason: reason.into() } });
            self.remove_member(*conn, None);
        }
        self.show_room_to_all();
    }

    /// Erases, from memory and storage, texts that became deleted (`new`),
    /// and every text of people whose account went with them (`authors`).
    fn erase_new(&mut self, new: Vec<(String, u64)>, authors: Vec<String>) {
        // Not handed to the store yet: stored without its text. Every entry
        // the log says is erased, not only newly: a delete may have come
        // before the message it names (this one, just taken in). Those
        // waiting are a batch or two: this does not grow with the room.
        let (erased, gov) = (self.gov.erased(), self.gov.view());
        let due = |m: &Message| {
            (erased.contains(&(m.origin.clone(), m.seq)) || gov.author_erased(&m.author)) && erasable(&m.id, &m.body)
        };
        for b in self.building.iter_mut().filter(|b| due(&b.msg)) {
            let erased = without_text(&b.msg);
            // The same copy where the commit looks for it, and without its
            // text for a repeat of its key meanwhile.
            let key = (Arc::<str>::from(b.msg.author.as_str()), b.msg.id.clone());
            if let Some(m) = self.uncommitted.get_mut(&key).filter(|m| Arc::ptr_eq(m, &b.msg)) {
                *m = erased.clone();
            }
            b.msg = erased;
        }
        // Shown before its commit: a joiner meanwhile gets it without.
        for m in self.early.iter_mut().filter(|m| due(m)) {
            *m = without_text(m);
        }
        if !authors.is_empty() {
            self.cache.drop_if(|m| authors.contains(&m.author) && expirable(&m.id, &m.body));
            self.erasing_authors.extend(authors);
        }
        if new.is_empty() {
            return;
        }
        for (o, s) in &new {
            self.cache.redact(o, *s);
        }
        self.erasing.extend(new);
    }

    /// A `room` frame to each connection, as its user sees the room.
    fn show_room_to_all(&mut self) {
        let conns: Vec<(ConnId, Arc<str>)> = self.members.iter().map(|(c, m)| (*c, m.name.clone())).collect();
        for (conn, name) in conns {
            self.show_room(conn, &name);
        }
    }

    /// (Open rooms of protocol 1 have nothing to show: no frame, so that
    /// clients of version 1 see nothing new.)
    pub(super) fn show_room(&mut self, conn: ConnId, name: &str) {
        if !self.gov.is_governed() {
            return;
        }
        let info = self.gov.info(&self.name, name);
        self.emit(Effect::Deliver { to: vec![conn], out: Out::Room(Box::new(info)) });
    }

    /// As the log now has it: a delete that came while `msg` was with the
    /// store erased it there (the `Erase` follows its insert).
    pub(super) fn as_stored(&self, msg: Arc<Message>) -> Arc<Message> {
        let erased = self.gov.erased().contains(&(msg.origin.clone(), msg.seq));
        if erased && erasable(&msg.id, &msg.body) { without_text(&msg) } else { msg }
    }

    /// A peer's message deleted here already (or an edit of one), or by
    /// someone whose account went with what they wrote, stored without its
    /// text: the delete came first.
    pub(super) fn erased_if_deleted(&self, msg: Arc<Message>) -> Arc<Message> {
        let target = match serde_json::from_str::<StoredEvent>(&msg.body) {
            Ok(StoredEvent { event: RoomEvent::Edited { origin, seq, .. }, .. }) if is_event_id(&msg.id) => {
                (origin, seq)
            }
            _ => (msg.origin.clone(), msg.seq),
        };
        let gone = self.gov.is_redacted(&target.0, target.1) || self.gov.author_erased(&msg.author);
        if !gone || !erasable(&msg.id, &msg.body) {
            return msg;
        }
        without_text(&msg)
    }

    /// Only what is part of the room (a store read may race the erasing
    /// of what is past the retention policy).
    pub(super) fn shown(&self, msgs: Vec<Arc<Message>>) -> Vec<Arc<Message>> {
        msgs.into_iter().filter(|m| self.gov.visible(m) && !self.is_expired(m)).collect()
    }
}
