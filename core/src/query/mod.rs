//! Search queries as people type them: words, `"quoted phrases"`,
//! `from:name`, `in:room`, `before:YYYY-MM-DD`, `after:YYYY-MM-DD`.
//!
//! The words become an FTS5 expression made only of quoted strings, so no
//! query can use FTS5's own syntax (column filters, `NEAR`, `*` on every
//! word) to cost the node more than a plain search.

use meshchat_shared::api::SnippetPart;
use meshchat_shared::limits::Invalid;

mod local;
pub use local::Local;

/// Highlight markers in snippets: removed from indexed text, so that no
/// message can fake a highlight.
pub const HIT_START: char = '\u{1}';
pub const HIT_END: char = '\u{2}';

/// At most this many bytes of query, and words in it.
pub const MAX_QUERY_BYTES: usize = 500;
pub const MAX_TERMS: usize = 16;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The FTS5 expression: every word and phrase, all required; the last
    /// word also matches as a prefix (results while typing).
    pub fts: String,
    pub author: Option<String>,
    pub room: Option<String>,
    /// Messages from the start of the day after `after:`'s day…
    pub after_ms: u64,
    /// …to the start of `before:`'s day (UTC).
    pub before_ms: u64,
    /// The words and phrases, as typed, `true` if quoted: what [`Local`]
    /// matches where there is no index.
    pub terms: Vec<(String, bool)>,
}

const DAY_MS: u64 = 86_400_000;

pub fn parse(q: &str) -> Result<Parsed, Invalid> {
    if q.len() > MAX_QUERY_BYTES {
        return Err(Invalid::Other(format!("a search is at most {MAX_QUERY_BYTES} bytes")));
    }
    let mut out = Parsed { before_ms: u64::MAX, ..Parsed::default() };
    let mut terms: Vec<(String, bool)> = Vec::new();
    for (token, quoted) in tokens(q) {
        if !quoted && let Some((key, value)) = token.split_once(':') {
            let handled = match key.to_ascii_lowercase().as_str() {
                "from" => {
                    out.author = Some(value.trim_start_matches('@').to_owned());
                    true
                }
                "in" => {
                    out.room = Some(value.trim_start_matches('#').to_lowercase());
                    true
                }
                "before" => {
                    out.before_ms = day_ms(value)?;
                    true
                }
                "after" => {
                    out.after_ms = day_ms(value)? + DAY_MS;
                    true
                }
                _ => false,
            };
            if handled {
                continue;
            }
        }
        // Words of punctuation only match nothing: leave them out.
        if token.chars().any(char::is_alphanumeric) {
            terms.push((token, quoted));
        }
    }
    if terms.is_empty() {
        return Err(Invalid::Other("search for at least one word".into()));
    }
    if terms.len() > MAX_TERMS {
        return Err(Invalid::Other(format!("a search has at most {MAX_TERMS} words")));
    }
    let last = terms.len() - 1;
    let parts: Vec<String> = terms
        .iter()
        .enumerate()
        .map(|(i, (t, quoted))| {
            let s = format!("\"{}\"", t.replace('"', "\"\""));
            // A prefix of one or two letters matches most of the index:
            // such a word matches only itself.
            let prefix = i == last && !quoted && t.chars().filter(|c| c.is_alphanumeric()).count() >= MIN_PREFIX_CHARS;
            if prefix { s + "*" } else { s }
        })
        .collect();
    out.fts = parts.join(" ");
    out.terms = terms;
    Ok(out)
}

/// The last word matches as a prefix only from this many letters on.
pub const MIN_PREFIX_CHARS: usize = 3;

/// Whitespace-separated tokens; a `"…"` is one token, quoted.
fn tokens(q: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut chars = q.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let phrase: String = chars.by_ref().take_while(|&c| c != '"').collect();
            if !phrase.trim().is_empty() {
                out.push((phrase.trim().to_owned(), true));
            }
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '"' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            out.push((word, false));
        }
    }
    out
}

/// Milliseconds at the start of a `YYYY-MM-DD` day, UTC.
fn day_ms(s: &str) -> Result<u64, Invalid> {
    let bad = || Invalid::Other(format!("dates are YYYY-MM-DD, not {:?}", s.chars().take(16).collect::<String>()));
    let mut it = s.split('-');
    let (Some(y), Some(m), Some(d), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(bad());
    };
    let (y, m, d): (i64, u32, u32) =
        (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    Ok(days_from_civil(y, m, d) as u64 * DAY_MS)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A snippet with FTS5's markers as parts.
pub fn parts(snippet: &str) -> Vec<SnippetPart> {
    let mut out = Vec::new();
    let mut hit = false;
    for piece in snippet.split([HIT_START, HIT_END]) {
        if !piece.is_empty() {
            out.push(SnippetPart { text: piece.to_owned(), hit });
        }
        hit = !hit;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_phrases_and_filters() {
        let p = parse(r#"deploy "release notes" from:@Ada in:#Ops after:2026-11-01 before:2026-11-28 frid"#).unwrap();
        assert_eq!(p.fts, r#""deploy" "release notes" "frid"*"#);
        assert_eq!(p.author.as_deref(), Some("Ada"));
        assert_eq!(p.room.as_deref(), Some("ops"));
        assert_eq!(p.after_ms, days_from_civil(2026, 11, 2) as u64 * DAY_MS);
        assert_eq!(p.before_ms, 1_795_824_000_000);
    }

    #[test]
    fn a_word_of_one_or_two_letters_is_no_prefix() {
        assert_eq!(parse("a").unwrap().fts, r#""a""#);
        assert_eq!(parse("deploy to").unwrap().fts, r#""deploy" "to""#);
        assert_eq!(parse("dep").unwrap().fts, r#""dep"*"#);
    }

    #[test]
    fn fts_syntax_stays_text() {
        // Every word and phrase quoted: FTS5 sees only strings.
        assert_eq!(parse(r#"a" OR text:* NEAR(x y) ""#).unwrap().fts, r#""a" "OR text:* NEAR(x y)""#);
        assert_eq!(parse("x OR text:* yes").unwrap().fts, r#""x" "OR" "text:*" "yes"*"#);
        assert!(parse("from:bob").is_err(), "no words");
        assert!(parse("-- ...").is_err(), "punctuation only");
        assert!(parse(&"x ".repeat(17)).is_err());
        assert!(parse("a before:2026-13-01").is_err());
        assert!(parse(&"y".repeat(501)).is_err());
    }

    #[test]
    fn dates_are_utc_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2026, 11, 28), 20_785);
    }

    #[test]
    fn snippets_become_parts() {
        let p = parts("say \u{1}hello\u{2} to \u{1}all\u{2}");
        let shown: Vec<_> = p.iter().map(|p| (p.text.as_str(), p.hit)).collect();
        assert_eq!(shown, [("say ", false), ("hello", true), (" to ", false), ("all", true)]);
    }
}
