use crate::{ClientFrame, ErrorCode, Message, RoomVector, ServerFrame};

use super::*;

fn msg(room: &str, origin: &str, seq: u64, ts: u64, author: &str, id: &str) -> Message {
    Message {
        room: room.into(),
        id: id.into(),
        author: author.into(),
        body: format!("body of {id}"),
        origin: origin.into(),
        seq,
        ts,
        vc: [(origin, seq)].into_iter().collect(),
    }
}

fn vector(p: &[(&str, u64)]) -> RoomVector {
    p.iter().map(|&(o, s)| (o, s)).collect()
}

/// A chat for alice in `general`, connected to n1 and synced.
fn ready() -> Chat {
    let mut c = Chat::new("alice", &["general".into()], Some("general"));
    c.on_open();
    assert_eq!(c.take_outgoing(), [ClientFrame::Hello { v: 1, name: "alice".into() }]);
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
fn a_refused_send_fails_with_words_and_can_be_retried_with_the_same_id() {
    let mut c = ready();
    c.send("general", "id1", "hello", 100).unwrap();
    c.take_outgoing();
    c.on_frame(
        ServerFrame::Error { code: ErrorCode::RateLimited, message: "too many frames".into(), id: Some("id1".into()) },
        110,
    );
    let failed = pending(&c, "general")[0].1.clone().unwrap();
    assert!(failed.contains("Slow down"), "{failed}");
    assert!(c.notice.is_none(), "a send's error stays with the message");
    c.retry("general", "id1", 200);
    assert_eq!(pending(&c, "general"), [("id1".into(), None)]);
    assert_eq!(c.take_outgoing(), [ClientFrame::Send { room: "general".into(), id: "id1".into(), body: "hello".into() }]);
    c.discard("general", "id1");
    assert!(pending(&c, "general").is_empty());
}

#[test]
fn a_send_without_an_ack_in_time_fails() {
    let mut c = ready();
    c.send("general", "id1", "hello", 1_000).unwrap();
    assert!(!c.tick(1_000 + ACK_TIMEOUT_MS - 1));
    assert!(c.tick(1_000 + ACK_TIMEOUT_MS));
    assert!(pending(&c, "general")[0].1.is_some());
}

#[test]
fn while_offline_a_send_waits_and_goes_out_on_the_next_connection() {
    let mut c = ready();
    c.on_closed();
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
            ClientFrame::Join { room: "general".into(), since: None },
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
    c.on_closed();
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

#[test]
fn an_ack_lost_with_the_connection_is_settled_by_the_message_itself() {
    let mut c = ready();
    c.send("general", "id1", "hello", 100).unwrap();
    c.on_closed();
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
    let mut c = ready();
    c.join("random").unwrap();
    c.select("general");
    c.on_frame(ServerFrame::Joined { room: "random".into(), members: vec![] }, 0);
    c.on_frame(ServerFrame::Synced { room: "random".into(), vector: RoomVector::new(), gap: false }, 0);
    c.on_frame(ServerFrame::Message { msg: msg("random", "n1", 1, 10, "bob", "1") }, 10);
    c.on_frame(ServerFrame::Message { msg: msg("random", "n1", 2, 11, "alice", "2") }, 11);
    c.on_frame(ServerFrame::Message { msg: msg("general", "n1", 1, 12, "bob", "3") }, 12);
    assert_eq!(c.room("random").unwrap().unread, 1);
    assert_eq!(c.unread_total(), 1);
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
        ServerFrame::History { room: "general".into(), messages: vec![msg("general", "n1", 59, 590, "bob", "y")], more: false },
        0,
    );
    let room = c.room("general").unwrap();
    assert_eq!((room.message_count(), room.more, room.loading_older), (2, false, false));
    c.load_older("general");
    assert!(c.take_outgoing().is_empty(), "nothing older exists");
}

#[test]
fn errors_read_as_words() {
    assert_eq!(explain(ErrorCode::Invalid, "body must be 1-4000 characters"), "That was not accepted. Body must be 1-4000 characters.");
    assert_eq!(explain(ErrorCode::Unavailable, "the room is busy"), ErrorCode::Unavailable.describe());
}
