//! Rooms as clients show them, whatever the client: a direct conversation
//! apart, named after its other people; who may moderate; when a room may
//! interrupt one. The web app and the terminal app both ask here.

use crate::rooms::{RoomInfo, RoomRole};

/// A direct conversation (its node-made name starts with `dm-`).
pub fn is_dm(room: &str, info: Option<&RoomInfo>) -> bool {
    info.is_some_and(|i| !i.dm.is_empty()) || room.starts_with("dm-")
}

/// A conversation's name for `me`: its other people ("bob, cy"), or `me`
/// alone in a conversation with oneself; `None` for a room that is not one.
pub fn conversation_name(info: &RoomInfo, me: &str) -> Option<String> {
    conversation_name_as(info, me, &str::to_owned)
}

/// [`conversation_name`], each person named by `display` (their display
/// name, where the app knows it).
pub fn conversation_name_as(info: &RoomInfo, me: &str, display: &dyn Fn(&str) -> String) -> Option<String> {
    if info.dm.is_empty() {
        return None;
    }
    let others: Vec<String> = info.dm.iter().filter(|n| *n != me).map(|n| display(n)).collect();
    Some(if others.is_empty() { display(me) } else { others.join(", ") })
}

/// Moderators and owners (and admins, whom the node lets act anyway).
pub fn moderates(info: Option<&RoomInfo>) -> bool {
    info.and_then(|i| i.role).is_some_and(|r| r >= RoomRole::Moderator)
}

pub fn owns(info: Option<&RoomInfo>) -> bool {
    info.and_then(|i| i.role) == Some(RoomRole::Owner)
}

/// What a room may interrupt one with (a notification, a sound, a bell).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    All,
    Mentions,
    Nothing,
}

impl Notify {
    pub fn as_str(self) -> &'static str {
        match self {
            Notify::All => "all",
            Notify::Mentions => "mentions",
            Notify::Nothing => "nothing",
        }
    }

    /// A saved choice, or the default: every message of a direct
    /// conversation, only mentions elsewhere.
    pub fn parse(saved: Option<&str>, dm: bool) -> Notify {
        match saved {
            Some("all") => Notify::All,
            Some("mentions") => Notify::Mentions,
            Some("nothing") => Notify::Nothing,
            _ if dm => Notify::All,
            _ => Notify::Mentions,
        }
    }

    /// Does a message (`mention`: it names the user) call for attention?
    pub fn alerts(self, mention: bool) -> bool {
        match self {
            Notify::All => true,
            Notify::Mentions => mention,
            Notify::Nothing => false,
        }
    }
}
