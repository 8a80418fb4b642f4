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

/// The live region's content, oldest first. The id keys the element, so an
/// announcement is added once and never re-read. Each says which message it
/// tells of, so that a message deleted (or hidden) takes its words out of
/// the page with it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Heard {
    next: u64,
    /// `(id, text, the message it tells of)`: none for a count.
    items: VecDeque<(u64, String, Option<Place>)>,
}

/// A message's place in its room: `(origin, seq)`.
pub type Place = (String, u64);

/// A message that just arrived: `(author, text, (origin, seq))`.
pub type Arrived<'a> = (&'a str, &'a str, (String, u64));

impl Heard {
    /// Messages that just arrived in the room one looks at.
    pub fn arrived<'a>(&mut self, room: &str, msgs: impl ExactSizeIterator<Item = Arrived<'a>>) {
        let n = msgs.len();
        if n > KEPT {
            self.push(crate::i18n::fill(crate::i18n::t().new_messages_in, &[&n.to_string(), room]), None);
            return;
        }
        for (author, text, at) in msgs {
            self.push(format!("{author}: {}", one_line(text)), Some(at));
        }
    }

    pub fn items(&self) -> Vec<(u64, String)> {
        self.items.iter().map(|(id, text, _)| (*id, text.clone())).collect()
    }

    /// Drops what tells of a message `shown` no longer shows as it was.
    /// True if anything went.
    pub fn retain(&mut self, shown: impl Fn(&str, u64) -> bool) -> bool {
        let before = self.items.len();
        self.items.retain(|(_, _, of)| of.as_ref().is_none_or(|(o, s)| shown(o, *s)));
        self.items.len() != before
    }

    /// What each item tells of, for a check of [`Heard::retain`].
    pub fn messages(&self) -> impl Iterator<Item = &(String, u64)> + '_ {
        self.items.iter().filter_map(|(_, _, of)| of.as_ref())
    }

    fn push(&mut self, text: String, of: Option<(String, u64)>) {
        let text = if text.chars().count() > MAX_CHARS {
            let mut cut: String = text.chars().take(MAX_CHARS - 1).collect();
            cut.push('…');
            cut
        } else {
            text
        };
        self.next += 1;
        self.items.push_back((self.next, text, of));
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

    fn at(seq: u64) -> (String, u64) {
        ("n1".to_owned(), seq)
    }

    #[test]
    fn a_deleted_message_takes_its_words_out_of_the_region() {
        let mut h = Heard::default();
        for i in 0..3 {
            let text = format!("m{i}");
            h.arrived("#general", [("bob", text.as_str(), at(i))].into_iter());
        }
        assert!(h.retain(|_, seq| seq != 1));
        assert_eq!(texts(&h), ["bob: m0", "bob: m2"]);
        assert!(!h.retain(|_, _| true), "nothing more to drop");
        assert_eq!(h.messages().count(), 2);
    }

    fn texts(h: &Heard) -> Vec<String> {
        h.items().into_iter().map(|(_, t)| t).collect()
    }

    #[test]
    fn a_message_is_said_with_its_author_on_one_line() {
        let mut h = Heard::default();
        h.arrived("#general", [("bob", "hello\n\n  there", at(1))].into_iter());
        assert_eq!(texts(&h), ["bob: hello there"]);
    }

    #[test]
    fn the_region_keeps_the_last_few_with_new_ids() {
        let mut h = Heard::default();
        for i in 0..10 {
            let text = format!("m{i}");
            h.arrived("#general", [("bob", text.as_str(), at(i))].into_iter());
        }
        assert_eq!(texts(&h), ["bob: m7", "bob: m8", "bob: m9"]);
        let ids: Vec<u64> = h.items().into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, [8, 9, 10]);
    }

    #[test]
    fn a_burst_is_said_as_a_count() {
        let mut h = Heard::default();
        let burst: Vec<Arrived> = (0..40).map(|i| ("bob", "spam", at(i))).collect();
        h.arrived("#general", burst.into_iter());
        assert_eq!(texts(&h), ["40 new messages in #general"]);
    }

    #[test]
    fn a_long_message_is_cut_short() {
        let mut h = Heard::default();
        let long = "é".repeat(1000);
        h.arrived("#general", [("bob", long.as_str(), at(1))].into_iter());
        let said = &texts(&h)[0];
        assert_eq!(said.chars().count(), MAX_CHARS);
        assert!(said.ends_with('…'));
    }
}
