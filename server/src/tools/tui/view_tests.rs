use meshchat_shared::client::{Chat, Link};
use meshchat_shared::{Message, RoomVector, ServerFrame};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::*;

fn msg(seq: u64, author: &str, body: &str) -> Message {
    let ts = 1_800_000_000_000 + seq * 60_000;
    Message {
        ts,
        id: format!("x{seq}"),
        author: author.into(),
        body: body.into(),
        vc: RoomVector::new(),
        ..Message::sample("general", "n1", seq)
    }
}

fn app() -> App {
    let mut chat = Chat::new("alice", &["general".to_owned(), "random".to_owned()], Some("general"));
    chat.on_open();
    chat.on_frame(ServerFrame::Welcome { v: 1, node: "n2".into(), name: "alice".into(), nodes: vec![] }, 0);
    let mut app = App::new(chat);
    app.frame(ServerFrame::Message { msg: msg(1, "bob", "hello \u{1b}]0;pwned\u{7}there") }, 0);
    app.frame(ServerFrame::Message { msg: msg(2, "alice", "hi bob, 日本語 too") }, 0);
    app
}

/// The screen as text, row by row.
fn screen(app: &App, theme: &Theme, w: u16, h: u16) -> (String, ratatui::buffer::Buffer) {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw(f, app, theme, 0)).unwrap();
    let buf = t.backend().buffer().clone();
    let text = (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol().to_owned()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n");
    (text, buf)
}

const DARK: Theme = Theme { color: true, dark: true };

#[test]
fn the_main_screen_shows_rooms_messages_and_where_it_is() {
    let app = app();
    let (text, _) = screen(&app, &DARK, 100, 20);
    assert!(text.contains("# general") && text.contains("# random"), "{text}");
    assert!(text.contains("hello \\u{1b}]0;pwned\\u{7}there"), "a control shown, not obeyed:\n{text}");
    assert!(text.contains("alice on n2"), "{text}");
    // Narrow: no room list, the messages still.
    let (narrow, _) = screen(&app, &DARK, 50, 20);
    assert!(!narrow.contains("# random") && narrow.contains("hi bob"), "{narrow}");
}

#[test]
fn moving_and_offline_are_said() {
    let mut app = app();
    app.chat.on_closed(true);
    app.chat.link = Link::Connecting;
    let (text, _) = screen(&app, &DARK, 100, 20);
    assert!(text.contains("moving to another node…"), "{text}");
    app.chat.signed_out = true;
    let (text, _) = screen(&app, &DARK, 100, 20);
    assert!(text.contains("signed out"), "{text}");
}

#[test]
fn no_color_sets_no_colour_anywhere() {
    let mut app = app();
    app.step(-1);
    app.notice = Some("a notice".into());
    for theme in [Theme { color: false, dark: true }, Theme { color: false, dark: false }] {
        let (_, buf) = screen(&app, &theme, 100, 20);
        for cell in buf.content() {
            assert_eq!((cell.fg, cell.bg), (ratatui::style::Color::Reset, ratatui::style::Color::Reset));
        }
    }
    let (_, buf) = screen(&app, &DARK, 100, 20);
    assert!(buf.content().iter().any(|c| c.fg != ratatui::style::Color::Reset), "colour when asked");
}

#[test]
fn the_help_lists_every_key() {
    let mut app = app();
    app.mode = Mode::Help;
    let (text, _) = screen(&app, &DARK, 140, 30);
    for (key, _) in HELP {
        assert!(text.contains(key), "{key} missing:\n{text}");
    }
}

#[test]
fn a_long_room_list_keeps_the_current_room_in_sight() {
    let rooms: Vec<String> = (1..=50).map(|i| format!("room-{i:02}")).collect();
    let mut app = App::new(Chat::new("alice", &rooms, Some("room-01")));
    app.switch_to("room-45");
    let (text, _) = screen(&app, &DARK, 100, 20);
    assert!(text.contains("# room-45") && !text.contains("# room-01 "), "{text}");
}

/// Any size, down to nothing at all (a terminal that says 0×0), draws.
#[test]
fn every_size_draws() {
    let mut app = app();
    app.composer.insert_str("a long line that wraps\nand a second one");
    for mode in [Mode::Compose, Mode::Help, Mode::Search { query: Default::default(), hits: Some(vec![]), pick: 0 }] {
        app.mode = mode;
        for w in 0..40 {
            for h in 0..14 {
                screen(&app, &DARK, w, h);
            }
        }
    }
}

/// Keys at random, in every mode, with frames arriving and the screen
/// drawn at random sizes: nothing panics (a seeded walk, the same each run).
#[test]
fn random_keys_never_break_the_app() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(32);
    let mut app = app();
    let codes = [
        KeyCode::Up,
        KeyCode::Down,
        KeyCode::PageUp,
        KeyCode::PageDown,
        KeyCode::Home,
        KeyCode::End,
        KeyCode::Enter,
        KeyCode::Esc,
        KeyCode::Tab,
        KeyCode::Backspace,
        KeyCode::Delete,
        KeyCode::Left,
        KeyCode::Right,
        KeyCode::F(1),
    ];
    let chars = [
        'j', 'k', 'g', 'G', 'r', 'e', 'd', 'y', '+', '1', '6', 't', 'o', 'R', 'x', 'b', '/', '?', 'i', 'J', 'K', '@',
        'é', '👍', ' ', 'n', 'p', 'f', 'u', 'w',
    ];
    for i in 0..20_000u64 {
        let code = if rng.random_bool(0.6) {
            KeyCode::Char(chars[rng.random_range(0..chars.len())])
        } else {
            codes[rng.random_range(0..codes.len())]
        };
        let mods = match rng.random_range(0..10) {
            0 => KeyModifiers::CONTROL,
            1 => KeyModifiers::ALT,
            _ => KeyModifiers::NONE,
        };
        let _ = crate::tools::tui::keys::key(&mut app, KeyEvent::new(code, mods), i);
        app.quit = false;
        if i % 50 == 0 {
            let seq = 10 + i;
            let author = if rng.random_bool(0.5) { "alice" } else { "bob" };
            app.frame(ServerFrame::Message { msg: msg(seq, author, &format!("@alice line {i}\nsecond")) }, i);
        }
        if i % 97 == 0 {
            screen(&app, &DARK, rng.random_range(0..120), rng.random_range(0..40));
        }
    }
}

#[test]
fn the_threads_one_follows_list_new_replies_and_open_where_they_are() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use meshchat_shared::rooms::{RoomEvent, StoredEvent};
    let mut app = app();
    app.frame(ServerFrame::Joined { room: "general".into(), members: vec![] }, 0);
    app.frame(ServerFrame::Synced { room: "general".into(), vector: RoomVector::new(), gap: false }, 0);
    // bob answers alice's message in its thread.
    let reply = RoomEvent::Reply {
        origin: "n1".into(),
        seq: 2,
        body: "in the \u{1b}[2Jthread".into(),
        thread: true,
        also: false,
    };
    let body = serde_json::to_string(&StoredEvent::new(reply)).unwrap();
    app.frame(ServerFrame::Message { msg: Message { id: "§t3".into(), ..msg(3, "bob", &body) } }, 0);
    let press = |app: &mut App, code, mods| crate::tools::tui::keys::key(app, KeyEvent::new(code, mods), 5_000);
    press(&mut app, KeyCode::Char('t'), KeyModifiers::CONTROL);
    let (text, _) = screen(&app, &DARK, 100, 24);
    assert!(text.contains("Threads you follow"), "{text}");
    assert!(text.contains("#general alice: hi bob") && text.contains("(1 reply, 1 new)"), "{text}");
    // Enter: the thread open, and looking at it reads it.
    press(&mut app, KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!((app.mode.clone(), app.thread.clone()), (Mode::Compose, Some(("n1".into(), 2))));
    app.read_current(10_000);
    let pending = &app.chat.current_room().unwrap().pending;
    assert!(pending.iter().any(|p| matches!(p.action, Some(RoomEvent::ReadThread { seq: 2, .. }))), "{pending:?}");
}
