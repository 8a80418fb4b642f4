use crate::rooms::{RoomEvent, StoredEvent};
use crate::{ClientFrame, Message, RoomVector, ServerFrame};

use super::super::tests::{in_random, msg, ready};
use super::*;

fn plain(seq: u64, author: &str, body: &str) -> ServerFrame {
    ServerFrame::Message {
        msg: Message { body: body.into(), ..msg("random", "n2", seq, 10 * seq, author, &format!("r{seq}")) },
    }
}

fn event(seq: u64, author: &str, e: RoomEvent) -> ServerFrame {
    let body = serde_json::to_string(&StoredEvent::new(e)).unwrap();
    ServerFrame::Message { msg: Message { body, ..msg("random", "n2", seq, 10 * seq, author, &format!("§e{seq}")) } }
}

fn reply(seq: u64, author: &str, root: u64, body: &str) -> ServerFrame {
    event(
        seq,
        author,
        RoomEvent::Reply { origin: "n2".into(), seq: root, body: body.into(), thread: true, also: false },
    )
}

fn listed(c: &Chat) -> Vec<(u64, usize, usize)> {
    c.followed_threads().iter().map(|f| (f.root.1, f.replies, f.unread)).collect()
}

#[test]
fn a_reply_that_mentions_someone_reaches_them_and_they_follow_the_thread() {
    let mut c = in_random();
    c.on_frame(plain(1, "bob", "a plan"), 0);
    c.on_frame(reply(2, "carol", 1, "what does @alice think?"), 0);
    let r = c.room("random").unwrap();
    assert_eq!((r.unread, r.mentioned), (2, 1), "the root, and the reply naming her");
    let alerts: Vec<(String, bool)> = c.take_alerts().into_iter().map(|a| (a.text, a.mention)).collect();
    assert_eq!(alerts, [("a plan".to_owned(), false), ("what does @alice think?".into(), true)]);
    // Mentioned once, she follows it: the next reply is news to her too.
    c.on_frame(reply(3, "bob", 1, "good question"), 0);
    assert_eq!(c.take_alerts().into_iter().map(|a| a.mention).collect::<Vec<_>>(), [true]);
    assert_eq!(listed(&c), [(1, 2, 2)]);
}

#[test]
fn followed_threads_list_unread_first_and_a_marker_clears_them_everywhere() {
    let mut c = in_random();
    c.on_frame(plain(1, "alice", "my root"), 0);
    c.on_frame(plain(2, "bob", "bob's root"), 0);
    c.on_frame(plain(3, "bob", "@alice look"), 0);
    c.on_frame(reply(4, "carol", 2, "not alice's"), 0);
    assert!(listed(&c).is_empty(), "no replies in hers yet; bob's thread is not hers");
    c.on_frame(reply(5, "carol", 1, "in alice's"), 0);
    c.on_frame(reply(6, "alice", 2, "me too"), 0); // she replied: follows bob's thread now
    c.on_frame(reply(7, "carol", 3, "in the one naming her"), 0);
    c.on_frame(reply(8, "carol", 2, "after alice"), 0);
    // Unread first, latest reply first: 2 (reply at 80), 3 (70), 1 (50).
    assert_eq!(listed(&c), [(2, 3, 2), (3, 1, 1), (1, 1, 1)]);
    // Looking at thread 2 sends one marker; with it back, 2 is read.
    c.select("random");
    c.take_outgoing();
    assert!(c.read_thread("random", &("n2".into(), 2), 90));
    assert!(!c.read_thread("random", &("n2".into(), 2), 91), "one at a time");
    let Some(ClientFrame::Act { action, .. }) = c.take_outgoing().pop() else { panic!("no marker sent") };
    assert_eq!(action, RoomEvent::ReadThread { origin: "n2".into(), seq: 2 });
    // The node's copy of it comes back.
    let sent = c.room("random").unwrap().pending[0].id.clone();
    let ServerFrame::Message { msg: mut marker } = event(9, "alice", action) else { unreachable!() };
    marker.id = sent;
    c.on_frame(ServerFrame::Message { msg: marker }, 0);
    assert!(c.room("random").unwrap().pending.is_empty());
    assert_eq!(listed(&c), [(3, 1, 1), (1, 1, 1), (2, 3, 0)]);
    assert!(!c.read_thread("random", &("n2".into(), 2), 92), "nothing new: no marker");
    // A marker from her phone for thread 1: read here too.
    c.on_frame(event(10, "alice", RoomEvent::ReadThread { origin: "n2".into(), seq: 1 }), 0);
    assert_eq!(listed(&c), [(3, 1, 1), (2, 3, 0), (1, 1, 0)]);
    // A new reply after the marker is unread again; the marker is no row.
    c.on_frame(reply(11, "bob", 2, "more"), 0);
    assert_eq!(listed(&c)[0], (2, 4, 1));
    let rows =
        super::super::timeline::rows(c.room("random").unwrap(), "alice", &|_| 0, &super::super::timeline::English);
    assert!(rows.iter().all(|r| !matches!(r, super::super::timeline::Row::Event { .. })), "{rows:?}");
}

#[test]
fn a_deleted_root_keeps_its_thread_followed() {
    let mut c = in_random();
    c.on_frame(plain(1, "alice", "to be deleted"), 0);
    c.on_frame(reply(2, "bob", 1, "a reply"), 0);
    c.on_frame(event(3, "alice", RoomEvent::Deleted { origin: "n2".into(), seq: 1 }), 0);
    let f = c.followed_threads();
    assert_eq!(f.len(), 1);
    assert!(f[0].deleted && f[0].text.is_empty(), "{f:?}");
    assert_eq!((f[0].replies, f[0].unread), (1, 1));
}

#[test]
fn a_room_held_anew_counts_thread_replies_as_they_came_live() {
    let frames = || {
        vec![
            plain(1, "bob", "bob's root"),
            reply(2, "carol", 1, "not for alice"),
            reply(3, "carol", 1, "now @alice"),
            reply(4, "bob", 1, "and more"),
        ]
    };
    // Live: the root, then only what came once she followed (named in 3).
    let mut live = in_random();
    for f in frames() {
        live.on_frame(f, 0);
    }
    let r = live.room("random").unwrap();
    assert_eq!((r.unread, r.mentioned), (3, 2), "the root, the reply naming her, the next one");
    // The same as a backlog when the room is first held: the same count.
    let mut fresh = ready();
    fresh.join("random").unwrap();
    fresh.select("general");
    fresh.on_frame(ServerFrame::Joined { room: "random".into(), members: vec![] }, 0);
    for f in frames() {
        fresh.on_frame(f, 0);
    }
    fresh.on_frame(ServerFrame::Synced { room: "random".into(), vector: RoomVector::new(), gap: false }, 0);
    let r = fresh.room("random").unwrap();
    assert_eq!((r.unread, r.mentioned), (3, 2));
}

#[test]
fn what_came_while_moving_nodes_counts_as_it_would_have_live() {
    let mut c = in_random();
    c.on_frame(plain(1, "bob", "bob's root"), 0);
    assert_eq!(c.room("random").unwrap().unread, 1);
    // The link drops; on the next node the room resumes from its vector.
    c.on_closed(true);
    c.on_open();
    c.on_frame(ServerFrame::Welcome { v: 1, node: "n2".into(), name: "alice".into(), nodes: vec![] }, 0);
    c.on_frame(ServerFrame::Joined { room: "random".into(), members: vec![] }, 0);
    let reaction = RoomEvent::Reacted { origin: "n2".into(), seq: 1, emoji: "👍".into(), on: true };
    for f in [event(2, "carol", reaction), reply(3, "carol", 1, "not hers"), reply(4, "carol", 1, "@alice see")] {
        c.on_frame(f, 0);
    }
    c.on_frame(ServerFrame::Synced { room: "random".into(), vector: RoomVector::new(), gap: false }, 0);
    let r = c.room("random").unwrap();
    assert_eq!((r.unread, r.mentioned), (2, 1), "the root and the reply naming her: no reaction, no other's thread");
}

#[test]
fn a_deleted_reply_leaves_its_tombstone_in_its_thread_not_the_room() {
    use super::super::timeline::{English, Row, rows, thread_rows};
    let mut c = in_random();
    c.on_frame(plain(1, "alice", "root"), 0);
    c.on_frame(reply(2, "carol", 1, "oops"), 0);
    c.on_frame(reply(3, "bob", 1, "kept"), 0);
    // carol deletes her reply; the node marked where it was.
    let del = StoredEvent {
        in_thread: Some(("n2".into(), 1)),
        ..StoredEvent::new(RoomEvent::Deleted { origin: "n2".into(), seq: 2 })
    };
    let body = serde_json::to_string(&del).unwrap();
    c.on_frame(ServerFrame::Message { msg: Message { body, ..msg("random", "n2", 4, 40, "carol", "§d4") } }, 0);
    // Its text erased, as every node has it.
    c.on_frame(ServerFrame::Deleted { room: "random".into(), origin: "n2".into(), seq: 2 }, 0);
    let r = c.room("random").unwrap();
    let seqs = |rows: &[Row]| -> Vec<u64> {
        rows.iter()
            .filter_map(|r| match r {
                Row::Msg { msg, .. } => Some(msg.seq),
                _ => None,
            })
            .collect()
    };
    assert_eq!(seqs(&rows(r, "alice", &|_| 0, &English)), [1], "only the root in the room");
    assert_eq!(seqs(&thread_rows(r, "alice", &("n2".into(), 1), &English)), [1, 2, 3], "the tombstone in its place");
}

#[test]
fn an_edited_message_deleted_shows_one_tombstone_after_a_reload() {
    use super::super::timeline::{English, Row, rows};
    // As a node serves it once deleted: the message and its edit erased.
    let erased = format!("{}{}", crate::rooms::REDACTED, "ab".repeat(32));
    let mut c = in_random();
    c.on_frame(plain(1, "bob", &erased), 0);
    let ServerFrame::Message { msg: mut edit } =
        event(2, "bob", RoomEvent::Edited { origin: "n2".into(), seq: 1, body: "x".into() })
    else {
        unreachable!()
    };
    edit.body = erased.clone();
    c.on_frame(ServerFrame::Message { msg: edit }, 0);
    c.on_frame(event(3, "bob", RoomEvent::Deleted { origin: "n2".into(), seq: 1 }), 0);
    let r = c.room("random").unwrap();
    let shown: Vec<u64> = rows(r, "alice", &|_| 0, &English)
        .iter()
        .filter_map(|r| match r {
            Row::Msg { msg, .. } => Some(msg.seq),
            _ => None,
        })
        .collect();
    assert_eq!(shown, [1], "the message's tombstone, not its erased edit's");
}

#[test]
fn the_cache_lists_what_a_fresh_fold_lists_as_rooms_change() {
    let mut c = in_random();
    let mut cache = FollowedCache::default();
    assert!(cache.refresh(&c).is_empty());
    c.on_frame(plain(1, "alice", "root"), 0);
    c.on_frame(reply(2, "bob", 1, "one"), 0);
    assert_eq!(cache.refresh(&c), c.followed_threads());
    c.on_frame(plain(3, "bob", "a plain message: nothing to fold again"), 0);
    c.on_frame(reply(4, "bob", 1, "two"), 0);
    c.on_frame(event(5, "alice", RoomEvent::ReadThread { origin: "n2".into(), seq: 1 }), 0);
    assert_eq!(cache.refresh(&c), c.followed_threads());
    assert_eq!(c.followed_threads()[0].unread, 0);
    c.leave("random");
    assert!(cache.refresh(&c).is_empty(), "a room left is forgotten");
}
