//! The composer: text being written, its cursor, and `@` completion.
//! Positions are in characters' byte offsets, always on a grapheme's edge,
//! so an emoji or an accented letter moves and erases as one.

use unicode_segmentation::UnicodeSegmentation;

/// What is being written, and where the cursor is (a byte offset).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Composer {
    pub text: String,
    pub cursor: usize,
}

impl Composer {
    pub fn is_blank(&self) -> bool {
        self.text.trim().is_empty()
    }

    /// Empties it, returning what it held.
    pub fn take(&mut self) -> String {
        self.cursor = 0;
        std::mem::take(&mut self.text)
    }

    /// Replaces the text (an edit starts from the message's), cursor at its end.
    pub fn set(&mut self, text: &str) {
        self.text = text.to_owned();
        self.cursor = self.text.len();
    }

    pub fn insert(&mut self, c: char) {
        self.text.insert(self.cursor, c);
        self.cursor += c.len_utf8();
    }

    pub fn insert_str(&mut self, s: &str) {
        self.text.insert_str(self.cursor, s);
        self.cursor += s.len();
    }

    /// The grapheme before the cursor goes.
    pub fn backspace(&mut self) {
        if let Some(start) = self.prev_edge() {
            self.text.replace_range(start..self.cursor, "");
            self.cursor = start;
        }
    }

    /// The grapheme after the cursor goes.
    pub fn delete(&mut self) {
        if let Some(end) = self.next_edge() {
            self.text.replace_range(self.cursor..end, "");
        }
    }

    /// The word before the cursor goes (Ctrl-W).
    pub fn delete_word(&mut self) {
        let before = &self.text[..self.cursor];
        let trimmed = before.trim_end();
        let start = trimmed.rfind(char::is_whitespace).map(|i| i + 1).unwrap_or(0);
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    pub fn left(&mut self) {
        if let Some(p) = self.prev_edge() {
            self.cursor = p;
        }
    }

    pub fn right(&mut self) {
        if let Some(n) = self.next_edge() {
            self.cursor = n;
        }
    }

    /// To the start of the cursor's line.
    pub fn home(&mut self) {
        self.cursor = self.text[..self.cursor].rfind('\n').map(|i| i + 1).unwrap_or(0);
    }

    /// To the end of the cursor's line.
    pub fn end(&mut self) {
        self.cursor += self.text[self.cursor..].find('\n').unwrap_or(self.text.len() - self.cursor);
    }

    fn prev_edge(&self) -> Option<usize> {
        self.text[..self.cursor].grapheme_indices(true).next_back().map(|(i, _)| i)
    }

    fn next_edge(&self) -> Option<usize> {
        self.text[self.cursor..].graphemes(true).next().map(|g| self.cursor + g.len())
    }

    /// The `@name` being typed at the cursor: the text after `@`.
    pub fn mention_prefix(&self) -> Option<&str> {
        let before = &self.text[..self.cursor];
        let at = before.rfind('@')?;
        let word = &before[at + 1..];
        let starts_word = before[..at].chars().next_back().is_none_or(char::is_whitespace);
        (starts_word && !word.contains(char::is_whitespace)).then_some(word)
    }

    /// Completes the `@name` at the cursor with the first of `names` (in
    /// order) that starts with what was typed, any case; true if it did.
    pub fn complete<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) -> bool {
        let Some(prefix) = self.mention_prefix().map(str::to_lowercase) else { return false };
        let Some(name) = names.into_iter().find(|n| n.to_lowercase().starts_with(&prefix)) else { return false };
        let start = self.cursor - prefix.len();
        self.text.replace_range(start..self.cursor, &format!("{name} "));
        self.cursor = start + name.len() + 1;
        true
    }

    /// The cursor's line and column (in terminal cells) within the text.
    pub fn cursor_cell(&self) -> (usize, usize) {
        let before = &self.text[..self.cursor];
        let line = before.matches('\n').count();
        let col = before.rsplit('\n').next().map(unicode_width::UnicodeWidthStr::width).unwrap_or(0);
        (line, col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emoji_moves_and_erases_as_one() {
        let mut c = Composer::default();
        for ch in "a👍🏽é".chars() {
            c.insert(ch);
        }
        c.left();
        c.backspace();
        assert_eq!(c.text, "aé");
        assert_eq!(c.cursor_cell(), (0, 1));
        c.right();
        assert_eq!(c.cursor, c.text.len());
    }

    #[test]
    fn lines_and_words() {
        let mut c = Composer::default();
        c.insert_str("hello there\nsecond line");
        c.home();
        assert_eq!(c.cursor_cell(), (1, 0));
        c.end();
        c.delete_word();
        assert_eq!(c.text, "hello there\nsecond ");
        c.set("x");
        assert_eq!((c.take(), c.cursor), ("x".to_owned(), 0));
    }

    #[test]
    fn at_completes_a_name_at_a_word_start_only() {
        let mut c = Composer::default();
        c.insert_str("hi @Bo");
        assert_eq!(c.mention_prefix(), Some("Bo"));
        assert!(c.complete(["alice", "bob", "bobby"]));
        assert_eq!(c.text, "hi @bob ");
        let mut mail = Composer::default();
        mail.insert_str("me@bo");
        assert!(!mail.complete(["bob"]), "an address is not a mention");
    }
}
