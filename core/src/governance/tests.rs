use std::collections::HashSet;

use meshchat_shared::rooms::{RoomEvent, RoomRole, StoredEvent};
use meshchat_shared::{Message, RoomVector};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::*;

fn event(origin: &str, seq: u64, ts: u64, author: &str, e: RoomEvent) -> Message {
    let body = serde_json::to_string(&StoredEvent::new(e)).unwrap();
    Message {
        room: "r".into(),
        id: format!("§{origin}{seq}"),
        author: author.into(),
        body,
        origin: origin.into(),
        seq,
        ts,
        vc: RoomVector::new(),
    }
}

fn msg(origin: &str, seq: u64, ts: u64, author: &str) -> Message {
    Message { ts, author: author.into(), ..Message::sample("r", origin, seq) }
}

fn created(private: bool) -> Message {
    event("n1", 1, 10, "alice", RoomEvent::Created { title: String::new(), topic: String::new(), private, dm: vec![] })
}

#[test]
fn the_creator_owns_and_invites_make_members_of_a_private_room() {
    let mut g = GovernanceLog::default();
    g.insert(&created(true));
    assert_eq!(g.role("alice"), Some(RoomRole::Owner));
    assert!(!g.can_read("bob") && !g.can_post("bob"));
    assert!(!g.permits("bob", &RoomEvent::Joined, false), "a private room is by invitation");
    g.insert(&event("n1", 2, 20, "alice", RoomEvent::Invited { user: "bob".into() }));
    assert!(g.can_read("bob") && g.can_post("bob"));
    assert!(g.visible(&msg("n2", 1, 30, "bob")));
    assert!(!g.visible(&msg("n2", 2, 15, "bob")), "before the invitation bob could not post");
    // Bob may not kick the owner, nor invite: he is a member.
    assert!(!g.permits("bob", &RoomEvent::Kicked { user: "alice".into(), reason: String::new() }, false));
    assert!(!g.permits("bob", &RoomEvent::Invited { user: "carol".into() }, false));
    // An admin of the mesh may.
    assert!(g.permits("root", &RoomEvent::Invited { user: "carol".into() }, true));
}

#[test]
fn an_event_its_author_had_no_right_to_is_ignored_everywhere() {
    let mut g = GovernanceLog::default();
    g.insert(&created(false));
    g.insert(&event("n2", 1, 20, "bob", RoomEvent::Joined));
    let coup = event("n2", 2, 30, "bob", RoomEvent::Banned { user: "alice".into(), reason: "mine now".into() });
    assert!(!g.insert(&coup).changed, "nothing changed");
    assert!(!g.visible(&coup), "an unallowed event is not shown");
    assert_eq!(g.role("alice"), Some(RoomRole::Owner));
    assert!(g.can_post("alice"));
}

#[test]
fn a_ban_hides_what_the_banned_sent_after_it_in_room_order() {
    let mut g = GovernanceLog::default();
    g.insert(&created(false));
    g.insert(&event("n2", 1, 20, "bob", RoomEvent::Joined));
    let before = msg("n2", 2, 40, "bob");
    let after = msg("n2", 3, 60, "bob");
    let ban = event("n1", 2, 50, "alice", RoomEvent::Banned { user: "bob".into(), reason: "spam".into() });
    let out = g.insert(&ban).consequences;
    assert_eq!(out, [Consequence::Hidden { user: "bob".into(), from: ban.cursor() }]);
    assert!(g.visible(&before) && !g.visible(&after));
    assert!(!g.can_read("bob") && !g.permits("bob", &RoomEvent::Joined, false), "banned: cannot come back");
    g.insert(&event("n1", 3, 70, "alice", RoomEvent::Unbanned { user: "bob".into() }));
    assert!(g.permits("bob", &RoomEvent::Joined, false));
    assert!(!g.visible(&after), "unbanning does not bring back what was hidden");
}

#[test]
fn an_archived_room_is_read_only_and_what_room_order_puts_after_it_is_hidden() {
    let mut g = GovernanceLog::default();
    g.insert(&created(false));
    g.insert(&event("n2", 1, 20, "bob", RoomEvent::Joined));
    let archive = RoomEvent::Archived { archived: true };
    assert!(!g.permits("bob", &archive, false), "a member cannot archive");
    let before = msg("n2", 2, 40, "bob");
    // Sent on n2 before it heard of the archive, placed after it.
    let during = msg("n2", 3, 60, "bob");
    let out = g.insert(&event("n1", 2, 50, "alice", archive.clone())).consequences;
    assert_eq!(out.len(), 2, "every member is told: {out:?}");
    assert!(g.is_archived() && !g.can_post("bob") && !g.can_post("alice") && g.can_read("bob"));
    assert!(g.visible(&before) && !g.visible(&during));
    let react = RoomEvent::Reacted { origin: "n2".into(), seq: 2, emoji: "👍".into(), on: true };
    assert!(!g.permits("bob", &react, false), "no reactions in an archive");
    assert!(!g.permits("alice", &archive, false), "already archived");
    assert!(g.permits("root", &RoomEvent::Archived { archived: false }, true), "an admin may take it out");
    g.insert(&event("n1", 3, 70, "alice", RoomEvent::Archived { archived: false }));
    assert!(!g.is_archived() && g.can_post("bob") && g.visible(&msg("n2", 4, 80, "bob")));
    assert!(!g.visible(&during), "what was sent while archived stays out");
    assert!(g.info("r", "bob").archived == g.is_archived());
}

#[test]
fn a_rooms_retention_is_set_by_its_owner_or_an_admin_and_shown_to_its_members() {
    let mut g = GovernanceLog::default();
    g.insert(&created(false));
    g.insert(&event("n2", 1, 20, "bob", RoomEvent::Joined));
    let keep = RoomEvent::Retention { days: 30 };
    assert!(!g.permits("bob", &keep, false), "a member cannot");
    assert!(g.permits("root", &keep, true), "an admin can");
    g.insert(&event("n1", 2, 30, "alice", keep.clone()));
    assert_eq!(g.retention_days(), 30);
    assert_eq!(g.info("r", "bob").retention_days, 30);
    assert!(!g.permits("alice", &keep, false), "a change that changes nothing");
    g.insert(&event("n2", 2, 40, "bob", RoomEvent::Retention { days: 1 }));
    assert_eq!(g.retention_days(), 30, "a member's is not applied");
    g.insert(&event("n1", 3, 50, "alice", RoomEvent::Retention { days: 0 }));
    assert_eq!(g.retention_days(), 0, "back to the mesh's");
}

#[test]
fn ownership_passes_and_the_old_owner_moderates() {
    let mut g = GovernanceLog::default();
    g.insert(&created(false));
    g.insert(&event("n2", 1, 20, "bob", RoomEvent::Joined));
    g.insert(&event("n1", 2, 30, "alice", RoomEvent::Role { user: "bob".into(), role: RoomRole::Owner }));
    assert_eq!((g.role("alice"), g.role("bob")), (Some(RoomRole::Moderator), Some(RoomRole::Owner)));
    assert!(!g.permits("alice", &RoomEvent::RoomDeleted, false));
    assert!(g.permits("alice", &RoomEvent::Topic { topic: "t".into() }, false));
    g.insert(&event("n2", 2, 40, "bob", RoomEvent::RoomDeleted));
    assert!(g.is_deleted() && !g.can_read("bob") && !g.can_read("alice"));
}

#[test]
fn a_moderator_deletes_a_message() {
    let mut g = GovernanceLog::default();
    g.insert(&created(false));
    let m = msg("n1", 5, 20, "alice");
    let out = g.insert(&event("n1", 6, 30, "alice", RoomEvent::Deleted { origin: "n1".into(), seq: 5 })).consequences;
    assert_eq!(out, [Consequence::Deleted { origin: "n1".into(), seq: 5 }]);
    assert!(g.erased().contains(&("n1".to_owned(), 5)));
    assert!(g.visible(&m) && g.is_redacted("n1", 5), "a tombstone stays");
}

#[test]
fn an_open_room_of_protocol_1_lets_anyone_post_and_only_admins_moderate() {
    let mut g = GovernanceLog::default();
    assert!(g.can_read("anyone") && g.can_post("anyone") && g.visible(&msg("n1", 1, 5, "anyone")));
    assert!(!g.permits("anyone", &RoomEvent::Banned { user: "x".into(), reason: String::new() }, false));
    let mut ban = event("n1", 2, 10, "root", RoomEvent::Banned { user: "x".into(), reason: String::new() });
    ban.body = serde_json::to_string(&StoredEvent {
        event: RoomEvent::Banned { user: "x".into(), reason: String::new() },
        admin: true,
        own: false,
        in_thread: None,
    })
    .unwrap();
    g.insert(&ban);
    assert!(!g.can_post("x") && !g.visible(&msg("n1", 3, 20, "x")) && g.visible(&msg("n1", 1, 5, "x")));
}

/// The rule that makes nodes agree: whatever order events and messages
/// arrive in, the fold (and so what is visible) is the same.
#[test]
fn any_arrival_order_gives_the_same_room() {
    for seed in 0..300u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let users = ["alice", "bob", "carol", "dave"];
        let mut log = vec![created(rng.random_bool(0.5))];
        let mut seqs = [1u64, 0, 0];
        for i in 0..rng.random_range(5..40) {
            let o = rng.random_range(0..3);
            seqs[o] += 1;
            let origin = ["n1", "n2", "n3"][o];
            let author = users[rng.random_range(0..4)];
            let user = users[rng.random_range(0..4)].to_owned();
            let ts = 10 + i as u64 * rng.random_range(1..4);
            let target: &Message = &log[rng.random_range(0..log.len())];
            let (t_origin, t_seq, t_author) = (target.origin.clone(), target.seq, target.author.clone());
            let e = match rng.random_range(0..13) {
                0 => RoomEvent::Joined,
                1 => RoomEvent::Invited { user },
                2 => RoomEvent::Kicked { user, reason: String::new() },
                3 => RoomEvent::Banned { user, reason: String::new() },
                4 => RoomEvent::Unbanned { user },
                5 => RoomEvent::Role { user, role: RoomRole::Moderator },
                6 => RoomEvent::Left,
                7 => RoomEvent::Deleted { origin: t_origin, seq: t_seq },
                8 => RoomEvent::Edited { origin: t_origin, seq: t_seq, body: "new".into() },
                9 => RoomEvent::Reacted { origin: t_origin, seq: t_seq, emoji: "👍".into(), on: true },
                _ => {
                    log.push(msg(origin, seqs[o], ts, author));
                    continue;
                }
            };
            let mut m = event(origin, seqs[o], ts, author, e.clone());
            if matches!(e, RoomEvent::Deleted { .. } | RoomEvent::Edited { .. }) {
                // As the origin marks its author's own messages.
                let own = t_author == author;
                m.body = serde_json::to_string(&StoredEvent { event: e, admin: false, own, in_thread: None }).unwrap();
            }
            log.push(m);
        }
        let reference = GovernanceLog::load("r", log.clone());
        let mut shuffled = log.clone();
        shuffled.shuffle(&mut rng);
        // Snapshots every few events: most arrivals fold in from one.
        let mut g = GovernanceLog::default().with_snapshots_every(rng.random_range(1..6));
        for m in &shuffled {
            g.insert(m);
        }
        for m in &log {
            assert_eq!(g.visible(m), reference.visible(m), "seed {seed}: {m:?}");
        }
        for u in users {
            assert_eq!(g.role(u), reference.role(u), "seed {seed}: {u}");
            assert_eq!(g.can_read(u), reference.can_read(u), "seed {seed}: {u}");
        }
        // Which texts are erased is a function of the log: the same whatever the order.
        assert_eq!(g.erased(), reference.erased(), "seed {seed}");
        for m in &log {
            assert_eq!(g.is_redacted(&m.origin, m.seq), reference.is_redacted(&m.origin, m.seq), "seed {seed}");
        }
        // A node that stored the erased texts without them folds the same.
        let erased = |m: &Message| {
            reference.erased().contains(&(m.origin.clone(), m.seq)) && meshchat_shared::rooms::erasable(&m.id, &m.body)
        };
        let stored: Vec<Message> =
            log.iter().map(|m| if erased(m) { Message::clone(&crate::without_text(m)) } else { m.clone() }).collect();
        let from_storage = GovernanceLog::load("r", stored.clone());
        for m in &stored {
            assert_eq!(from_storage.visible(m), reference.visible(m), "seed {seed}: stored erased: {m:?}");
            let (o, s) = (&m.origin, m.seq);
            assert_eq!(from_storage.is_redacted(o, s), reference.is_redacted(o, s), "seed {seed}: stored erased");
        }
    }
}

#[test]
fn a_conversations_name_is_held_for_its_people() {
    let people = vec!["carol".to_owned(), "dave".to_owned()];
    let room = meshchat_shared::rooms::dm_room(&people);
    let mut g = GovernanceLog::new(&room);
    // Before the conversation starts nobody reads, posts or joins there.
    assert!(!g.can_read("eve") && !g.can_post("eve") && !g.visible(&msg("n1", 1, 5, "eve")));
    assert!(!g.permits("eve", &RoomEvent::Joined, false));
    // A room of eve's own under that name, or a conversation of others: ignored everywhere.
    let owned = RoomEvent::Created { title: String::new(), topic: String::new(), private: false, dm: vec![] };
    assert!(!g.insert(&event("n1", 2, 10, "eve", owned)).changed);
    let others = vec!["carol".to_owned(), "eve".to_owned()];
    let theirs = RoomEvent::Created { title: String::new(), topic: String::new(), private: true, dm: others };
    assert!(!g.insert(&event("n1", 3, 11, "eve", theirs)).changed);
    assert!(!g.is_governed());
    // The conversation of its people.
    let dm = RoomEvent::Created { title: String::new(), topic: String::new(), private: true, dm: people };
    assert!(g.insert(&event("n2", 1, 12, "carol", dm)).changed);
    assert!(g.can_read("dave") && g.can_post("carol") && !g.can_read("eve"));
    assert!(!g.visible(&msg("n1", 1, 5, "eve")), "what eve put there before is not part of it");
    // Nor may a conversation be made in an ordinary room.
    let mut general = GovernanceLog::new("general");
    let dm = RoomEvent::Created {
        title: String::new(),
        topic: String::new(),
        private: true,
        dm: vec!["a".into(), "b".into()],
    };
    assert!(!general.insert(&event("n1", 1, 10, "a", dm)).changed);
}

#[test]
fn an_edit_whose_message_was_deleted_first_is_erased_on_arrival() {
    let mut g = GovernanceLog::default();
    g.insert(&created(false));
    let delete = event("n1", 2, 30, "alice", RoomEvent::Deleted { origin: "n1".into(), seq: 5 });
    assert_eq!(g.insert(&delete).erased, [("n1".to_owned(), 5)]);
    let mut edit = event("n2", 1, 20, "alice", RoomEvent::Edited { origin: "n1".into(), seq: 5, body: "x".into() });
    edit.body = serde_json::to_string(&StoredEvent {
        event: RoomEvent::Edited { origin: "n1".into(), seq: 5, body: "x".into() },
        admin: false,
        own: true,
        in_thread: None,
    })
    .unwrap();
    assert_eq!(g.insert(&edit).erased, [("n2".to_owned(), 1)]);
}

/// A delete erases its message and the edits of it, not edits of those
/// edits: the same whether the edit came before or after the delete
/// (property seed 2513 of `any_arrival_order_gives_the_same_room`).
#[test]
fn an_edit_arriving_after_its_messages_delete_erases_only_itself() {
    let edit = |origin, seq, ts, target: u64| {
        let e = RoomEvent::Edited { origin: "n1".into(), seq: target, body: "x".into() };
        let mut m = event(origin, seq, ts, "alice", e.clone());
        m.body = serde_json::to_string(&StoredEvent { event: e, admin: false, own: true, in_thread: None }).unwrap();
        m
    };
    let first = edit("n1", 3, 30, 2);
    let of_the_edit = edit("n2", 1, 40, 3);
    let delete = event("n1", 4, 50, "alice", RoomEvent::Deleted { origin: "n1".into(), seq: 2 });
    let log = [created(false), first.clone(), of_the_edit.clone(), delete.clone()];
    let reference = GovernanceLog::load("r", log);
    let mut g = GovernanceLog::default();
    for m in [created(false), of_the_edit, delete, first] {
        g.insert(&m);
    }
    assert_eq!(g.erased(), reference.erased());
}

/// An edit is text a delete may erase: a node that took it in with its
/// text (before its message's delete) and one that got it without (after)
/// fold the same, so a later delete naming the edit itself ends the same.
#[test]
fn a_delete_naming_an_erased_edit_ends_the_same_on_every_node() {
    let own = |origin, seq, ts, e: RoomEvent| {
        let mut m = event(origin, seq, ts, "alice", e.clone());
        m.body = serde_json::to_string(&StoredEvent { event: e, admin: false, own: true, in_thread: None }).unwrap();
        m
    };
    let edit = own("n2", 1, 30, RoomEvent::Edited { origin: "n1".into(), seq: 2, body: "x".into() });
    let delete_msg = own("n1", 3, 40, RoomEvent::Deleted { origin: "n1".into(), seq: 2 });
    let delete_edit = event("n3", 1, 50, "alice", RoomEvent::Deleted { origin: "n2".into(), seq: 1 });
    let erased_edit = Message::clone(&crate::without_text(&edit));
    let mut with_text = GovernanceLog::default();
    for m in [created(false), edit, delete_msg.clone(), delete_edit.clone()] {
        with_text.insert(&m);
    }
    let mut without = GovernanceLog::default();
    for m in [created(false), delete_msg.clone(), erased_edit.clone(), delete_edit.clone()] {
        without.insert(&m);
    }
    let loaded = GovernanceLog::load("", [created(false), erased_edit, delete_msg, delete_edit.clone()]);
    for (name, g) in [("arrived erased", &without), ("loaded erased", &loaded)] {
        assert_eq!(g.visible(&delete_edit), with_text.visible(&delete_edit), "{name}: the delete of the edit");
        assert_eq!(g.is_redacted("n2", 1), with_text.is_redacted("n2", 1), "{name}: the edit redacted");
    }
    assert!(with_text.is_redacted("n2", 1), "a moderator deletes an edit like any text");
}

/// Many events in order and a few late ones: each is folded in from a
/// snapshot near its place, never from the room's first event.
#[test]
fn late_events_fold_in_from_a_snapshot_not_from_the_start() {
    let mut g = GovernanceLog::new("r");
    g.insert(&created(false));
    for i in 0..5_000u64 {
        g.insert(&event("n1", 2 + i, 100 + 10 * i, "alice", RoomEvent::Read));
        if i % 500 == 499 {
            // A peer's read marker from a moment ago.
            g.insert(&event("n2", i, 100 + 10 * i - 5, "alice", RoomEvent::Read));
        }
    }
    assert_eq!(g.full_folds(), 0, "no late event folded the whole log again");
}

/// A moderator's delete and their demotion, made at once on two nodes,
/// with the demotion first in room order. Storage erases a text the moment
/// a delete applies and cannot undo it; so every node, whatever the order
/// the two arrive in, must end erasing exactly what some node erased.
#[test]
fn a_delete_stands_on_every_node_though_a_demotion_sorts_before_it() {
    let log = [
        created(false),
        event("n1", 2, 20, "bob", RoomEvent::Joined),
        event("n1", 3, 30, "alice", RoomEvent::Role { user: "bob".into(), role: RoomRole::Moderator }),
        event("n1", 4, 40, "carol", RoomEvent::Joined),
        msg("n1", 5, 50, "carol"),
        // Made at once: alice demotes bob on n1, bob deletes carol's message on n2.
        event("n1", 6, 60, "alice", RoomEvent::Role { user: "bob".into(), role: RoomRole::Member }),
        event("n2", 1, 61, "bob", RoomEvent::Deleted { origin: "n1".into(), seq: 5 }),
    ];
    let (head, tail) = log.split_at(5);
    for order in [[0, 1], [1, 0]] {
        let mut g = GovernanceLog::default();
        for m in head {
            g.insert(m);
        }
        let mut ever = HashSet::new();
        for i in order {
            ever.extend(g.insert(&tail[i]).erased);
        }
        assert_eq!(&ever, g.erased(), "order {order:?}: storage erased what the log no longer does");
        assert!(g.erased().contains(&("n1".to_owned(), 5)), "order {order:?}: the delete stands");
        assert!(g.is_redacted("n1", 5), "order {order:?}: shown deleted, as stored");
    }
}
