//! The terminal app, driven through a real pseudo-terminal over a real
//! 3-node mesh, its screen read by a terminal emulator: sign up, scroll
//! back 500 messages, write, edit, react, a thread, search and jump, a
//! hostile message shown inert, the node killed under it.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::pty::{self, Pty};
use common::*;
use serde_json::json;

const SCREEN: Duration = Duration::from_secs(20);
const PAGE_UP: &str = "\x1b[5~";

/// How many times `needle` is on the screen.
fn count(screen: &str, needle: &str) -> usize {
    screen.matches(needle).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_chats_from_the_terminal_app_through_a_node_failure() {
    let mut m = Mesh::start(3, &["--http-rate", "100000", "--http-burst", "100000"]).await;
    // 500 messages before the app opens; the fourth holds a needle.
    let posts = (1..=500)
        .map(|i| {
            let body = if i == 4 { "the needle in the haystack".to_owned() } else { format!("message {i:04}") };
            ("general".to_owned(), format!("p{i}"), body)
        })
        .collect();
    assert!(post_many(&m.nodes[0].http, posts).await.iter().all(|s| *s == 200));
    let nodes: Vec<&NodeProc> = m.nodes.iter().collect();
    wait_converged(&nodes, "general", 500).await;
    let urls = m.nodes.iter().map(|n| n.ws_url()).collect::<Vec<_>>().join(",");
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("carol.token");
    let args = ["tui", "--nodes", &urls, "--name", "carol", "--register", "--token-file", token_file.to_str().unwrap()];
    let mut app = Pty::spawn(&args, &[], dir.path());

    // Sign up at the prompts, then the screen is the app's.
    app.wait_for("new password for carol", SCREEN).await;
    app.keys("carol's password\r");
    app.wait_for("the same password again", SCREEN).await;
    app.keys("carol's password\r");
    app.wait_for("carol on n1", SCREEN).await;
    let screen = app.wait_for("message 0500", SCREEN).await;
    assert!(screen.contains("# general") && screen.contains("Rooms"), "{screen}");
    assert!(!app.colourless(), "colours follow the terminal's palette");

    // A room and a conversation she is added to appear live, with counts.
    let (status, erin) = register(&m.nodes[1], "erin", "erin's password").await;
    assert_eq!(status, 201, "{erin}");
    let erin = token(&erin);
    let room = json!({"room": "plans", "title": "Plans", "topic": "", "private": true});
    assert_eq!(api("POST", &m.nodes[1].url("/api/rooms"), Some(&erin), Some(room)).await.0, 201);
    let invite = json!({"id": "i1", "action": {"event": "invited", "user": "carol"}});
    let (status, body) = api("POST", &m.nodes[1].url("/api/rooms/plans/actions"), Some(&erin), Some(invite)).await;
    assert_eq!(status, 200, "{body}");
    let hello = json!({"id": "e1", "body": "welcome to the plans"});
    assert_eq!(api("POST", &m.nodes[1].url("/api/rooms/plans/messages"), Some(&erin), Some(hello)).await.0, 200);
    let (status, dm) = api("POST", &m.nodes[1].url("/api/dm"), Some(&erin), Some(json!({"users": ["carol"]}))).await;
    assert_eq!(status, 200, "{dm}");
    let screen = app
        .wait_until("the new rooms, with counts", Duration::from_secs(30), |s| {
            s.lines().any(|l| l.contains("# Plans") && l.contains(" 1")) && s.contains("Direct messages")
        })
        .await;
    assert!(screen.lines().any(|l| l.contains("@ erin")), "{screen}");
    // Ctrl-K and a few letters.
    app.keys("\x0bpla");
    app.wait_for("Jump to a room", SCREEN).await;
    app.keys("\r");
    app.wait_until("in plans", SCREEN, |s| s.contains("welcome to the plans") && !s.contains("Jump to a room")).await;
    // Looking at it reads it, for her other devices too.
    let carol = std::fs::read_to_string(&token_file).unwrap();
    eventually(SCREEN, "carol's read marker in plans", || async {
        let events = all_events_as(&m.nodes[2], "plans", Some(carol.trim())).await;
        events.iter().any(|e| e["author"] == "carol" && e["body"].as_str().is_some_and(|b| b.contains("\"read\"")))
    })
    .await;
    app.keys("\x0bgen\r");
    app.wait_for("message 0500", SCREEN).await;

    // Scroll back to the very first message, paging history in.
    let mut pages = 0;
    while !app.text().contains("message 0001") {
        assert!(pages < 400, "never reached the first message:\n{}", app.text());
        app.keys(PAGE_UP);
        pages += 1;
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    // The oldest: nothing before it (the node said so), the room's start.
    app.keys("g");
    app.wait_for("The beginning of the room", SCREEN).await;

    // Back to the newest, and say something.
    app.keys("Gihello from carol\r");
    app.wait_until("sent", SCREEN, |s| s.contains("hello from carol") && !s.contains("sending…")).await;
    // Edit it: Esc selects the last message (hers), e edits.
    app.esc().await;
    app.keys("e");
    app.wait_for("Edit your message", SCREEN).await;
    app.keys("\x7f\x7f\x7f\x7f\x7fthe tui\r");
    app.wait_until("edited", SCREEN, |s| s.contains("hello from the tui") && s.contains("(edited)")).await;
    // React to the message above hers, then reply in its thread.
    app.esc().await;
    app.keys("k1");
    app.wait_for("[👍 1]", SCREEN).await;
    app.keys("t");
    app.wait_for("thread of loader", SCREEN).await;
    app.keys("in the thread\r");
    app.wait_until("the reply", SCREEN, |s| s.contains("in the thread") && !s.contains("sending…")).await;
    app.esc().await;
    app.wait_for("🧵 1 reply", SCREEN).await;

    // The session is kept: a second app signs in from the file, no prompt;
    // in a light terminal's colours, other than the dark ones.
    let light_env = [("MESHCHAT_THEME", "light")];
    let light_args = ["tui", "--nodes", &urls, "--token-file", token_file.to_str().unwrap()];
    let mut light = Pty::spawn(&light_args, &light_env, dir.path());
    light
        .wait_until("the same room", SCREEN, |s| {
            s.contains("🧵 1 reply") && s.contains("carol on n1") && s.contains("@ erin")
        })
        .await;
    let (dark_title, light_title) = (app.colour_of("# general"), light.colour_of("# general"));
    assert!(dark_title.is_some() && dark_title != light_title, "{dark_title:?} {light_title:?}");
    if let Some(out) = std::env::var_os("MESHCHAT_TUI_CAPTURE") {
        let out = std::path::Path::new(&out);
        std::fs::write(out.join("tui-dark.svg"), app.svg(true)).unwrap();
        std::fs::write(out.join("tui-light.svg"), light.svg(false)).unwrap();
        let text: String = app.text().lines().map(|l| format!("{}\n", l.trim_end())).collect();
        std::fs::write(out.join("tui.txt"), text).unwrap();
    }
    light.keys("\x03");
    assert!(light.wait_exit(SCREEN).await.is_some_and(|s| s.success()));

    // Search, and jump to the old message.
    app.keys("\x06needle\r");
    app.wait_until("a result", SCREEN, |s| s.contains("#general") && s.contains("needle")).await;
    app.keys("\r");
    let screen = app
        .wait_until("the needle, selected", SCREEN, |s| {
            s.lines().any(|l| l.contains("▶") && l.contains("the needle in the haystack"))
        })
        .await;
    assert!(!screen.contains("Search ("), "the search closed:\n{screen}");

    // A hostile message: escape sequences and a bidi override, inert.
    let (mut bob, _) = Client::hello(&m.nodes[1].ws_url(), "bob").await;
    bob.join("general", None).await;
    bob.say("general", "h1", "\u{1b}[2J\u{1b}]0;pwned\u{7}evil\u{202e}txt").await;
    app.keys("Gi");
    let screen = app.wait_for("evil", SCREEN).await;
    assert!(screen.contains("\\u{1b}[2J") && screen.contains("\\u{202e}txt"), "{screen}");
    assert!(app.titles().is_empty(), "a message set the terminal's title: {:?}", app.titles());
    assert!(screen.contains("hello from the tui"), "the screen was not cleared:\n{screen}");

    // The node goes away under it; a message written meanwhile arrives once.
    m.nodes[0].kill9();
    app.keys("after the fall\r");
    let screen = app
        .wait_until("on another node", SCREEN, |s| {
            (s.contains("carol on n2") || s.contains("carol on n3"))
                && s.contains("after the fall")
                && !s.contains("sending…")
        })
        .await;
    assert_eq!(count(&screen, "after the fall"), 1, "{screen}");
    assert_eq!(count(&screen, "hello from the tui"), 1, "{screen}");
    let token = std::fs::read_to_string(&token_file).unwrap();
    for node in &m.nodes[1..] {
        let said = all_messages_as(node, "general", Some(token.trim())).await;
        let fell = said.iter().filter(|m| m["body"] == "after the fall").count();
        assert_eq!(fell, 1, "on {}", node.id());
    }
    let events = all_events_as(&m.nodes[1], "general", Some(token.trim())).await;
    let thread = events.iter().filter(|e| e["body"].as_str().is_some_and(|b| b.contains("in the thread"))).count();
    assert_eq!(thread, 1, "{events:?}");

    // Her last message deleted: a tombstone, for everyone.
    app.esc().await;
    app.keys("d");
    app.wait_for("Delete this message for everyone? y/n", SCREEN).await;
    app.keys("y");
    app.wait_until("a tombstone", SCREEN, |s| s.contains("message deleted") && !s.contains("after the fall")).await;
    eventually(SCREEN, "deleted on n3", || async {
        let said = all_messages_as(&m.nodes[2], "general", Some(token.trim())).await;
        !said.iter().any(|m| m["body"] == "after the fall")
    })
    .await;

    // Ctrl-C leaves, and gives the terminal back.
    app.keys("\x03");
    let status = app.wait_exit(Duration::from_secs(10)).await.expect("the app quits");
    assert!(status.success(), "{status:?}");
    let raw = String::from_utf8_lossy(&app.raw()).into_owned();
    assert!(raw.contains("\u{1b}[?1049l"), "the alternate screen was left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_color_means_no_colour_and_a_guest_may_read() {
    let m = Mesh::start(1, &[]).await;
    let (mut bob, _) = Client::hello(&m.nodes[0].ws_url(), "bob").await;
    bob.join("general", None).await;
    bob.say("general", "h1", "@dave look: 日本語 and 👍🏽 in one line").await;
    let dir = tempfile::tempdir().unwrap();
    // `meshchat client` at a terminal is the full-screen app.
    let args = ["client", "--nodes", &m.nodes[0].ws_url(), "--name", "dave"];
    let mut app = Pty::spawn(&args, &[("NO_COLOR", "1")], dir.path());
    let screen = app.wait_for("日本語 and 👍", SCREEN).await;
    assert!(screen.contains("dave on n1"), "{screen}");
    // (The emulator keeps a cell's first code point; the skin tone went out whole.)
    assert!(String::from_utf8_lossy(&app.raw()).contains("👍🏽"));
    assert!(app.colourless(), "NO_COLOR set, yet colours:\n{screen}");

    // Typing, a live mention (the bell), a file saved with a key.
    bob.send(json!({"type": "typing", "room": "general"})).await;
    app.wait_for("bob is typing…", SCREEN).await;
    let rang = app.bells();
    bob.say("general", "h2", "@dave are you there?").await;
    app.wait_for("are you there?", SCREEN).await;
    eventually(SCREEN, "the bell rings for a mention", || async { app.bells() > rang }).await;
    let url = m.nodes[0].url("/api/rooms/general/files?id=f1&name=bob");
    let headers = [("Content-Type", "text/plain"), ("X-File-Name", "notes.txt")];
    let r = meshchat::infra::http::request("POST", &url, &headers, Some(b"the notes\n")).await.unwrap();
    assert_eq!(r.status, 201);
    app.wait_for("📎 notes.txt (10 bytes)", SCREEN).await;
    app.esc().await;
    app.keys("o");
    app.wait_for("Saved to", SCREEN).await;
    assert_eq!(std::fs::read(dir.path().join("notes.txt")).unwrap(), b"the notes\n");
    assert!(app.colourless(), "still no colour");

    // And one shared from here: `/upload PATH`.
    std::fs::write(dir.path().join("plan.txt"), "step one\n").unwrap();
    app.keys("i/upload plan.txt\r");
    app.wait_until("shared", SCREEN, |s| s.contains("📎 plan.txt (9 bytes)") && s.contains("Shared plan.txt")).await;
    let url = m.nodes[0].url("/api/rooms/general/messages?events=1&limit=100");
    let (_, page) = http_get(&url).await;
    let shared = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["author"] == "dave" && m["body"].as_str().is_some_and(|b| b.contains("\"name\":\"plan.txt\"")));
    assert!(shared, "{page}");
    app.esc().await;

    // A narrow terminal: no room list, the messages still; and back.
    app.resize(24, 50);
    let narrow = app.wait_until("narrow", SCREEN, |s| s.contains("are you there?") && !s.contains("Rooms")).await;
    assert!(narrow.lines().all(|l| l.chars().count() <= 50), "{narrow}");
    app.resize(pty::ROWS, pty::COLS);
    app.wait_for("Rooms", SCREEN).await;
    // A room by a name nobody uses yet: Ctrl-K joins (makes) it.
    app.keys("\x0bsecret-base\r");
    app.wait_for("# secret-base ·", SCREEN).await;
    app.keys("\x0bgeneral\r");
    app.wait_for("# general ·", SCREEN).await;

    // Two lines in one message: Alt-Enter.
    app.keys("iline one\x1b\rline two\r");
    let screen = app.wait_until("two lines", SCREEN, |s| s.contains("line two") && !s.contains("sending…")).await;
    let lines: Vec<&str> = screen.lines().collect();
    let one = lines.iter().position(|l| l.contains("line one")).unwrap();
    assert!(lines[one + 1].contains("line two"), "{screen}");
}
