//! One room as the app shows it: messages in room order, the room vector,
//! sends waiting for their ack, who is here and who is typing.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::{Cursor, Message, RoomVector};

/// How long "bob is typing…" stays up without a new `typing` frame.
pub const TYPING_SHOWN_MS: u64 = 5_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Msg(Message),
    /// Someone came or went, stamped with this browser's clock.
    Presence {
        name: String,
        online: bool,
    },
}

/// A message typed here and not yet acknowledged by a node: the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: String,
    pub body: String,
    pub created_ms: u64,
    /// When it last went out on a connection; `None` while it could not.
    pub sent_ms: Option<u64>,
    /// Why it failed, in words; `None` while it is still on its way.
    pub failed: Option<String>,
    /// How many times it went out without an ack.
    pub attempts: u32,
    /// A refused send waits until then before going out again.
    pub retry_at: Option<u64>,
    /// A reply, an edit, a reaction or a delete (`act`, its id `§` + the
    /// client's), rather than a message.
    pub action: Option<crate::rooms::RoomEvent>,
}

impl Pending {
    pub fn new(id: &str, body: &str, created_ms: u64) -> Pending {
        Pending {
            id: id.to_owned(),
            body: body.to_owned(),
            created_ms,
            sent_ms: None,
            failed: None,
            attempts: 0,
            retry_at: None,
            action: None,
        }
    }

    /// The frame that sends it.
    pub fn frame(&self, room: &str) -> crate::ClientFrame {
        match &self.action {
            Some(action) => crate::ClientFrame::Act {
                room: room.to_owned(),
                id: self.id.trim_start_matches(crate::rooms::EVENT_PREFIX).to_owned(),
                action: action.clone(),
            },
            None => crate::ClientFrame::Send { room: room.to_owned(), id: self.id.clone(), body: self.body.clone() },
        }
    }
}

/// Entries after a thread's root looked through for one's own replies.
const THREAD_SCAN: usize = 5_000;

#[derive(Debug, Clone, Default)]
pub struct RoomView {
    pub name: String,
    /// Messages and presence notices, in room order.
    entries: BTreeMap<Cursor, Entry>,
    /// `(author, id)` → key: one entry per idempotency key.
    by_id: HashMap<(String, String), Cursor>,
    /// `(origin, seq)` → key: what edits, deletes and replies name.
    by_place: HashMap<(String, u64), Cursor>,
    /// Bumped whenever an entry is added, removed or changed: what a view
    /// of the entries checks before it is built again.
    changes: u64,
    /// Bumped when an event is added (a thread reply, a marker, an edit,
    /// a delete) or an entry removed: what a view of the room's threads
    /// checks, so that a plain message does not fold the room again.
    thread_changes: u64,
    /// Exactly what this view holds, gapless per origin: the `since` of a resume.
    pub vector: RoomVector,
    /// Seqs held above `vector` (a gap below them), waiting to be absorbed.
    ahead: HashMap<String, BTreeSet<u64>>,
    pub pending: Vec<Pending>,
    pub members: BTreeSet<String>,
    /// Name → when the indicator expires.
    typing: BTreeMap<String, u64>,
    pub unread: u32,
    /// Unread messages that mention this user: counted apart.
    pub mentioned: u32,
    /// Older messages may exist before the first one shown.
    pub more: bool,
    pub loading_older: bool,
    /// The backlog of the current join has been received.
    pub synced: bool,
    /// A join's backlog came once: the view holds the room up to `vector`,
    /// an empty room included, so a reconnect resumes from it (and gets
    /// everything said meanwhile) rather than starting from the latest page.
    held: bool,
    /// A join's backlog while it arrives (between `joined` and `synced`).
    backlog: Option<Vec<Message>>,
    /// Orders presence notices that share a millisecond.
    notice_seq: u64,
    /// Each deleted message's first delete held, by where it sits: a
    /// reaction or reply to it placed after that is void, as the nodes'
    /// governance has it (a client may have got one before the delete).
    deleted_at: HashMap<(String, u64), Cursor>,
    /// Members, roles and topic (protocol 1.1 rooms), from `room` frames.
    pub info: Option<crate::rooms::RoomInfo>,
    /// Why the node took this connection out of the room, if it did.
    pub removed: Option<String>,
    /// The user's read marker when the room was last shown: where the
    /// "new messages" line goes.
    pub seen_upto: Option<Cursor>,
}

impl RoomView {
    pub fn new(name: &str) -> Self {
        RoomView { name: name.to_owned(), more: true, ..Default::default() }
    }

    /// Entries with their keys; a presence notice's key holds its local time.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = (&Cursor, &Entry)> + '_ {
        self.entries.iter()
    }

    pub fn messages(&self) -> impl Iterator<Item = &Message> + '_ {
        self.entries.values().filter_map(|e| match e {
            Entry::Msg(m) => Some(m),
            Entry::Presence { .. } => None,
        })
    }

    /// Did `who` follow the thread of `root` before `before`: wrote it, was
    /// mentioned in it, or replied or was mentioned in the thread before
    /// then (looked for among the entries after the root, a bounded number)?
    pub fn follows_thread(&self, root: &(String, u64), who: &str, before: &Cursor) -> bool {
        let Some(r) = self.get(&root.0, root.1) else { return false };
        let replies: Vec<&Message> = self
            .entries_from(Some(&r.cursor()))
            .take_while(|(k, _)| *k < before)
            .take(THREAD_SCAN)
            .filter_map(|(_, e)| match e {
                Entry::Msg(m) if crate::rooms::thread_root(m).is_some_and(|(t, _)| t == *root) => Some(m),
                _ => None,
            })
            .collect();
        super::threads::follows(Some(r), &super::shown_text(r), &replies, who)
    }

    /// Does the view hold a message with this idempotency key?
    pub fn contains(&self, author: &str, id: &str) -> bool {
        self.by_id.contains_key(&(author.to_owned(), id.to_owned()))
    }

    pub fn message_count(&self) -> usize {
        self.by_id.len()
    }

    /// Whether a join resumes from `vector` (`since`) or starts afresh
    /// from the room's latest page.
    pub fn resumes(&self) -> bool {
        self.held || self.message_count() > 0
    }

    /// Changes to the entries so far (any add, removal or change).
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Changes so far that may change the room's threads.
    pub fn thread_changes(&self) -> u64 {
        self.thread_changes
    }

    /// The message at `origin:seq`, if this view holds it.
    pub fn get(&self, origin: &str, seq: u64) -> Option<&Message> {
        let key = self.by_place.get(&(origin.to_owned(), seq))?;
        match self.entries.get(key) {
            Some(Entry::Msg(m)) => Some(m),
            _ => None,
        }
    }

    /// Entries from `from` on (all of them without one).
    pub fn entries_from(&self, from: Option<&Cursor>) -> impl DoubleEndedIterator<Item = (&Cursor, &Entry)> + '_ {
        use std::ops::Bound;
        let lower = from.map_or(Bound::Unbounded, |c| Bound::Included(c.clone()));
        self.entries.range((lower, Bound::Unbounded))
    }

    /// The entry just before `at`.
    pub fn entry_before(&self, at: &Cursor) -> Option<(&Cursor, &Entry)> {
        self.entries.range(..at.clone()).next_back()
    }

    /// The key of the first entry held.
    pub fn first_key(&self) -> Option<Cursor> {
        self.entries.keys().next().cloned()
    }

    /// The key `n` entries before `at` (before the end without it), or the
    /// first key when fewer are held; `None` for an empty view.
    pub fn key_back(&self, at: Option<&Cursor>, n: usize) -> Option<Cursor> {
        let below = match at {
            Some(c) => self.entries.range(..c.clone()),
            None => self.entries.range(..),
        };
        let mut last = at.cloned();
        for (i, (k, _)) in below.rev().enumerate() {
            last = Some(k.clone());
            if i + 1 == n {
                break;
            }
        }
        last.or_else(|| self.first_key())
    }

    /// The key `n` entries after `at`, or `None` past the end.
    pub fn key_forward(&self, at: &Cursor, n: usize) -> Option<Cursor> {
        self.entries.range(at.clone()..).nth(n).map(|(k, _)| k.clone())
    }

    /// The key of the oldest message held: the `before` of a history request.
    pub fn oldest(&self) -> Option<Cursor> {
        self.messages().next().map(Message::cursor)
    }

    /// Adds a message, keeping one per `(author, id)`: of two copies, the
    /// earlier in room order, as every node does. True if the view changed.
    pub fn insert(&mut self, msg: Message) -> bool {
        let key = msg.cursor();
        match targets(&msg) {
            Some((Target::Answer, t)) if self.deleted_at.get(&t).is_some_and(|d| *d < key) => return false,
            Some((Target::Delete, t)) => self.void_after_delete(t, &key),
            _ => {}
        }
        let idem = (msg.author.clone(), msg.id.clone());
        if let Some(old) = self.by_id.get(&idem) {
            if *old <= key {
                return false;
            }
            let old = old.clone();
            self.drop_entry(&old);
        }
        self.by_id.insert(idem, key.clone());
        self.by_place.insert((msg.origin.clone(), msg.seq), key.clone());
        if crate::rooms::is_event_id(&msg.id) {
            self.thread_changes += 1;
        }
        self.entries.insert(key, Entry::Msg(msg));
        self.changes += 1;
        true
    }

    /// A delete of `target` at `at`: the reactions and replies to it held
    /// after that place were not part of the room (sim: a reaction sent
    /// to a node that had not heard of a concurrent delete yet).
    fn void_after_delete(&mut self, target: (String, u64), at: &Cursor) {
        if self.deleted_at.get(&target).is_some_and(|d| d <= at) {
            return;
        }
        self.deleted_at.insert(target.clone(), at.clone());
        let void: Vec<Cursor> = self
            .entries
            .range(at.clone()..)
            .filter(|(_, e)| matches!(e, Entry::Msg(m) if targets(m) == Some((Target::Answer, target.clone()))))
            .map(|(k, _)| k.clone())
            .collect();
        for k in void {
            self.drop_entry(&k);
        }
    }

    /// `hidden`: messages of `author` from `from` on are not part of the room.
    pub fn hide_from(&mut self, author: &str, from: &Cursor) {
        let gone: Vec<Cursor> = self
            .entries
            .range(from.clone()..)
            .filter(|(_, e)| matches!(e, Entry::Msg(m) if m.author == author))
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone {
            self.drop_entry(&k);
        }
    }

    /// `deleted`: the message at `origin:seq` was deleted: its text goes,
    /// a tombstone stays.
    pub fn delete(&mut self, origin: &str, seq: u64) {
        let key = self.by_place.get(&(origin.to_owned(), seq));
        if let Some(Entry::Msg(m)) = key.and_then(|k| self.entries.get_mut(k)) {
            m.body = crate::rooms::REDACTED.to_owned();
            self.changes += 1;
            self.thread_changes += 1;
        }
    }

    fn drop_entry(&mut self, key: &Cursor) {
        if let Some(Entry::Msg(m)) = self.entries.remove(key) {
            self.by_place.remove(&(m.origin, m.seq));
            self.by_id.remove(&(m.author, m.id));
            self.changes += 1;
            self.thread_changes += 1;
        }
    }

    /// Counts a delivered message into the vector, only ever contiguously:
    /// a vector that claimed a seq it lacks would make a resume skip it.
    pub fn absorb(&mut self, origin: &str, seq: u64) {
        let have = self.vector.get(origin);
        if seq <= have {
            return;
        }
        if seq > have + 1 {
            self.ahead.entry(origin.to_owned()).or_default().insert(seq);
            return;
        }
        let mut top = seq;
        if let Some(set) = self.ahead.get_mut(origin) {
            while set.remove(&(top + 1)) {
                top += 1;
            }
            set.retain(|&s| s > top);
        }
        self.vector.set(origin, top);
    }

    /// Raises the vector to a node's word for it (`synced.vector`).
    pub fn adopt_vector(&mut self, v: &RoomVector) {
        self.vector.merge(v);
        let origins: Vec<String> = self.ahead.keys().cloned().collect();
        for o in origins {
            let have = self.vector.get(&o);
            if let Some(set) = self.ahead.get_mut(&o) {
                set.retain(|&s| s > have);
            }
            // Seqs just above the new vector can now be absorbed.
            if let Some(&next) = self.ahead.get(&o).and_then(|s| s.first())
                && next == have + 1
            {
                self.absorb(&o, next);
            }
        }
    }

    /// Starts receiving a join's backlog.
    pub fn begin_backlog(&mut self) {
        self.backlog = Some(Vec::new());
        self.synced = false;
    }

    /// Takes a message during a join's backlog; false if no backlog is open.
    pub fn backlog_push(&mut self, msg: Message) -> bool {
        match &mut self.backlog {
            Some(b) => {
                b.push(msg);
                true
            }
            None => false,
        }
    }

    /// Ends a join's backlog. With `gap`, what was shown is stale: the view
    /// becomes the backlog alone. Returns the places of the messages it
    /// added, in room order.
    pub fn finish_backlog(&mut self, vector: &RoomVector, gap: bool, fresh_join: bool) -> Vec<(String, u64)> {
        let backlog = self.backlog.take().unwrap_or_default();
        if gap {
            self.entries.retain(|_, e| matches!(e, Entry::Presence { .. }));
            self.by_id.clear();
            self.by_place.clear();
            self.changes += 1;
            self.thread_changes += 1;
            self.vector = RoomVector::new();
            self.ahead.clear();
            self.more = true;
        } else if fresh_join {
            // Without `since` the node sends the latest 50: fewer means
            // the room holds no more.
            self.more = backlog.len() >= crate::limits::BACKLOG;
        }
        let mut added = Vec::new();
        for m in backlog {
            let place = (m.origin.clone(), m.seq);
            if self.insert(m) {
                added.push(place);
            }
        }
        self.adopt_vector(vector);
        self.synced = true;
        self.held = true;
        added
    }

    /// Older messages from a `history` answer.
    pub fn prepend_history(&mut self, messages: Vec<Message>, more: bool) {
        for m in messages {
            self.insert(m);
        }
        self.more = more;
        self.loading_older = false;
    }

    pub fn note_presence(&mut self, name: &str, online: bool, now_ms: u64) {
        if online {
            self.members.insert(name.to_owned());
        } else {
            self.members.remove(name);
            self.typing.remove(name);
        }
        self.notice_seq += 1;
        let key = Cursor { ts: now_ms, origin: String::new(), seq: self.notice_seq };
        self.entries.insert(key, Entry::Presence { name: name.to_owned(), online });
        self.changes += 1;
    }

    pub fn note_typing(&mut self, name: &str, now_ms: u64) {
        self.typing.insert(name.to_owned(), now_ms + TYPING_SHOWN_MS);
    }

    /// A message from someone ends their typing indicator.
    pub fn stop_typing(&mut self, name: &str) {
        self.typing.remove(name);
    }

    /// Names typing now, in name order.
    pub fn typing_names(&self, now_ms: u64) -> Vec<String> {
        self.typing.iter().filter(|&(_, &until)| until > now_ms).map(|(n, _)| n.clone()).collect()
    }

    /// Drops expired typing indicators; true if any was dropped.
    pub fn expire_typing(&mut self, now_ms: u64) -> bool {
        let before = self.typing.len();
        self.typing.retain(|_, until| *until > now_ms);
        before != self.typing.len()
    }

    pub fn clear_typing(&mut self) {
        self.typing.clear();
    }

    pub fn pending_mut(&mut self, id: &str) -> Option<&mut Pending> {
        self.pending.iter_mut().find(|p| p.id == id)
    }

    pub fn remove_pending(&mut self, id: &str) -> Option<Pending> {
        let i = self.pending.iter().position(|p| p.id == id)?;
        Some(self.pending.remove(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(origin: &str, seq: u64, ts: u64, author: &str, id: &str) -> Message {
        Message {
            ts,
            author: author.into(),
            id: id.into(),
            body: format!("{origin}{seq}"),
            ..Message::sample("r", origin, seq)
        }
    }

    fn order(r: &RoomView) -> Vec<(String, u64)> {
        r.messages().map(|m| (m.origin.clone(), m.seq)).collect()
    }

    fn event(origin: &str, seq: u64, ts: u64, body: &str) -> Message {
        Message { body: body.into(), ..m(origin, seq, ts, "u", &format!("§{origin}{seq}")) }
    }

    /// As the nodes' governance: a reaction or reply placed after a delete
    /// of its target is void, whichever came to this client first (nemesis
    /// seed 11972577642793530502: a reaction accepted by a node that had
    /// not heard of the delete yet, shown, then dropped by every node).
    #[test]
    fn reactions_and_replies_placed_after_a_delete_of_their_target_go() {
        let react = r#"{"event":"reacted","origin":"n1","seq":1,"emoji":"🎉","on":true}"#;
        let reply = r#"{"event":"reply","origin":"n1","seq":1,"body":"hi"}"#;
        let delete = r#"{"event":"deleted","origin":"n1","seq":1}"#;
        let mut r = RoomView::new("r");
        r.insert(m("n1", 1, 10, "a", "target"));
        r.insert(event("n2", 1, 15, react));
        r.insert(event("n2", 2, 30, react));
        r.insert(event("n2", 3, 31, reply));
        r.insert(event("n3", 1, 20, delete));
        assert_eq!(order(&r), [("n1".into(), 1), ("n2".into(), 1), ("n3".into(), 1)], "the ones after the delete go");
        assert!(!r.insert(event("n2", 4, 40, react)), "and one arriving later is void");
        assert!(r.insert(event("n2", 5, 18, react)), "one placed before the delete counts");
    }

    #[test]
    fn messages_arriving_out_of_order_are_shown_in_room_order() {
        let mut r = RoomView::new("r");
        r.insert(m("n2", 1, 30, "b", "3"));
        r.insert(m("n1", 2, 20, "a", "2"));
        r.insert(m("n1", 1, 10, "a", "1"));
        r.insert(m("n3", 1, 20, "c", "x"));
        assert_eq!(order(&r), [("n1".into(), 1), ("n1".into(), 2), ("n3".into(), 1), ("n2".into(), 1)]);
        assert_eq!(r.oldest().unwrap().seq, 1);
    }

    #[test]
    fn one_entry_per_author_and_id_the_earlier_copy_wins() {
        let mut r = RoomView::new("r");
        assert!(r.insert(m("n2", 1, 50, "alice", "same")));
        assert!(!r.insert(m("n2", 1, 50, "alice", "same")), "exact duplicate");
        // A copy from another origin that sorts earlier replaces it ...
        assert!(r.insert(m("n1", 4, 40, "alice", "same")));
        // ... and one that sorts later is ignored.
        assert!(!r.insert(m("n3", 9, 60, "alice", "same")));
        assert_eq!(order(&r), [("n1".into(), 4)]);
        // The same id from another author is another message.
        assert!(r.insert(m("n1", 5, 45, "bob", "same")));
        assert_eq!(r.message_count(), 2);
    }

    #[test]
    fn the_vector_only_grows_contiguously() {
        let mut r = RoomView::new("r");
        r.absorb("n1", 1);
        r.absorb("n1", 3);
        assert_eq!(r.vector.get("n1"), 1, "n1:2 is missing");
        r.absorb("n1", 4);
        r.absorb("n1", 2);
        assert_eq!(r.vector.get("n1"), 4);
        r.absorb("n2", 2);
        r.adopt_vector(&[("n2", 1)].into_iter().collect());
        assert_eq!(r.vector.get("n2"), 2, "the held seq above the adopted vector is absorbed");
    }

    #[test]
    fn a_backlog_with_gap_replaces_the_view() {
        let mut r = RoomView::new("r");
        r.insert(m("n1", 1, 10, "a", "1"));
        r.absorb("n1", 1);
        r.begin_backlog();
        assert!(r.backlog_push(m("n1", 90, 900, "a", "90")));
        let v: RoomVector = [("n1", 90)].into_iter().collect();
        r.finish_backlog(&v, true, false);
        assert_eq!(order(&r), [("n1".into(), 90)]);
        assert_eq!(r.vector, v);
        assert!(r.more && r.synced);
        assert!(!r.backlog_push(m("n1", 91, 901, "a", "91")), "backlog is closed");
    }

    #[test]
    fn a_short_first_backlog_means_there_is_nothing_older() {
        let mut r = RoomView::new("r");
        r.begin_backlog();
        r.backlog_push(m("n1", 1, 10, "a", "1"));
        r.finish_backlog(&[("n1", 1)].into_iter().collect(), false, true);
        assert!(!r.more);
    }

    #[test]
    fn typing_expires_and_ends_with_a_message_or_a_leave() {
        let mut r = RoomView::new("r");
        r.note_typing("bob", 1_000);
        r.note_typing("carol", 3_000);
        assert_eq!(r.typing_names(2_000), ["bob", "carol"]);
        assert_eq!(r.typing_names(1_000 + TYPING_SHOWN_MS), ["carol"]);
        assert!(r.expire_typing(1_000 + TYPING_SHOWN_MS));
        assert!(!r.expire_typing(1_000 + TYPING_SHOWN_MS));
        r.stop_typing("carol");
        assert!(r.typing_names(3_000).is_empty());
        r.note_typing("dave", 0);
        r.note_presence("dave", false, 10);
        assert!(r.typing_names(1).is_empty());
    }

    #[test]
    fn presence_notices_sit_in_the_timeline() {
        let mut r = RoomView::new("r");
        r.insert(m("n1", 1, 100, "a", "1"));
        r.note_presence("bob", true, 150);
        r.note_presence("bob", false, 150);
        r.insert(m("n1", 2, 200, "a", "2"));
        let kinds: Vec<_> = r
            .entries()
            .map(|(_, e)| match e {
                Entry::Msg(m) => format!("m{}", m.seq),
                Entry::Presence { name, online } => format!("{name}:{online}"),
            })
            .collect();
        assert_eq!(kinds, ["m1", "bob:true", "bob:false", "m2"]);
        assert!(r.members.is_empty());
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// A reaction or a reply: void after a delete of its target.
    Answer,
    Delete,
}

/// What an event message names, for the rule of deleted targets.
fn targets(msg: &Message) -> Option<(Target, (String, u64))> {
    use crate::rooms::RoomEvent;
    if !crate::rooms::is_event_id(&msg.id) || crate::rooms::is_redacted(&msg.body) {
        return None;
    }
    match serde_json::from_str::<RoomEvent>(&msg.body).ok()? {
        RoomEvent::Reacted { origin, seq, .. } | RoomEvent::Reply { origin, seq, .. } => {
            Some((Target::Answer, (origin, seq)))
        }
        RoomEvent::Deleted { origin, seq } => Some((Target::Delete, (origin, seq))),
        _ => None,
    }
}
