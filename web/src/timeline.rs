//! What the message list shows, row by row: day separators, messages grouped
//! by author, presence notices, and this user's sends still on their way.
//! Local days come from a function the caller passes, so the browser's time
//! zone stays out of this module and its tests.

use meshchat_shared::Message;

use meshchat_shared::client::annotate::{Annotations, EventKind, FileRef, kind};
use meshchat_shared::client::room::{Entry, RoomView};
use meshchat_shared::rooms::{REDACTED, is_event_id, is_redacted};

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
pub fn rows(room: &RoomView, me: &str, local_day: &dyn Fn(u64) -> i64) -> Vec<Row> {
    let notes = Annotations::of(room);
    let mut out = Vec::with_capacity(room.message_count() + room.pending.len() + 8);
    if !room.more && room.synced {
        out.push(Row::Beginning);
    }
    let mut day: Option<i64> = None;
    // (author, ts) of the previous message, for grouping.
    let mut prev: Option<(String, u64)> = None;
    let mut new_day = |ts: u64, out: &mut Vec<Row>, prev: &mut Option<(String, u64)>| {
        let d = local_day(ts);
        if day != Some(d) {
            day = Some(d);
            out.push(Row::Day { day: d, ts });
            *prev = None;
        }
    };
    let mut line_due = room.seen_upto.clone();
    for (key, entry) in room.entries() {
        // The "new messages" line, before the first news from others.
        if let (Some(upto), Entry::Msg(m)) = (&line_due, entry)
            && m.author != me
            && meshchat_shared::rooms::is_chat(m)
            && !m.is_before(upto)
        {
            out.push(Row::NewLine);
            line_due = None;
        }
        match entry {
            Entry::Msg(m) if is_event_id(&m.id) && !is_redacted(&m.body) => match kind(&m.author, &m.body) {
                EventKind::Annotation => {}
                EventKind::Notice(text) => {
                    new_day(m.ts, &mut out, &mut prev);
                    prev = None;
                    out.push(Row::Event { text, ts: m.ts, key: format!("{}:{}", m.origin, m.seq) });
                }
                EventKind::Reply { to, body } => {
                    new_day(m.ts, &mut out, &mut prev);
                    // A reply always shows who wrote it.
                    prev = Some((m.author.clone(), m.ts));
                    let quote = quote(room, &notes, to);
                    let shown = Message { body, ..m.clone() };
                    out.push(message_row(&notes, shown, true, me, Some(Box::new(quote))));
                }
                EventKind::File(f) => {
                    new_day(m.ts, &mut out, &mut prev);
                    let head =
                        !matches!(&prev, Some((a, t)) if *a == m.author && m.ts.saturating_sub(*t) < GROUP_GAP_MS);
                    prev = Some((m.author.clone(), m.ts));
                    let shown = Message { body: f.body.clone(), ..m.clone() };
                    let mut row = message_row(&notes, shown, head, me, None);
                    if let Row::Msg { file, msg, .. } = &mut row
                        && !is_redacted(&msg.body)
                    {
                        *file = Some(Box::new(f));
                    }
                    out.push(row);
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
    let shown = |p: &&meshchat_shared::client::room::Pending| {
        p.failed.is_some() || matches!(p.action, None | Some(meshchat_shared::rooms::RoomEvent::Reply { .. }))
    };
    for p in room.pending.iter().filter(shown) {
        new_day(p.created_ms, &mut out, &mut prev);
        let head = !matches!(&prev, Some((a, t)) if a == me && p.created_ms.saturating_sub(*t) < GROUP_GAP_MS);
        prev = Some((me.to_owned(), p.created_ms));
        out.push(Row::Pending {
            id: p.id.clone(),
            body: p.body.clone(),
            created_ms: p.created_ms,
            failed: p.failed.clone(),
            head,
        });
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
    let mentions_me = !mine && meshchat_shared::rooms::mentions(&msg.body, me);
    Row::Msg { msg, head, mine, edited, reactions, reply_to, mentions_me, file: None }
}

/// The message a reply answers, as this view holds it now.
fn quote(room: &RoomView, notes: &Annotations, to: (String, u64)) -> Quote {
    let held = room.messages().find(|m| m.origin == to.0 && m.seq == to.1);
    let body = match held {
        _ if notes.deleted.contains(&to) => "message deleted".to_owned(),
        Some(m) => match notes.edits.get(&to) {
            Some((b, _)) => b.clone(),
            None => meshchat_shared::client::shown_text(m),
        },
        None => "an earlier message".to_owned(),
    };
    Quote { origin: to.0, seq: to.1, author: held.map(|m| m.author.clone()), body }
}

/// "bob is typing…", "bob and carol are typing…", and so on.
pub fn typing_line(names: &[String]) -> Option<String> {
    match names {
        [] => None,
        [a] => Some(format!("{a} is typing…")),
        [a, b] => Some(format!("{a} and {b} are typing…")),
        [a, b, c] => Some(format!("{a}, {b} and {c} are typing…")),
        _ => Some("Several people are typing…".to_owned()),
    }
}

/// Days since 1970-01-01 of a local timestamp (`ts` shifted by the zone's
/// offset east of UTC, in minutes).
pub fn day_number(ts_ms: u64, offset_east_min: i64) -> i64 {
    (ts_ms as i64 + offset_east_min * 60_000).div_euclid(86_400_000)
}

#[cfg(test)]
mod tests {
    use meshchat_shared::RoomVector;
    use meshchat_shared::client::room::Pending;

    use super::*;

    fn m(seq: u64, ts: u64, author: &str) -> Message {
        Message {
            ts,
            id: format!("{seq}"),
            author: author.into(),
            vc: RoomVector::new(),
            ..Message::sample("r", "n1", seq)
        }
    }

    const DAY: u64 = 86_400_000;
    const MIN: u64 = 60_000;

    fn kinds(rows: &[Row]) -> Vec<String> {
        rows.iter()
            .map(|r| match r {
                Row::Beginning => "begin".into(),
                Row::Day { day, .. } => format!("day{day}"),
                Row::Msg { msg, head, .. } => {
                    format!("{}{}", msg.author, if *head { "*" } else { "" })
                }
                Row::Presence { name, online, .. } => {
                    format!("{name}{}", if *online { "+" } else { "-" })
                }
                Row::Event { text, .. } => format!("[{text}]"),
                Row::NewLine => "new".into(),
                Row::Pending { failed, head, .. } => {
                    format!("pending{}{}", if failed.is_some() { "!" } else { "" }, if *head { "*" } else { "" })
                }
            })
            .collect()
    }

    #[test]
    fn groups_by_author_within_five_minutes_and_splits_days() {
        let mut r = RoomView::new("r");
        let t = 10 * DAY + 8 * 60 * MIN;
        r.insert(m(1, t, "alice"));
        r.insert(m(2, t + MIN, "alice"));
        r.insert(m(3, t + 2 * MIN, "bob"));
        r.insert(m(4, t + 3 * MIN, "alice"));
        r.insert(m(5, t + 9 * MIN, "alice"));
        r.insert(m(6, t + DAY, "alice"));
        let rows = rows(&r, "alice", &|ts| day_number(ts, 0));
        assert_eq!(kinds(&rows), ["day10", "alice*", "alice", "bob*", "alice*", "alice*", "day11", "alice*"]);
        assert!(matches!(&rows[1], Row::Msg { mine: true, .. }));
        assert!(matches!(&rows[3], Row::Msg { mine: false, .. }));
    }

    #[test]
    fn a_row_keeps_its_key_and_its_entry_shows_what_changed() {
        let mut r = RoomView::new("r");
        let t = 10 * DAY;
        r.insert(m(1, t, "alice"));
        r.insert(m(2, t + 2 * MIN, "alice"));
        let before = rows(&r, "x", &|_| 10);
        // bob's message, older than alice's second: hers now starts a group.
        r.insert(m(3, t + MIN, "bob"));
        let after = rows(&r, "x", &|_| 10);
        let key = before[2].key();
        assert!(matches!(&before[2], Row::Msg { head: false, .. }));
        assert!(after.iter().any(|row| row.key() == key), "the same row, by what it is");
        assert!(matches!(by_key(&after).get(&key), Some(Row::Msg { head: true, .. })), "showing what changed");
    }

    #[test]
    fn the_viewers_time_zone_decides_the_day() {
        // 23:30 UTC is already tomorrow in UTC+1.
        let ts = 10 * DAY + 23 * 60 * MIN + 30 * MIN;
        assert_eq!(day_number(ts, 0), 10);
        assert_eq!(day_number(ts, 60), 11);
        assert_eq!(day_number(ts, -300), 10);
        assert_eq!(day_number(30 * MIN, -60), -1);
    }

    #[test]
    fn pending_sends_follow_the_messages_and_presence_breaks_groups() {
        let mut r = RoomView::new("r");
        r.insert(m(1, 1000, "alice"));
        r.note_presence("bob", true, 2000);
        r.insert(m(2, 3000, "alice"));
        r.pending.push(Pending::new("p1", "on its way", 4000));
        let mut refused = Pending::new("p2", "refused", 5000);
        refused.failed = Some("nope".into());
        r.pending.push(refused);
        let rows = rows(&r, "alice", &|_| 0);
        assert_eq!(kinds(&rows), ["day0", "alice*", "bob+", "alice*", "pending", "pending!"]);
    }

    #[test]
    fn room_events_show_as_notices_and_break_groups() {
        let mut r = RoomView::new("r");
        r.insert(m(1, 1000, "alice"));
        let kicked =
            Message { id: "§k1".into(), body: "bob was removed by alice: spam".into(), ..m(2, 2000, "alice") };
        r.insert(kicked);
        r.insert(m(3, 3000, "alice"));
        let rows = rows(&r, "alice", &|_| 0);
        assert_eq!(kinds(&rows), ["day0", "alice*", "[bob was removed by alice: spam]", "alice*"]);
    }

    fn ev(seq: u64, ts: u64, author: &str, e: meshchat_shared::rooms::RoomEvent) -> Message {
        let body = serde_json::to_string(&meshchat_shared::rooms::StoredEvent::new(e)).unwrap();
        Message { id: format!("§{seq}"), body, ..m(seq, ts, author) }
    }

    #[test]
    fn replies_quote_edits_replace_reactions_count_and_deletes_leave_a_tombstone() {
        use meshchat_shared::rooms::RoomEvent::*;
        let mut r = RoomView::new("r");
        r.insert(m(1, 1000, "alice"));
        r.insert(ev(2, 2000, "bob", Reply { origin: "n1".into(), seq: 1, body: "agreed".into() }));
        r.insert(ev(3, 3000, "alice", Edited { origin: "n1".into(), seq: 1, body: "b, fixed".into() }));
        r.insert(ev(4, 4000, "carol", Reacted { origin: "n1".into(), seq: 2, emoji: "👍".into(), on: true }));
        let shown = rows(&r, "alice", &|_| 0);
        assert_eq!(kinds(&shown), ["day0", "alice*", "bob*"]);
        let Row::Msg { msg, edited, .. } = &shown[1] else { panic!() };
        assert_eq!((msg.body.as_str(), *edited), ("b, fixed", Some(3000)));
        let Row::Msg { msg, reply_to, reactions, .. } = &shown[2] else { panic!() };
        assert_eq!(msg.body, "agreed");
        assert_eq!(reply_to.as_ref().map(|q| q.body.as_str()), Some("b, fixed"), "the quote shows the edit");
        assert_eq!(reactions, &[("👍".to_owned(), vec!["carol".to_owned()])]);
        r.insert(ev(5, 5000, "alice", Deleted { origin: "n1".into(), seq: 1 }));
        let after = rows(&r, "alice", &|_| 0);
        let Row::Msg { msg, .. } = &after[1] else { panic!() };
        assert!(meshchat_shared::rooms::is_redacted(&msg.body));
        let Row::Msg { reply_to, .. } = &after[2] else { panic!() };
        assert_eq!(reply_to.as_ref().map(|q| q.body.as_str()), Some("message deleted"));
    }

    #[test]
    fn a_reaction_on_its_way_is_no_row_but_a_failed_one_is() {
        let mut r = RoomView::new("r");
        let mut react = Pending::new("§1", "alice reacted 🎉", 1000);
        react.action = Some(meshchat_shared::rooms::RoomEvent::Reacted {
            origin: "n1".into(),
            seq: 1,
            emoji: "🎉".into(),
            on: true,
        });
        r.pending.push(react.clone());
        assert_eq!(kinds(&rows(&r, "alice", &|_| 0)), Vec::<String>::new());
        r.pending[0].failed = Some("no".into());
        assert_eq!(kinds(&rows(&r, "alice", &|_| 0)), ["day0", "pending!*"]);
    }

    #[test]
    fn the_beginning_shows_once_nothing_older_exists() {
        let mut r = RoomView::new("r");
        r.begin_backlog();
        r.backlog_push(m(1, 1000, "alice"));
        r.finish_backlog(&[("n1", 1)].into_iter().collect(), false, true);
        assert_eq!(kinds(&rows(&r, "x", &|_| 0)), ["begin", "day0", "alice*"]);
    }

    #[test]
    fn typing_reads_naturally() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(typing_line(&[]), None);
        assert_eq!(typing_line(&names(&["bob"])).unwrap(), "bob is typing…");
        assert_eq!(typing_line(&names(&["bob", "carol"])).unwrap(), "bob and carol are typing…");
        assert_eq!(typing_line(&names(&["a", "b", "c"])).unwrap(), "a, b and c are typing…");
        assert_eq!(typing_line(&names(&["a", "b", "c", "d"])).unwrap(), "Several people are typing…");
    }
}
