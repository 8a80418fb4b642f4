//! Who belongs to a room and what they may do: the room's events folded in
//! room order, the same on every node.
//!
//! Events are messages of the room's own log (ids starting with `§`). Every
//! node applies them in room order `(ts, origin, seq)` and checks each
//! against the state just before it, so an event its author had no right to
//! make is ignored everywhere alike. Which messages count follows from the
//! same order: a message is part of the room only if its author was a
//! member at its place in the order. A ban at stamp 100 on one node and a
//! message from the banned user at stamp 101 on another, sent before that
//! node heard of the ban, end the same everywhere: the message is hidden,
//! because in room order it comes after the ban.
//!
//! What an event costs does not grow with the room's history
//! ([`GovernanceLog`]): the fold's maps are persistent (`imbl`), so the
//! state the room publishes after each event is a cheap clone sharing
//! everything unchanged; an event that arrives after others it sorts
//! before is folded in from a recent snapshot of the state, not from the
//! room's first event; what a delete erases is kept up to date event by
//! event, and edits are indexed by the message they edit.
//!
//! A room named `dm-…` is held for the direct conversation of the people
//! its name is made from ([`dm_room`]): the only `created` event that
//! counts there is the one listing exactly them, and until it comes nobody
//! reads, joins or posts in it. Nobody can take a conversation's name
//! before its people start it.
//!
//! Pure state: no clock, no I/O.

mod fold;
mod log;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use meshchat_shared::rooms::{DM_PREFIX, MemberInfo, RoomEvent, RoomInfo, RoomRole, StoredEvent, is_event_id};
use meshchat_shared::{Cursor, Message};

use fold::State;
pub use log::{Changes, GovernanceLog};

/// A message by its place in its origin's log.
pub type Key = (String, u64);

/// What an event changed that clients must be told of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consequence {
    /// Messages of `user` from `from` on are not part of the room.
    Hidden { user: String, from: Cursor },
    /// The message at `origin:seq` was deleted.
    Deleted { origin: String, seq: u64 },
}

/// The room's governance as readers see it (the HTTP paths, search, the
/// directory): the fold of its events up to now. Cloning it is cheap.
#[derive(Debug, Clone, Default)]
pub struct Governance {
    state: State,
}

impl Governance {
    /// Whether `event` by `author` would be allowed now (the node checks
    /// before accepting a request; every node checks again as it applies).
    pub fn permits(&self, author: &str, event: &RoomEvent, admin: bool) -> bool {
        self.state.permits(author, event, admin, false)
    }

    /// As [`permits`](Self::permits), for an event as stored (with the
    /// origin's marks).
    pub fn permits_stored(&self, author: &str, e: &StoredEvent) -> bool {
        self.state.permits(author, &e.event, e.admin, e.own)
    }

    /// Was the message at `origin:seq` deleted?
    pub fn is_redacted(&self, origin: &str, seq: u64) -> bool {
        self.state.redacted.contains(&(origin.to_owned(), seq))
    }

    pub fn is_governed(&self) -> bool {
        self.state.created.is_some()
    }

    pub fn is_private(&self) -> bool {
        self.state.private
    }

    pub fn is_dm(&self) -> bool {
        !self.state.dm.is_empty()
    }

    /// The people of a direct conversation (none for other rooms).
    pub fn dm_people(&self) -> &[String] {
        &self.state.dm
    }

    pub fn is_deleted(&self) -> bool {
        self.state.deleted
    }

    /// Read-only: archived by an owner or an admin.
    pub fn is_archived(&self) -> bool {
        self.state.archived
    }

    /// Was `user`'s account deleted with what they wrote?
    pub fn author_erased(&self, user: &str) -> bool {
        self.state.erased_authors.contains(user)
    }

    /// Everyone whose texts storage must no longer hold.
    pub fn erased_authors(&self) -> impl Iterator<Item = &String> + '_ {
        self.state.erased_authors.iter()
    }

    /// The room's own retention in days (0: it follows the mesh's).
    pub fn retention_days(&self) -> u32 {
        self.state.retention_days
    }

    pub fn role(&self, user: &str) -> Option<RoomRole> {
        self.state.members.get(user).copied()
    }

    pub fn members(&self) -> usize {
        self.state.members.len()
    }

    pub fn member_names(&self) -> impl Iterator<Item = (&str, RoomRole)> + '_ {
        self.state.members.iter().map(|(n, r)| (n.as_str(), *r))
    }

    /// May `user` see the room's messages and members?
    pub fn can_read(&self, user: &str) -> bool {
        let s = &self.state;
        if s.deleted || s.banned.contains_key(user) || s.held_for_dm() {
            return false;
        }
        !s.private || s.members.contains_key(user)
    }

    /// May `user` post now?
    pub fn can_post(&self, user: &str) -> bool {
        let s = &self.state;
        match s.created {
            None => !s.held_for_dm() && !s.banned.contains_key(user),
            Some(_) => !s.deleted && !s.archived && s.members.contains_key(user),
        }
    }

    /// Would joining make `user` a member (a public room, not banned)?
    pub fn joins_as_member(&self, user: &str) -> bool {
        self.permits(user, &RoomEvent::Joined, false) && self.is_governed() && self.role(user).is_none()
    }

    /// Is this message part of the room?
    pub fn visible(&self, msg: &Message) -> bool {
        if self.author_erased(&msg.author) && meshchat_shared::rooms::expirable(&msg.id, &msg.body) {
            return false;
        }
        let key = (msg.origin.clone(), msg.seq);
        // A deleted reply or edit is a tombstone like a deleted message:
        // its text (the event) is gone, on every node alike.
        if is_event_id(&msg.id) && !meshchat_shared::rooms::is_redacted(&msg.body) {
            return self.state.applied.contains(&key);
        }
        // A deleted message stays, as a tombstone (its text is erased).
        self.state.posting_at(&msg.author, &msg.cursor())
    }

    /// The room as `user` is shown it.
    pub fn info(&self, room: &str, user: &str) -> RoomInfo {
        let s = &self.state;
        let role = s.members.get(user).copied();
        let moderates = role.is_some_and(|r| r >= RoomRole::Moderator);
        RoomInfo {
            room: room.to_owned(),
            title: if s.title.is_empty() { room.to_owned() } else { s.title.clone() },
            topic: s.topic.clone(),
            private: s.private,
            dm: s.dm.clone(),
            members: s.members.iter().map(|(n, r)| MemberInfo { name: n.clone(), role: *r }).collect(),
            governed: s.created.is_some(),
            role,
            banned: if moderates { s.banned.keys().cloned().collect() } else { Vec::new() },
            archived: s.archived,
            retention_days: s.retention_days,
        }
    }

    /// Title and topic, for the directory.
    pub fn title_topic(&self) -> (&str, &str) {
        (&self.state.title, &self.state.topic)
    }
}

/// What the room list and the directory show of a room that was created
/// (rooms of protocol 1 have none: they are open and listed).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RoomMeta {
    pub private: bool,
    #[serde(default)]
    pub deleted: bool,
    pub title: String,
    pub topic: String,
    pub members: u64,
    #[serde(default)]
    pub dm: bool,
    #[serde(default)]
    pub archived: bool,
    /// The room's own retention in days (0: the mesh's).
    #[serde(default)]
    pub retention_days: u32,
}

/// What the room list shows of this room now.
pub fn meta_of(gov: &Governance) -> RoomMeta {
    let (title, topic) = gov.title_topic();
    RoomMeta {
        private: gov.is_private(),
        deleted: gov.is_deleted(),
        title: title.to_owned(),
        topic: topic.to_owned(),
        members: gov.members() as u64,
        dm: gov.is_dm(),
        archived: gov.is_archived(),
        retention_days: gov.retention_days(),
    }
}

/// Whether a `created` event listing `dm` may make the room `room`: a
/// direct conversation only under the name of its people, and no other
/// room under a conversation's name (`dm-…`).
pub fn created_fits(room: &str, dm: &[String]) -> bool {
    if dm.is_empty() { !room.starts_with(DM_PREFIX) } else { meshchat_shared::rooms::dm_room(dm) == room }
}

/// The room a governance is for, as the fold needs it: whether its name is
/// one held for a direct conversation.
fn held_name(room: &str) -> Option<Arc<str>> {
    room.starts_with(DM_PREFIX).then(|| room.into())
}
