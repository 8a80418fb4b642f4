//! A room's events in room order and their fold, kept up to date event by
//! event at a cost that does not grow with the room's history.
//!
//! An event that sorts after every other (the usual case) is applied to
//! the current state. One that sorts before some already applied (a
//! peer's, delivered late) is folded in from the latest snapshot of the
//! state before its place, taken every [`SNAPSHOT_EVERY`] events: the cost
//! is the events since that snapshot. Only an event older than every
//! snapshot kept folds the whole log again.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::ops::Bound::{Excluded, Unbounded};
use std::sync::Arc;

use meshchat_shared::rooms::{RoomEvent, StoredEvent, is_event_id};
use meshchat_shared::{Cursor, Message};

use super::fold::{Event, State};
use super::{Consequence, Governance, Key, held_name};

/// Events between two snapshots of the state.
pub const SNAPSHOT_EVERY: usize = 32;
/// Snapshots kept: an event older than the oldest folds everything again.
const SNAPSHOTS: usize = 128;

/// What taking in an event changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// The event (or, folded in among others, the log) changed the room.
    pub changed: bool,
    /// What clients must be told.
    pub consequences: Vec<Consequence>,
    /// Messages whose text storage must no longer hold, newly.
    pub erased: Vec<Key>,
    /// People whose every text storage must no longer hold, newly.
    pub authors: Vec<String>,
    /// Who is in the room or how it is set up may have changed.
    pub reshaped: bool,
}

/// The governance of one room: its events and their fold.
#[derive(Debug)]
pub struct GovernanceLog {
    view: Governance,
    events: BTreeMap<Cursor, Arc<Event>>,
    /// The state just after the event at each cursor, oldest first.
    snapshots: VecDeque<(Cursor, State)>,
    /// Events applied since the last snapshot.
    since_snapshot: usize,
    snapshot_every: usize,
    /// Every edit, allowed or not, by the message it edits: a delete erases
    /// them with it, whenever each arrives; and each edit's target.
    edits: HashMap<Key, Vec<Key>>,
    edited: HashMap<Key, Key>,
    /// Every deleted message and every edit of one, by the fold as it is
    /// now: what storage must not hold the text of. A function of the log
    /// alone, so every node erases the same (a delete that a late event
    /// showed was not allowed stops counting: what arrives later is kept).
    erased: HashSet<Key>,
    /// Times the whole log was folded again (an event older than every snapshot).
    full_folds: u64,
}

impl Default for GovernanceLog {
    fn default() -> Self {
        GovernanceLog::new("")
    }
}

impl std::ops::Deref for GovernanceLog {
    type Target = Governance;
    fn deref(&self) -> &Governance {
        &self.view
    }
}

impl GovernanceLog {
    pub fn new(room: &str) -> GovernanceLog {
        GovernanceLog {
            view: Governance { state: State::new(held_name(room)) },
            events: BTreeMap::new(),
            snapshots: VecDeque::new(),
            since_snapshot: 0,
            snapshot_every: SNAPSHOT_EVERY,
            edits: HashMap::new(),
            edited: HashMap::new(),
            erased: HashSet::new(),
            full_folds: 0,
        }
    }

    /// The events of a room as stored (any order).
    pub fn load(room: &str, msgs: impl IntoIterator<Item = Message>) -> GovernanceLog {
        let mut g = GovernanceLog::new(room);
        for m in msgs {
            if let Some(e) = parse(&m).filter(|_| is_event_id(&m.id)) {
                g.index_edit(&e);
                g.events.entry(e.at.clone()).or_insert_with(|| Arc::new(e));
            }
        }
        let mut out = Vec::new();
        g.fold_from(None, None, &mut out);
        for c in out {
            if let Consequence::Deleted { origin, seq } = c {
                g.erase((origin, seq), &mut Vec::new());
            }
        }
        g
    }

    /// Snapshots every `n` events (tests use a small `n`).
    pub fn with_snapshots_every(mut self, n: usize) -> GovernanceLog {
        self.snapshot_every = n.max(1);
        self
    }

    /// The state readers see.
    pub fn view(&self) -> &Governance {
        &self.view
    }

    /// See [`GovernanceLog::erased`]'s field: every text storage must not hold.
    pub fn erased(&self) -> &HashSet<Key> {
        &self.erased
    }

    pub fn full_folds(&self) -> u64 {
        self.full_folds
    }

    /// Takes in a message: an event not seen before is folded in at its
    /// place in room order.
    pub fn insert(&mut self, msg: &Message) -> Changes {
        let at = msg.cursor();
        if !is_event_id(&msg.id) || self.events.contains_key(&at) {
            return Changes::default();
        }
        let Some(event) = parse(msg) else { return Changes::default() };
        let mut changes = Changes::default();
        // Only the edit itself: a delete erases its message's edits, not
        // edits of those (as `erase` at the delete would have).
        if let Some(edit) = self.index_edit(&event)
            && self.erased.insert(edit.clone())
        {
            changes.erased.push(edit);
        }
        let event = Arc::new(event);
        self.events.insert(at.clone(), event.clone());
        let last = self.events.range((Excluded(&at), Unbounded)).next().is_none();
        let authors_before = self.view.state.erased_authors.len();
        if last {
            changes.changed = self.view.state.apply(&event, &mut changes.consequences);
            changes.reshaped = changes.changed && event.reshapes();
            self.count_applied(&at);
            for c in &changes.consequences {
                if let Consequence::Deleted { origin, seq } = c {
                    self.erase((origin.clone(), *seq), &mut changes.erased);
                }
            }
        } else {
            self.refold(&at, &mut changes);
        }
        // Once erased, always (no event undoes it): one more name at most.
        if self.view.state.erased_authors.len() > authors_before
            && let RoomEvent::AuthorErased { user } = &event.event
        {
            changes.authors.push(user.clone());
        }
        changes
    }

    /// Folds in a late event at `at` from the snapshot before it. Only the
    /// deletes after that snapshot can have changed what is redacted:
    /// those are compared before and after, and what is erased follows.
    fn refold(&mut self, at: &Cursor, changes: &mut Changes) {
        let from = self.snapshot_before(at);
        let after = from.as_ref().map(|(c, _)| c.clone());
        let deletes: Vec<Key> = self
            .events
            .range((after.map_or(Unbounded, Excluded), Unbounded))
            .filter_map(|(_, e)| match &e.event {
                RoomEvent::Deleted { origin, seq } => Some((origin.clone(), *seq)),
                _ => None,
            })
            .collect();
        let was: Vec<bool> = deletes.iter().map(|t| self.view.state.redacted.contains(t)).collect();
        self.fold_from(from, Some(at), &mut changes.consequences);
        (changes.changed, changes.reshaped) = (true, true);
        for (target, was) in deletes.into_iter().zip(was) {
            match (was, self.view.state.redacted.contains(&target)) {
                (false, true) => self.erase(target, &mut changes.erased),
                (true, false) => self.unerase(target),
                _ => {}
            }
        }
    }

    /// Records an edit by its target; `Some(edit)` if the target is
    /// deleted already (the delete came first): the edit's text is erased too.
    fn index_edit(&mut self, e: &Event) -> Option<Key> {
        let RoomEvent::Edited { origin, seq, .. } = &e.event else { return None };
        let target = (origin.clone(), *seq);
        self.edits.entry(target.clone()).or_default().push(e.key());
        self.edited.insert(e.key(), target.clone());
        self.view.state.redacted.contains(&target).then(|| e.key())
    }

    /// `key` is no longer deleted: it and its edits stop counting as
    /// erased, but for those deleted themselves or editing another deleted
    /// message. (Storage erased already stays so: words once gone are gone.)
    fn unerase(&mut self, key: Key) {
        let edits = self.edits.get(&key).cloned().unwrap_or_default();
        for k in std::iter::once(key).chain(edits) {
            let redacted = |k: &Key| self.view.state.redacted.contains(k);
            if !redacted(&k) && !self.edited.get(&k).is_some_and(redacted) {
                self.erased.remove(&k);
            }
        }
    }

    /// `key` and every edit of it are erased; the new ones go to `out`.
    fn erase(&mut self, key: Key, out: &mut Vec<Key>) {
        let edits = self.edits.get(&key).cloned().unwrap_or_default();
        for k in std::iter::once(key).chain(edits) {
            if self.erased.insert(k.clone()) {
                out.push(k);
            }
        }
    }

    /// The latest snapshot strictly before `at`, dropping those after it;
    /// `None` if there is none (the fold starts from the beginning).
    fn snapshot_before(&mut self, at: &Cursor) -> Option<(Cursor, State)> {
        while self.snapshots.back().is_some_and(|(c, _)| c >= at) {
            self.snapshots.pop_back();
        }
        self.snapshots.back().cloned()
    }

    /// Folds the events after `from` (all of them for `None`) onto its
    /// state; the consequences of those at or after `report` go to `out`.
    fn fold_from(&mut self, from: Option<(Cursor, State)>, report: Option<&Cursor>, out: &mut Vec<Consequence>) {
        let held = self.view.state.held.clone();
        let (start, state) = match from {
            Some((c, s)) => (Some(c), s),
            None => {
                self.snapshots.clear();
                self.full_folds += 1;
                (None, State::new(held))
            }
        };
        self.view.state = state;
        self.since_snapshot = 0;
        let range = match &start {
            Some(c) => self.events.range((Excluded(c.clone()), Unbounded)),
            None => self.events.range::<Cursor, _>(..),
        };
        let events: Vec<Arc<Event>> = range.map(|(_, e)| e.clone()).collect();
        // Snapshots older than the ones kept would be dropped at once: none
        // are taken before the last few thousand events (and a snapshot
        // makes the inserts after it copy what they change).
        let kept_from = events.len().saturating_sub(SNAPSHOTS * self.snapshot_every);
        let mut ignored = Vec::new();
        for (i, e) in events.into_iter().enumerate() {
            let sink = if report.is_none_or(|r| &e.at >= r) { &mut *out } else { &mut ignored };
            self.view.state.apply(&e, sink);
            if i >= kept_from {
                self.count_applied(&e.at);
            }
        }
    }

    fn count_applied(&mut self, at: &Cursor) {
        self.since_snapshot += 1;
        if self.since_snapshot >= self.snapshot_every {
            self.since_snapshot = 0;
            self.snapshots.push_back((at.clone(), self.view.state.clone()));
            if self.snapshots.len() > SNAPSHOTS {
                self.snapshots.pop_front();
            }
        }
    }
}

/// An event message's event, without the texts the fold never reads (an
/// edit's or a reply's words, a file's name).
fn parse(msg: &Message) -> Option<Event> {
    let s = serde_json::from_str::<StoredEvent>(&msg.body).ok()?;
    let event = match s.event {
        RoomEvent::Edited { origin, seq, .. } => RoomEvent::Edited { origin, seq, body: String::new() },
        RoomEvent::Reply { origin, seq, thread, also, .. } => {
            RoomEvent::Reply { origin, seq, body: String::new(), thread, also }
        }
        RoomEvent::File { hash, size, mime, thread, .. } => {
            RoomEvent::File { hash, name: String::new(), size, mime, body: String::new(), thread }
        }
        e => e,
    };
    Some(Event { at: msg.cursor(), author: msg.author.clone(), event, admin: s.admin, own: s.own })
}
