//! The keys: arrows and vi-style letters both, listed in [`HELP`]. Each
//! mode reads its own; Ctrl-C quits from anywhere.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{App, Mode, Request};
use super::compose::Composer;
use meshchat_shared::client::rooms::Notify;

/// The help screen: key, what it does.
pub const HELP: &[(&str, &str)] = &[
    ("Enter", "send (a line starting with / is a command: /join ROOM, /leave, /dm NAME, /upload PATH, /bell, /quit)"),
    ("Alt-Enter", "new line in the message"),
    ("Tab", "complete an @name"),
    ("Esc", "stop replying or editing; close the thread; move over the messages"),
    ("Up/k, Down/j", "previous / next message (older ones load past the top)"),
    ("PgUp/Ctrl-U, PgDn/Ctrl-D", "a page up / down"),
    ("g/Home, G/End", "oldest loaded / newest"),
    ("r, e, d", "reply to, edit, delete the selected message"),
    ("+ or 1-6", "react to it (1 👍 2 ❤️ 3 😂 4 🎉 5 😮 6 😢, or type any emoji)"),
    ("t", "open its thread (write there; Esc closes)"),
    ("o", "save its file to the downloads folder"),
    ("R, x", "retry / discard a message that was not sent"),
    ("i, Enter", "back to writing"),
    ("Ctrl-N/Ctrl-P, Alt-Down/Alt-Up, J/K", "next / previous room"),
    ("Ctrl-K", "jump to a room by a few of its letters"),
    ("Ctrl-T", "the threads you follow, unread first (Enter opens one)"),
    ("Ctrl-F, /", "search every room"),
    ("b", "bell for this room: mentions, every message, never"),
    ("?, F1", "this help"),
    ("q, Ctrl-C", "quit"),
];

/// The quick reactions, by digit.
pub const QUICK: [&str; 6] = ["👍", "❤️", "😂", "🎉", "😮", "😢"];

/// Takes one key; returns what the driver must do.
pub fn key(app: &mut App, k: KeyEvent, now: u64) -> Vec<Request> {
    if k.kind == KeyEventKind::Release {
        return Vec::new();
    }
    // A line feed (Ctrl-J) is Enter, as some terminals and `script` send it.
    let mut k = k;
    if k.code == KeyCode::Char('j') && k.modifiers == KeyModifiers::CONTROL {
        k = KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE);
    }
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    let alt = k.modifiers.contains(KeyModifiers::ALT);
    if ctrl && k.code == KeyCode::Char('c') {
        app.quit = true;
        return Vec::new();
    }
    app.notice = None;
    // Keys every mode but the overlays shares.
    if matches!(app.mode, Mode::Compose | Mode::Browse) {
        match (k.code, ctrl, alt) {
            (KeyCode::Char('n'), true, _) | (KeyCode::Down, _, true) => return cycle(app, true),
            (KeyCode::Char('p'), true, _) | (KeyCode::Up, _, true) => return cycle(app, false),
            (KeyCode::Char('k'), true, _) => {
                app.mode = Mode::Jump { query: Composer::default(), pick: 0 };
                return Vec::new();
            }
            (KeyCode::Char('f'), true, _) => {
                app.mode = Mode::Search { query: Composer::default(), hits: None, pick: 0 };
                return Vec::new();
            }
            (KeyCode::Char('t'), true, _) => {
                app.mode = Mode::Threads { pick: 0 };
                return Vec::new();
            }
            (KeyCode::F(1), ..) => {
                app.mode = Mode::Help;
                return Vec::new();
            }
            (KeyCode::PageUp, ..) | (KeyCode::Char('u'), true, _) => return page(app, -10),
            (KeyCode::PageDown, ..) | (KeyCode::Char('d'), true, _) => return page(app, 10),
            _ => {}
        }
    }
    match app.mode.clone() {
        Mode::Compose => compose(app, k, now, alt),
        Mode::Browse => browse(app, k, now),
        Mode::Jump { query, pick } => jump(app, k, query, pick),
        Mode::Search { query, hits, pick } => search(app, k, query, hits, pick),
        Mode::Threads { pick } => threads(app, k, pick),
        Mode::React => {
            match k.code {
                KeyCode::Char(d @ '1'..='6') => app.react(QUICK[(d as usize) - ('1' as usize)], now),
                KeyCode::Char(c) if !c.is_ascii() => app.react(&c.to_string(), now),
                _ => {}
            }
            app.mode = Mode::Browse;
            Vec::new()
        }
        Mode::ConfirmDelete => {
            if matches!(k.code, KeyCode::Char('y' | 'Y')) {
                app.delete_selected(now);
            }
            app.mode = Mode::Browse;
            Vec::new()
        }
        Mode::Help => {
            app.compose();
            Vec::new()
        }
    }
}

fn cycle(app: &mut App, forward: bool) -> Vec<Request> {
    app.cycle_room(forward);
    Vec::new()
}

fn page(app: &mut App, rows: isize) -> Vec<Request> {
    app.mode = Mode::Browse;
    app.step(rows);
    Vec::new()
}

fn compose(app: &mut App, k: KeyEvent, now: u64, alt: bool) -> Vec<Request> {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    let c = &mut app.composer;
    match k.code {
        KeyCode::Enter if alt || k.modifiers.contains(KeyModifiers::SHIFT) => c.insert('\n'),
        KeyCode::Enter => return app.submit(now),
        KeyCode::Char('a') if ctrl => c.home(),
        KeyCode::Char('e') if ctrl => c.end(),
        KeyCode::Char('w') if ctrl => c.delete_word(),
        KeyCode::Char(ch) if !ctrl => {
            c.insert(ch);
            if let Some(room) = app.current() {
                app.chat.typing(&room, now);
            }
        }
        KeyCode::Backspace => c.backspace(),
        KeyCode::Delete => c.delete(),
        KeyCode::Left => c.left(),
        KeyCode::Right => c.right(),
        KeyCode::Home => c.home(),
        KeyCode::End => c.end(),
        KeyCode::Tab => {
            let names = app.names();
            app.composer.complete(names.iter().map(String::as_str));
        }
        KeyCode::Up if app.composer.text.is_empty() => {
            app.mode = Mode::Browse;
            app.step(-1);
        }
        KeyCode::Esc => {
            if app.editing.take().is_some() {
                // An edit given up leaves nothing behind.
                app.composer.take();
            } else if app.reply_to.take().is_some() {
            } else if app.thread.is_some() && app.composer.text.is_empty() {
                app.thread = None;
            } else {
                app.mode = Mode::Browse;
                app.step(-1);
            }
        }
        _ => {}
    }
    Vec::new()
}

fn browse(app: &mut App, k: KeyEvent, now: u64) -> Vec<Request> {
    match k.code {
        KeyCode::Up | KeyCode::Char('k') => app.step(-1),
        KeyCode::Down | KeyCode::Char('j') => app.step(1),
        KeyCode::Home | KeyCode::Char('g') => app.step(-10_000),
        KeyCode::End | KeyCode::Char('G') => {
            app.follow();
            app.step(-1);
        }
        KeyCode::Char('K') => app.cycle_room(false),
        KeyCode::Char('J') => app.cycle_room(true),
        KeyCode::Char('r') => app.begin_reply(),
        KeyCode::Char('e') => app.begin_edit(),
        KeyCode::Char('t') => app.open_thread(),
        KeyCode::Char('d') => match app.selection() {
            Some(s) if app.may_delete(&s) => app.mode = Mode::ConfirmDelete,
            Some(_) => app.notice = Some("Only your own messages can be deleted here.".into()),
            None => {}
        },
        KeyCode::Char('+') if app.selection().is_some() => app.mode = Mode::React,
        KeyCode::Char(d @ '1'..='6') => app.react(QUICK[(d as usize) - ('1' as usize)], now),
        KeyCode::Char('o') => match app.selection().and_then(|s| s.file) {
            Some(f) => {
                let room = app.current().unwrap_or_default();
                return vec![Request::Download { room, hash: f.hash, name: f.name }];
            }
            None => app.notice = Some("No file in this message.".into()),
        },
        KeyCode::Char('R') => {
            if let (Some(id), Some(room)) = (app.selected_pending(), app.current()) {
                app.chat.retry(&room, &id, now);
            }
        }
        KeyCode::Char('x') => {
            if let (Some(id), Some(room)) = (app.selected_pending(), app.current()) {
                app.chat.discard(&room, &id);
                app.selected = None;
            }
        }
        KeyCode::Char('b') => {
            if let Some(room) = app.current() {
                let next = match app.bell(&room) {
                    Notify::Mentions => Notify::All,
                    Notify::All => Notify::Nothing,
                    Notify::Nothing => Notify::Mentions,
                };
                app.set_bell(&room, next);
            }
        }
        KeyCode::Char('/') => app.mode = Mode::Search { query: Composer::default(), hits: None, pick: 0 },
        KeyCode::Char('?') => app.mode = Mode::Help,
        KeyCode::Char('q') => app.quit = true,
        KeyCode::Char('i') | KeyCode::Enter => app.compose(),
        KeyCode::Esc => {
            app.thread = None;
            app.compose();
        }
        _ => {}
    }
    Vec::new()
}

/// Edits an overlay's query line; true if the key was one of its keys.
fn edit_line(q: &mut Composer, k: &KeyEvent) -> bool {
    match k.code {
        KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => q.insert(c),
        KeyCode::Backspace => q.backspace(),
        KeyCode::Left => q.left(),
        KeyCode::Right => q.right(),
        _ => return false,
    }
    true
}

fn jump(app: &mut App, k: KeyEvent, mut query: Composer, mut pick: usize) -> Vec<Request> {
    let matches = app.jump_matches(&query.text);
    match k.code {
        KeyCode::Esc => {
            app.mode = Mode::Compose;
            return Vec::new();
        }
        KeyCode::Enter => {
            app.mode = Mode::Compose;
            match matches.get(pick) {
                Some(e) => app.switch_to(&e.room.clone()),
                // No room by those letters: join (or make) one by that name.
                None if !query.is_blank() => match app.chat.join(query.text.trim()) {
                    Ok(()) => app.switch_to(query.text.trim()),
                    Err(e) => app.notice = Some(format!("Cannot join: {e}")),
                },
                None => {}
            }
            return Vec::new();
        }
        KeyCode::Up => pick = pick.saturating_sub(1),
        KeyCode::Down => pick = (pick + 1).min(matches.len().saturating_sub(1)),
        _ if edit_line(&mut query, &k) => pick = 0,
        _ => {}
    }
    app.mode = Mode::Jump { query, pick };
    Vec::new()
}

/// The threads one follows: Up/Down, Enter opens one (its room, the thread
/// beside it, writing there), Esc goes back.
fn threads(app: &mut App, k: KeyEvent, mut pick: usize) -> Vec<Request> {
    let list = app.chat.followed_threads();
    match k.code {
        KeyCode::Esc => app.compose(),
        KeyCode::Enter => match list.get(pick) {
            Some(f) => {
                app.switch_to(&f.room);
                (app.reply_to, app.editing) = (None, None);
                app.thread = Some(f.root.clone());
                app.compose();
            }
            None => app.compose(),
        },
        KeyCode::Up | KeyCode::Char('k') => {
            pick = pick.saturating_sub(1);
            app.mode = Mode::Threads { pick };
        }
        KeyCode::Down | KeyCode::Char('j') => {
            pick = (pick + 1).min(list.len().saturating_sub(1));
            app.mode = Mode::Threads { pick };
        }
        _ => {}
    }
    Vec::new()
}

fn search(
    app: &mut App,
    k: KeyEvent,
    mut query: Composer,
    hits: Option<Vec<meshchat_shared::api::SearchHit>>,
    mut pick: usize,
) -> Vec<Request> {
    let mut requests = Vec::new();
    let mut hits = hits;
    match k.code {
        KeyCode::Esc => {
            app.mode = Mode::Compose;
            return requests;
        }
        KeyCode::Enter => match hits.as_ref().and_then(|h| h.get(pick)) {
            Some(hit) => {
                let hit = hit.clone();
                app.jump(&hit);
                return requests;
            }
            None if !query.is_blank() => requests.push(Request::Search(query.text.trim().to_owned())),
            None => {}
        },
        KeyCode::Up => pick = pick.saturating_sub(1),
        KeyCode::Down => pick = (pick + 1).min(hits.as_ref().map_or(0, |h| h.len().saturating_sub(1))),
        _ if edit_line(&mut query, &k) => (hits, pick) = (None, 0),
        _ => {}
    }
    app.mode = Mode::Search { query, hits, pick };
    requests
}
