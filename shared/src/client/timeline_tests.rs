use crate::RoomVector;
use crate::client::room::Pending;

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
    let rows = rows(&r, "alice", &|ts| day_number(ts, 0), &English);
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
    let before = rows(&r, "x", &|_| 10, &English);
    // bob's message, older than alice's second: hers now starts a group.
    r.insert(m(3, t + MIN, "bob"));
    let after = rows(&r, "x", &|_| 10, &English);
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
    let rows = rows(&r, "alice", &|_| 0, &English);
    assert_eq!(kinds(&rows), ["day0", "alice*", "bob+", "alice*", "pending", "pending!"]);
}

#[test]
fn room_events_show_as_notices_and_break_groups() {
    let mut r = RoomView::new("r");
    r.insert(m(1, 1000, "alice"));
    let kicked = Message { id: "§k1".into(), body: "bob was removed by alice: spam".into(), ..m(2, 2000, "alice") };
    r.insert(kicked);
    r.insert(m(3, 3000, "alice"));
    let rows = rows(&r, "alice", &|_| 0, &English);
    assert_eq!(kinds(&rows), ["day0", "alice*", "[bob was removed by alice: spam]", "alice*"]);
}

fn ev(seq: u64, ts: u64, author: &str, e: crate::rooms::RoomEvent) -> Message {
    let body = serde_json::to_string(&crate::rooms::StoredEvent::new(e)).unwrap();
    Message { id: format!("§{seq}"), body, ..m(seq, ts, author) }
}

#[test]
fn replies_quote_edits_replace_reactions_count_and_deletes_leave_a_tombstone() {
    use crate::rooms::RoomEvent::*;
    let mut r = RoomView::new("r");
    r.insert(m(1, 1000, "alice"));
    r.insert(ev(
        2,
        2000,
        "bob",
        Reply { origin: "n1".into(), seq: 1, body: "agreed".into(), thread: false, also: false },
    ));
    r.insert(ev(3, 3000, "alice", Edited { origin: "n1".into(), seq: 1, body: "b, fixed".into() }));
    r.insert(ev(4, 4000, "carol", Reacted { origin: "n1".into(), seq: 2, emoji: "👍".into(), on: true }));
    let shown = rows(&r, "alice", &|_| 0, &English);
    assert_eq!(kinds(&shown), ["day0", "alice*", "bob*"]);
    let Row::Msg { msg, edited, .. } = &shown[1] else { panic!() };
    assert_eq!((msg.body.as_str(), *edited), ("b, fixed", Some(3000)));
    let Row::Msg { msg, reply_to, reactions, .. } = &shown[2] else { panic!() };
    assert_eq!(msg.body, "agreed");
    assert_eq!(reply_to.as_ref().map(|q| q.body.as_str()), Some("b, fixed"), "the quote shows the edit");
    assert_eq!(reactions, &[("👍".to_owned(), vec!["carol".to_owned()])]);
    r.insert(ev(5, 5000, "alice", Deleted { origin: "n1".into(), seq: 1 }));
    let after = rows(&r, "alice", &|_| 0, &English);
    let Row::Msg { msg, .. } = &after[1] else { panic!() };
    assert!(crate::rooms::is_redacted(&msg.body));
    let Row::Msg { reply_to, .. } = &after[2] else { panic!() };
    assert_eq!(reply_to.as_ref().map(|q| q.body.as_str()), Some("message deleted"));
}

#[test]
fn a_reaction_on_its_way_is_no_row_but_a_failed_one_is() {
    let mut r = RoomView::new("r");
    let mut react = Pending::new("§1", "alice reacted 🎉", 1000);
    react.action =
        Some(crate::rooms::RoomEvent::Reacted { origin: "n1".into(), seq: 1, emoji: "🎉".into(), on: true });
    r.pending.push(react.clone());
    assert_eq!(kinds(&rows(&r, "alice", &|_| 0, &English)), Vec::<String>::new());
    r.pending[0].failed = Some("no".into());
    assert_eq!(kinds(&rows(&r, "alice", &|_| 0, &English)), ["day0", "pending!*"]);
}

#[test]
fn the_beginning_shows_once_nothing_older_exists() {
    let mut r = RoomView::new("r");
    r.begin_backlog();
    r.backlog_push(m(1, 1000, "alice"));
    r.finish_backlog(&[("n1", 1)].into_iter().collect(), false, true);
    assert_eq!(kinds(&rows(&r, "x", &|_| 0, &English)), ["begin", "day0", "alice*"]);
}

#[test]
fn typing_reads_naturally() {
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(English.typing(&[]), None);
    assert_eq!(English.typing(&names(&["bob"])).unwrap(), "bob is typing…");
    assert_eq!(English.typing(&names(&["bob", "carol"])).unwrap(), "bob and carol are typing…");
    assert_eq!(English.typing(&names(&["a", "b", "c"])).unwrap(), "a, b and c are typing…");
    assert_eq!(English.typing(&names(&["a", "b", "c", "d"])).unwrap(), "Several people are typing…");
}

/// A span's rows are the whole room's rows from there: same groups,
/// same edits and reactions, same days (no separator repeated at its top).
#[test]
fn a_span_shows_what_the_whole_room_shows_from_there() {
    let mut r = RoomView::new("r");
    let t = 10 * DAY;
    for i in 0..40u64 {
        let author = if (i / 3) % 2 == 0 { "alice" } else { "bob" };
        r.insert(m(i + 1, t + i * 7 * MIN + (i / 20) * DAY, author));
    }
    let event = |seq: u64, ts: u64, author: &str, body: &str| Message {
        ts,
        id: format!("§{seq}"),
        author: author.into(),
        body: body.into(),
        vc: RoomVector::new(),
        ..Message::sample("r", "n2", seq)
    };
    r.insert(event(1, t + 2 * DAY, "alice", r#"{"event":"edited","origin":"n1","seq":38,"body":"changed"}"#));
    r.insert(event(2, t + 2 * DAY + 1, "bob", r#"{"event":"reacted","origin":"n1","seq":39,"emoji":"👍","on":true}"#));
    let day = |ts| day_number(ts, 0);
    let msgs = |rows: Vec<Row>| -> Vec<Row> { rows.into_iter().filter(|r| matches!(r, Row::Msg { .. })).collect() };
    let all = msgs(rows(&r, "alice", &day, &English));
    for back in [1, 5, 12, 25, 41] {
        let from = r.key_back(None, back);
        let span = Span { from: from.clone(), to: None };
        let part = rows_in(&r, "alice", &day, &span, &English);
        let shown = msgs(part.clone());
        assert_eq!(shown[..], all[all.len() - shown.len()..], "from {back} back");
        let first_day = part.iter().position(|r| matches!(r, Row::Day { .. }));
        let first_msg = part.iter().position(|r| matches!(r, Row::Msg { .. }));
        assert!(first_day.is_none_or(|d| d > first_msg.unwrap_or(0) || back == 41), "{back}: {:?}", kinds(&part));
    }
    assert!(matches!(&all[37], Row::Msg { msg, edited: Some(_), .. } if msg.body == "changed"));
}

#[test]
fn a_span_up_to_a_key_ends_before_it_and_leaves_the_sends_out() {
    let mut r = RoomView::new("r");
    for i in 0..10u64 {
        r.insert(m(i + 1, 10 * DAY + i * MIN, "alice"));
    }
    r.pending.push(Pending::new("p1", "on its way", 10 * DAY + 20 * MIN));
    let to = r.key_back(None, 3);
    let part = rows_in(&r, "alice", &|ts| day_number(ts, 0), &Span { from: None, to: to.clone() }, &English);
    assert_eq!(part.iter().filter(|r| matches!(r, Row::Msg { .. })).count(), 7);
    assert!(!part.iter().any(|r| matches!(r, Row::Pending { .. })));
    let changes = r.changes();
    r.delete("n1", 4);
    assert!(r.changes() > changes, "a delete is a change");
}

fn numbered(n: u64) -> RoomView {
    let mut r = RoomView::new("r");
    for i in 0..n {
        r.insert(m(i + 1, 10 * DAY + i * MIN, "alice"));
    }
    r
}

fn seqs(r: &RoomView, w: &Window) -> (u64, u64, usize) {
    let rows = rows_in(r, "alice", &|ts| day_number(ts, 0), &w.span(r), &English);
    let seqs: Vec<u64> = rows
        .iter()
        .filter_map(|row| match row {
            Row::Msg { msg, .. } => Some(msg.seq),
            _ => None,
        })
        .collect();
    (seqs[0], *seqs.last().unwrap(), seqs.len())
}

/// Following, then scrolling back through 1,000 messages and down again:
/// never more than MOST on screen, every message seen on the way.
#[test]
fn a_window_moves_through_the_room_and_stays_bounded() {
    let r = numbered(1_000);
    let mut w = Window::Follow;
    assert_eq!(seqs(&r, &w), (881, 1_000, FOLLOW));
    let mut lowest = u64::MAX;
    while let Some(next) = w.up(&r) {
        w = next;
        let (first, last, n) = seqs(&r, &w);
        assert!(n <= MOST + STEP && first < lowest, "{first}..{last} ({n})");
        lowest = first;
    }
    assert_eq!(seqs(&r, &w).0, 1, "up to the first message held");
    assert!(matches!(&w, Window::At(Span { from: None, .. })));
    let mut highest = 0;
    while let Some(next) = w.down(&r) {
        w = next;
        let (_, last, n) = seqs(&r, &w);
        assert!(n <= MOST + STEP && last >= highest);
        highest = last;
    }
    assert_eq!(seqs(&r, &w).1, 1_000, "down to the newest");
    assert!(matches!(&w, Window::At(Span { to: None, .. })));
    let (first, last, _) = seqs(&r, &Window::around(&r, &r.get("n1", 500).unwrap().cursor()));
    assert!(first < 500 && 500 < last);
}

/// Thread replies stay out of the room (but one also sent there); the root
/// says how many and who; the thread shows the root and its replies with
/// what happened to them, and stays reachable when the root is deleted.
#[test]
fn threads_show_beside_the_room_and_outlive_their_root() {
    use crate::rooms::RoomEvent::*;
    let reply = |body: &str, also| Reply { origin: "n1".into(), seq: 1, body: body.into(), thread: true, also };
    let mut r = RoomView::new("r");
    r.insert(m(1, 1000, "alice"));
    r.insert(ev(2, 2000, "bob", reply("in the thread", false)));
    r.insert(ev(3, 3000, "carol", reply("also in the room", true)));
    r.insert(ev(4, 4000, "bob", reply("then gone", false)));
    r.insert(ev(5, 5000, "dave", Reacted { origin: "n1".into(), seq: 2, emoji: "👍".into(), on: true }));
    r.insert(ev(6, 6000, "bob", Deleted { origin: "n1".into(), seq: 4 }));
    let shown = rows(&r, "alice", &|_| 0, &English);
    assert_eq!(kinds(&shown), ["day0", "alice*", "carol*"], "only the reply also sent to the room");
    let Row::Msg { thread: Some(t), .. } = &shown[1] else { panic!("{shown:?}") };
    assert_eq!((t.replies.len(), t.people.as_slice()), (2, ["bob".to_owned(), "carol".to_owned()].as_slice()));
    assert_eq!(t.last, 4000, "the last reply's time");

    let root = ("n1".to_owned(), 1);
    let bodies = |rows: &[Row]| -> Vec<String> {
        rows.iter()
            .map(|r| match r {
                Row::Msg { msg, reactions, .. } => {
                    format!("{}{}", msg.body, if reactions.is_empty() { "" } else { "+" })
                }
                other => format!("{other:?}"),
            })
            .collect()
    };
    let thread = thread_rows(&r, "alice", &root, &English);
    assert_eq!(bodies(&thread), ["b", "in the thread+", "also in the room"]);
    // The root deleted: a tombstone heads its thread, which stays.
    r.insert(ev(7, 7000, "alice", Deleted { origin: "n1".into(), seq: 1 }));
    let thread = thread_rows(&r, "alice", &root, &English);
    assert!(crate::rooms::is_redacted(&bodies(&thread)[0]), "{thread:?}");
    assert_eq!(thread.len(), 3);
}

/// A file shared in a thread is one of its replies (with its file), not a
/// message of the room; its JSON names the root as a reply's does.
#[test]
fn a_file_shared_in_a_thread_shows_in_the_thread_not_the_room() {
    use crate::rooms::RoomEvent::*;
    use crate::rooms::Root;
    let file = |thread| File {
        hash: "ab".repeat(32),
        name: "plan.pdf".into(),
        size: 3,
        mime: "application/pdf".into(),
        body: String::new(),
        thread,
    };
    let json = serde_json::to_string(&file(Some(Root { origin: "n1".into(), seq: 1 }))).unwrap();
    assert!(json.contains(r#""origin":"n1","seq":1"#), "{json}");
    assert_eq!(
        serde_json::from_str::<crate::rooms::RoomEvent>(&json).unwrap(),
        file(Some(Root { origin: "n1".into(), seq: 1 }))
    );
    assert!(!serde_json::to_string(&file(None)).unwrap().contains("origin"));

    let mut r = RoomView::new("r");
    r.insert(m(1, 1000, "alice"));
    r.insert(ev(2, 2000, "bob", file(Some(Root { origin: "n1".into(), seq: 1 }))));
    r.insert(ev(3, 3000, "carol", file(None)));
    let shown = rows(&r, "alice", &|_| 0, &English);
    assert_eq!(kinds(&shown), ["day0", "alice*", "carol*"], "the thread's file stays out of the room");
    let Row::Msg { thread: Some(t), .. } = &shown[1] else { panic!("{shown:?}") };
    assert_eq!((t.replies.len(), t.people.as_slice()), (1, ["bob".to_owned()].as_slice()));
    let thread = thread_rows(&r, "alice", &("n1".to_owned(), 1), &English);
    let Row::Msg { file: Some(f), msg, .. } = &thread[1] else { panic!("{thread:?}") };
    assert_eq!(
        (f.name.as_str(), msg.author.as_str(), f.thread.clone()),
        ("plan.pdf", "bob", Some(("n1".to_owned(), 1)))
    );
    let held = crate::Message { body: json, id: "§x".into(), ..crate::Message::sample("r", "n2", 9) };
    assert_eq!(crate::rooms::thread_root(&held), Some((("n1".to_owned(), 1), false)));
}
