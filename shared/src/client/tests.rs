use crate::{ClientFrame, ErrorCode, Message, RoomVector, ServerFrame};

use super::*;

pub(super) fn msg(room: &str, origin: &str, seq: u64, ts: u64, author: &str, id: &str) -> Message {
    Message {
        ts,
        author: author.into(),
        id: id.into(),
        body: format!("body of {id}"),
        ..Message::sample(room, origin, seq)
    }
}

fn vector(p: &[(&str, u64)]) -> RoomVector {
    p.iter().map(|&(o, s)| (o, s)).collect()
}

/// alice in `random` beside `general`, looking at `general`.
pub(super) fn in_random() -> Chat {
    let mut c = ready();
    c.join("random").unwrap();
    c.select("general");
    c.on_frame(ServerFrame::Joined { room: "random".into(), members: vec![] }, 0);
    c.on_frame(ServerFrame::Synced { room: "random".into(), vector: RoomVector::new(), gap: false }, 0);
    c.take_outgoing();
    c
}

/// A chat for alice in `general`, connected to n1 and synced.
pub(super) fn ready() -> Chat {
    let mut c = Chat::new("alice", &["general".into()], Some("general"));
    c.on_open();
    assert_eq!(c.take_outgoing(), [ClientFrame::Hello { v: 1, name: Some("alice".into()), token: None, events: true }]);
    c.on_frame(ServerFrame::Welcome { v: 1, node: "n1".into(), name: "alice".into(), nodes: vec![] }, 0);
    assert_eq!(c.take_outgoing(), [ClientFrame::Join { room: "general".into(), since: None }]);
    c.on_frame(ServerFrame::Joined { room: "general".into(), members: vec!["alice".into()] }, 0);
    c.on_frame(ServerFrame::Synced { room: "general".into(), vector: RoomVector::new(), gap: false }, 0);
    c
}

fn pending(c: &Chat, room: &str) -> Vec<(String, Option<String>)> {
    c.room(room).unwrap().pending.iter().map(|p| (p.id.clone(), p.failed.clone())).collect()
}

#[test]
fn a_send_is_pending_then_sent_when_acked() {
    let mut c = ready();
    c.send("general", "id1", "hello", 100).unwrap();
    assert_eq!(
        c.take_outgoing(),
        [ClientFrame::Send { room: "general".into(), id: "id1".into(), body: "hello".into() }]
    );
    assert_eq!(pending(&c, "general"), [("id1".into(), None)]);
    let acked = msg("general", "n1", 1, 120, "alice", "id1");
    c.on_frame(ServerFrame::Ack { id: "id1".into(), msg: acked.clone() }, 130);
    let room = c.room("general").unwrap();
    assert!(room.pending.is_empty());
    assert_eq!(room.messages().collect::<Vec<_>>(), [&acked]);
    assert_eq!(room.vector, vector(&[("n1", 1)]));
}

#[test]
fn a_refused_send_is_retried_with_the_same_id_then_fails_in_words() {
    let mut c = ready();
    c.send("general", "id1", "hello", 100).unwrap();
    c.take_outgoing();
    let busy = |c: &mut Chat, t| {
        c.on_frame(
            ServerFrame::Error {
                code: ErrorCode::RateLimited,
                message: "too many frames".into(),
                id: Some("id1".into()),
            },
            t,
        )
    };
    busy(&mut c, 110);
    assert_eq!(pending(&c, "general"), [("id1".into(), None)], "still pending, waiting to retry");
    assert!(c.notice.is_none(), "a send's error stays with the message");
    // It goes out again after a pause, with its id.
    c.tick(1_000);
    assert!(c.take_outgoing().is_empty());
    c.tick(1_110);
    assert_eq!(
        c.take_outgoing(),
        [ClientFrame::Send { room: "general".into(), id: "id1".into(), body: "hello".into() }]
    );
    // Refused again and again: after MAX_ATTEMPTS it has failed, in words.
    let mut t = 1_200;
    for _ in 0..10 {
        busy(&mut c, t);
        t += 20_000;
        c.tick(t);
    }
    let failed = pending(&c, "general")[0].1.clone().unwrap();
    assert!(failed.contains("tried several times"), "{failed}");
    // Retry starts over, with the same id; Discard drops it.
    c.take_outgoing();
    c.retry("general", "id1", t);
    assert_eq!(pending(&c, "general"), [("id1".into(), None)]);
    assert_eq!(
        c.take_outgoing(),
        [ClientFrame::Send { room: "general".into(), id: "id1".into(), body: "hello".into() }]
    );
    c.discard("general", "id1");
    assert!(pending(&c, "general").is_empty());
}

#[test]
fn an_invalid_send_fails_at_once() {
    let mut c = ready();
    c.send("general", "id1", "hello", 100).unwrap();
    c.on_frame(
        ServerFrame::Error {
            code: ErrorCode::Invalid,
            message: "body must be 1-4000 characters".into(),
            id: Some("id1".into()),
        },
        110,
    );
    let failed = pending(&c, "general")[0].1.clone().unwrap();
    assert_eq!(failed, "That was not accepted. Body must be 1-4000 characters.");
}

#[test]
fn a_send_without_an_ack_in_time_goes_again_then_fails() {
    let mut c = ready();
    c.send("general", "id1", "hello", 1_000).unwrap();
    c.take_outgoing();
    assert!(!c.tick(1_000 + ACK_TIMEOUT_MS - 1));
    assert!(c.tick(1_000 + ACK_TIMEOUT_MS));
    assert_eq!(c.take_outgoing().len(), 1, "sent again with its id");
    let mut t = 1_000 + ACK_TIMEOUT_MS;
    for _ in 0..MAX_ATTEMPTS {
        t += ACK_TIMEOUT_MS;
        c.tick(t);
    }
    assert!(pending(&c, "general")[0].1.is_some());
}

#[test]
fn the_outbox_survives_a_reload_and_goes_out_once_connected() {
    let mut c = ready();
    c.on_closed(true);
    c.send("general", "id1", "typed offline", 100).unwrap();
    c.send("general", "id2", "and again", 200).unwrap();
    let kept = c.outbox();
    assert_eq!(kept.len(), 2);
    let json = serde_json::to_string(&kept).unwrap();
    // A new page: same name, restores what was kept.
    let mut fresh = Chat::new("alice", &["general".into()], None);
    fresh.restore_outbox(serde_json::from_str(&json).unwrap());
    fresh.restore_outbox(serde_json::from_str(&json).unwrap());
    assert_eq!(fresh.outbox(), kept, "restoring twice keeps one of each");
    fresh.on_open();
    fresh.take_outgoing();
    fresh.on_frame(ServerFrame::Welcome { v: 1, node: "n3".into(), name: "alice".into(), nodes: vec![] }, 300);
    let out = fresh.take_outgoing();
    let sends: Vec<_> = out.iter().filter(|f| matches!(f, ClientFrame::Send { .. })).collect();
    assert_eq!(sends.len(), 2);
    fresh.on_frame(ServerFrame::Ack { id: "id1".into(), msg: msg("general", "n3", 1, 310, "alice", "id1") }, 310);
    // The same ack again (a resend that raced) changes nothing.
    fresh.on_frame(ServerFrame::Ack { id: "id1".into(), msg: msg("general", "n3", 1, 310, "alice", "id1") }, 311);
    assert_eq!(fresh.room("general").unwrap().message_count(), 1);
    assert_eq!(fresh.outbox().len(), 1);
}

#[test]
fn status_says_connected_moving_or_offline() {
    let mut c = Chat::new("alice", &["general".into()], None);
    c.nodes.learn(&[meshchat_node("n1", true), meshchat_node("n2", true)]);
    assert_eq!(c.status(), Status::Connecting);
    c.on_open();
    c.on_frame(ServerFrame::Welcome { v: 1, node: "n1".into(), name: "alice".into(), nodes: vec![] }, 0);
    assert_eq!(c.status(), Status::Connected("n1".into()));
    c.on_closed(true);
    assert_eq!(c.status(), Status::Moving);
    c.on_closed(false);
    assert_eq!(c.status(), Status::Moving, "one node tried");
    c.on_closed(false);
    assert_eq!(c.status(), Status::Offline, "every node tried");
    c.on_open();
    c.on_frame(ServerFrame::Welcome { v: 1, node: "n2".into(), name: "alice".into(), nodes: vec![] }, 0);
    assert_eq!(c.status(), Status::Connected("n2".into()));
}

fn meshchat_node(id: &str, up: bool) -> crate::NodeInfo {
    crate::NodeInfo { id: id.into(), url: format!("ws://{id}/ws"), up }
}

#[test]
fn while_offline_a_send_waits_and_goes_out_on_the_next_connection() {
    let mut c = ready();
    c.on_closed(true);
    c.send("general", "id1", "typed offline", 100).unwrap();
    assert!(c.take_outgoing().is_empty());
    // Offline, the ack timer does not run.
    assert!(!c.tick(100 + 10 * ACK_TIMEOUT_MS));
    c.on_open();
    c.take_outgoing();
    c.on_frame(ServerFrame::Welcome { v: 1, node: "n2".into(), name: "alice".into(), nodes: vec![] }, 200);
    assert_eq!(
        c.take_outgoing(),
        [
            // Seen empty before: it resumes from nothing held.
            ClientFrame::Join { room: "general".into(), since: Some(RoomVector::new()) },
            ClientFrame::Send { room: "general".into(), id: "id1".into(), body: "typed offline".into() },
        ]
    );
    assert_eq!(c.node.as_deref(), Some("n2"));
}

#[test]
fn a_reconnect_resumes_each_room_from_its_vector() {
    let mut c = ready();
    c.on_frame(ServerFrame::Message { msg: msg("general", "n1", 1, 10, "bob", "b1") }, 10);
    c.on_frame(ServerFrame::Message { msg: msg("general", "n2", 1, 11, "bob", "b2") }, 11);
    c.on_closed(true);
    c.on_open();
    c.take_outgoing();
    c.on_frame(ServerFrame::Welcome { v: 1, node: "n2".into(), name: "alice".into(), nodes: vec![] }, 20);
    assert_eq!(
        c.take_outgoing(),
        [ClientFrame::Join { room: "general".into(), since: Some(vector(&[("n1", 1), ("n2", 1)])) }]
    );
    // The resume's backlog adds what was missed, without duplicates.
    c.on_frame(ServerFrame::Joined { room: "general".into(), members: vec![] }, 21);
    c.on_frame(ServerFrame::Message { msg: msg("general", "n1", 1, 10, "bob", "b1") }, 21);
    c.on_frame(ServerFrame::Message { msg: msg("general", "n1", 2, 15, "bob", "b3") }, 21);
    c.on_frame(ServerFrame::Synced { room: "general".into(), vector: vector(&[("n1", 2), ("n2", 1)]), gap: false }, 21);
    let room = c.room("general").unwrap();
    assert_eq!(room.message_count(), 3);
    assert_eq!(room.vector, vector(&[("n1", 2), ("n2", 1)]));
}

/// A room seen empty, then left behind by a lost connection while people
/// talked, resumes from nothing held (everything said meanwhile comes, in
/// order, counted unread) instead of starting from its latest page, which
/// would leave the start unseen (a nemesis run caught a client so).
#[test]
fn a_room_held_empty_resumes_and_gets_everything_said_meanwhile() {
    let mut c = in_random();
    c.on_closed(true);
    c.on_open();
    c.take_outgoing();
    c.on_frame(ServerFrame::Welcome { v: 1, node: "n2".into(), name: "alice".into(), nodes: vec![] }, 20);
    let joins = c.take_outgoing();
    assert!(joins.contains(&ClientFrame::Join { room: "random".into(), since: Some(RoomVector::new()) }), "{joins:?}");
    c.on_frame(ServerFrame::Joined { room: "random".into(), members: vec![] }, 21);
    for seq in 1..=60 {
        c.on_frame(ServerFrame::Message { msg: msg("random", "n2", seq, 10 + seq, "bob", &format!("b{seq}")) }, 21);
    }
    c.on_frame(ServerFrame::Synced { room: "random".into(), vector: vector(&[("n2", 60)]), gap: false }, 21);
    let r = c.room("random").unwrap();
    assert_eq!((r.message_count(), r.more, r.unread), (60, false, 60));
}

#[test]
fn an_ack_lost_with_the_connection_is_settled_by_the_message_itself() {
    let mut c = ready();
    c.send("general", "id1", "hello", 100).unwrap();
    c.on_closed(true);
    c.on_open();
    c.on_frame(ServerFrame::Welcome { v: 1, node: "n2".into(), name: "alice".into(), nodes: vec![] }, 200);
    c.on_frame(ServerFrame::Joined { room: "general".into(), members: vec![] }, 200);
    // n1 had stored it before dying: it arrives in the backlog.
    c.on_frame(ServerFrame::Message { msg: msg("general", "n1", 1, 120, "alice", "id1") }, 200);
    c.on_frame(ServerFrame::Synced { room: "general".into(), vector: vector(&[("n1", 1)]), gap: false }, 200);
    let room = c.room("general").unwrap();
    assert!(room.pending.is_empty());
    assert_eq!(room.message_count(), 1);
}

#[test]
fn unread_counts_only_other_rooms_and_others_messages() {
    let mut c = in_random();
    c.on_frame(ServerFrame::Message { msg: msg("random", "n1", 1, 10, "bob", "1") }, 10);
    c.on_frame(ServerFrame::Message { msg: msg("random", "n1", 2, 11, "alice", "2") }, 11);
    c.on_frame(ServerFrame::Message { msg: msg("general", "n1", 1, 12, "bob", "3") }, 12);
    assert_eq!(c.room("random").unwrap().unread, 1);
    assert_eq!(c.unread_total(), 1);
    // Two live messages from others (one per room); our own does not count.
    assert_eq!(c.take_fresh(), 2);
    assert_eq!(c.take_fresh(), 0);
    c.select("random");
    assert_eq!(c.unread_total(), 0);
}

#[test]
fn typing_goes_out_at_most_every_two_seconds() {
    let mut c = ready();
    c.typing("general", 1_000);
    c.typing("general", 2_000);
    c.typing("general", 2_999);
    assert_eq!(c.take_outgoing().len(), 1);
    c.typing("general", 3_000);
    assert_eq!(c.take_outgoing(), [ClientFrame::Typing { room: "general".into() }]);
    // Sending a message resets it: the next keystroke says typing again.
    c.send("general", "x", "done", 3_100).unwrap();
    c.take_outgoing();
    c.typing("general", 3_200);
    assert_eq!(c.take_outgoing().len(), 1);
}

#[test]
fn joining_and_leaving_rooms() {
    let mut c = ready();
    assert_eq!(c.join("Bad Name"), Err(crate::Invalid::Room));
    c.join("random").unwrap();
    assert_eq!(c.current.as_deref(), Some("random"));
    assert_eq!(c.take_outgoing(), [ClientFrame::Join { room: "random".into(), since: None }]);
    c.leave("random");
    assert_eq!(c.take_outgoing(), [ClientFrame::Leave { room: "random".into() }]);
    assert_eq!(c.current.as_deref(), Some("general"));
}

#[test]
fn older_pages_are_asked_for_once_at_a_time() {
    let mut c = ready();
    c.on_frame(ServerFrame::Message { msg: msg("general", "n1", 60, 600, "bob", "x") }, 0);
    c.rooms.get_mut("general").unwrap().more = true;
    c.load_older("general");
    c.load_older("general");
    let out = c.take_outgoing();
    assert_eq!(out.len(), 1);
    assert!(matches!(&out[0], ClientFrame::History { before: Some(b), .. } if b.seq == 60));
    c.on_frame(
        ServerFrame::History {
            room: "general".into(),
            messages: vec![msg("general", "n1", 59, 590, "bob", "y")],
            more: false,
        },
        0,
    );
    let room = c.room("general").unwrap();
    assert_eq!((room.message_count(), room.more, room.loading_older), (2, false, false));
    c.load_older("general");
    assert!(c.take_outgoing().is_empty(), "nothing older exists");
}

#[test]
fn errors_read_as_words() {
    assert_eq!(
        explain(ErrorCode::Invalid, "body must be 1-4000 characters"),
        "That was not accepted. Body must be 1-4000 characters."
    );
    assert_eq!(explain(ErrorCode::Unavailable, "the room is busy"), ErrorCode::Unavailable.describe());
}

#[test]
fn a_signed_in_client_says_hello_with_its_token_and_takes_its_name_from_welcome() {
    let mut c = Chat::new("", &["general".into()], Some("general"));
    c.token = Some("mc1.a.b".into());
    c.on_open();
    assert_eq!(
        c.take_outgoing(),
        [ClientFrame::Hello { v: 1, name: None, token: Some("mc1.a.b".into()), events: true }]
    );
    c.on_frame(ServerFrame::Welcome { v: 1, node: "n1".into(), name: "Alice".into(), nodes: vec![] }, 0);
    assert_eq!(c.name, "Alice");
}

#[test]
fn a_refused_session_signs_the_client_out_and_a_busy_node_does_not() {
    let mut c = Chat::new("", &["general".into()], Some("general"));
    c.token = Some("mc1.a.b".into());
    c.on_open();
    let busy = ServerFrame::Error { code: ErrorCode::Unavailable, message: "behind".into(), id: None };
    c.on_frame(busy, 0);
    assert_ne!(c.status(), Status::SignedOut, "a node that is behind is tried again, elsewhere");
    let refused = ServerFrame::Error { code: ErrorCode::Unauthorized, message: "ended".into(), id: None };
    c.on_frame(refused, 0);
    assert_eq!(c.status(), Status::SignedOut);
}

#[test]
fn a_guest_whose_name_belongs_to_an_account_stops_but_a_room_refusal_does_not() {
    let taken = || ServerFrame::Error { code: ErrorCode::NameTaken, message: "belongs to an account".into(), id: None };
    let mut c = ready();
    c.on_frame(taken(), 0);
    assert_ne!(c.status(), Status::SignedOut, "a join refused for a look-alike name is about one room");
    let mut c = Chat::new("alice", &["general".into()], Some("general"));
    c.on_open();
    c.on_frame(taken(), 0);
    assert_eq!(c.status(), Status::SignedOut, "the hello was refused: no node takes this name");
    assert!(c.notice.is_some());
}

#[test]
fn a_send_refused_for_an_ended_session_signs_the_client_out() {
    let mut c = ready();
    c.token = Some("mc1.a.b".into());
    c.send("general", "m1", "hi", 0).unwrap();
    let refused = ServerFrame::Error { code: ErrorCode::Unauthorized, message: "ended".into(), id: Some("m1".into()) };
    c.on_frame(refused, 0);
    assert_eq!(c.status(), Status::SignedOut);
}

#[test]
fn a_mention_elsewhere_counts_apart_from_unread_until_the_room_is_shown() {
    let mut c = ready();
    c.join("random").unwrap();
    c.select("general");
    let at = |seq, body: &str| ServerFrame::Message {
        msg: Message { body: body.into(), ..msg("random", "n2", seq, 10 + seq, "bob", &format!("r{seq}")) },
    };
    c.on_frame(ServerFrame::Joined { room: "random".into(), members: vec![] }, 0);
    c.on_frame(ServerFrame::Synced { room: "random".into(), vector: RoomVector::new(), gap: false }, 0);
    c.on_frame(at(1, "lunch?"), 0);
    c.on_frame(at(2, "@alice are you in?"), 0);
    let r = c.room("random").unwrap();
    assert_eq!((r.unread, r.mentioned), (2, 1));
    assert_eq!((c.take_fresh(), c.take_fresh_mentions()), (2, 1));
    let alerts = c.take_alerts();
    assert_eq!(
        alerts.iter().map(|a| (a.text.as_str(), a.mention)).collect::<Vec<_>>(),
        [("lunch?", false), ("@alice are you in?", true)]
    );
    assert!(c.take_alerts().is_empty());
    c.select("random");
    let r = c.room("random").unwrap();
    assert_eq!((r.unread, r.mentioned), (0, 0));
}

/// A reply in a thread is news to who follows it (wrote its root, or
/// replied in it): counted and alerted as a mention; to others it stays in
/// the thread, unless it was also sent to the room.
#[test]
fn thread_replies_reach_followers_as_mentions_and_others_not_at_all() {
    let mut c = in_random();
    let plain = |seq, author: &str| ServerFrame::Message {
        msg: msg("random", "n2", seq, 10 + seq, author, &format!("r{seq}")),
    };
    let reply = |seq, author: &str, root: u64, also| {
        let e = crate::rooms::RoomEvent::Reply {
            origin: "n2".into(),
            seq: root,
            body: format!("re {seq}"),
            thread: true,
            also,
        };
        let body = serde_json::to_string(&crate::rooms::StoredEvent::new(e)).unwrap();
        ServerFrame::Message {
            msg: Message { body, ..msg("random", "n2", seq, 10 + seq, author, &format!("§t{seq}")) },
        }
    };
    c.on_frame(plain(1, "alice"), 0); // alice's root
    c.on_frame(plain(2, "bob"), 0); // bob's root
    c.on_frame(reply(3, "carol", 1, false), 0); // in alice's thread: news to her
    c.on_frame(reply(4, "carol", 2, false), 0); // in bob's: not hers
    c.on_frame(reply(5, "carol", 2, true), 0); // also sent to the room: news
    let r = c.room("random").unwrap();
    assert_eq!((r.unread, r.mentioned), (3, 1), "bob's root, the reply in her thread, the one also in the room");
    let alerts: Vec<(String, bool)> = c.take_alerts().into_iter().map(|a| (a.text, a.mention)).collect();
    assert_eq!(alerts, [("body of r2".to_owned(), false), ("re 3".into(), true), ("re 5".into(), false)]);
}

#[test]
fn a_read_marker_from_another_device_clears_unread_and_one_goes_out_when_looking() {
    let mut c = in_random();
    let said = |seq, ts| ServerFrame::Message { msg: msg("random", "n2", seq, ts, "bob", &format!("b{seq}")) };
    c.on_frame(said(1, 10), 0);
    c.on_frame(said(2, 20), 0);
    assert_eq!(c.room("random").unwrap().unread, 2);
    // Alice's phone read the room up to after bob's second message.
    let read = Message {
        id: "§read-1".into(),
        body: r#"{"event":"read"}"#.into(),
        ..msg("random", "n3", 1, 30, "alice", "§read-1")
    };
    c.on_frame(ServerFrame::Message { msg: read }, 0);
    assert_eq!(c.room("random").unwrap().unread, 0, "read elsewhere is read here");
    // Read markers are not news.
    assert!(c.take_alerts().iter().all(|a| !a.text.is_empty()));
    // Looking at a room with something new sends one marker, not two.
    c.on_frame(said(3, 40), 0);
    c.select("random");
    assert!(c.mark_read("random", 50));
    assert!(!c.mark_read("random", 51), "one at a time");
    assert!(matches!(c.take_outgoing().last(), Some(ClientFrame::Act { action: crate::rooms::RoomEvent::Read, .. })));
    assert_eq!(
        c.room("random").unwrap().seen_upto.as_ref().map(|s| s.ts),
        Some(30),
        "the line goes after the old marker"
    );
}

/// A room one was added to (or holds again after a start) counts what
/// others wrote after one's read marker, all of it without one.
#[test]
fn a_room_first_held_counts_what_was_not_read() {
    let mut c = ready();
    c.add_room("plans").unwrap();
    let backlog = |c: &mut Chat, read_after: Option<u64>| {
        c.on_frame(ServerFrame::Joined { room: "plans".into(), members: vec![] }, 0);
        let mut said = vec![msg("plans", "n2", 1, 10, "bob", "b1"), msg("plans", "n2", 2, 20, "bob", "b2")];
        said[1].body = "@alice look".into();
        if let Some(ts) = read_after {
            let read = Message { body: r#"{"event":"read"}"#.into(), ..msg("plans", "n3", 1, ts, "alice", "§read-1") };
            said.push(read);
        }
        for m in said {
            c.on_frame(ServerFrame::Message { msg: m }, 0);
        }
        c.on_frame(ServerFrame::Synced { room: "plans".into(), vector: RoomVector::new(), gap: false }, 0);
        let r = c.room("plans").unwrap();
        (r.unread, r.mentioned)
    };
    assert_eq!(backlog(&mut c, None), (2, 1), "never read: all of it");
    let mut c = ready();
    c.add_room("plans").unwrap();
    assert_eq!(backlog(&mut c, Some(15)), (1, 1), "after the marker");
}
