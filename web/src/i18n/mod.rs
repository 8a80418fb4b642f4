//! Every word the app shows, in one place per language.
//!
//! Each language is one value of [`Text`]: a string missing from a
//! language is a compile error, not a blank on screen. The language is
//! the account panel's choice, else the browser's first language we have,
//! else English; dates and numbers are formatted by the browser's own
//! `Intl` for that language (no locale data in the wasm).

mod en;
mod fr;
mod text;

use std::cell::Cell;

use meshchat_shared::ErrorCode;
use meshchat_shared::limits::Invalid;
use meshchat_shared::rooms::{RoomEvent, RoomRole};

pub use text::Text;

/// The languages the app speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Fr,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Fr];

    /// The BCP 47 tag, for `<html lang>` and `Intl`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    /// Its own name, as a picker lists it.
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Fr => "Français",
        }
    }

    /// The language of a tag such as "fr-CA" (by its primary subtag).
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
        Lang::ALL.into_iter().find(|l| l.tag() == primary)
    }

    /// The first of the browser's languages the app speaks; English if none.
    pub fn pick<'a>(chosen: Option<&str>, browser: impl IntoIterator<Item = &'a str>) -> Lang {
        chosen.and_then(Lang::from_tag).or_else(|| browser.into_iter().find_map(Lang::from_tag)).unwrap_or(Lang::En)
    }

    fn text(self) -> &'static Text {
        match self {
            Lang::En => &en::EN,
            Lang::Fr => &fr::FR,
        }
    }
}

thread_local! {
    static LANG: Cell<Lang> = const { Cell::new(Lang::En) };
}

/// The language chosen at start (a change reloads the page: every screen
/// is drawn once in one language).
pub fn set(lang: Lang) {
    LANG.with(|l| l.set(lang));
}

pub fn lang() -> Lang {
    LANG.with(Cell::get)
}

/// The words of the current language.
pub fn t() -> &'static Text {
    lang().text()
}

/// `template` with `{0}`, `{1}`… replaced by `args`, in one pass (an
/// argument that contains "{1}" stays as it is).
pub fn fill(template: &str, args: &[&str]) -> String {
    let mut out = String::with_capacity(template.len() + args.iter().map(|a| a.len()).sum::<usize>());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').and_then(|close| Some((after[..close].parse::<usize>().ok()?, close))) {
            Some((i, close)) if i < args.len() => {
                out.push_str(args[i]);
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `one` or `other` for `n`, by the language's rule (French counts 0 and 1
/// as one), with `{0}` the number formatted for the language.
pub fn count(n: usize, one: &str, other: &str) -> String {
    let singular = match lang() {
        Lang::En => n == 1,
        Lang::Fr => n <= 1,
    };
    fill(if singular { one } else { other }, &[&number(n as f64)])
}

/// A number as the language writes it ("1,234" or "1 234").
pub fn number(n: f64) -> String {
    #[cfg(target_arch = "wasm32")]
    {
        let f = js_sys::Intl::NumberFormat::new(&js_sys::Array::of1(&lang().tag().into()), &js_sys::Object::new());
        if let Some(s) = f.format().call1(&f, &n.into()).ok().and_then(|v| v.as_string()) {
            return s;
        }
    }
    format!("{n}")
}

/// What a refusal code means, in words.
pub fn error(code: ErrorCode) -> &'static str {
    let e = t();
    match code {
        ErrorCode::BadFrame => e.err_bad_frame,
        ErrorCode::NoHello => e.err_no_hello,
        ErrorCode::UnsupportedVersion => e.err_unsupported_version,
        ErrorCode::Invalid => e.err_invalid,
        ErrorCode::NotJoined => e.err_not_joined,
        ErrorCode::RateLimited => e.err_rate_limited,
        ErrorCode::Unavailable => e.err_unavailable,
        ErrorCode::LimitReached => e.err_limit_reached,
        ErrorCode::NameTaken => e.err_name_taken,
        ErrorCode::Unauthorized => e.err_unauthorized,
        ErrorCode::BadCredentials => e.err_bad_credentials,
        ErrorCode::RegistrationClosed => e.err_registration_closed,
        ErrorCode::Forbidden => e.err_forbidden,
        ErrorCode::NotFound => e.err_not_found,
        ErrorCode::CodeRequired => e.err_code_required,
    }
}

/// A refusal as the app says it: the code's words, and the node's detail
/// (English, as nodes write it) for a request it found invalid.
pub fn explain(code: ErrorCode, message: &str) -> String {
    meshchat_shared::client::explain_as(error(code), code, message)
}

/// `2.1 MB`, `340 KB`, `12 bytes` (in words of the language).
pub fn size(bytes: u64) -> String {
    match bytes {
        0..1_000 => fill(t().bytes, &[&bytes.to_string()]),
        1_000..1_000_000 => format!("{} KB", bytes / 1_000),
        _ => format!("{}.{} MB", bytes / 1_000_000, bytes % 1_000_000 / 100_000),
    }
}

/// What is wrong with something typed, as a sentence.
pub fn invalid(e: &Invalid) -> String {
    let t = t();
    match e {
        Invalid::NameLength => t.bad_name_length.to_owned(),
        Invalid::NameControl => t.bad_name_control.to_owned(),
        Invalid::NameWhitespace => t.bad_name_whitespace.to_owned(),
        Invalid::Room => t.bad_room.to_owned(),
        Invalid::BodyLength => t.bad_body_length.to_owned(),
        Invalid::BodyBlank => t.bad_body_blank.to_owned(),
        other => fill(t.bad_other, &[&other.to_string()]),
    }
}

/// A room's role in words.
pub fn role(role: RoomRole) -> &'static str {
    let e = t();
    match role {
        RoomRole::Owner => e.role_owner,
        RoomRole::Moderator => e.role_moderator,
        RoomRole::Member => e.role_member,
    }
}

/// A room event as a notice in the timeline ("bob joined").
pub fn describe(by: &str, event: &RoomEvent) -> String {
    let e = t();
    let with = |reason: &str| if reason.is_empty() { String::new() } else { format!(": {reason}") };
    match event {
        RoomEvent::Created { dm, .. } if !dm.is_empty() => fill(e.ev_started_conversation, &[by]),
        RoomEvent::Created { private: true, .. } => fill(e.ev_created_private, &[by]),
        RoomEvent::Created { .. } => fill(e.ev_created, &[by]),
        RoomEvent::Joined => fill(e.ev_joined, &[by]),
        RoomEvent::Left => fill(e.ev_left, &[by]),
        RoomEvent::Invited { user } => fill(e.ev_added, &[by, user]),
        RoomEvent::Kicked { user, reason } => fill(e.ev_removed, &[by, user]) + &with(reason),
        RoomEvent::Banned { user, reason } => fill(e.ev_banned, &[by, user]) + &with(reason),
        RoomEvent::Unbanned { user } => fill(e.ev_unbanned, &[by, user]),
        RoomEvent::Role { user, role: RoomRole::Owner } => fill(e.ev_made_owner, &[by, user]),
        RoomEvent::Role { user, role: r } => fill(e.ev_made_role, &[by, user, role(*r)]),
        RoomEvent::Topic { topic } if topic.is_empty() => fill(e.ev_cleared_topic, &[by]),
        RoomEvent::Topic { topic } => fill(e.ev_set_topic, &[by, topic]),
        RoomEvent::Title { title } => fill(e.ev_renamed, &[by, title]),
        RoomEvent::Visibility { private: true } => fill(e.ev_made_private, &[by]),
        RoomEvent::Visibility { private: false } => fill(e.ev_made_public, &[by]),
        RoomEvent::Deleted { .. } => fill(e.ev_deleted_message, &[by]),
        RoomEvent::Edited { body, .. } => fill(e.ev_edited, &[by, body]),
        RoomEvent::Reacted { emoji, on: true, .. } => fill(e.ev_reacted, &[by, emoji]),
        RoomEvent::Reacted { emoji, on: false, .. } => fill(e.ev_unreacted, &[by, emoji]),
        RoomEvent::Reply { body, .. } => body.clone(),
        RoomEvent::Read => fill(e.ev_read, &[by]),
        RoomEvent::ReadThread { .. } => fill(e.ev_read_thread, &[by]),
        RoomEvent::RoomDeleted => fill(e.ev_deleted_room, &[by]),
        RoomEvent::Archived { archived: true } => fill(e.ev_archived, &[by]),
        RoomEvent::Archived { archived: false } => fill(e.ev_unarchived, &[by]),
        RoomEvent::AuthorErased { user } => fill(e.ev_author_erased, &[user]),
        RoomEvent::Retention { days: 0 } => fill(e.ev_retention_mesh, &[by]),
        RoomEvent::Retention { days } => fill(e.ev_retention, &[by, &days.to_string()]),
        RoomEvent::File { name, size: n, body, .. } if body.is_empty() => fill(e.ev_shared, &[by, name, &size(*n)]),
        RoomEvent::File { name, size: n, body, .. } => format!("{body} [{name}, {}]", size(*n)),
    }
}

#[cfg(test)]
mod tests;
