//! The timeline's rows as terminal lines: wrapped to the width by
//! graphemes and display width (wide characters and emoji take two cells),
//! and safe: whatever a peer wrote goes through [`safe`] first, so no
//! control character, escape sequence or bidi override reaches the terminal.

use chrono::{Local, Offset, TimeZone};
use meshchat_shared::client::timeline::{Quote, Row, day_number};
use meshchat_shared::rooms::{human_size, is_redacted};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

use super::theme::{Role, Theme};
use crate::core::names::for_terminal;

/// Where a message's text starts: after `HH:MM `.
pub const INDENT: usize = 6;

/// One line of text from a peer, made inert: controls and format
/// characters show as `\u{…}` (one rule, the line client's too).
pub fn safe(text: &str) -> String {
    for_terminal(&text.replace(['\n', '\r'], " "))
}

/// The local time zone's offset east of UTC at `ts`, in minutes.
fn offset_min(ts: u64) -> i64 {
    Local
        .timestamp_millis_opt(ts as i64)
        .single()
        .map(|t| i64::from(t.offset().fix().local_minus_utc()) / 60)
        .unwrap_or(0)
}

/// The local day of a time, as the shared rows count days.
pub fn local_day(ts: u64) -> i64 {
    day_number(ts, offset_min(ts))
}

/// `HH:MM`, local.
pub fn clock(ts: u64) -> String {
    Local.timestamp_millis_opt(ts as i64).single().map(|t| t.format("%H:%M").to_string()).unwrap_or_default()
}

/// "Sunday 6 December 2026", local.
pub fn day_name(ts: u64) -> String {
    Local.timestamp_millis_opt(ts as i64).single().map(|t| t.format("%A %-d %B %Y").to_string()).unwrap_or_default()
}

/// Splits `text` into lines of at most `width` cells, at spaces where it
/// can, inside a word where it must, never inside a grapheme.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(4);
    let mut out = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        let mut w = 0;
        for word in para.split_word_bounds() {
            let ww = word.width();
            if w + ww > width && !line.is_empty() {
                out.push(std::mem::take(&mut line).trim_end().to_owned());
                w = 0;
                if word.trim().is_empty() {
                    continue;
                }
            }
            if ww > width {
                for g in word.graphemes(true) {
                    let gw = g.width();
                    if w + gw > width {
                        out.push(std::mem::take(&mut line));
                        w = 0;
                    }
                    line.push_str(g);
                    w += gw;
                }
            } else {
                line.push_str(word);
                w += ww;
            }
        }
        out.push(line);
    }
    out
}

/// What the lines of a row need to know.
pub struct Paint<'a> {
    pub theme: &'a Theme,
    /// The user's name (their sends on the way show under it).
    pub me: &'a str,
    pub width: usize,
    pub selected: bool,
}

impl Paint<'_> {
    fn dim(&self) -> Style {
        self.theme.style(Role::Dim)
    }

    /// `text` wrapped under the indent, each line styled `style`.
    fn body(&self, out: &mut Vec<Line<'static>>, text: &str, style: Style) {
        self.body_at(out, None, text, style);
    }

    /// As [`Paint::body`], the first line starting with the time `ts`.
    fn body_at(&self, out: &mut Vec<Line<'static>>, ts: Option<u64>, text: &str, style: Style) {
        let safe_lines: Vec<String> = text.split('\n').map(safe).collect();
        for (i, l) in wrap(&safe_lines.join("\n"), self.width.saturating_sub(INDENT)).into_iter().enumerate() {
            let lead = match ts {
                Some(ts) if i == 0 => Span::styled(format!("{:<5} ", clock(ts)), self.dim()),
                _ => Span::raw(" ".repeat(INDENT)),
            };
            out.push(Line::from(vec![lead, Span::styled(l, style)]));
        }
    }
}

/// The lines of one row.
pub fn row_lines(row: &Row, p: &Paint) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    match row {
        Row::Beginning => out.push(Line::styled("  The beginning of the room.", p.dim())),
        Row::Day { ts, .. } => out.push(rule(&day_name(*ts), p.width, p.dim())),
        Row::NewLine => out.push(rule("new", p.width, p.theme.style(Role::Unread))),
        Row::Presence { name, online, ts } => {
            let what = if *online { "is here" } else { "left" };
            p.body_at(&mut out, Some(*ts), &format!("→ {name} {what}"), p.dim());
        }
        Row::Event { text, ts, .. } => {
            let style = p.dim().add_modifier(Modifier::ITALIC);
            p.body_at(&mut out, (*ts != 0).then_some(*ts), &format!("* {text}"), style);
        }
        Row::Pending { body, created_ms, failed, head, .. } => {
            if *head {
                out.push(Line::from(vec![
                    Span::styled(format!("{} ", clock(*created_ms)), p.dim()),
                    Span::styled(safe(p.me), p.theme.style(Role::Me)),
                ]));
            }
            p.body(&mut out, body, p.dim());
            let state = match failed {
                None => Line::styled(format!("{}sending…", " ".repeat(INDENT)), p.dim()),
                Some(why) => Line::styled(
                    format!("{}not sent: {} (R: retry, x: discard)", " ".repeat(INDENT), safe(why)),
                    p.theme.style(Role::Error),
                ),
            };
            out.push(state);
        }
        Row::Msg { .. } => message_lines(row, p, &mut out),
    }
    if p.selected {
        let sel = p.theme.style(Role::Selected);
        for l in &mut out {
            l.style = l.style.patch(sel);
        }
    }
    out
}

/// A message: its header (first of a group), the message it answers, its
/// text (or a tombstone), its file, reactions and thread.
fn message_lines(row: &Row, p: &Paint, out: &mut Vec<Line<'static>>) {
    let Row::Msg { msg, head, mine, edited, reactions, reply_to, mentions_me, file, thread } = row else { return };
    if *head || reply_to.is_some() {
        let who = if *mine { p.theme.style(Role::Me) } else { p.theme.person(&msg.author) };
        let mut spans =
            vec![Span::styled(format!("{} ", clock(msg.ts)), p.dim()), Span::styled(safe(&msg.author), who)];
        if edited.is_some() {
            spans.push(Span::styled(" (edited)", p.dim()));
        }
        out.push(Line::from(spans));
    } else if edited.is_some() {
        out.push(Line::styled(format!("{}(edited)", " ".repeat(INDENT)), p.dim()));
    }
    if let Some(q) = reply_to {
        p.body(out, &quote(q), p.dim());
    }
    if is_redacted(&msg.body) {
        p.body(out, "message deleted", p.dim().add_modifier(Modifier::ITALIC));
        return;
    }
    let style = if *mentions_me { p.theme.style(Role::Mention) } else { Style::default() };
    if !msg.body.is_empty() {
        p.body(out, &msg.body, style);
    }
    if let Some(f) = file {
        let text = format!("📎 {} ({}) — o: save", f.name, human_size(f.size));
        p.body(out, &text, p.theme.style(Role::Accent));
    }
    if !reactions.is_empty() {
        let shown: Vec<String> = reactions
            .iter()
            .filter(|(_, who)| !who.is_empty())
            .map(|(emoji, who)| format!("[{emoji} {}]", who.len()))
            .collect();
        p.body(out, &shown.join(" "), p.dim());
    }
    if let Some(t) = thread {
        let n = t.replies.len();
        let text = format!("🧵 {n} {} · last {} — t: open", if n == 1 { "reply" } else { "replies" }, clock(t.last));
        p.body(out, &text, p.theme.style(Role::Accent));
    }
}

/// "↳ bob: what was said" (the first line of it).
fn quote(q: &Quote) -> String {
    let first = q.body.lines().next().unwrap_or_default();
    let first: String = first.chars().take(120).collect();
    match &q.author {
        Some(a) => format!("↳ {a}: {first}"),
        None => format!("↳ {first}"),
    }
}

/// `── label ──` across the width.
fn rule(label: &str, width: usize, style: Style) -> Line<'static> {
    let side = width.saturating_sub(label.width() + 2) / 2;
    Line::styled(format!("{} {label} {}", "─".repeat(side), "─".repeat(side)), style)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_wide_characters_whole_and_within_the_width() {
        let lines = wrap("日本語のテキストと絵文字👍🏽がたくさん並ぶ行", 10);
        assert!(lines.iter().all(|l| l.width() <= 10), "{lines:?}");
        assert_eq!(lines.concat(), "日本語のテキストと絵文字👍🏽がたくさん並ぶ行");
        assert_eq!(wrap("hello big world", 9), ["hello big", "world"]);
        assert_eq!(wrap("a\nb", 9), ["a", "b"]);
    }

    #[test]
    fn escape_sequences_are_shown_not_obeyed() {
        assert_eq!(safe("\u{1b}[2Jboom\u{7}"), "\\u{1b}[2Jboom\\u{7}");
        assert_eq!(safe("\u{202e}evil"), "\\u{202e}evil");
    }
}
