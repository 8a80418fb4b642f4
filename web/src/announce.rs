//! What a screen reader is told of new messages in the room one looks at,
//! as plain Rust: the app shows these in a polite live region. Bounded both
//! ways: the region holds the last few, each cut short, and a batch larger
//! than the region is said as a count, so a busy room neither floods the
//! reader's queue nor grows the page. Unit-tested natively.

use std::collections::VecDeque;

/// Announcements kept in the region at once.
pub const KEPT: usize = 3;
/// Characters of one announcement, "author: text" (then "…").
pub const MAX_CHARS: usize = 140;

/// The live region's content: `(id, text)`, oldest first. The id keys the
/// element, so an announcement is added once and never re-read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Heard {
    next: u64,
    items: VecDeque<(u64, String)>,
}

impl Heard {
    /// Messages that just arrived in the room one looks at, `(author, text)`.
    pub fn arrived<'a>(&mut self, room: &str, msgs: impl ExactSizeIterator<Item = (&'a str, &'a str)>) {
        let n = msgs.len();
        if n > KEPT {
            self.push(format!("{n} new messages in {room}"));
            return;
        }
        for (author, text) in msgs {
            self.push(format!("{author}: {}", one_line(text)));
        }
    }

    pub fn items(&self) -> Vec<(u64, String)> {
        self.items.iter().cloned().collect()
    }

    fn push(&mut self, text: String) {
        let text = if text.chars().count() > MAX_CHARS {
            let mut cut: String = text.chars().take(MAX_CHARS - 1).collect();
            cut.push('…');
            cut
        } else {
            text
        };
        self.next += 1;
        self.items.push_back((self.next, text));
        while self.items.len() > KEPT {
            self.items.pop_front();
        }
    }
}

/// Line breaks and runs of spaces read as one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(h: &Heard) -> Vec<String> {
        h.items().into_iter().map(|(_, t)| t).collect()
    }

    #[test]
    fn a_message_is_said_with_its_author_on_one_line() {
        let mut h = Heard::default();
        h.arrived("#general", [("bob", "hello\n\n  there")].into_iter());
        assert_eq!(texts(&h), ["bob: hello there"]);
    }

    #[test]
    fn the_region_keeps_the_last_few_with_new_ids() {
        let mut h = Heard::default();
        for i in 0..10 {
            let text = format!("m{i}");
            h.arrived("#general", [("bob", text.as_str())].into_iter());
        }
        assert_eq!(texts(&h), ["bob: m7", "bob: m8", "bob: m9"]);
        let ids: Vec<u64> = h.items().into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, [8, 9, 10]);
    }

    #[test]
    fn a_burst_is_said_as_a_count() {
        let mut h = Heard::default();
        let burst: Vec<(&str, &str)> = (0..40).map(|_| ("bob", "spam")).collect();
        h.arrived("#general", burst.into_iter());
        assert_eq!(texts(&h), ["40 new messages in #general"]);
    }

    #[test]
    fn a_long_message_is_cut_short() {
        let mut h = Heard::default();
        let long = "é".repeat(1000);
        h.arrived("#general", [("bob", long.as_str())].into_iter());
        let said = &texts(&h)[0];
        assert_eq!(said.chars().count(), MAX_CHARS);
        assert!(said.ends_with('…'));
    }
}
