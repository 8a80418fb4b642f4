//! What the message list shows, row by row: day separators, messages grouped
//! by author, presence notices, and this user's sends still on their way.
//! Local days come from a function the caller passes, so the browser's time
//! zone stays out of this module and its tests; the few words it writes come
//! from a [`Words`] the caller passes (the web app's language, the terminal
//! app's English).

use crate::{Cursor, Message};

use super::annotate::{Annotations, EventKind, FileRef, Target, Thread, kind};
use super::room::{Entry, RoomView};
use crate::rooms::{REDACTED, RoomEvent, is_event_id, is_redacted};

/// The words the rows hold, in the viewer's language. English by default,
/// as the node writes its notices.
pub trait Words {
    /// A room event as a notice: "alice renamed the room to …".
    fn describe(&self, by: &str, event: &RoomEvent) -> String {
        crate::rooms::describe(by, event)
    }
    /// What a reply quotes when the message it answers is not held.
    fn an_earlier_message(&self) -> String {
        "an earlier message".into()
    }
    /// What a reply quotes when the message it answers was deleted.
    fn message_deleted(&self) -> String {
        "message deleted".into()
    }
    /// "bob is typing…", "bob and carol are typing…", and so on.
    fn typing(&self, names: &[String]) -> Option<String> {
        match names {
            [] => None,
            [a] => Some(format!("{a} is typing…")),
            [a, b] => Some(format!("{a} and {b} are typing…")),
            [a, b, c] => Some(format!("{a}, {b} and {c} are typing…")),
            _ => Some("Several people are typing…".into()),
        }
    }
}

/// The default words.
#[derive(Debug, Clone, Copy, Default)]
pub struct English;

impl Words for English {}

/// Consecutive messages of one author closer than this share one header.
pub const GROUP_GAP_MS: u64 = 5 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    /// The room holds nothing older than what follows.
    Beginning,
    /// A new local day starts; `ts` is the first entry's time.
    Day {
        day: i64,
        ts: u64,
    },
    Msg {
        /// Its body is the latest edit's, or the redaction mark once deleted.
        msg: Message,
        /// Show the author and time: first of a group.
        head: bool,
        mine: bool,
        /// When it was last edited.
        edited: Option<u64>,
        /// Emoji and who reacted so.
        reactions: Vec<(String, Vec<String>)>,
        /// The message it answers.
        reply_to: Option<Box<Quote>>,
        /// It mentions the viewer (`@name`).
        mentions_me: bool,
        /// A shared file, shown with it.
        file: Option<Box<FileRef>>,
        /// Its thread, if it has replies there.
        thread: Option<Box<Thread>>,
    },
    Presence {
        name: String,
        online: bool,
        ts: u64,
    },
    /// Where the user left off: messages from others after their read
    /// marker follow.
    NewLine,
    /// Something happened to the room ("bob was removed by alice: spam"):
    /// an event of its log, shown as the notice the node wrote.
    Event {
        text: String,
        ts: u64,
        key: String,
    },
    /// Typed here, not yet acknowledged (or failed).
    Pending {
        id: String,
        body: String,
        created_ms: u64,
        failed: Option<String>,
        head: bool,
    },
}

/// A replied-to message, as the reply shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub origin: String,
    pub seq: u64,
    /// `None` when this view does not hold it (older than what is loaded).
    pub author: Option<String>,
    pub body: String,
}

impl Row {
    /// What the row is, whatever it shows: the key of keyed rendering. A
    /// row keeps its key through edits, reactions and regrouping; what it
    /// shows is followed by [`by_key`] (a key made of the content would
    /// miss changes that keep its shape, and rebuild rows that only moved).
    pub fn key(&self) -> String {
        match self {
            Row::Beginning => "beginning".into(),
            Row::NewLine => "new-line".into(),
            Row::Day { day, .. } => format!("day:{day}"),
            Row::Msg { msg, .. } => format!("m:{}:{}", msg.origin, msg.seq),
            Row::Presence { name, online, ts } => format!("p:{ts}:{name}:{online}"),
            Row::Event { key, .. } => format!("e:{key}"),
            Row::Pending { id, .. } => format!("q:{id}"),
        }
    }
}

/// The rows by their key: each row on screen follows its own entry.
pub fn by_key(rows: &[Row]) -> std::collections::HashMap<String, Row> {
    rows.iter().map(|r| (r.key(), r.clone())).collect()
}

/// The rows of a room for `me`; `local_day` maps a timestamp to a day number
/// in the viewer's time zone.
pub fn rows(room: &RoomView, me: &str, local_day: &dyn Fn(u64) -> i64, words: &dyn Words) -> Vec<Row> {
    rows_in(room, me, local_day, &Span::default(), words)
}

/// Which entries of a room a view shows: from `from` (the first without
/// it) up to `to`, excluded (to the end without it, sends on their way
/// included). What it costs grows with the span, not with the room.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Span {
    pub from: Option<Cursor>,
    pub to: Option<Cursor>,
}

/// Entries on screen while following the newest (the DOM holds about as
/// many rows), what one step of scrolling brings in, and the most a view
/// holds once scrolled back.
pub const FOLLOW: usize = 120;
pub const STEP: usize = 60;
pub const MOST: usize = 360;

/// Which part of a room is on screen: the newest entries while the view
/// follows them, else an explicit span that scrolling moves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Window {
    #[default]
    Follow,
    At(Span),
}

impl Window {
    /// The span this window shows of `room` now.
    pub fn span(&self, room: &RoomView) -> Span {
        match self {
            Window::Follow => Span { from: room.key_back(None, FOLLOW), to: None },
            // From the first entry held: history coming in above grows it,
            // so it ends `MOST` entries down at most.
            Window::At(Span { from: None, to }) => {
                let first = room.first_key();
                let most = first.and_then(|f| room.key_forward(&f, MOST));
                let to = match (most, to) {
                    (Some(m), Some(t)) => Some(m.min(t.clone())),
                    (m, t) => m.or_else(|| t.clone()),
                };
                Span { from: None, to }
            }
            Window::At(span) => span.clone(),
        }
    }

    /// Scrolled to the top: the window reaches `STEP` entries further back,
    /// dropping as many at its bottom beyond `MOST`. `None` when nothing
    /// older is held (time to ask the node for more).
    pub fn up(&self, room: &RoomView) -> Option<Window> {
        let span = self.span(room);
        let from = span.from.as_ref()?;
        room.entry_before(from)?;
        let start = room.key_back(Some(from), STEP);
        // From the very first entry: `None`, so that history arriving
        // above shows at once.
        let from = start.filter(|s| room.entry_before(s).is_some());
        let mut to = span.to;
        if count(room, from.as_ref(), to.as_ref()) > MOST {
            to = room.key_back(to.as_ref(), STEP);
        }
        Some(Window::At(Span { from, to }))
    }

    /// Scrolled to the bottom of a window that stops short of the newest:
    /// `STEP` more below, as many fewer above beyond `MOST`; following
    /// again once it reaches the end.
    pub fn down(&self, room: &RoomView) -> Option<Window> {
        if *self == Window::Follow {
            return None;
        }
        let span = self.span(room);
        let to = span.to.as_ref()?;
        let to = room.key_forward(to, STEP);
        let mut from = span.from.clone();
        if count(room, from.as_ref(), to.as_ref()) > MOST {
            let first = from.clone().or_else(|| room.first_key());
            from = first.and_then(|f| room.key_forward(&f, STEP));
        }
        Some(Window::At(Span { from, to }))
    }

    /// A window around `at`, to show one message wherever it is.
    pub fn around(room: &RoomView, at: &Cursor) -> Window {
        let from = room.key_back(Some(at), FOLLOW / 2).filter(|s| room.entry_before(s).is_some());
        let to = room.key_forward(at, FOLLOW / 2);
        Window::At(Span { from, to })
    }
}

/// Entries from `from` up to `to`.
fn count(room: &RoomView, from: Option<&Cursor>, to: Option<&Cursor>) -> usize {
    room.entries_from(from).take_while(|(k, _)| to.is_none_or(|t| *k < t)).count()
}

/// The rows of `span` of a room, grouped and dated as the whole room's
/// rows would be there.
pub fn rows_in(room: &RoomView, me: &str, local_day: &dyn Fn(u64) -> i64, span: &Span, words: &dyn Words) -> Vec<Row> {
    let notes = Annotations::from(room, span.from.as_ref());
    let mut out = Vec::new();
    let before = span.from.as_ref().and_then(|f| room.entry_before(f));
    if before.is_none() && !room.more && room.synced {
        out.push(Row::Beginning);
    }
    // The day and the group the span starts in.
    let mut day: Option<i64> = before.map(|(k, _)| local_day(k.ts));
    // (author, ts) of the previous message, for grouping.
    let mut prev: Option<(String, u64)> = match before {
        Some((_, Entry::Msg(m))) if !is_event_id(&m.id) => Some((m.author.clone(), m.ts)),
        _ => None,
    };
    let mut new_day = |ts: u64, out: &mut Vec<Row>, prev: &mut Option<(String, u64)>| {
        let d = local_day(ts);
        if day != Some(d) {
            day = Some(d);
            out.push(Row::Day { day: d, ts });
            *prev = None;
        }
    };
    // The "new messages" line is above the span once what precedes it is
    // past the read marker.
    let passed = |upto: &Cursor| before.is_some_and(|(k, _)| k >= upto);
    let mut line_due = room.seen_upto.clone().filter(|upto| !passed(upto));
    let entries = room.entries_from(span.from.as_ref());
    let to = span.to.clone();
    for (key, entry) in entries.take_while(|(k, _)| to.as_ref().is_none_or(|t| *k < t)) {
        // The "new messages" line, before the first news from others.
        if let (Some(upto), Entry::Msg(m)) = (&line_due, entry)
            && m.author != me
            && crate::rooms::is_chat(m)
            && !m.is_before(upto)
        {
            out.push(Row::NewLine);
            line_due = None;
        }
        match entry {
            // An erased event: a deleted reply or file shows its tombstone
            // (in its thread, for a thread's); an edit erased with the
            // message it edited shows nothing (its message's tombstone does).
            Entry::Msg(m)
                if is_event_id(&m.id) && is_redacted(&m.body) && {
                    let at = (m.origin.clone(), m.seq);
                    notes.deleted_in.contains_key(&at) || !notes.deleted.contains(&at)
                } => {}
            Entry::Msg(m) if is_event_id(&m.id) && !is_redacted(&m.body) => match kind(&m.author, &m.body) {
                EventKind::Annotation => {}
                EventKind::Notice(text) => {
                    // In the app's language; as the node wrote it if unreadable.
                    let text = serde_json::from_str::<RoomEvent>(&m.body)
                        .map(|e| words.describe(&m.author, &e))
                        .unwrap_or(text);
                    new_day(m.ts, &mut out, &mut prev);
                    prev = None;
                    out.push(Row::Event { text, ts: m.ts, key: format!("{}:{}", m.origin, m.seq) });
                }
                // In a thread only: its root shows it.
                EventKind::Reply { thread: true, also: false, .. } => {}
                EventKind::Reply { to, body, .. } => {
                    new_day(m.ts, &mut out, &mut prev);
                    // A reply always shows who wrote it.
                    prev = Some((m.author.clone(), m.ts));
                    let quote = quote(room, &notes, to, words);
                    let shown = Message { body, ..m.clone() };
                    out.push(message_row(&notes, shown, true, me, Some(Box::new(quote))));
                }
                EventKind::File(f) if f.thread.is_some() => {}
                EventKind::File(f) => {
                    new_day(m.ts, &mut out, &mut prev);
                    let head =
                        !matches!(&prev, Some((a, t)) if *a == m.author && m.ts.saturating_sub(*t) < GROUP_GAP_MS);
                    prev = Some((m.author.clone(), m.ts));
                    out.push(file_row(&notes, m, f, head, me));
                }
            },
            Entry::Msg(m) => {
                new_day(m.ts, &mut out, &mut prev);
                let head = !matches!(&prev, Some((a, t)) if *a == m.author && m.ts.saturating_sub(*t) < GROUP_GAP_MS);
                prev = Some((m.author.clone(), m.ts));
                out.push(message_row(&notes, m.clone(), head, me, None));
            }
            Entry::Presence { name, online } => {
                let ts = key.ts;
                new_day(ts, &mut out, &mut prev);
                prev = None;
                out.push(Row::Presence { name: name.clone(), online: *online, ts });
            }
        }
    }
    // Sends and replies on their way show; edits, reactions and deletes
    // show only if they failed (to retry or discard).
    let shown = |p: &&super::room::Pending| match &p.action {
        Some(RoomEvent::Reply { thread: true, also: false, .. }) => false,
        None | Some(RoomEvent::Reply { .. }) => true,
        Some(_) => p.failed.is_some(),
    };
    for p in room.pending.iter().filter(shown).filter(|_| span.to.is_none()) {
        new_day(p.created_ms, &mut out, &mut prev);
        let head = !matches!(&prev, Some((a, t)) if a == me && p.created_ms.saturating_sub(*t) < GROUP_GAP_MS);
        prev = Some((me.to_owned(), p.created_ms));
        // A reaction or a delete reads as its notice, in the app's language.
        let body = match &p.action {
            Some(a @ (RoomEvent::Reacted { .. } | RoomEvent::Deleted { .. })) => words.describe(me, a),
            _ => p.body.clone(),
        };
        out.push(Row::Pending { id: p.id.clone(), body, created_ms: p.created_ms, failed: p.failed.clone(), head });
    }
    out
}

/// A message's row with what happened to it: edited, deleted, reactions.
fn message_row(notes: &Annotations, mut msg: Message, head: bool, me: &str, reply_to: Option<Box<Quote>>) -> Row {
    let target = (msg.origin.clone(), msg.seq);
    let mut edited = None;
    if notes.deleted.contains(&target) {
        msg.body = REDACTED.to_owned();
    } else if let Some((body, ts)) = notes.edits.get(&target) {
        msg.body = body.clone();
        edited = Some(*ts);
    }
    let reactions = notes
        .reactions
        .get(&target)
        .map(|r| r.iter().map(|(e, who)| (e.clone(), who.iter().cloned().collect())).collect())
        .unwrap_or_default();
    let mine = msg.author == me;
    let mentions_me = !mine && crate::rooms::mentions(&msg.body, me);
    let thread = notes.threads.get(&target).filter(|t| !t.replies.is_empty()).map(|t| Box::new(t.clone()));
    Row::Msg { msg, head, mine, edited, reactions, reply_to, mentions_me, file: None, thread }
}

/// The rows of the thread of `root`: the root (or a tombstone when it is
/// deleted, or a line when this view does not hold it), then its replies
/// with their edits, reactions and deletes, then the replies on their way.
pub fn thread_rows(room: &RoomView, me: &str, root: &Target, words: &dyn Words) -> Vec<Row> {
    let held = room.get(&root.0, root.1);
    let notes = Annotations::from(room, held.map(|m| m.cursor()).as_ref());
    let mut out = Vec::new();
    match held {
        Some(m) => {
            let mut row = message_row(&notes, m.clone(), true, me, None);
            if let Row::Msg { thread, .. } = &mut row {
                *thread = None;
            }
            out.push(row);
        }
        None => out.push(Row::Event { text: words.an_earlier_message(), ts: 0, key: "root".into() }),
    }
    // Its replies, and the tombstones of those deleted, in room order.
    let mut replies: Vec<(crate::Cursor, Row)> = Vec::new();
    for target in notes.threads.get(root).map(|t| t.replies.as_slice()).unwrap_or_default() {
        let Some(m) = room.get(&target.0, target.1) else { continue };
        match kind(&m.author, &m.body) {
            EventKind::Reply { body, .. } => {
                replies.push((m.cursor(), message_row(&notes, Message { body, ..m.clone() }, true, me, None)));
            }
            EventKind::File(f) => replies.push((m.cursor(), file_row(&notes, m, f, true, me))),
            _ => {}
        }
    }
    let deleted = notes.deleted_in.iter().filter(|(_, r)| *r == root).filter_map(|(t, _)| room.get(&t.0, t.1));
    replies.extend(deleted.map(|m| (m.cursor(), message_row(&notes, m.clone(), true, me, None))));
    replies.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, mut row) in replies {
        if let Row::Msg { thread, .. } = &mut row {
            *thread = None;
        }
        out.push(row);
    }
    let in_thread = |a: &Option<RoomEvent>| matches!(a, Some(RoomEvent::Reply { origin, seq, thread: true, .. }) if (origin, *seq) == (&root.0, root.1));
    for p in room.pending.iter().filter(|p| in_thread(&p.action)) {
        out.push(Row::Pending {
            id: p.id.clone(),
            body: p.body.clone(),
            created_ms: p.created_ms,
            failed: p.failed.clone(),
            head: true,
        });
    }
    out
}

/// A shared file's row: its words as the message, the file beside (none
/// once deleted).
fn file_row(notes: &Annotations, m: &Message, f: FileRef, head: bool, me: &str) -> Row {
    let shown = Message { body: f.body.clone(), ..m.clone() };
    let mut row = message_row(notes, shown, head, me, None);
    if let Row::Msg { file, msg, .. } = &mut row
        && !is_redacted(&msg.body)
    {
        *file = Some(Box::new(f));
    }
    row
}

/// The message a reply answers, as this view holds it now.
fn quote(room: &RoomView, notes: &Annotations, to: (String, u64), words: &dyn Words) -> Quote {
    let held = room.get(&to.0, to.1);
    let body = match held {
        _ if notes.deleted.contains(&to) => words.message_deleted(),
        Some(m) => match notes.edits.get(&to) {
            Some((b, _)) => b.clone(),
            None => super::shown_text(m),
        },
        None => words.an_earlier_message(),
    };
    Quote { origin: to.0, seq: to.1, author: held.map(|m| m.author.clone()), body }
}

/// Days since 1970-01-01 of a local timestamp (`ts` shifted by the zone's
/// offset east of UTC, in minutes).
pub fn day_number(ts_ms: u64, offset_east_min: i64) -> i64 {
    (ts_ms as i64 + offset_east_min * 60_000).div_euclid(86_400_000)
}

#[cfg(test)]
#[path = "timeline_tests.rs"]
mod tests;
