//! A parsed search matched without an index: over the messages a browser
//! keeps for reading offline. It follows the node's FTS5 table (tokenizer
//! `unicode61 remove_diacritics 2`): words are runs of letters and digits,
//! compared without case or (Latin) accents; every word and phrase must appear, a
//! phrase as consecutive words; the last unquoted word of three letters or
//! more also matches as a prefix; `from:` without case, `in:` and the dates
//! as the node applies them.

use meshchat_shared::api::SnippetPart;

use super::{HIT_END, HIT_START, MIN_PREFIX_CHARS, Parsed, parts};

/// A query ready to match message texts.
#[derive(Debug, Clone)]
pub struct Local {
    parsed: Parsed,
    /// Each term as folded words; `true` if its last word may be a prefix.
    terms: Vec<(Vec<String>, bool)>,
}

/// One word of a text: where it is (bytes) and its folded form.
struct Word {
    start: usize,
    end: usize,
    folded: String,
}

impl Local {
    pub fn new(parsed: Parsed) -> Local {
        let last = parsed.terms.len().saturating_sub(1);
        let terms = parsed
            .terms
            .iter()
            .enumerate()
            .map(|(i, (t, quoted))| {
                let words: Vec<String> = words(t).into_iter().map(|w| w.folded).collect();
                let prefix =
                    i == last && !quoted && t.chars().filter(|c| c.is_alphanumeric()).count() >= MIN_PREFIX_CHARS;
                (words, prefix)
            })
            .filter(|(w, _)| !w.is_empty())
            .collect();
        Local { parsed, terms }
    }

    /// The room and author and time pass the filters.
    pub fn admits(&self, room: &str, author: &str, ts: u64) -> bool {
        let p = &self.parsed;
        p.room.as_deref().is_none_or(|r| r == room)
            && p.author.as_deref().is_none_or(|a| a.to_lowercase() == author.to_lowercase())
            && p.after_ms <= ts
            && ts < p.before_ms
    }

    /// `text` as snippet parts with the matching words marked, if every
    /// term is in it; `None` otherwise.
    pub fn find(&self, text: &str) -> Option<Vec<SnippetPart>> {
        let found = words(text);
        let mut hits = vec![false; found.len()];
        for (term, prefix) in &self.terms {
            let mut any = false;
            for at in 0..found.len() {
                if matches_at(&found[at..], term, *prefix) {
                    hits[at..at + term.len()].iter_mut().for_each(|h| *h = true);
                    any = true;
                }
            }
            if !any {
                return None;
            }
        }
        let mut marked = String::with_capacity(text.len() + 8);
        let mut from = 0;
        for (w, _) in found.iter().zip(&hits).filter(|(_, h)| **h) {
            marked.push_str(&clean(&text[from..w.start]));
            marked.push(HIT_START);
            marked.push_str(&clean(&text[w.start..w.end]));
            marked.push(HIT_END);
            from = w.end;
        }
        marked.push_str(&clean(&text[from..]));
        Some(parts(&marked))
    }
}

fn matches_at(found: &[Word], term: &[String], prefix: bool) -> bool {
    if found.len() < term.len() {
        return false;
    }
    let last = term.len() - 1;
    term.iter()
        .zip(found)
        .enumerate()
        .all(|(i, (t, w))| if i == last && prefix { w.folded.starts_with(t.as_str()) } else { w.folded == *t })
}

/// The words of `text`, folded: lower case, accents gone.
fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(Word { start: s, end: i, folded: fold(&text[s..i]) });
                start = None;
            }
            _ => {}
        }
    }
    out
}

fn fold(word: &str) -> String {
    word.chars().filter(|c| !COMBINING.contains(c)).map(base).flat_map(char::to_lowercase).collect()
}

/// Accents written as marks of their own.
const COMBINING: std::ops::RangeInclusive<char> = '\u{300}'..='\u{36f}';

/// The base letters of U+00C0–U+017F (Latin-1 and Latin Extended-A), as
/// NFD gives them: the accents of most Latin-script text, without the full
/// decomposition tables (62 KB of the web app's wasm). Beyond them, the
/// node's index folds more than this does.
const LATIN: &str = concat!(
    "AAAAAAÆCEEEEIIIIÐNOOOOO×ØUUUUYÞßaaaaaaæceeeeiiiiðnooooo÷øuuuuyþy",
    "AaAaAaCcCcCcCcDdĐđEeEeEeEeEeGgGgGgGgHhĦħIiIiIiIiIıĲĳJjKkĸLlLlLlĿŀŁłNnNnNnŉŊŋOoOoOoŒœRrRrRrSsSsSsSsTtTtŦŧUuUuUuUuUuUuWwYyYZzZzZzſ",
);

fn base(c: char) -> char {
    match c as u32 {
        at @ 0xC0..=0x17F => LATIN.chars().nth((at - 0xC0) as usize).unwrap_or(c),
        _ => c,
    }
}

/// The markers never come from a message.
fn clean(text: &str) -> String {
    text.replace([HIT_START, HIT_END], "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse;

    fn hits(q: &str, text: &str) -> Option<Vec<(String, bool)>> {
        let l = Local::new(parse(q).unwrap());
        l.find(text).map(|p| p.into_iter().map(|p| (p.text, p.hit)).collect())
    }

    #[test]
    fn every_word_must_appear_without_case_or_accents() {
        let found = hits("cafe deploy", "Deploy at the Café, then lunch").unwrap();
        let marked: Vec<&str> = found.iter().filter(|(_, h)| *h).map(|(t, _)| t.as_str()).collect();
        assert_eq!(marked, ["Deploy", "Café"]);
        assert!(hits("cafe deploy", "deploy at noon").is_none());
        assert!(hits("dvorak", "Dvořák").is_some(), "Latin Extended-A");
        assert!(hits("cafe", "cafe\u{301}").is_some(), "an accent as a mark of its own");
        assert!(hits("straße", "STRASSE").is_none(), "ß is a letter, as for FTS5");
    }

    #[test]
    fn a_phrase_is_consecutive_words_and_the_last_word_a_prefix() {
        assert!(hits(r#""release notes""#, "the release, notes!").is_some(), "punctuation between words");
        assert!(hits(r#""release notes""#, "notes on the release").is_none());
        assert!(hits("depl", "deploying now").is_some());
        assert!(hits(r#""depl""#, "deploying now").is_none(), "a quoted word is whole");
        assert!(hits("de", "deploying now").is_none(), "two letters are no prefix");
    }

    #[test]
    fn filters_pass_as_the_node_applies_them() {
        let l = Local::new(parse("x from:@Bob in:#Ops after:2026-11-01 before:2026-11-28").unwrap());
        let day = 86_400_000;
        let nov2 = 1_795_824_000_000 - 26 * day;
        assert!(l.admits("ops", "bob", nov2));
        assert!(!l.admits("general", "bob", nov2));
        assert!(!l.admits("ops", "alice", nov2));
        assert!(!l.admits("ops", "bob", nov2 - day), "after: starts the next day");
        assert!(!l.admits("ops", "bob", 1_795_824_000_000), "before: ends at its day");
    }

    #[test]
    fn a_message_cannot_fake_a_highlight() {
        let found = hits("hello", "\u{1}fake\u{2} hello").unwrap();
        assert_eq!(found, [("fake ".to_owned(), false), ("hello".to_owned(), true)]);
    }
}
