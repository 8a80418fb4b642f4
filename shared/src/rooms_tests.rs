use super::*;

#[test]
fn events_round_trip_as_tagged_json_with_the_admin_flag() {
    let e = StoredEvent {
        event: RoomEvent::Banned { user: "bob".into(), reason: "spam".into() },
        admin: true,
        own: false,
        in_thread: None,
    };
    let json = serde_json::to_string(&e).unwrap();
    assert_eq!(json, r#"{"event":"banned","user":"bob","reason":"spam","admin":true}"#);
    assert_eq!(serde_json::from_str::<StoredEvent>(&json).unwrap(), e);
    let plain: StoredEvent = serde_json::from_str(r#"{"event":"joined"}"#).unwrap();
    assert_eq!((plain.event, plain.admin), (RoomEvent::Joined, false));
}

/// One event of every kind: the match below has no wildcard, so a new
/// kind does not compile until it is listed here (and in `KINDS`).
fn one_of_each() -> Vec<RoomEvent> {
    let target = || ("n1".to_owned(), 1);
    let all = vec![
        RoomEvent::Created { title: String::new(), topic: String::new(), private: false, dm: Vec::new() },
        RoomEvent::Joined,
        RoomEvent::Left,
        RoomEvent::Invited { user: "u".into() },
        RoomEvent::Kicked { user: "u".into(), reason: String::new() },
        RoomEvent::Banned { user: "u".into(), reason: String::new() },
        RoomEvent::Unbanned { user: "u".into() },
        RoomEvent::Role { user: "u".into(), role: RoomRole::Member },
        RoomEvent::Topic { topic: String::new() },
        RoomEvent::Title { title: String::new() },
        RoomEvent::Visibility { private: true },
        RoomEvent::Deleted { origin: target().0, seq: target().1 },
        RoomEvent::Edited { origin: target().0, seq: target().1, body: "b".into() },
        RoomEvent::Reacted { origin: target().0, seq: target().1, emoji: "👍".into(), on: true },
        RoomEvent::Read,
        RoomEvent::ReadThread { origin: target().0, seq: target().1 },
        RoomEvent::Reply { origin: target().0, seq: target().1, body: "b".into(), thread: false, also: false },
        RoomEvent::RoomDeleted,
        RoomEvent::Archived { archived: true },
        RoomEvent::Retention { days: 30 },
        RoomEvent::AuthorErased { user: "u".into() },
        RoomEvent::File {
            hash: "0".repeat(64),
            name: "f".into(),
            size: 1,
            mime: "a/b".into(),
            body: String::new(),
            thread: None,
        },
    ];
    for e in &all {
        match e {
            RoomEvent::Created { .. }
            | RoomEvent::Joined
            | RoomEvent::Left
            | RoomEvent::Invited { .. }
            | RoomEvent::Kicked { .. }
            | RoomEvent::Banned { .. }
            | RoomEvent::Unbanned { .. }
            | RoomEvent::Role { .. }
            | RoomEvent::Topic { .. }
            | RoomEvent::Title { .. }
            | RoomEvent::Visibility { .. }
            | RoomEvent::Deleted { .. }
            | RoomEvent::Edited { .. }
            | RoomEvent::Reacted { .. }
            | RoomEvent::Read
            | RoomEvent::ReadThread { .. }
            | RoomEvent::Reply { .. }
            | RoomEvent::RoomDeleted
            | RoomEvent::Archived { .. }
            | RoomEvent::Retention { .. }
            | RoomEvent::AuthorErased { .. }
            | RoomEvent::File { .. } => {}
        }
    }
    all
}

#[test]
fn kinds_names_every_kind_and_each_round_trips() {
    let all = one_of_each();
    assert_eq!(all.len(), RoomEvent::KINDS.len());
    for e in all {
        let json = serde_json::to_value(StoredEvent::new(e.clone())).unwrap();
        assert!(RoomEvent::KINDS.contains(&json["event"].as_str().unwrap()), "{json}");
        assert_eq!(serde_json::from_value::<StoredEvent>(json).unwrap().event, e);
    }
}

#[test]
fn event_ids_cannot_be_a_clients() {
    assert!(is_event_id("§abc"));
    assert!(limits::validate_msg_id("§abc").is_err());
    assert!(!is_event_id("abc"));
}

#[test]
fn a_dm_room_is_the_same_whoever_starts_it() {
    let a = dm_room(&["alice".into(), "bob".into()]);
    assert_eq!(a, dm_room(&["bob".into(), "alice".into(), "bob".into()]));
    assert_ne!(a, dm_room(&["alice".into(), "carol".into()]));
    assert!(limits::validate_room(&a).is_ok(), "{a}");
}

#[test]
fn mentions_name_a_whole_name() {
    assert!(mentions("hi @Ada, look", "ada"));
    assert!(mentions("@ada", "Ada"));
    assert!(!mentions("hi @adam", "ada"));
    assert!(!mentions("mail ada@example.org", "example"));
    assert!(!mentions("hi ada", "ada"));
    assert!(mentions("cc @Ada Lovelace!", "Ada Lovelace"));
}

#[test]
fn notices_read_as_words() {
    let kicked = RoomEvent::Kicked { user: "bob".into(), reason: "spam".into() };
    assert_eq!(describe("alice", &kicked), "bob was removed by alice: spam");
    assert!(RoomEvent::Topic { topic: "t".repeat(301) }.validate().is_err());
}
