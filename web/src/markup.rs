//! A small, safe subset of formatting, read from a message's text:
//! fenced code blocks, block quotes, `code`, **bold**, *italic*,
//! ~~strike~~, and links to http, https and mailto addresses found in the
//! text. The result is a tree the app builds elements from (never HTML);
//! the stored text stays as it was typed. Plain Rust, tested natively.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Para(Vec<Inline>),
    /// A fenced block, shown as typed (monospace, scrolling sideways).
    Code(String),
    Quote(Vec<Inline>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inline {
    Text(String),
    Code(String),
    Bold(Vec<Inline>),
    Italic(Vec<Inline>),
    Strike(Vec<Inline>),
    /// Only `http:`, `https:` and `mailto:` addresses become links.
    Link(String),
}

/// Reads a message's text into blocks.
pub fn parse(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut para: Vec<&str> = Vec::new();
    let mut quote: Vec<&str> = Vec::new();
    let mut code: Option<Vec<&str>> = None;
    let flush = |lines: &mut Vec<&str>, out: &mut Vec<Block>, make: fn(Vec<Inline>) -> Block| {
        if !lines.is_empty() {
            out.push(make(inline(&lines.join("\n"))));
            lines.clear();
        }
    };
    for line in text.split('\n') {
        if let Some(lines) = code.as_mut() {
            if line.trim_start().starts_with("```") {
                out.push(Block::Code(lines.join("\n")));
                code = None;
            } else {
                lines.push(line);
            }
            continue;
        }
        if line.trim_start().starts_with("```") {
            flush(&mut para, &mut out, Block::Para);
            flush(&mut quote, &mut out, Block::Quote);
            code = Some(Vec::new());
        } else if let Some(q) = line.strip_prefix("> ").or_else(|| (line == ">").then_some("")) {
            flush(&mut para, &mut out, Block::Para);
            quote.push(q);
        } else {
            flush(&mut quote, &mut out, Block::Quote);
            para.push(line);
        }
    }
    // An unclosed fence shows as typed.
    if let Some(lines) = code {
        para.push("```");
        para.extend(lines);
    }
    flush(&mut quote, &mut out, Block::Quote);
    flush(&mut para, &mut out, Block::Para);
    out
}

/// Spans of one block: code first (nothing inside it is formatting), then
/// bold, strike, italic, links.
pub fn inline(text: &str) -> Vec<Inline> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('`') {
        match rest[start + 1..].find('`') {
            Some(len) if len > 0 => {
                styled(&rest[..start], &mut out);
                out.push(Inline::Code(rest[start + 1..start + 1 + len].to_owned()));
                rest = &rest[start + 2 + len..];
            }
            _ => break,
        }
    }
    styled(rest, &mut out);
    out
}

/// Makes a styled span of what a mark encloses.
type Style = fn(Vec<Inline>) -> Inline;

const MARKS: [(&str, Style); 4] =
    [("**", Inline::Bold), ("~~", Inline::Strike), ("*", Inline::Italic), ("_", Inline::Italic)];

/// The earliest pair of one mark around non-blank text, then what is
/// before, inside and after it.
fn styled(text: &str, out: &mut Vec<Inline>) {
    let mut best: Option<(usize, usize, &str, Style)> = None;
    for (mark, make) in MARKS {
        let Some(open) = text.find(mark) else { continue };
        let inner_from = open + mark.len();
        let Some(len) = text[inner_from..].find(mark) else { continue };
        let inner = &text[inner_from..inner_from + len];
        // `_` inside words (snake_case) and marks around spaces are text.
        let word_mark = mark == "_" && text[..open].chars().last().is_some_and(char::is_alphanumeric);
        if inner.trim().is_empty() || inner.starts_with(' ') || inner.ends_with(' ') || word_mark {
            continue;
        }
        if best.is_none_or(|(o, ..)| open < o) {
            best = Some((open, len, mark, make));
        }
    }
    match best {
        None => links(text, out),
        Some((open, len, mark, make)) => {
            links(&text[..open], out);
            let mut inside = Vec::new();
            styled(&text[open + mark.len()..open + mark.len() + len], &mut inside);
            out.push(make(inside));
            styled(&text[open + 2 * mark.len() + len..], out);
        }
    }
}

/// Text with web and mail addresses made links; trailing punctuation
/// stays text ("see https://x.org." links https://x.org).
fn links(text: &str, out: &mut Vec<Inline>) {
    let mut plain = String::new();
    for word in text.split_inclusive(char::is_whitespace) {
        let trimmed = word.trim_end();
        let core = trimmed.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '"', '\'']);
        if is_link(core) {
            if !plain.is_empty() {
                out.push(Inline::Text(std::mem::take(&mut plain)));
            }
            out.push(Inline::Link(core.to_owned()));
            plain.push_str(&word[core.len()..]);
        } else {
            plain.push_str(word);
        }
    }
    if !plain.is_empty() {
        out.push(Inline::Text(plain));
    }
}

/// http(s) with a host, or mailto with an address; nothing else (no
/// `javascript:`, no `data:`).
pub fn is_link(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    let host =
        |rest: &str| rest.split(['/', '?', '#']).next().is_some_and(|h| h.contains('.') || h.starts_with("localhost"));
    if let Some(rest) = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://")) {
        return !rest.is_empty() && host(rest) && !s.chars().any(|c| c.is_control() || c == '<' || c == '>');
    }
    lower.strip_prefix("mailto:").is_some_and(|a| a.contains('@') && !a.contains(char::is_whitespace))
}

/// The text without its marks (what a screen reader or a search sees).
pub fn plain(blocks: &[Block]) -> String {
    fn spans(v: &[Inline], out: &mut String) {
        for i in v {
            match i {
                Inline::Text(t) | Inline::Code(t) | Inline::Link(t) => out.push_str(t),
                Inline::Bold(x) | Inline::Italic(x) | Inline::Strike(x) => spans(x, out),
            }
        }
    }
    let mut out = String::new();
    for (n, b) in blocks.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        match b {
            Block::Para(v) | Block::Quote(v) => spans(v, &mut out),
            Block::Code(t) => out.push_str(t),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::Inline::*;
    use super::*;

    fn t(s: &str) -> Inline {
        Text(s.into())
    }

    #[test]
    fn plain_text_stays_one_span_lines_and_all() {
        assert_eq!(parse("hi alice, two\nlines"), [Block::Para(vec![t("hi alice, two\nlines")])]);
        assert_eq!(
            parse("<b>tags</b> & <script>x</script>"),
            [Block::Para(vec![t("<b>tags</b> & <script>x</script>")])]
        );
    }

    #[test]
    fn marks_become_styles_but_not_inside_code_or_words() {
        assert_eq!(
            inline("a **bold** and *it* and ~~gone~~"),
            [t("a "), Bold(vec![t("bold")]), t(" and "), Italic(vec![t("it")]), t(" and "), Strike(vec![t("gone")])]
        );
        assert_eq!(inline("run `a **b** c` now"), [t("run "), Code("a **b** c".into()), t(" now")]);
        assert_eq!(inline("snake_case_name stays"), [t("snake_case_name stays")]);
        assert_eq!(inline("2 * 3 * 4"), [t("2 * 3 * 4")]);
        assert_eq!(inline("**bold _and italic_**"), [Bold(vec![t("bold "), Italic(vec![t("and italic")])])]);
    }

    #[test]
    fn fences_and_quotes_are_blocks() {
        let text = "look:\n```\nfn main() {\n    *x = 1;\n}\n```\n> quoted **line**\n> more\nafter";
        assert_eq!(
            parse(text),
            [
                Block::Para(vec![t("look:")]),
                Block::Code("fn main() {\n    *x = 1;\n}".into()),
                Block::Quote(vec![t("quoted "), Bold(vec![t("line")]), t("\nmore")]),
                Block::Para(vec![t("after")]),
            ]
        );
        assert_eq!(parse("```\nunclosed"), [Block::Para(vec![t("```\nunclosed")])]);
    }

    #[test]
    fn only_web_and_mail_addresses_are_links() {
        assert_eq!(
            inline("see https://example.org/a?b=1. or mailto:ada@example.org"),
            [t("see "), Link("https://example.org/a?b=1".into()), t(". or "), Link("mailto:ada@example.org".into())]
        );
        assert_eq!(inline("javascript:alert(1)"), [t("javascript:alert(1)")]);
        assert_eq!(inline("data:text/html,<script>"), [t("data:text/html,<script>")]);
        assert!(!is_link("https://"));
        assert!(!is_link("http://nohost"));
        assert!(is_link("HTTP://Example.org"));
    }

    #[test]
    fn the_plain_text_loses_only_marks() {
        assert_eq!(plain(&parse("**a** `b`\n> c")), "a b\nc");
    }
}
