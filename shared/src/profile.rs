//! A person's profile: a display name apart from the account's unique
//! name, a short status with an emoji (that may expire), a time zone, and
//! an availability set by hand. Kept with the account (replicated with
//! its log); every path that sets one checks it here.

use serde::{Deserialize, Serialize};

use crate::limits::{self, Invalid};

/// A status's words, at most.
pub const MAX_STATUS_CHARS: usize = 100;
/// An IANA time zone's name ("America/Argentina/ComodRivadavia"), at most.
pub const MAX_TZ_CHARS: usize = 64;
/// Profiles one `GET /api/profiles` asks for, at most.
pub const MAX_PROFILES_ASKED: usize = 100;

/// Whether a person wants to be reached now, as they set it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    #[default]
    Active,
    Away,
    /// Do not disturb: no notifications, no pushes; shown to others.
    Dnd,
}

/// Extension: what `POST /api/profile` sets, whole (an empty field clears it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProfileFields {
    /// Shown instead of the account's name ("Ada Lovelace"); empty: the name.
    pub display: String,
    pub status: String,
    pub emoji: String,
    /// When the status and emoji go (ms since the epoch); 0: when changed.
    pub until: u64,
    /// The person's IANA time zone, as their browser says it.
    pub tz: String,
    pub availability: Availability,
}

/// Extension: one account's profile, as `GET /api/profiles` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub name: String,
    #[serde(flatten)]
    pub fields: ProfileFields,
    /// Extension: the account was deleted by its person (its name stays
    /// on what they wrote; nothing else of it is kept).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// Extension: when the account was last seen (ms): its latest use of
    /// any session, to the hour while in use, and when a connection ended
    /// (at most every ten minutes a session); none if never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<u64>,
    /// Extension: the person's picture (a square PNG, 256 pixels a side),
    /// the SHA-256 that `GET /api/avatars/{hash}` serves; none if unset.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub avatar: String,
}

/// Extension: `GET /api/profiles?names=a,b`: the accounts among the names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profiles {
    pub profiles: Vec<Profile>,
}

impl ProfileFields {
    /// As others see it at `now`: an expired status is gone.
    pub fn at(mut self, now_ms: u64) -> ProfileFields {
        if self.until != 0 && self.until <= now_ms {
            (self.status, self.emoji, self.until) = (String::new(), String::new(), 0);
        }
        self
    }
}

/// What may be set: a display name as a name is (nothing hidden), a status
/// of words with nothing hidden, an emoji as a reaction's, a time zone
/// spelled as IANA's are.
pub fn validate(p: &ProfileFields) -> Result<(), Invalid> {
    let bad = |why: &str| Err(Invalid::Other(why.to_owned()));
    if !p.display.is_empty() {
        limits::validate_name(&p.display)?;
        if limits::hidden_char(&p.display).is_some() {
            return bad("a display name must not contain invisible or direction-changing characters");
        }
    }
    if p.status.chars().count() > MAX_STATUS_CHARS || limits::hidden_char(&p.status).is_some() {
        return bad("a status is at most 100 characters, nothing invisible");
    }
    let emoji = p.emoji.chars().count();
    if emoji > crate::rooms::MAX_EMOJI_CHARS || p.emoji.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("a status emoji is 0-16 characters, no spaces");
    }
    let tz_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '/' | '+' | '-');
    if p.tz.len() > MAX_TZ_CHARS || !p.tz.chars().all(tz_char) {
        return bad("a time zone is like Europe/Paris");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(display: &str, status: &str, emoji: &str, tz: &str) -> ProfileFields {
        ProfileFields {
            display: display.into(),
            status: status.into(),
            emoji: emoji.into(),
            tz: tz.into(),
            ..Default::default()
        }
    }

    #[test]
    fn what_may_be_set() {
        assert!(validate(&ProfileFields::default()).is_ok(), "everything cleared");
        assert!(validate(&fields("Ada Lovelace", "at the mill", "🧵", "Europe/London")).is_ok());
        assert!(validate(&fields(" Ada", "", "", "")).is_err(), "blank at an end");
        assert!(validate(&fields("Ada\u{202E}", "", "", "")).is_err(), "a direction change");
        assert!(validate(&fields("", &"s".repeat(101), "", "")).is_err());
        assert!(validate(&fields("", "away\u{200B}", "", "")).is_err(), "a zero-width space");
        assert!(validate(&fields("", "", "a b", "")).is_err());
        assert!(validate(&fields("", "", "", "Europe/Paris; rm")).is_err());
    }

    #[test]
    fn a_status_goes_when_it_expires() {
        let p = ProfileFields { status: "lunch".into(), emoji: "🥪".into(), until: 1_000, ..Default::default() };
        assert_eq!(p.clone().at(999).status, "lunch");
        let gone = p.at(1_000);
        assert!(gone.status.is_empty() && gone.emoji.is_empty() && gone.until == 0);
    }

    #[test]
    fn fields_missing_from_the_json_are_cleared() {
        let p: ProfileFields = serde_json::from_str(r#"{"display":"Ada","availability":"dnd"}"#).unwrap();
        assert_eq!((p.display.as_str(), p.availability, p.status.as_str()), ("Ada", Availability::Dnd, ""));
    }
}
