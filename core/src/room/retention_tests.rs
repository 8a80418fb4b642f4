//! Retention in the room core: what is past the policy leaves memory and
//! is asked of the store; a peer's old message arrives expired.

use super::tests::{commit_all, effects, join, remote, room, send};
use super::*;

const DAY: u64 = 86_400_000;

fn backlog_ids(effs: &[Effect]) -> Vec<String> {
    effs.iter()
        .filter_map(|e| match e {
            Effect::Deliver { out: Out::Backlog(msgs), .. } => Some(msgs.iter().map(|m| m.id.clone())),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn the_rule_is_the_rooms_policy_else_the_meshs_and_never_for_system_logs() {
    assert_eq!(keep_ms("r", 0, 0), None, "no policy keeps everything");
    assert_eq!(keep_ms("r", 0, 30), Some(30 * DAY));
    assert_eq!(keep_ms("r", 2, 30), Some(2 * DAY), "the room's own wins, shorter");
    assert_eq!(keep_ms("r", 90, 30), Some(90 * DAY), "or longer");
    assert_eq!(keep_ms("!accounts", 0, 30), None, "the account log is never expired");
}

#[test]
fn what_is_past_the_policy_leaves_memory_and_the_store_is_asked_to_erase_it() {
    let mut r = room();
    for (req, id) in [(1, "old1"), (2, "old2")] {
        let effs = send(&mut r, req, None, "alice", id);
        commit_all(&mut r, &effs);
    }
    // A day later (plus a little), a newer one.
    let input = Input::Send { req: 3, conn: None, author: "alice".into(), id: "new".into(), body: "b".into() };
    r.handle(input, DAY + 1_500);
    let effs = effects(&mut r);
    commit_all(&mut r, &effs);
    r.handle(Input::Expire { mesh_days: 1 }, DAY + 1_500);
    let effs = effects(&mut r);
    assert!(effs.iter().any(|e| matches!(e, Effect::Expire { before: 1_500 })), "{effs:?}");
    assert_eq!(backlog_ids(&join(&mut r, 9, "bob", None)), ["new"], "the old ones are gone from memory");
    // Nothing new past the policy: not asked again.
    r.handle(Input::Expire { mesh_days: 1 }, DAY + 1_500);
    assert!(!effects(&mut r).iter().any(|e| matches!(e, Effect::Expire { .. })));
    // No policy: nothing happens.
    let mut r = room();
    r.handle(Input::Expire { mesh_days: 0 }, 10 * DAY);
    assert!(effects(&mut r).is_empty());
}

#[test]
fn a_peers_message_past_the_policy_is_stored_hidden_without_its_text_and_shown_to_nobody() {
    let mut r = room();
    join(&mut r, 1, "bob", None);
    r.handle(Input::Expire { mesh_days: 1 }, 2 * DAY);
    effects(&mut r);
    let old = remote("n2", 1, DAY - 5, "carol", "old");
    let fresh = remote("n2", 2, 2 * DAY - 5, "carol", "fresh");
    r.handle(Input::Remote { from: "n2".into(), msgs: vec![old, fresh] }, 2 * DAY);
    let effs = effects(&mut r);
    let stored = effs.iter().find_map(|e| match e {
        Effect::Append { msgs, .. } => Some(msgs.clone()),
        _ => None,
    });
    let stored = stored.expect("appended");
    assert_eq!(stored.len(), 2, "both kept: the origin's log stays gapless");
    assert!(stored[0].hidden && meshchat_shared::rooms::is_redacted(&stored[0].msg.body), "{:?}", stored[0]);
    assert!(!stored[1].hidden && !meshchat_shared::rooms::is_redacted(&stored[1].msg.body));
    let shown: Vec<&str> = effs
        .iter()
        .filter_map(|e| match e {
            Effect::Deliver { out: Out::Message(m), .. } => Some(m.id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(shown, ["fresh"]);
    let after = commit_all(&mut r, &effs);
    assert!(!after.iter().any(|e| matches!(e, Effect::Deliver { out: Out::Message(_), .. })), "{after:?}");
    assert_eq!(r.committed().get("n2"), 2, "the expired one counts as held");
}

#[test]
fn what_happened_to_the_room_is_never_expired_and_its_own_policy_wins() {
    let mut r = room();
    let created = r#"{"event":"created","title":"","topic":"","private":false}"#;
    let keep = r#"{"event":"retention","days":3}"#;
    for (req, id, body) in [(1, "§c", created), (2, "§k", keep)] {
        r.handle(Input::Send { req, conn: None, author: "alice".into(), id: id.into(), body: body.into() }, 1_000);
        let effs = effects(&mut r);
        commit_all(&mut r, &effs);
    }
    let effs = send(&mut r, 3, None, "alice", "m");
    commit_all(&mut r, &effs);
    assert_eq!(r.governance().retention_days(), 3);
    // The mesh keeps a day; the room three: two days on, nothing goes.
    r.handle(Input::Expire { mesh_days: 1 }, 2 * DAY);
    assert!(!effects(&mut r).iter().any(|e| matches!(e, Effect::Expire { .. })));
    let ids = backlog_ids(&join(&mut r, 9, "alice", None));
    assert!(ids.contains(&"m".to_owned()), "{ids:?}");
    r.handle(Input::Expire { mesh_days: 1 }, 4 * DAY);
    effects(&mut r);
    let ids = backlog_ids(&join(&mut r, 10, "alice", None));
    assert!(!ids.contains(&"m".to_owned()) && ids.contains(&"§c".to_owned()), "{ids:?}");
}
