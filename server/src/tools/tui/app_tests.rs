use meshchat_shared::client::Chat;
use meshchat_shared::{Message, RoomVector, ServerFrame};

use meshchat_shared::client::rooms::Notify;

use super::*;

fn msg(seq: u64, author: &str, body: &str) -> Message {
    Message {
        ts: 1_000 + seq,
        id: format!("x{seq}"),
        author: author.into(),
        body: body.into(),
        vc: RoomVector::new(),
        ..Message::sample("general", "n1", seq)
    }
}

/// A chat in `general` that holds `n` messages from bob.
fn app_with(n: u64) -> App {
    let mut chat = Chat::new("alice", &["general".to_owned()], Some("general"));
    chat.on_open();
    chat.on_frame(ServerFrame::Welcome { v: 1, node: "n1".into(), name: "alice".into(), nodes: vec![] }, 0);
    let mut app = App::new(chat);
    for s in 1..=n {
        app.frame(ServerFrame::Message { msg: msg(s, "bob", &format!("hello {s}")) }, 0);
    }
    app
}

#[test]
fn a_jump_finds_rooms_by_letters_in_order() {
    let mut app = app_with(0);
    for r in ["random", "ops-alerts", "general-chat"] {
        app.chat.add_room(r).unwrap();
    }
    let names: Vec<String> = app.jump_matches("gc").into_iter().map(|e| e.room).collect();
    assert_eq!(names, ["general-chat"]);
    let names: Vec<String> = app.jump_matches("ops").into_iter().map(|e| e.room).collect();
    assert_eq!(names[0], "ops-alerts");
    assert_eq!(app.jump_matches("").len(), 4);
}

#[test]
fn the_selection_moves_and_actions_target_it() {
    let mut app = app_with(3);
    app.step(-1);
    assert_eq!(app.selection().unwrap().msg.body, "hello 3");
    app.step(-1);
    app.begin_reply();
    assert_eq!(app.reply_to, Some(("n1".into(), 2)));
    app.composer.insert_str("sure");
    app.submit(5);
    let sent = &app.chat.current_room().unwrap().pending[0];
    assert!(matches!(&sent.action, Some(RoomEvent::Reply { seq: 2, thread: false, body, .. }) if body == "sure"));
    // Replying went back to the newest; only one's own messages are edited.
    assert_eq!(app.selected, None);
    app.step(-2);
    assert_eq!(app.selection().unwrap().msg.body, "hello 3");
    app.begin_edit();
    assert!(app.editing.is_none() && app.notice.is_some());
}

#[test]
fn drafts_stay_with_their_room() {
    let mut app = app_with(0);
    app.chat.add_room("random").unwrap();
    app.composer.insert_str("half a thought");
    app.switch_to("random");
    assert!(app.composer.text.is_empty());
    app.switch_to("general");
    assert_eq!(app.composer.text, "half a thought");
}

#[test]
fn commands_and_slashes() {
    let mut app = app_with(0);
    app.composer.insert_str("/join ops");
    app.submit(1);
    assert_eq!(app.current().as_deref(), Some("ops"));
    app.composer.insert_str("//not a command");
    app.submit(2);
    assert_eq!(app.chat.current_room().unwrap().pending[0].body, "/not a command");
    app.composer.insert_str("/frobnicate");
    app.submit(3);
    assert!(app.notice.as_deref().unwrap().contains("Unknown command"));
    assert_eq!(app.submit(4), vec![]);
}

/// `/upload` shares in the room, or in the thread open beside it.
#[test]
fn an_upload_goes_to_the_open_thread() {
    let mut app = app_with(2);
    app.composer.insert_str("/upload ~/notes.txt");
    let asked = app.submit(1);
    assert!(
        matches!(&asked[..], [Request::Upload { room, thread: None, path, .. }]
        if room == "general" && path.ends_with("notes.txt")),
        "{asked:?}"
    );
    app.step(-1);
    app.open_thread();
    app.composer.insert_str("/upload plan.pdf");
    let asked = app.submit(2);
    assert!(matches!(&asked[..], [Request::Upload { thread: Some((o, 2)), .. }] if o == "n1"), "{asked:?}");
}

#[test]
fn the_bell_rings_for_mentions_by_default_and_as_set() {
    let mut app = app_with(0);
    app.switch_to("general");
    app.chat.add_room("random").unwrap();
    app.switch_to("random");
    let mention = ServerFrame::Message { msg: msg(10, "bob", "@alice look") };
    assert_eq!(app.frame(mention, 0), vec![Request::Bell]);
    let plain = ServerFrame::Message { msg: msg(11, "bob", "just words") };
    assert_eq!(app.frame(plain, 0), vec![]);
    app.set_bell("general", Notify::Nothing);
    let mention = ServerFrame::Message { msg: msg(12, "bob", "@alice again") };
    assert_eq!(app.frame(mention, 0), vec![]);
}
