//! Rooms as the app shows them, as plain Rust: titles, direct messages
//! apart, who may moderate, what people type into a room name.
//! Unit-tested natively.

use meshchat_shared::rooms::RoomInfo;

pub use meshchat_shared::client::rooms::{Notify, is_dm, moderates, owns};

/// What the sidebar and the header call a room: the other people of a
/// direct conversation, a created room's title, or `#name`.
pub fn title(room: &str, info: Option<&RoomInfo>, me: &str) -> String {
    title_as(room, info, me, &str::to_owned)
}

/// [`title`], a conversation's people by `display` (their display names).
pub fn title_as(room: &str, info: Option<&RoomInfo>, me: &str, display: &dyn Fn(&str) -> String) -> String {
    if let Some(name) = info.and_then(|i| meshchat_shared::client::rooms::conversation_name_as(i, me, display)) {
        return name;
    }
    match info {
        Some(i) if !i.title.is_empty() && i.title != room => i.title.clone(),
        _ if room.starts_with("dm-") => crate::i18n::t().direct_message.to_owned(),
        _ => format!("#{room}"),
    }
}

/// What people type as a room name becomes one: "Rust Lang" → "rust-lang".
pub fn normalise(input: &str) -> String {
    let lowered = input.trim().trim_start_matches('#').to_lowercase();
    lowered.split_whitespace().collect::<Vec<_>>().join("-")
}

/// "bob, Carol ,dave" → the names, trimmed, without blanks or repeats.
pub fn people(input: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in input.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(p)) {
            out.push(p.to_owned());
        }
    }
    out
}

/// The name being typed after an `@` at the end of a draft, if any.
pub fn mention_prefix(draft: &str) -> Option<&str> {
    let last = draft.rsplit(char::is_whitespace).next()?;
    let prefix = last.strip_prefix('@')?;
    (!prefix.contains('@')).then_some(prefix)
}

/// People whose names start with `prefix` (any case), `me` left out.
pub fn mention_candidates(prefix: &str, people: &[String], me: &str) -> Vec<String> {
    let p = prefix.to_lowercase();
    let mut out: Vec<String> =
        people.iter().filter(|n| *n != me && n.to_lowercase().starts_with(&p)).cloned().collect();
    out.sort();
    out.dedup();
    out.truncate(6);
    out
}

/// The draft with its trailing `@prefix` completed to `@name `.
pub fn complete_mention(draft: &str, name: &str) -> String {
    match draft.rfind('@') {
        Some(i) => format!("{}@{name} ", &draft[..i]),
        None => format!("{draft}@{name} "),
    }
}

/// A fresh id for an action (idempotent like a message id).
pub fn action_id(random: f64, now_ms: u64) -> String {
    format!("a{now_ms:x}{:08x}", (random * f64::from(u32::MAX)) as u32)
}

/// The room before or after `current` in the sidebar's order (rooms, then
/// direct messages; `listed` is `(name, is a DM)` by name), wrapping
/// around, skipping those `eligible` refuses (Alt+Shift+arrows: the
/// unread ones). `None` if no other room qualifies.
pub fn step(
    listed: &[(String, bool)],
    current: Option<&str>,
    forward: bool,
    eligible: impl Fn(&str) -> bool,
) -> Option<String> {
    let mut order: Vec<&str> = listed.iter().filter(|(_, dm)| !dm).map(|(n, _)| n.as_str()).collect();
    order.extend(listed.iter().filter(|(_, dm)| *dm).map(|(n, _)| n.as_str()));
    let n = order.len();
    let at = current.and_then(|c| order.iter().position(|r| *r == c));
    // From nowhere, forward starts at the first room and back at the last.
    let start = at.unwrap_or(if forward { n.wrapping_sub(1) } else { 0 });
    (1..=n)
        .map(|i| if forward { (start + i) % n } else { (start + n * 2 - i) % n })
        .map(|i| order[i])
        .find(|r| Some(*r) != current && eligible(r))
        .map(str::to_owned)
}

/// The link to a message, after the page's address: `#m=room/origin/seq`.
/// Room names and node ids need no escaping in it (letters, digits, `-`,
/// `_`), so a link opens on any node's page.
pub fn permalink(room: &str, origin: &str, seq: u64) -> String {
    format!("#m={room}/{origin}/{seq}")
}

/// The message a page's `#…` names, if it is a [`permalink`] of a valid
/// room and node.
pub fn from_permalink(hash: &str) -> Option<(String, String, u64)> {
    let mut parts = hash.strip_prefix("#m=")?.split('/');
    let (room, origin, seq) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    meshchat_shared::limits::validate_room(room).ok()?;
    meshchat_shared::limits::validate_node_id(origin).ok()?;
    Some((room.to_owned(), origin.to_owned(), seq.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use meshchat_shared::rooms::{MemberInfo, RoomRole};

    use super::*;

    fn info(dm: &[&str], title: &str, role: Option<RoomRole>) -> RoomInfo {
        RoomInfo {
            room: "r".into(),
            title: title.into(),
            dm: dm.iter().map(|s| s.to_string()).collect(),
            members: vec![MemberInfo { name: "ada".into(), role: RoomRole::Owner }],
            governed: true,
            role,
            ..RoomInfo::default()
        }
    }

    #[test]
    fn titles_name_the_other_people_of_a_conversation() {
        assert_eq!(title("dm-1", Some(&info(&["ada", "bob", "cy"], "", None)), "ada"), "bob, cy");
        assert_eq!(title("plans", Some(&info(&[], "Launch plans", None)), "ada"), "Launch plans");
        assert_eq!(title("plans", Some(&info(&[], "plans", None)), "ada"), "#plans");
        assert_eq!(title("general", None, "ada"), "#general");
        assert!(is_dm("dm-1", None) && !is_dm("general", None));
    }

    #[test]
    fn roles_decide_who_moderates() {
        assert!(moderates(Some(&info(&[], "", Some(RoomRole::Moderator)))));
        assert!(!moderates(Some(&info(&[], "", Some(RoomRole::Member)))));
        assert!(!moderates(None));
        assert!(owns(Some(&info(&[], "", Some(RoomRole::Owner)))));
    }

    #[test]
    fn mentions_complete_from_the_people_of_the_room() {
        assert_eq!(mention_prefix("hi @ad"), Some("ad"));
        assert_eq!(mention_prefix("hi @"), Some(""));
        assert_eq!(mention_prefix("mail ada@x"), None);
        assert_eq!(mention_prefix("hi ada"), None);
        let people = ["Ada".to_owned(), "adam".to_owned(), "bob".to_owned(), "me".to_owned()];
        assert_eq!(mention_candidates("AD", &people, "me"), ["Ada", "adam"]);
        assert_eq!(complete_mention("hi @ad", "Ada"), "hi @Ada ");
    }

    #[test]
    fn conversations_alert_on_everything_rooms_on_mentions_unless_chosen() {
        assert_eq!(Notify::parse(None, true), Notify::All);
        assert_eq!(Notify::parse(None, false), Notify::Mentions);
        assert_eq!(Notify::parse(Some("nothing"), true), Notify::Nothing);
        assert!(Notify::Mentions.alerts(true) && !Notify::Mentions.alerts(false));
        assert!(!Notify::Nothing.alerts(true) && Notify::All.alerts(false));
    }

    #[test]
    fn typed_names_become_room_names_and_people() {
        assert_eq!(normalise("  #Rust Lang "), "rust-lang");
        assert_eq!(people("bob, Carol ,, bob ,carol"), ["bob", "Carol"]);
        assert_ne!(action_id(0.1, 5), action_id(0.2, 5));
    }

    #[test]
    fn arrows_step_through_rooms_then_conversations_and_wrap() {
        let listed: Vec<(String, bool)> =
            [("dm-x", true), ("general", false), ("random", false)].map(|(n, d)| (n.to_owned(), d)).to_vec();
        let all = |_: &str| true;
        assert_eq!(step(&listed, Some("general"), true, all).as_deref(), Some("random"));
        assert_eq!(step(&listed, Some("random"), true, all).as_deref(), Some("dm-x"));
        assert_eq!(step(&listed, Some("dm-x"), true, all).as_deref(), Some("general"));
        assert_eq!(step(&listed, Some("general"), false, all).as_deref(), Some("dm-x"));
        assert_eq!(step(&listed, None, true, all).as_deref(), Some("general"));
        assert_eq!(step(&listed, None, false, all).as_deref(), Some("dm-x"));
        // Only the unread: random is skipped; nothing else unread, nowhere to go.
        assert_eq!(step(&listed, Some("general"), true, |r| r == "dm-x").as_deref(), Some("dm-x"));
        assert_eq!(step(&listed, Some("general"), true, |r| r == "general"), None);
        assert_eq!(step(&[], None, true, all), None);
    }

    #[test]
    fn a_permalink_names_its_message_and_nothing_else_passes() {
        let link = permalink("general", "n1", 42);
        assert_eq!(link, "#m=general/n1/42");
        assert_eq!(from_permalink(&link), Some(("general".into(), "n1".into(), 42)));
        for bad in [
            "#m=General/n1/42",
            "#m=general/n1",
            "#m=general/n1/x",
            "#m=general/n1/4/2",
            "#invite=x",
            "#m=a b/n1/1",
            "#m=general/<b>/1",
        ] {
            assert_eq!(from_permalink(bad), None, "{bad}");
        }
    }
}
