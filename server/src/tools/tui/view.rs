//! Draws the app: the room list, the timeline, the composer, the status
//! bar and the overlays (help, jump, search). Reads the state, changes
//! nothing; every text from a peer goes through [`safe`].

use meshchat_shared::client::Status;
use meshchat_shared::client::timeline::{English, Words};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use unicode_width::UnicodeWidthStr;

use super::app::{App, Mode};
use super::keys::HELP;
use super::lines::{INDENT, Paint, clock, row_lines, safe, wrap};
use super::theme::{Role, Theme};

/// The room list's width, when the terminal is wide enough for one.
const SIDEBAR: u16 = 24;

/// Below this the app says the terminal is too small instead.
const SMALLEST: (u16, u16) = (24, 8);

pub fn draw(f: &mut Frame, app: &App, theme: &Theme, now: u64) {
    let area = f.area();
    if area.width < SMALLEST.0 || area.height < SMALLEST.1 {
        let text = "The terminal is too small for meshchat.";
        f.render_widget(Paragraph::new(text).wrap(ratatui::widgets::Wrap { trim: true }), area);
        return;
    }
    let [main, bar] = Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(f.area());
    let timeline = if main.width >= 60 {
        let [side, rest] = Layout::horizontal([Constraint::Length(SIDEBAR), Constraint::Min(20)]).areas(main);
        sidebar(f, app, theme, side);
        rest
    } else {
        main
    };
    let composer_h = composer_height(app, timeline.width);
    let [head, body, typing, composer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(composer_h),
    ])
    .areas(timeline);
    header(f, app, theme, head);
    messages(f, app, theme, body);
    let typing_text = app
        .chat
        .current_room()
        .and_then(|r| English.typing(&r.typing_names(now)))
        .map(|t| safe(&t))
        .unwrap_or_default();
    f.render_widget(Paragraph::new(Span::styled(typing_text, theme.style(Role::Dim))), typing);
    composer_box(f, app, theme, composer);
    status_bar(f, app, theme, bar);
    match &app.mode {
        Mode::Help => help(f, theme),
        Mode::Jump { query, pick } => jump(f, app, theme, &query.text, *pick),
        Mode::Search { query, hits, pick } => search(f, theme, &query.text, hits.as_deref(), *pick),
        Mode::Threads { pick } => threads(f, app, theme, *pick),
        _ => {}
    }
}

fn sidebar(f: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let current = app.current();
    let mut lines = vec![Line::styled("Rooms", theme.style(Role::Accent))];
    let list = app.room_list();
    let width = usize::from(area.width.saturating_sub(2));
    let mut dm_header = false;
    let mut current_line = 0;
    for e in &list {
        if e.dm && !dm_header {
            lines.push(Line::raw(""));
            lines.push(Line::styled("Direct messages", theme.style(Role::Accent)));
            dm_header = true;
        }
        let counts = match (e.mentions, e.unread) {
            (0, 0) => String::new(),
            (0, n) => format!(" {n}"),
            (m, n) => format!(" @{m} {n}"),
        };
        let sigil = if e.dm { "@ " } else { "# " };
        let room = fit(&format!("{sigil}{}", safe(&e.label)), width.saturating_sub(counts.width()));
        let is_current = current.as_deref() == Some(e.room.as_str());
        if is_current {
            current_line = lines.len();
        }
        let style = if is_current {
            theme.style(Role::Selected)
        } else if e.unread > 0 {
            Style::default().add_modifier(ratatui::style::Modifier::BOLD)
        } else {
            Style::default()
        };
        let pad = width.saturating_sub(room.width() + counts.width());
        let count_style = if e.mentions > 0 { theme.style(Role::Mention) } else { theme.style(Role::Unread) };
        lines.push(Line::from(vec![
            Span::styled(format!("{room}{}", " ".repeat(pad)), style),
            Span::styled(counts, count_style),
        ]));
    }
    // A long list scrolls to keep the current room in sight.
    let height = usize::from(area.height);
    let top = current_line.saturating_sub(height / 2).min(lines.len().saturating_sub(height));
    let block = Block::default().borders(Borders::RIGHT).border_style(theme.style(Role::Dim));
    f.render_widget(Paragraph::new(lines.split_off(top)).block(block), area);
}

/// `text` cut to `width` cells, with `…` when cut.
fn fit(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_owned();
    }
    let mut out = String::new();
    for c in text.chars() {
        if out.width() + unicode_width::UnicodeWidthChar::width(c).unwrap_or(0) + 1 > width {
            break;
        }
        out.push(c);
    }
    out + "…"
}

fn header(f: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let Some(room) = app.chat.current_room() else {
        let hint = "No room yet: Ctrl-K and a name joins one.";
        f.render_widget(Paragraph::new(Span::styled(hint, theme.style(Role::Dim))), area);
        return;
    };
    let title = room.info.as_ref().map(|i| i.title.clone()).filter(|t| !t.is_empty()).unwrap_or(room.name.clone());
    let mut spans = vec![Span::styled(format!("# {}", safe(&title)), theme.style(Role::Accent))];
    if let Some(root) = &app.thread {
        let who = room.get(&root.0, root.1).map(|m| safe(&m.author)).unwrap_or_default();
        spans.push(Span::styled(format!(" › thread of {who} (Esc closes)"), theme.style(Role::Accent)));
    } else if let Some(topic) = room.info.as_ref().map(|i| i.topic.clone()).filter(|t| !t.is_empty()) {
        spans.push(Span::styled(format!(" — {}", safe(&topic)), theme.style(Role::Dim)));
    }
    let online = room.members.len();
    spans.push(Span::styled(format!(" · {online} here"), theme.style(Role::Dim)));
    if let Some(reason) = &room.removed {
        spans.push(Span::styled(format!(" · removed: {}", safe(reason)), theme.style(Role::Error)));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn messages(f: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let width = usize::from(area.width).max(2);
    let rows = app.rows();
    let mut lines: Vec<Line<'static>> = Vec::new();
    let mut selected_span = None;
    for row in &rows {
        let selected = app.selected.as_deref() == Some(row.key().as_str());
        let start = lines.len();
        // A gutter of one cell: the selected message's mark.
        for (i, mut line) in
            row_lines(row, &Paint { theme, me: app.me(), width: width - 1, selected }).into_iter().enumerate()
        {
            let mark = if selected && i == 0 { "▶" } else { " " };
            line.spans.insert(0, Span::styled(mark, theme.style(Role::Accent)));
            lines.push(line);
        }
        if selected {
            selected_span = Some((start, lines.len()));
        }
    }
    if app.chat.current_room().is_some_and(|r| r.loading_older) {
        lines.insert(0, Line::styled(" ".repeat(INDENT) + "loading older messages…", theme.style(Role::Dim)));
        selected_span = selected_span.map(|(a, b)| (a + 1, b + 1));
    }
    let height = usize::from(area.height);
    let total = lines.len();
    // Newest at the bottom; a selected message stays in view.
    let bottom = match selected_span {
        None => total,
        Some((start, end)) => {
            let b = (end + height / 3).clamp(height.min(total), total);
            if start < b.saturating_sub(height) { start + height } else { b }
        }
    };
    let top = bottom.saturating_sub(height);
    let shown: Vec<Line> = lines.into_iter().skip(top).take(bottom - top).collect();
    // Short rooms sit at the bottom, above the composer.
    let pad = height.saturating_sub(shown.len());
    let mut view = vec![Line::raw(""); pad];
    view.extend(shown);
    f.render_widget(Paragraph::new(view), area);
}

fn composer_height(app: &App, width: u16) -> u16 {
    let inner = usize::from(width.saturating_sub(2)).max(4);
    let lines: usize = app.composer.text.split('\n').map(|l| wrap(&safe(l), inner).len()).sum();
    (lines.clamp(1, 6) + 2) as u16
}

fn composer_box(f: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let room = app.current().unwrap_or_default();
    let quoted = |t: &(String, u64)| {
        app.chat.current_room().and_then(|r| r.get(&t.0, t.1)).map(|m| safe(&m.author)).unwrap_or_default()
    };
    let title = if app.editing.is_some() {
        " Edit your message (Esc: give up) ".to_owned()
    } else if app.thread.is_some() {
        " Reply in the thread ".to_owned()
    } else if let Some(t) = &app.reply_to {
        format!(" Reply to {} (Esc: not a reply) ", quoted(t))
    } else {
        format!(" Message #{} ", safe(&room))
    };
    let focused = app.mode == Mode::Compose;
    let border = if focused { theme.style(Role::Accent) } else { theme.style(Role::Dim) };
    let block = Block::default().borders(Borders::ALL).border_style(border).title(Span::styled(title, border));
    let inner = block.inner(area);
    let width = usize::from(inner.width).max(4);
    let mut lines = Vec::new();
    let mut cursor_line = 0;
    let (cl, cc) = app.composer.cursor_cell();
    for (i, para) in app.composer.text.split('\n').enumerate() {
        let wrapped = wrap(&safe(para), width);
        if i == cl {
            cursor_line = lines.len() + cc / width;
        }
        lines.extend(wrapped.into_iter().map(Line::raw));
    }
    let height = usize::from(inner.height);
    let skip = (cursor_line + 1).saturating_sub(height);
    let shown: Vec<Line> = lines.into_iter().skip(skip).collect();
    f.render_widget(Paragraph::new(shown).block(block), area);
    if focused && height > 0 {
        let x = inner.x + (cc % width).min(usize::from(inner.width.saturating_sub(1))) as u16;
        let y = inner.y + cursor_line.saturating_sub(skip) as u16;
        f.set_cursor_position(Position { x, y });
    }
}

fn status_bar(f: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let link = match app.chat.status() {
        Status::Connected(node) => format!(" ● {} on {} ", safe(app.me()), safe(&node)),
        Status::Connecting => " ○ connecting… ".to_owned(),
        Status::Moving => " ◐ moving to another node… ".to_owned(),
        Status::Offline => " ○ offline: no node answers; still trying ".to_owned(),
        Status::SignedOut => " ✕ signed out: the session ended; sign in again (q quits) ".to_owned(),
    };
    let pending: usize = app.chat.rooms.values().map(|r| r.pending.iter().filter(|p| p.failed.is_none()).count()).sum();
    let sending = if pending > 0 { format!("· {pending} sending ") } else { String::new() };
    let prompt = match app.mode {
        Mode::React => Some("React: 1 👍 2 ❤️ 3 😂 4 🎉 5 😮 6 😢, or type an emoji".to_owned()),
        Mode::ConfirmDelete => Some("Delete this message for everyone? y/n".to_owned()),
        _ => None,
    };
    let notice = prompt.or_else(|| app.notice.clone()).or_else(|| app.chat.notice.clone()).unwrap_or_default();
    let hint = match app.mode {
        Mode::Browse => " r reply · e edit · + react · t thread · ? help ",
        _ => " Esc browse · Ctrl-K rooms · ? help ",
    };
    let width = usize::from(area.width);
    let left = format!("{link}{sending}");
    let room_for_notice = width.saturating_sub(left.width() + hint.width() + 1);
    let notice = fit(&safe(&notice), room_for_notice);
    let pad = width.saturating_sub(left.width() + notice.width() + hint.width());
    let line = Line::from(vec![
        Span::styled(left, theme.style(Role::Bar)),
        Span::styled(format!(" {notice}{}", " ".repeat(pad.saturating_sub(1))), theme.style(Role::Bar)),
        Span::styled(hint, theme.style(Role::Bar)),
    ]);
    f.render_widget(Paragraph::new(line), area);
}

/// A box in the middle of the screen, cleared.
fn popup(f: &mut Frame, theme: &Theme, title: &str, width: u16, height: u16) -> Rect {
    let area = f.area();
    let (w, h) = (width.min(area.width), height.min(area.height));
    let rect = Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h };
    f.render_widget(Clear, rect);
    let block =
        Block::default().borders(Borders::ALL).border_style(theme.style(Role::Accent)).title(format!(" {title} "));
    let inner = block.inner(rect);
    f.render_widget(block, rect);
    inner
}

fn help(f: &mut Frame, theme: &Theme) {
    let inner = popup(f, theme, "Keys (any key closes)", 100, HELP.len() as u16 + 2);
    let lines: Vec<Line> = HELP
        .iter()
        .map(|(k, what)| {
            Line::from(vec![Span::styled(format!("{k:>36}  "), theme.style(Role::Accent)), Span::raw(*what)])
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}

fn jump(f: &mut Frame, app: &App, theme: &Theme, query: &str, pick: usize) {
    let inner = popup(f, theme, "Jump to a room (Enter; a new name joins it)", 60, 14);
    let mut lines = vec![Line::raw(format!("› {}", safe(query))), Line::raw("")];
    for (i, e) in app.jump_matches(query).iter().take(usize::from(inner.height.saturating_sub(2))).enumerate() {
        let style = if i == pick { theme.style(Role::Selected) } else { Style::default() };
        let sigil = if e.dm { "@" } else { "#" };
        lines.push(Line::styled(format!("{sigil} {} ({})", safe(&e.label), safe(&e.room)), style));
    }
    f.render_widget(Paragraph::new(lines), inner);
    f.set_cursor_position(Position { x: inner.x + 2 + safe(query).width() as u16, y: inner.y });
}

fn threads(f: &mut Frame, app: &App, theme: &Theme, pick: usize) {
    let area = f.area();
    let inner = popup(f, theme, "Threads you follow (Enter opens one, Esc closes)", area.width.saturating_sub(8), 16);
    let list = app.chat.followed_threads();
    if list.is_empty() {
        let none = "None yet: a thread you start, reply in or are named in shows here.";
        return f.render_widget(Paragraph::new(Line::styled(none, theme.style(Role::Dim))), inner);
    }
    let width = usize::from(inner.width);
    let mut lines = Vec::new();
    for (i, t) in list.iter().take(usize::from(inner.height)).enumerate() {
        let style = if i == pick { theme.style(Role::Selected) } else { Style::default() };
        let new = if t.unread > 0 { format!(", {} new", t.unread) } else { String::new() };
        let head = format!("#{} {}: ", safe(&t.room), safe(&t.author));
        let tail = format!(" ({} repl{}{new})", t.replies, if t.replies == 1 { "y" } else { "ies" });
        let text = if t.deleted { "(deleted)".to_owned() } else { safe(&t.text) };
        let text = fit(&text, width.saturating_sub(head.width() + tail.width()));
        let strong = if t.unread > 0 { style.patch(theme.style(Role::Accent)) } else { style };
        lines.push(Line::from(vec![
            Span::styled(head, style.patch(theme.style(Role::Dim))),
            Span::styled(text, style),
            Span::styled(tail, strong),
        ]));
    }
    f.render_widget(Paragraph::new(lines), inner);
}

fn search(f: &mut Frame, theme: &Theme, query: &str, hits: Option<&[meshchat_shared::api::SearchHit]>, pick: usize) {
    let area = f.area();
    let inner = popup(f, theme, "Search (Enter searches, then opens the result)", area.width.saturating_sub(8), 20);
    let mut lines = vec![Line::raw(format!("› {}", safe(query))), Line::raw("")];
    let width = usize::from(inner.width);
    match hits {
        None => lines.push(Line::styled("from:NAME in:ROOM \"a phrase\" -word", theme.style(Role::Dim))),
        Some([]) => lines.push(Line::styled("Nothing found.", theme.style(Role::Dim))),
        Some(hits) => {
            for (i, h) in hits.iter().take(usize::from(inner.height.saturating_sub(2))).enumerate() {
                let style = if i == pick { theme.style(Role::Selected) } else { Style::default() };
                let text: String = h.parts.iter().map(|p| p.text.as_str()).collect();
                let head = format!("#{} {} {}: ", safe(&h.room), clock(h.ts), safe(&h.author));
                let rest = fit(&safe(&text), width.saturating_sub(head.width()));
                lines.push(Line::from(vec![
                    Span::styled(head, style.patch(theme.style(Role::Dim))),
                    Span::styled(rest, style),
                ]));
            }
        }
    }
    f.render_widget(Paragraph::new(lines), inner);
    f.set_cursor_position(Position { x: inner.x + 2 + safe(query).width() as u16, y: inner.y });
}

#[cfg(test)]
#[path = "view_tests.rs"]
mod tests;
