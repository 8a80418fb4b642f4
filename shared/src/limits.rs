//! Names and limits of the protocol, and their validation.
//!
//! Lengths count Unicode scalar values (`char`s), never bytes: "ü" is one
//! character of a name, as a user would count it.

use thiserror::Error;

/// Largest WebSocket frame a node accepts; a larger one closes with 1009.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Node ids: 1–32 of `a-z 0-9 -`.
pub const MAX_NODE_ID: usize = 32;
/// User names: 1–32 characters.
pub const MAX_NAME_CHARS: usize = 32;
/// Rooms: 1–48 of `a-z 0-9 - _`.
pub const MAX_ROOM: usize = 48;
/// Message ids: 1–64 printable ASCII characters.
pub const MAX_MSG_ID: usize = 64;
/// Message bodies: 1–4000 characters.
pub const MAX_BODY_CHARS: usize = 4000;
/// Shared files' names: 1–255 characters.
pub const MAX_FILE_NAME_CHARS: usize = 255;
/// `history.limit` is 1–200 ...
pub const MAX_HISTORY_LIMIT: u32 = 200;
/// ... and 50 when not given.
pub const DEFAULT_HISTORY_LIMIT: u32 = 50;
/// Extension: the longest retention a room or the mesh may set (ten years).
pub const MAX_RETENTION_DAYS: u32 = 3650;
/// The backlog of a `join` without `since` (and after a `gap`).
pub const BACKLOG: usize = 50;
/// A client sends at most one `typing` per this many milliseconds.
pub const TYPING_INTERVAL_MS: u64 = 2_000;

/// A field that breaks one of the protocol's rules. The text is meant for
/// people: clients show it, so it names the rule, never an internal detail.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Invalid {
    #[error("node id must be 1-32 of a-z, 0-9 and -")]
    NodeId,
    #[error("name must be 1-32 characters")]
    NameLength,
    #[error("name must not contain control characters")]
    NameControl,
    #[error("name must not start or end with whitespace")]
    NameWhitespace,
    #[error("room must be 1-48 of a-z, 0-9, - and _")]
    Room,
    #[error("message id must be 1-64 printable ASCII characters")]
    MessageId,
    #[error("body must be 1-4000 characters")]
    BodyLength,
    #[error("body must not be only whitespace")]
    BodyBlank,
    #[error("limit must be 1-200")]
    Limit,
    #[error("{0}")]
    Other(String),
}

/// `a-z 0-9 -`, 1–32 long.
pub fn validate_node_id(id: &str) -> Result<(), Invalid> {
    let ok = (1..=MAX_NODE_ID).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok { Ok(()) } else { Err(Invalid::NodeId) }
}

/// 1–32 characters, no control characters, no leading or trailing whitespace.
pub fn validate_name(name: &str) -> Result<(), Invalid> {
    let chars = name.chars().count();
    if !(1..=MAX_NAME_CHARS).contains(&chars) {
        return Err(Invalid::NameLength);
    }
    if name.chars().any(char::is_control) {
        return Err(Invalid::NameControl);
    }
    if name.starts_with(char::is_whitespace) || name.ends_with(char::is_whitespace) {
        return Err(Invalid::NameWhitespace);
    }
    Ok(())
}

/// Characters that do not show, or reorder the text around them: format
/// characters (zero-width spaces, bidi overrides and isolates), line and
/// paragraph separators, private use, unassigned, and the blank letters
/// that pass for spaces.
pub fn invisible(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    matches!(
        c.general_category(),
        GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::PrivateUse
            | GeneralCategory::Surrogate
            | GeneralCategory::Unassigned
    ) || matches!(c, '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{034F}' | '\u{2800}')
}

/// A zero-width joiner between two symbols: part of an emoji sequence.
fn joins_symbols(chars: &[char], i: usize) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    let symbol = |c: Option<&char>| c.is_some_and(|c| c.general_category() == GeneralCategory::OtherSymbol);
    chars[i] == '\u{200D}' && i > 0 && symbol(chars.get(i - 1)) && symbol(chars.get(i + 1))
}

/// The first character of `text` that would not show as itself where a
/// name is shown (a person's, a file's): a control character, or one that
/// is invisible or changes the direction of what follows (`invoice\u{202E}gnp.exe`
/// shows as `invoiceexe.png`). A zero-width joiner inside an emoji is fine.
pub fn hidden_char(text: &str) -> Option<char> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .iter()
        .enumerate()
        .find(|&(i, &c)| c.is_control() || invisible(c) && !joins_symbols(&chars, i))
        .map(|(_, c)| *c)
}

/// A shared file's name: 1–255 characters, nothing hidden (see
/// [`hidden_char`]), not blank at either end. Every path that names a file
/// (an upload, a `file` event from a peer) checks it here.
pub fn validate_file_name(name: &str) -> Result<(), Invalid> {
    let n = name.chars().count();
    if n == 0 || n > MAX_FILE_NAME_CHARS || name.trim() != name {
        return Err(Invalid::Other(format!(
            "a file name is 1-{MAX_FILE_NAME_CHARS} characters, not blank at either end"
        )));
    }
    match hidden_char(name) {
        Some(c) => Err(Invalid::Other(format!(
            "a file name must not contain invisible, control or direction-changing characters (U+{:04X})",
            u32::from(c)
        ))),
        None => Ok(()),
    }
}

/// `a-z 0-9 - _`, 1–48 long.
pub fn validate_room(room: &str) -> Result<(), Invalid> {
    let ok = (1..=MAX_ROOM).contains(&room.len())
        && room.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok { Ok(()) } else { Err(Invalid::Room) }
}

/// A room as the mesh carries it: a client's room, or one the nodes keep
/// for themselves (the account log), named `!` and a room name, which no
/// client can name.
pub fn validate_mesh_room(room: &str) -> Result<(), Invalid> {
    validate_room(room.strip_prefix('!').unwrap_or(room))
}

/// A room the nodes keep for themselves.
pub fn is_system_room(room: &str) -> bool {
    room.starts_with('!')
}

/// 1–64 printable ASCII characters (space through `~`).
pub fn validate_msg_id(id: &str) -> Result<(), Invalid> {
    let ok = (1..=MAX_MSG_ID).contains(&id.len()) && id.bytes().all(|b| (0x20..=0x7e).contains(&b));
    if ok { Ok(()) } else { Err(Invalid::MessageId) }
}

/// A message id as nodes pass it on: a client's, or a room event's (`§`
/// and a client's id, or one the node made).
pub fn validate_mesh_msg_id(id: &str) -> Result<(), Invalid> {
    match id.strip_prefix(crate::rooms::EVENT_PREFIX) {
        Some(rest) if rest.len() <= 2 * MAX_MSG_ID => validate_msg_id(rest).or_else(|_| {
            if rest.bytes().all(|b| (0x20..=0x7e).contains(&b)) && !rest.is_empty() {
                Ok(())
            } else {
                Err(Invalid::MessageId)
            }
        }),
        Some(_) => Err(Invalid::MessageId),
        None => validate_msg_id(id),
    }
}

/// 1–4000 characters, not whitespace only; anything else is kept verbatim.
pub fn validate_body(body: &str) -> Result<(), Invalid> {
    // Cheap upper bound first: a body of more than 4 bytes per allowed char
    // cannot fit, and counting chars of a 64 KiB string is then wasted work.
    if body.is_empty() || body.len() > MAX_BODY_CHARS * 4 || body.chars().count() > MAX_BODY_CHARS {
        return Err(Invalid::BodyLength);
    }
    if body.chars().all(char::is_whitespace) {
        return Err(Invalid::BodyBlank);
    }
    Ok(())
}

/// `history.limit` and the `limit` query parameter: 1–200, 50 when absent.
pub fn history_limit(limit: Option<u32>) -> Result<u32, Invalid> {
    match limit {
        None => Ok(DEFAULT_HISTORY_LIMIT),
        Some(l) if (1..=MAX_HISTORY_LIMIT).contains(&l) => Ok(l),
        Some(_) => Err(Invalid::Limit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids() {
        assert!(validate_node_id("n1").is_ok());
        assert!(validate_node_id("node-east-2").is_ok());
        assert!(validate_node_id(&"a".repeat(32)).is_ok());
        assert_eq!(validate_node_id(&"a".repeat(33)), Err(Invalid::NodeId));
        assert_eq!(validate_node_id(""), Err(Invalid::NodeId));
        assert_eq!(validate_node_id("N1"), Err(Invalid::NodeId));
        assert_eq!(validate_node_id("n_1"), Err(Invalid::NodeId));
        assert_eq!(validate_node_id("n 1"), Err(Invalid::NodeId));
    }

    #[test]
    fn names_count_characters_not_bytes() {
        // 32 two-byte characters: 64 bytes, still a valid name.
        let umlauts = "ü".repeat(32);
        assert_eq!(umlauts.len(), 64);
        assert!(validate_name(&umlauts).is_ok());
        assert_eq!(validate_name(&"ü".repeat(33)), Err(Invalid::NameLength));
        // Four-byte emoji count once each.
        assert!(validate_name(&"🦀".repeat(32)).is_ok());
        assert_eq!(validate_name(""), Err(Invalid::NameLength));
        assert!(validate_name("a").is_ok());
        assert!(validate_name("Ada Lovelace").is_ok());
    }

    #[test]
    fn names_reject_control_and_outer_whitespace() {
        assert_eq!(validate_name("bob\u{7}"), Err(Invalid::NameControl));
        assert_eq!(validate_name("bo\nb"), Err(Invalid::NameControl));
        assert_eq!(validate_name("bob\u{0}"), Err(Invalid::NameControl));
        assert_eq!(validate_name("bob\u{9f}"), Err(Invalid::NameControl));
        assert_eq!(validate_name(" bob"), Err(Invalid::NameWhitespace));
        assert_eq!(validate_name("bob "), Err(Invalid::NameWhitespace));
        assert_eq!(validate_name("bob\u{3000}"), Err(Invalid::NameWhitespace));
        assert_eq!(validate_name("   "), Err(Invalid::NameWhitespace));
        // Inner whitespace is part of the name as typed.
        assert!(validate_name("bob  the builder").is_ok());
    }

    #[test]
    fn rooms() {
        assert!(validate_room("general").is_ok());
        assert!(validate_room("rust_lang-2").is_ok());
        assert!(validate_room(&"r".repeat(48)).is_ok());
        assert_eq!(validate_room(&"r".repeat(49)), Err(Invalid::Room));
        assert_eq!(validate_room(""), Err(Invalid::Room));
        assert_eq!(validate_room("General"), Err(Invalid::Room));
        assert_eq!(validate_room("a b"), Err(Invalid::Room));
        assert_eq!(validate_room("café"), Err(Invalid::Room));
        assert_eq!(validate_room("../etc"), Err(Invalid::Room));
    }

    #[test]
    fn message_ids() {
        assert!(validate_msg_id("7f0c2a9e-0d7b-4b8e-9f55-2f1c8c1f3a10").is_ok());
        assert!(validate_msg_id("~!@ #$%").is_ok());
        assert!(validate_msg_id(&"x".repeat(64)).is_ok());
        assert_eq!(validate_msg_id(&"x".repeat(65)), Err(Invalid::MessageId));
        assert_eq!(validate_msg_id(""), Err(Invalid::MessageId));
        assert_eq!(validate_msg_id("tab\there"), Err(Invalid::MessageId));
        assert_eq!(validate_msg_id("del\u{7f}"), Err(Invalid::MessageId));
        assert_eq!(validate_msg_id("ünï"), Err(Invalid::MessageId));
    }

    #[test]
    fn bodies_count_characters_and_refuse_blank() {
        assert!(validate_body("hi").is_ok());
        assert!(validate_body(&"x".repeat(4000)).is_ok());
        assert_eq!(validate_body(&"x".repeat(4001)), Err(Invalid::BodyLength));
        // 4000 four-byte characters are 16000 bytes and still fit.
        assert!(validate_body(&"🦀".repeat(4000)).is_ok());
        assert_eq!(validate_body(&"🦀".repeat(4001)), Err(Invalid::BodyLength));
        assert!(validate_body(&"é".repeat(4000)).is_ok());
        assert_eq!(validate_body(""), Err(Invalid::BodyLength));
        assert_eq!(validate_body(" "), Err(Invalid::BodyBlank));
        assert_eq!(validate_body("\n\t \u{3000}"), Err(Invalid::BodyBlank));
        // Verbatim: markup and inner newlines are fine, surrounding space kept.
        assert!(validate_body("<b>bold</b>").is_ok());
        assert!(validate_body("  line one\nline two  ").is_ok());
    }

    #[test]
    fn history_limits() {
        assert_eq!(history_limit(None), Ok(50));
        assert_eq!(history_limit(Some(1)), Ok(1));
        assert_eq!(history_limit(Some(200)), Ok(200));
        assert_eq!(history_limit(Some(0)), Err(Invalid::Limit));
        assert_eq!(history_limit(Some(201)), Err(Invalid::Limit));
    }
}
