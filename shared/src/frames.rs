//! The WebSocket frames: one JSON object per text frame, tagged by `type`.
//! Unknown fields are ignored, so either side may add optional ones.

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;
use crate::limits::{self, Invalid};
use crate::message::{Cursor, Message};
use crate::rooms::{RoomEvent, RoomInfo};
use crate::vector::RoomVector;

/// A node of the mesh as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub id: String,
    /// The node's WebSocket URL as a browser reaches it.
    pub url: String,
    pub up: bool,
}

/// Client to node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Must come first: a session `token` (protocol 1.1), or a `name`
    /// where the node takes guests (version 1).
    Hello {
        v: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        /// Extension: send room events (edits, reactions, replies…) as
        /// they are, JSON bodies, for the client to apply; without it they
        /// come as notices in words.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        events: bool,
    },
    /// Subscribe; `since` asks for exactly what the client lacks.
    Join {
        room: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<RoomVector>,
    },
    Leave {
        room: String,
    },
    Send {
        room: String,
        id: String,
        body: String,
    },
    Typing {
        room: String,
    },
    History {
        room: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<Cursor>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Extension: "still here". A node closes a connection that sends no
    /// frame for a while (5 minutes by default); clients send this once a
    /// minute. Answered with `pong`.
    Ping,
    /// Extension: create a room the sender owns; answered with `room`.
    Create {
        room: String,
        #[serde(default)]
        title: String,
        #[serde(default)]
        topic: String,
        #[serde(default)]
        private: bool,
    },
    /// Extension: do something to a room (invite, kick, ban, set the
    /// topic…), idempotent by `id` like a `send`; answered with `ack`
    /// (whose message id is `§` + `id`) or `error` with `id`.
    Act {
        room: String,
        id: String,
        action: RoomEvent,
    },
    /// Extension: the direct-message room of the sender and `users`,
    /// started if need be; answered with `room`.
    Dm {
        users: Vec<String>,
    },
    /// Extension: the people whose profiles the client shows (at most
    /// [`crate::profile::MAX_PROFILES_ASKED`]; each `watch` replaces the
    /// last): the node sends a `profile` frame when one of them changes.
    Watch {
        names: Vec<String>,
    },
}

impl ClientFrame {
    /// The frame's `type`, as on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientFrame::Hello { .. } => "hello",
            ClientFrame::Join { .. } => "join",
            ClientFrame::Leave { .. } => "leave",
            ClientFrame::Send { .. } => "send",
            ClientFrame::Typing { .. } => "typing",
            ClientFrame::History { .. } => "history",
            ClientFrame::Ping => "ping",
            ClientFrame::Create { .. } => "create",
            ClientFrame::Act { .. } => "act",
            ClientFrame::Dm { .. } => "dm",
            ClientFrame::Watch { .. } => "watch",
        }
    }

    /// Checks every field against the protocol's rules. `hello.v` is not a
    /// field rule: a wrong version is `unsupported_version`, checked apart.
    pub fn validate(&self) -> Result<(), Invalid> {
        match self {
            ClientFrame::Hello { name: Some(name), .. } => limits::validate_name(name),
            ClientFrame::Hello { token: Some(t), .. } if t.len() > 2048 => Err(Invalid::Other("token too long".into())),
            ClientFrame::Hello { .. } => Ok(()),
            ClientFrame::Join { room, since } => {
                limits::validate_room(room)?;
                since.as_ref().map_or(Ok(()), RoomVector::validate)
            }
            ClientFrame::Leave { room } | ClientFrame::Typing { room } => limits::validate_room(room),
            ClientFrame::Send { room, id, body } => {
                limits::validate_room(room)?;
                limits::validate_msg_id(id)?;
                limits::validate_body(body)
            }
            ClientFrame::History { room, before, limit } => {
                limits::validate_room(room)?;
                if let Some(c) = before {
                    limits::validate_node_id(&c.origin)?;
                }
                limits::history_limit(*limit).map(drop)
            }
            ClientFrame::Ping => Ok(()),
            ClientFrame::Create { room, title, topic, private } => {
                limits::validate_room(room)?;
                RoomEvent::Created { title: title.clone(), topic: topic.clone(), private: *private, dm: Vec::new() }
                    .validate()
            }
            ClientFrame::Act { room, id, action } => {
                limits::validate_room(room)?;
                crate::rooms::validate_act(id, action)
            }
            ClientFrame::Dm { users } => {
                if users.is_empty() || users.len() >= crate::rooms::MAX_DM {
                    return Err(Invalid::Other(format!("a direct message has 2 to {} people", crate::rooms::MAX_DM)));
                }
                users.iter().try_for_each(|u| limits::validate_name(u))
            }
            ClientFrame::Watch { names } => {
                if names.len() > crate::profile::MAX_PROFILES_ASKED {
                    let most = crate::profile::MAX_PROFILES_ASKED;
                    return Err(Invalid::Other(format!("at most {most} names are watched")));
                }
                names.iter().try_for_each(|n| limits::validate_name(n))
            }
        }
    }

    /// The id the answer to this frame carries, so that a client knows
    /// which request an `error` is about: a send's `id`, an act's `§` +
    /// `id` (as its `ack` does).
    pub fn answer_id(&self) -> Option<String> {
        match self {
            ClientFrame::Send { id, .. } => Some(id.clone()),
            ClientFrame::Act { id, .. } => Some(format!("{}{id}", crate::rooms::EVENT_PREFIX)),
            _ => None,
        }
    }

    /// [`answer_id`](Self::answer_id) of a frame that did not decode, as
    /// far as its text says (its type and a string `id`).
    pub fn answer_id_of(text: &str) -> Option<String> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let id = v.get("id")?.as_str().filter(|id| limits::validate_msg_id(id).is_ok())?;
        match v.get("type")?.as_str()? {
            "send" => Some(id.to_owned()),
            "act" => Some(format!("{}{id}", crate::rooms::EVENT_PREFIX)),
            _ => None,
        }
    }

    /// Every frame type a client may send; anything else is `bad_frame`.
    pub const TYPES: [&'static str; 11] =
        ["hello", "join", "leave", "send", "typing", "history", "ping", "create", "act", "dm", "watch"];
}

/// Node to client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Welcome {
        v: u32,
        node: String,
        name: String,
        nodes: Vec<NodeInfo>,
    },
    /// `members` are the names online in the room on any node, joiner included.
    Joined {
        room: String,
        members: Vec<String>,
    },
    Message {
        msg: Message,
    },
    /// The backlog is complete; `vector` is what the client now holds.
    Synced {
        room: String,
        vector: RoomVector,
        gap: bool,
    },
    Ack {
        id: String,
        msg: Message,
    },
    Presence {
        room: String,
        name: String,
        online: bool,
    },
    Typing {
        room: String,
        name: String,
    },
    History {
        room: String,
        messages: Vec<Message>,
        more: bool,
    },
    Nodes {
        nodes: Vec<NodeInfo>,
    },
    /// Extension: the answer to `ping`.
    Pong,
    /// Extension: a room's members, roles, topic; after `joined`, after
    /// `create` and `dm`, and whenever they change.
    Room {
        info: RoomInfo,
    },
    /// Extension: messages of `author` from `from` on (in room order) are
    /// not part of the room (sent while removed or banned): stop showing them.
    Hidden {
        room: String,
        author: String,
        from: Cursor,
    },
    /// Extension: a moderator deleted this message.
    Deleted {
        room: String,
        origin: String,
        seq: u64,
    },
    /// Extension: the connection is out of the room (removed, banned, the
    /// room deleted or made private); nothing more of it comes.
    Removed {
        room: String,
        reason: String,
    },
    /// Extension: a watched person's profile changed (or their account
    /// was deleted): as `GET /api/profiles` gives it.
    Profile {
        profile: crate::profile::Profile,
    },
    Error {
        code: ErrorCode,
        message: String,
        /// The `send` this answers, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
}

impl ServerFrame {
    pub fn to_json(&self) -> String {
        // A derived Serialize of strings and integers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Encoders for the node's hot paths: they borrow the message instead of
/// cloning it into a [`ServerFrame`], and produce the same JSON.
pub mod encode {
    use serde::Serialize;

    use crate::message::Message;

    #[derive(Serialize)]
    #[serde(tag = "type", rename = "message")]
    struct MessageRef<'a> {
        msg: &'a Message,
    }

    #[derive(Serialize)]
    #[serde(tag = "type", rename = "ack")]
    struct AckRef<'a> {
        id: &'a str,
        msg: &'a Message,
    }

    #[derive(Serialize)]
    #[serde(tag = "type", rename = "typing")]
    struct TypingRef<'a> {
        room: &'a str,
        name: &'a str,
    }

    #[derive(Serialize)]
    #[serde(tag = "type", rename = "presence")]
    struct PresenceRef<'a> {
        room: &'a str,
        name: &'a str,
        online: bool,
    }

    /// `{"type":"message","msg":…}`
    pub fn message(msg: &Message) -> String {
        serde_json::to_string(&MessageRef { msg }).unwrap_or_default()
    }

    /// `{"type":"ack","id":…,"msg":…}`
    pub fn ack(msg: &Message) -> String {
        serde_json::to_string(&AckRef { id: &msg.id, msg }).unwrap_or_default()
    }

    /// `{"type":"typing","room":…,"name":…}`
    pub fn typing(room: &str, name: &str) -> String {
        serde_json::to_string(&TypingRef { room, name }).unwrap_or_default()
    }

    /// `{"type":"presence","room":…,"name":…,"online":…}`
    pub fn presence(room: &str, name: &str, online: bool) -> String {
        serde_json::to_string(&PresenceRef { room, name, online }).unwrap_or_default()
    }
}

/// Why a text frame could not become a [`ClientFrame`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Not JSON, not an object, or no known `type`: `bad_frame`.
    BadFrame(String),
    /// A known `type` with missing or mistyped fields: `invalid`.
    Invalid(String),
}

impl DecodeError {
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::BadFrame(_) => ErrorCode::BadFrame,
            DecodeError::Invalid(_) => ErrorCode::Invalid,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            DecodeError::BadFrame(m) | DecodeError::Invalid(m) => m,
        }
    }
}

/// Parses a client frame, telling a frame of no known type (`bad_frame`)
/// from a known one with bad fields (`invalid`). The happy path parses once.
pub fn decode_client(text: &str) -> Result<ClientFrame, DecodeError> {
    match serde_json::from_str::<ClientFrame>(text) {
        Ok(frame) => Ok(frame),
        Err(err) => {
            #[derive(Deserialize)]
            struct Tagged {
                #[serde(rename = "type")]
                kind: String,
            }
            match serde_json::from_str::<Tagged>(text) {
                Ok(t) if ClientFrame::TYPES.contains(&t.kind.as_str()) => {
                    Err(DecodeError::Invalid(format!("bad {} frame: {}", t.kind, field_error(&err))))
                }
                Ok(t) => Err(DecodeError::BadFrame(format!("unknown frame type {:?}", truncate(&t.kind, 32)))),
                Err(_) => Err(DecodeError::BadFrame("expected a JSON object with a \"type\"".into())),
            }
        }
    }
}

/// serde's message without its "at line 1 column 37" tail.
fn field_error(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.find(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
#[path = "frames_tests.rs"]
mod tests;
