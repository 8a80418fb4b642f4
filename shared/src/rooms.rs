//! Rooms that belong to people (an extension of protocol 1.1): what happens
//! to a room (created, joined, invited, kicked, banned, roles, topic…) as
//! events of the room's own log, and the room as a client is shown it.
//!
//! An event travels as a message whose `id` starts with [`EVENT_PREFIX`]
//! (a character no client's id may hold) and whose body is the event's
//! JSON; a node shows it to clients as a notice in words ([`describe`]).

use serde::{Deserialize, Serialize};

use crate::limits::{self, Invalid};
pub use crate::room_info::{DirectoryEntry, MemberInfo, RoomInfo};

/// The first character of an event's message id: not printable ASCII, so
/// no client's `send` can make one.
pub const EVENT_PREFIX: char = '§';
/// At most this many people in a direct-message room.
pub const MAX_DM: usize = 10;
pub const MAX_TOPIC_CHARS: usize = 300;
pub const MAX_TITLE_CHARS: usize = 64;
pub const MAX_REASON_CHARS: usize = 300;

/// The body of a message whose text was deleted, on every node: this
/// prefix, then (in storage) the SHA-256 of the text it had, so that its
/// origin's signature still verifies.
pub const REDACTED: &str = "\u{0}redacted:";

pub fn is_redacted(body: &str) -> bool {
    body.starts_with(REDACTED)
}

/// May a delete erase this message's text? Messages, replies and edits;
/// never what happened to the room (a kick, a ban…), whatever a delete
/// names, so that no node's record of the room depends on when it heard
/// of a delete.
pub fn erasable(id: &str, body: &str) -> bool {
    if is_redacted(body) {
        return false;
    }
    !is_event_id(id)
        || serde_json::from_str::<RoomEvent>(body)
            .is_ok_and(|e| matches!(e, RoomEvent::Reply { .. } | RoomEvent::Edited { .. } | RoomEvent::File { .. }))
}

/// May a retention policy take this message out of the room? What a delete
/// may erase, and the tombstones deletes leave of it (only those are ever
/// erased); never what happened to the room.
pub fn expirable(id: &str, body: &str) -> bool {
    is_redacted(body) || erasable(id, body)
}

/// Does `text` mention `name` (`@name`, any case, not inside a longer
/// word: `@ada` mentions ada, not adam)?
pub fn mentions(text: &str, name: &str) -> bool {
    if name.is_empty() {
        return false;
    }
    let (text, name) = (text.to_lowercase(), name.to_lowercase());
    let mut from = 0;
    while let Some(i) = text[from..].find('@') {
        let at = from + i;
        let before_ok = text[..at].chars().last().is_none_or(|c| !c.is_alphanumeric());
        let rest = &text[at + 1..];
        if before_ok
            && rest.starts_with(&name)
            && rest[name.len()..].chars().next().is_none_or(|c| !c.is_alphanumeric() && c != '_' && c != '-')
        {
            return true;
        }
        from = at + 1;
    }
    false
}

/// Is this a message to show people: a message, or a reply (not an event
/// about the room or another message)? What unread counts count.
pub fn is_chat(msg: &crate::Message) -> bool {
    !is_event_id(&msg.id)
        || serde_json::from_str::<RoomEvent>(&msg.body)
            .is_ok_and(|e| matches!(e, RoomEvent::Reply { .. } | RoomEvent::File { .. }))
}

/// The thread `msg` replies in, if it is a thread reply: its root, and
/// whether it was also sent to the room.
pub fn thread_root(msg: &crate::Message) -> Option<((String, u64), bool)> {
    if !is_event_id(&msg.id) {
        return None;
    }
    let e = serde_json::from_str::<RoomEvent>(&msg.body).ok()?;
    e.thread().map(|((origin, seq), also)| ((origin.to_owned(), seq), also))
}

/// A read marker: kept from clients that do not apply events (it would
/// read as noise), and from notices.
pub fn is_read_marker(msg: &crate::Message) -> bool {
    is_event_id(&msg.id)
        && (msg.body.starts_with(r#"{"event":"read""#) || msg.body.starts_with(r#"{"event":"read_thread""#))
}

/// Whether a message id is an event's.
pub fn is_event_id(id: &str) -> bool {
    id.starts_with(EVENT_PREFIX)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomRole {
    Member,
    Moderator,
    Owner,
}

impl RoomRole {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomRole::Member => "member",
            RoomRole::Moderator => "moderator",
            RoomRole::Owner => "owner",
        }
    }
}

/// What happens to a room. Users are account names (or guests' names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RoomEvent {
    /// The first event of a room; its author owns it. `dm` lists the
    /// people of a direct-message room (the author among them).
    Created {
        #[serde(default)]
        title: String,
        #[serde(default)]
        topic: String,
        private: bool,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        dm: Vec<String>,
    },
    /// The author joined a public room.
    Joined,
    /// The author left the room.
    Left,
    Invited {
        user: String,
    },
    Kicked {
        user: String,
        #[serde(default)]
        reason: String,
    },
    Banned {
        user: String,
        #[serde(default)]
        reason: String,
    },
    Unbanned {
        user: String,
    },
    /// `owner` passes ownership: the previous owner becomes a moderator.
    Role {
        user: String,
        role: RoomRole,
    },
    Topic {
        topic: String,
    },
    Title {
        title: String,
    },
    Visibility {
        private: bool,
    },
    /// A message deleted by a moderator or its author, named by its place
    /// in the log: its text is erased from every node's storage.
    Deleted {
        origin: String,
        seq: u64,
    },
    /// The author's new text for their message.
    Edited {
        origin: String,
        seq: u64,
        body: String,
    },
    /// An emoji reaction to a message, put on (`on`) or taken off.
    Reacted {
        origin: String,
        seq: u64,
        emoji: String,
        on: bool,
    },
    /// Its author has read the room up to here (their read marker, the
    /// same on all their tabs, devices and every node).
    Read,
    /// Extension: its author has read the thread of `origin:seq` (its root)
    /// up to here: their read marker in that thread, on all their tabs,
    /// devices and every node. It says nothing of the room.
    ReadThread {
        origin: String,
        seq: u64,
    },
    /// A message that answers another: shown as a message, with the
    /// answered one quoted.
    Reply {
        origin: String,
        seq: u64,
        body: String,
        /// Extension: a reply in the thread of `origin:seq` (its root),
        /// shown beside the room rather than in it.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        thread: bool,
        /// Extension: a thread reply shown in the room too.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        also: bool,
    },
    /// The room is gone: nobody can read or join it.
    RoomDeleted,
    /// Extension: the room is archived (read-only: nobody posts, reacts or
    /// edits in it) or taken out of the archive.
    Archived {
        archived: bool,
    },
    /// Extension: `user` deleted their account under a policy that erases
    /// what they wrote: their messages, replies, edits and files leave the
    /// room on every node. Only the node makes it, on their behalf.
    AuthorErased {
        user: String,
    },
    /// Extension: messages older than `days` are deleted on every node
    /// (texts erased, files removed); `0` follows the mesh's policy.
    Retention {
        days: u32,
    },
    /// A file shared in the room, shown as a message: the node that took
    /// the upload made this event (clients cannot `act` it), so `hash`
    /// (SHA-256, hex) names bytes the author really sent.
    File {
        hash: String,
        name: String,
        size: u64,
        #[serde(rename = "type")]
        mime: String,
        /// Words with the file, if any.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        body: String,
        /// Extension: shared in the thread of this root (`origin`, `seq`
        /// beside the file's fields), not the room.
        #[serde(flatten, skip_serializing_if = "Option::is_none")]
        thread: Option<Root>,
    },
}

/// A thread's root message, as a file shared in it names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Root {
    pub origin: String,
    pub seq: u64,
}

impl RoomEvent {
    /// The message this event names (`origin:seq`), if it names one.
    pub fn target(&self) -> Option<(&str, u64)> {
        match self {
            RoomEvent::Edited { origin, seq, .. }
            | RoomEvent::Deleted { origin, seq }
            | RoomEvent::Reacted { origin, seq, .. }
            | RoomEvent::Reply { origin, seq, .. }
            | RoomEvent::ReadThread { origin, seq }
            | RoomEvent::File { thread: Some(Root { origin, seq }), .. } => Some((origin.as_str(), *seq)),
            _ => None,
        }
    }

    /// The root of the thread this event is a reply in, if it is one (a
    /// thread reply, or a file shared in a thread); `also`: shown in the
    /// room too.
    pub fn thread(&self) -> Option<((&str, u64), bool)> {
        match self {
            RoomEvent::Reply { origin, seq, thread: true, also, .. } => Some(((origin.as_str(), *seq), *also)),
            RoomEvent::File { thread: Some(Root { origin, seq }), .. } => Some(((origin.as_str(), *seq), false)),
            _ => None,
        }
    }

    /// [`target`](Self::target), to point it elsewhere.
    pub fn target_mut(&mut self) -> Option<(&mut String, &mut u64)> {
        match self {
            RoomEvent::Edited { origin, seq, .. }
            | RoomEvent::Deleted { origin, seq }
            | RoomEvent::Reacted { origin, seq, .. }
            | RoomEvent::Reply { origin, seq, .. }
            | RoomEvent::ReadThread { origin, seq }
            | RoomEvent::File { thread: Some(Root { origin, seq }), .. } => Some((origin, seq)),
            _ => None,
        }
    }

    /// The `event` tag of every kind this version knows.
    pub const KINDS: [&'static str; 22] = [
        "created",
        "joined",
        "left",
        "invited",
        "kicked",
        "banned",
        "unbanned",
        "role",
        "topic",
        "title",
        "visibility",
        "deleted",
        "edited",
        "reacted",
        "read",
        "read_thread",
        "reply",
        "room_deleted",
        "archived",
        "retention",
        "author_erased",
        "file",
    ];
}

/// An event as stored: who may have done it is re-checked by every node as
/// it applies the log; `admin` says the origin node found the author to be
/// an admin of the mesh, who may act in any room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    #[serde(flatten)]
    pub event: RoomEvent,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub admin: bool,
    /// The origin node found the target message to be the author's own
    /// (an edit, or a delete by its author).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub own: bool,
    /// Extension: a delete of a reply in a thread names that thread's root
    /// (the origin node found it so): the reply's text is erased, and its
    /// tombstone belongs in the thread, not the room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_thread: Option<(String, u64)>,
}

impl StoredEvent {
    pub fn new(event: RoomEvent) -> StoredEvent {
        StoredEvent { event, admin: false, own: false, in_thread: None }
    }
}

/// At most this many characters in an emoji reaction.
pub const MAX_EMOJI_CHARS: usize = 16;

/// What a client may ask of a room as an action (`act` on the WebSocket,
/// `POST /api/rooms/{room}/actions` over HTTP: both call this): a valid
/// request id and event, but never one only the node makes: rooms are
/// created and files shared through requests of their own, which check
/// what those need (a claimed name; uploaded bytes). (`joined` is how an
/// HTTP client joins a public room.)
pub fn validate_act(id: &str, action: &RoomEvent) -> Result<(), Invalid> {
    limits::validate_msg_id(id)?;
    match action {
        RoomEvent::Created { .. } => Err(Invalid::Other("rooms are created with a request of its own".into())),
        RoomEvent::File { .. } => Err(Invalid::Other("files are shared by uploading them".into())),
        RoomEvent::AuthorErased { .. } => Err(Invalid::Other("messages are erased by deleting one's account".into())),
        _ => action.validate_fields(),
    }
}

impl RoomEvent {
    /// The checks of an event's fields: lengths, names (a file's name by
    /// [`limits::validate_file_name`]).
    pub fn validate(&self) -> Result<(), Invalid> {
        match self {
            RoomEvent::File { name, .. } => limits::validate_file_name(name).and_then(|()| self.validate_fields()),
            _ => self.validate_fields(),
        }
    }

    /// [`validate`](Self::validate) but for a file's name: what a client's
    /// action needs (clients never make `file` events), without the
    /// Unicode tables a file's name is checked with (the web app's size).
    fn validate_fields(&self) -> Result<(), Invalid> {
        let chars = |s: &str, max: usize, what: &str| {
            if s.chars().count() > max {
                Err(Invalid::Other(format!("{what} must be at most {max} characters")))
            } else {
                Ok(())
            }
        };
        match self {
            RoomEvent::Created { title, topic, dm, .. } => {
                chars(title, MAX_TITLE_CHARS, "title")?;
                chars(topic, MAX_TOPIC_CHARS, "topic")?;
                if dm.len() > MAX_DM {
                    return Err(Invalid::Other(format!("a direct message has at most {MAX_DM} people")));
                }
                dm.iter().try_for_each(|u| limits::validate_name(u))
            }
            RoomEvent::Invited { user } | RoomEvent::Unbanned { user } | RoomEvent::Role { user, .. } => {
                limits::validate_name(user)
            }
            RoomEvent::Kicked { user, reason } | RoomEvent::Banned { user, reason } => {
                limits::validate_name(user)?;
                chars(reason, MAX_REASON_CHARS, "reason")
            }
            RoomEvent::Topic { topic } => chars(topic, MAX_TOPIC_CHARS, "topic"),
            RoomEvent::Title { title } => chars(title, MAX_TITLE_CHARS, "title"),
            RoomEvent::Deleted { origin, .. } => limits::validate_node_id(origin),
            RoomEvent::Edited { origin, body, .. } | RoomEvent::Reply { origin, body, .. } => {
                limits::validate_node_id(origin)?;
                limits::validate_body(body)
            }
            RoomEvent::Reacted { origin, emoji, .. } => {
                limits::validate_node_id(origin)?;
                let n = emoji.chars().count();
                if n == 0 || n > MAX_EMOJI_CHARS || emoji.chars().any(|c| c.is_control() || c.is_whitespace()) {
                    return Err(Invalid::Other(format!("an emoji is 1-{MAX_EMOJI_CHARS} characters, no spaces")));
                }
                Ok(())
            }
            RoomEvent::File { hash, mime, body, thread, .. } => {
                if let Some(root) = thread {
                    limits::validate_node_id(&root.origin)?;
                }
                if !is_file_hash(hash) {
                    return Err(Invalid::Other("a file's hash is 64 hex digits".into()));
                }
                if mime.len() > 100 || !mime.contains('/') || !mime.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(Invalid::Other("a file type is like image/png".into()));
                }
                if body.is_empty() { Ok(()) } else { limits::validate_body(body) }
            }
            RoomEvent::Joined
            | RoomEvent::Left
            | RoomEvent::Visibility { .. }
            | RoomEvent::RoomDeleted
            | RoomEvent::Archived { .. }
            | RoomEvent::Read
            | RoomEvent::ReadThread { .. } => Ok(()),
            RoomEvent::Retention { days } if *days > crate::limits::MAX_RETENTION_DAYS => {
                Err(Invalid::Other(format!("retention is at most {} days", crate::limits::MAX_RETENTION_DAYS)))
            }
            RoomEvent::Retention { .. } => Ok(()),
            RoomEvent::AuthorErased { user } => limits::validate_name(user),
        }
    }
}

/// The notice a client shows for an event by `by`, in words.
pub fn describe(by: &str, event: &RoomEvent) -> String {
    let with = |reason: &str| if reason.is_empty() { String::new() } else { format!(": {reason}") };
    match event {
        RoomEvent::Created { dm, .. } if !dm.is_empty() => format!("{by} started this conversation"),
        RoomEvent::Created { private: true, .. } => format!("{by} created this private room"),
        RoomEvent::Created { .. } => format!("{by} created this room"),
        RoomEvent::Joined => format!("{by} joined"),
        RoomEvent::Left => format!("{by} left"),
        RoomEvent::Invited { user } => format!("{by} added {user}"),
        RoomEvent::Kicked { user, reason } => format!("{user} was removed by {by}{}", with(reason)),
        RoomEvent::Banned { user, reason } => format!("{user} was banned by {by}{}", with(reason)),
        RoomEvent::Unbanned { user } => format!("{user} was unbanned by {by}"),
        RoomEvent::Role { user, role: RoomRole::Owner } => format!("{by} made {user} the owner"),
        RoomEvent::Role { user, role } => format!("{by} made {user} a {}", role.as_str()),
        RoomEvent::Topic { topic } if topic.is_empty() => format!("{by} cleared the topic"),
        RoomEvent::Topic { topic } => format!("{by} set the topic: {topic}"),
        RoomEvent::Title { title } => format!("{by} renamed the room to {title}"),
        RoomEvent::Visibility { private: true } => format!("{by} made the room private"),
        RoomEvent::Visibility { private: false } => format!("{by} made the room public"),
        RoomEvent::Deleted { .. } => format!("{by} deleted a message"),
        RoomEvent::Edited { body, .. } => format!("{by} edited a message: {body}"),
        RoomEvent::Reacted { emoji, on: true, .. } => format!("{by} reacted {emoji}"),
        RoomEvent::Reacted { emoji, on: false, .. } => format!("{by} took back {emoji}"),
        RoomEvent::Reply { body, .. } => body.clone(),
        RoomEvent::Read => format!("{by} read up to here"),
        RoomEvent::ReadThread { .. } => format!("{by} read a thread up to here"),
        RoomEvent::RoomDeleted => format!("{by} deleted the room"),
        RoomEvent::Archived { archived: true } => format!("{by} archived the room"),
        RoomEvent::Archived { archived: false } => format!("{by} took the room out of the archive"),
        RoomEvent::AuthorErased { user } => format!("{user}'s messages were erased"),
        RoomEvent::Retention { days: 0 } => format!("{by} set the room to keep messages as the mesh does"),
        RoomEvent::Retention { days } => format!("{by} set the room to keep messages for {days} days"),
        RoomEvent::File { name, size, body, .. } if body.is_empty() => {
            format!("{by} shared {name} ({})", human_size(*size))
        }
        RoomEvent::File { name, size, body, .. } => format!("{body} [{name}, {}]", human_size(*size)),
    }
}

/// Types a browser shows inline as a picture and nothing else: the raster
/// types it decodes safely; never SVG.
pub fn is_inline_image(mime: &str) -> bool {
    matches!(mime, "image/png" | "image/jpeg" | "image/gif" | "image/webp")
}

pub use crate::limits::MAX_FILE_NAME_CHARS;

/// A SHA-256 in lowercase hex.
pub fn is_file_hash(h: &str) -> bool {
    h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `2.1 MB`, `340 KB`, `12 bytes`.
pub fn human_size(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} bytes"),
        1_000..1_000_000 => format!("{} KB", bytes / 1_000),
        _ => format!("{}.{} MB", bytes / 1_000_000, bytes % 1_000_000 / 100_000),
    }
}

/// A message as clients are shown it: an event's body becomes its notice
/// in words (its id still says it is an event).
pub fn present(msg: &crate::Message) -> std::borrow::Cow<'_, crate::Message> {
    present_as(msg, false)
}

/// As [`present`]; with `raw` (clients that asked for events in `hello`)
/// an event keeps its JSON body, for the client to apply it. A deleted
/// text is the bare [`REDACTED`] mark either way (its hash stays inside).
pub fn present_as(msg: &crate::Message, raw: bool) -> std::borrow::Cow<'_, crate::Message> {
    let body = if is_redacted(&msg.body) {
        if raw { REDACTED.to_owned() } else { "(message deleted)".to_owned() }
    } else if !is_event_id(&msg.id) || raw {
        return std::borrow::Cow::Borrowed(msg);
    } else {
        match serde_json::from_str::<StoredEvent>(&msg.body) {
            Ok(e) => describe(&msg.author, &e.event),
            Err(_) => String::from("(an event this version does not know)"),
        }
    };
    std::borrow::Cow::Owned(crate::Message { body, ..msg.clone() })
}

/// Every direct conversation's room is named so (and no other room).
pub const DM_PREFIX: &str = "dm-";

/// The room of a direct conversation between `people` (canonical names):
/// the same name whoever starts it, on any node.
pub fn dm_room(people: &[String]) -> String {
    let mut sorted: Vec<&str> = people.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    // FNV-1a over the sorted names, twice with different seeds: 128 bits
    // in 32 hex digits, no hashing crate needed on the wasm side.
    let mut out = String::from(DM_PREFIX);
    for seed in [0xcbf2_9ce4_8422_2325u64, 0x6c62_272e_07bb_0142] {
        let mut h = seed;
        for b in sorted.join("\n").bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        out.push_str(&format!("{h:016x}"));
    }
    out
}

#[cfg(test)]
#[path = "rooms_tests.rs"]
mod tests;
