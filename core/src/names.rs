//! User names as the node keeps them, and text as a terminal may show it.
//!
//! A name is NFC-normalised (so that "é" typed two ways is one name) and
//! refused if it holds characters that do not show or that change the
//! direction of the text around them: zero-width spaces, bidi overrides and
//! other format characters (the zero-width joiner is allowed between two
//! symbols, where it builds an emoji). Two names that look alike
//! (`аlice` with a Cyrillic а, `Alice`) share a skeleton (Unicode TS #39,
//! case-folded): a room refuses a name that looks like one already in it.

use meshchat_shared::Invalid;
use meshchat_shared::limits::validate_name;
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// The name to use for `name`, or why it is refused.
pub fn canonical(name: &str) -> Result<String, Invalid> {
    let nfc: String = name.nfc().collect();
    validate_name(&nfc)?;
    if let Some(c) = meshchat_shared::limits::hidden_char(&nfc) {
        return Err(Invalid::Other(format!(
            "name must not contain invisible or direction-changing characters (U+{:04X})",
            u32::from(c)
        )));
    }
    Ok(nfc)
}

/// What a name looks like: names with the same skeleton are confusable.
pub fn skeleton(name: &str) -> String {
    let folded: String = name.nfc().flat_map(char::to_lowercase).collect();
    unicode_security::skeleton(&folded).collect()
}

/// Text safe to print on a terminal: control and format characters (ESC,
/// BEL, bidi overrides…) are shown as `\u{…}` instead of acting; a newline
/// continues the line, indented.
pub fn for_terminal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\n    "),
            c if c.is_control() || c.general_category() == GeneralCategory::Format => {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_nfc_and_refuse_what_does_not_show() {
        // "é" as e + combining acute becomes the one-character form.
        assert_eq!(canonical("Re\u{301}my").unwrap(), "Rémy");
        assert!(canonical("alice\u{200B}").is_err(), "zero-width space");
        assert!(canonical("\u{202E}ecila").is_err(), "right-to-left override");
        assert!(canonical("bob\u{2066}x").is_err(), "bidi isolate");
        assert!(canonical("ali\u{00AD}ce").is_err(), "soft hyphen");
        assert!(canonical("\u{3164}").is_err(), "Hangul filler");
        assert!(canonical("Ada Lovelace").is_ok());
        assert!(canonical("🦀 crab").is_ok());
        // A family emoji holds zero-width joiners between its people.
        assert!(canonical("👩\u{200D}👧 fan").is_ok());
        assert!(canonical("a\u{200D}b").is_err());
    }

    #[test]
    fn look_alikes_share_a_skeleton() {
        assert_eq!(skeleton("аlice"), skeleton("alice"), "Cyrillic а");
        assert_eq!(skeleton("Alice"), skeleton("alice"));
        assert_eq!(skeleton("paypal"), skeleton("paypa1"));
        assert_ne!(skeleton("alice"), skeleton("bob"));
    }

    #[test]
    fn a_terminal_sees_control_characters_as_text() {
        let evil = "hi\u{1b}]0;pwned\u{7}\u{1b}[2J\u{202E}olleh";
        let shown = for_terminal(evil);
        assert!(!shown.chars().any(|c| c.is_control()), "{shown}");
        assert_eq!(shown, "hi\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{202e}olleh");
        assert_eq!(for_terminal("two\nlines"), "two\n    lines");
    }
}
