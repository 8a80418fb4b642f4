//! What the store is handed, in what order: a crash after any write must
//! leave storage a state the room could have been in (each found by the
//! simulation at 10,000 seeds).

use meshchat_shared::{Message, RoomVector};

use super::tests::{commit_all, effects, join, remote, room, room_with, send};
use super::*;
use crate::Signed;

fn event(origin: &str, seq: u64, ts: u64, author: &str, id: &str, body: &str) -> Signed {
    let msg =
        Message { ts, author: author.into(), id: id.into(), body: body.into(), ..Message::sample("r", origin, seq) };
    Signed { msg, proof: None }
}

/// Every appended message's vector names only what was appended before
/// it (or in its batch, earlier).
fn assert_appended_after_their_past(effs: &[Effect]) {
    let mut stored = RoomVector::new();
    for e in effs {
        let Effect::Append { msgs, .. } = e else { continue };
        for s in msgs {
            for (o, seq) in s.msg.vc.iter() {
                assert!(
                    o == s.msg.origin || stored.get(o) >= seq,
                    "{}:{} appended before its dependency {o}:{seq}: {effs:?}",
                    s.msg.origin,
                    s.msg.seq
                );
            }
            stored.set(&s.msg.origin, s.msg.seq);
        }
    }
}

/// Seed 8001336: erased first, a crash before the delete's commit kept a
/// text erased on one node that no node deletes.
#[test]
fn a_deletes_erasure_goes_to_the_store_after_the_delete() {
    let mut r = room();
    let first = send(&mut r, 1, None, "alice", "m");
    commit_all(&mut r, &first);
    let body = r#"{"event":"deleted","origin":"n1","seq":1,"own":true}"#.to_owned();
    r.handle(Input::Send { req: 2, conn: None, author: "alice".into(), id: "§d".into(), body }, 1_010);
    let kinds: Vec<&str> = effects(&mut r)
        .iter()
        .filter_map(|e| match e {
            Effect::Append { .. } => Some("append"),
            Effect::Erase(_) => Some("erase"),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["append", "erase"]);
}

/// Seed 8002169: a joiner's `joined` event, made while a peer's message
/// waited for a lookup, named the peer's messages behind it in its vector
/// and was stored before them.
#[test]
fn a_joined_event_waits_behind_a_lookup_like_a_send() {
    let created = event("n1", 1, 10, "alice", "§c", r#"{"event":"created","title":"","topic":"","private":false}"#);
    let snap = Snapshot {
        vector: [("n1", 1)].into_iter().collect(),
        last_ts: 10,
        recent: Vec::new(),
        ids: vec![crate::idem_hash("zoe", "dup")],
        events: vec![created.msg],
        expired_before: 0,
    };
    let mut r = room_with(Config::default(), snap);
    let msgs = vec![remote("n2", 1, 20, "zoe", "dup"), remote("n2", 2, 30, "zoe", "next")];
    r.handle(Input::Remote { from: "n2".into(), msgs }, 1_000);
    let mut effs = effects(&mut r);
    let lookup = effs.iter().find_map(|e| match e {
        Effect::Lookup { lookup, .. } => Some(*lookup),
        _ => None,
    });
    effs.extend(join(&mut r, 1, "bob", None));
    r.handle(Input::Found { lookup: lookup.expect("parked for the store"), result: Ok(None) }, 1_100);
    effs.extend(effects(&mut r));
    assert_appended_after_their_past(&effs);
    let joined =
        effs.iter().any(|e| matches!(e, Effect::Append { msgs, .. } if msgs.iter().any(|s| s.msg.author == "bob")));
    assert!(joined, "bob's joined event was made: {effs:?}");
}

/// Seed 8001829: a copy erased in the batch being built is a new `Arc`;
/// the hide of it, looked for by pointer, went to the store before the
/// row's own append.
#[test]
fn a_losing_copy_erased_in_the_batch_is_hidden_there() {
    let mut r = room();
    let batch = vec![
        remote("n2", 1, 900, "zoe", "dup"),
        event("n2", 2, 901, "zoe", "§d", r#"{"event":"deleted","origin":"n2","seq":1,"own":true}"#),
        remote("n3", 1, 800, "zoe", "dup"),
    ];
    r.handle(Input::Remote { from: "n2".into(), msgs: batch }, 1_000);
    let effs = effects(&mut r);
    assert!(
        !effs.iter().any(|e| matches!(e, Effect::Hide { .. })),
        "hidden in the batch, nothing to hide later: {effs:?}"
    );
    let Some(msgs) = effs.iter().find_map(|e| match e {
        Effect::Append { msgs, .. } => Some(msgs),
        _ => None,
    }) else {
        panic!("{effs:?}")
    };
    let hidden: Vec<(&str, u64, bool)> = msgs.iter().map(|s| (s.msg.origin.as_str(), s.msg.seq, s.hidden)).collect();
    assert_eq!(hidden, [("n2", 1, true), ("n2", 2, false), ("n3", 1, false)]);
}
