use std::collections::BTreeSet;

use meshchat_shared::ErrorCode;
use meshchat_shared::rooms::{RoomEvent, RoomRole, describe as describe_en};

use super::*;

#[test]
fn templates_fill_each_place_once_and_leave_the_rest() {
    assert_eq!(fill("{1} was removed by {0}", &["alice", "bob"]), "bob was removed by alice");
    assert_eq!(fill("{0} said {1}", &["{1}", "x"]), "{1} said x", "an argument is not a template");
    assert_eq!(fill("vector {{0}}", &["n1:3"]), "vector {n1:3}");
    assert_eq!(fill("{9} and {x} and {", &["a"]), "{9} and {x} and {");
}

#[test]
fn the_language_is_the_choice_then_the_browsers_then_english() {
    assert_eq!(Lang::pick(None, ["fr-CA", "en"]), Lang::Fr);
    assert_eq!(Lang::pick(Some("en"), ["fr-FR"]), Lang::En);
    assert_eq!(Lang::pick(Some("xx"), ["de", "FR"]), Lang::Fr, "an unknown choice falls back");
    assert_eq!(Lang::pick(None, ["de", "ja"]), Lang::En);
}

#[test]
fn plurals_follow_the_language() {
    set(Lang::En);
    assert_eq!(count(0, "{0} member", "{0} members"), "0 members");
    assert_eq!(count(1, "{0} member", "{0} members"), "1 member");
    set(Lang::Fr);
    assert_eq!(count(0, "{0} membre", "{0} membres"), "0 membre");
    assert_eq!(count(2, "{0} membre", "{0} membres"), "2 membres");
    set(Lang::En);
}

/// English says what the nodes and the terminal client say, word for word.
#[test]
fn english_notices_and_refusals_are_the_shared_ones() {
    set(Lang::En);
    let events = [
        RoomEvent::Created { title: String::new(), topic: String::new(), private: true, dm: vec![] },
        RoomEvent::Created { title: String::new(), topic: String::new(), private: false, dm: vec!["a".into()] },
        RoomEvent::Joined,
        RoomEvent::Left,
        RoomEvent::Invited { user: "bob".into() },
        RoomEvent::Kicked { user: "bob".into(), reason: "spam".into() },
        RoomEvent::Banned { user: "bob".into(), reason: String::new() },
        RoomEvent::Unbanned { user: "bob".into() },
        RoomEvent::Role { user: "bob".into(), role: RoomRole::Owner },
        RoomEvent::Role { user: "bob".into(), role: RoomRole::Moderator },
        RoomEvent::Topic { topic: String::new() },
        RoomEvent::Topic { topic: "t".into() },
        RoomEvent::Title { title: "T".into() },
        RoomEvent::Visibility { private: false },
        RoomEvent::Deleted { origin: "n1".into(), seq: 1 },
        RoomEvent::Reacted { origin: "n1".into(), seq: 1, emoji: "👍".into(), on: false },
        RoomEvent::Read,
        RoomEvent::RoomDeleted,
        RoomEvent::Archived { archived: true },
        RoomEvent::Archived { archived: false },
        RoomEvent::Retention { days: 0 },
        RoomEvent::Retention { days: 30 },
        RoomEvent::AuthorErased { user: "bob".into() },
        RoomEvent::File {
            hash: "h".into(),
            name: "a.png".into(),
            size: 12,
            mime: "image/png".into(),
            body: String::new(),
            thread: None,
        },
        RoomEvent::File {
            hash: "h".into(),
            name: "a.png".into(),
            size: 2_100_000,
            mime: "image/png".into(),
            body: "x".into(),
            thread: None,
        },
    ];
    for e in &events {
        assert_eq!(describe("alice", e), describe_en("alice", e), "{e:?}");
    }
    for code in ErrorCode::ALL {
        assert_eq!(error(code), code.describe(), "{code:?}");
    }
}

/// Every language has every string (the compiler sees to that) with the
/// same places to fill as English.
#[test]
fn every_translation_fills_the_same_places() {
    let fields = |src: &str| -> Vec<(String, BTreeSet<String>)> {
        src.lines()
            .filter_map(|l| l.trim().split_once(": \""))
            .map(|(k, v)| {
                let places = v.split('{').skip(1).filter_map(|p| p.split_once('}')).map(|(n, _)| n.to_owned());
                (k.to_owned(), places.filter(|n| n.parse::<usize>().is_ok()).collect())
            })
            .collect()
    };
    let en = fields(include_str!("en.rs"));
    let fr = fields(include_str!("fr.rs"));
    assert_eq!(en.len(), fr.len());
    for ((k, a), (k2, b)) in en.iter().zip(&fr) {
        assert_eq!(k, k2, "the same order of strings");
        assert_eq!(a, b, "{k}: the places to fill");
    }
}
