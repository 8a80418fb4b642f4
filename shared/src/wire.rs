//! Decoders for the two tagged enums, [`ServerFrame`] and [`RoomEvent`].
//!
//! serde's derived decoder for an internally tagged enum buffers the whole
//! object into its generic `Content` tree, then runs a visitor per variant
//! over it: in the web app's wasm those two were its largest functions
//! (76 KB together). Here each enum reads one flat struct of every field any
//! variant has (one visitor, straight from the JSON), then picks the variant
//! by its tag. The JSON accepted is the same, with one difference: a field
//! of another variant must have that variant's type, if present at all.
//! Encoding stays derived.

use serde::de::{Deserialize, Deserializer, Error};

use crate::error::ErrorCode;
use crate::frames::{NodeInfo, ServerFrame};
use crate::message::{Cursor, Message};
use crate::rooms::{RoomEvent, RoomInfo, RoomRole};
use crate::vector::RoomVector;

/// A field the variant needs, or serde's own "missing field" error.
fn need<T, E: Error>(field: Option<T>, name: &'static str) -> Result<T, E> {
    field.ok_or_else(|| E::missing_field(name))
}

#[derive(serde::Deserialize)]
struct FlatFrame {
    #[serde(rename = "type")]
    kind: String,
    v: Option<u32>,
    node: Option<String>,
    name: Option<String>,
    nodes: Option<Vec<NodeInfo>>,
    room: Option<String>,
    members: Option<Vec<String>>,
    msg: Option<Message>,
    vector: Option<RoomVector>,
    gap: Option<bool>,
    id: Option<String>,
    online: Option<bool>,
    messages: Option<Vec<Message>>,
    more: Option<bool>,
    info: Option<RoomInfo>,
    author: Option<String>,
    from: Option<Cursor>,
    origin: Option<String>,
    seq: Option<u64>,
    reason: Option<String>,
    code: Option<ErrorCode>,
    message: Option<String>,
    profile: Option<crate::profile::Profile>,
}

const FRAME_TYPES: &[&str] = &[
    "welcome", "joined", "message", "synced", "ack", "presence", "typing", "history", "nodes", "pong", "room",
    "hidden", "deleted", "removed", "error", "profile",
];

impl<'de> Deserialize<'de> for ServerFrame {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = FlatFrame::deserialize(d)?;
        Ok(match f.kind.as_str() {
            "welcome" => ServerFrame::Welcome {
                v: need(f.v, "v")?,
                node: need(f.node, "node")?,
                name: need(f.name, "name")?,
                nodes: need(f.nodes, "nodes")?,
            },
            "joined" => ServerFrame::Joined { room: need(f.room, "room")?, members: need(f.members, "members")? },
            "message" => ServerFrame::Message { msg: need(f.msg, "msg")? },
            "synced" => ServerFrame::Synced {
                room: need(f.room, "room")?,
                vector: need(f.vector, "vector")?,
                gap: need(f.gap, "gap")?,
            },
            "ack" => ServerFrame::Ack { id: need(f.id, "id")?, msg: need(f.msg, "msg")? },
            "presence" => ServerFrame::Presence {
                room: need(f.room, "room")?,
                name: need(f.name, "name")?,
                online: need(f.online, "online")?,
            },
            "typing" => ServerFrame::Typing { room: need(f.room, "room")?, name: need(f.name, "name")? },
            "history" => ServerFrame::History {
                room: need(f.room, "room")?,
                messages: need(f.messages, "messages")?,
                more: need(f.more, "more")?,
            },
            "nodes" => ServerFrame::Nodes { nodes: need(f.nodes, "nodes")? },
            "pong" => ServerFrame::Pong,
            "room" => ServerFrame::Room { info: need(f.info, "info")? },
            "hidden" => ServerFrame::Hidden {
                room: need(f.room, "room")?,
                author: need(f.author, "author")?,
                from: need(f.from, "from")?,
            },
            "deleted" => ServerFrame::Deleted {
                room: need(f.room, "room")?,
                origin: need(f.origin, "origin")?,
                seq: need(f.seq, "seq")?,
            },
            "removed" => ServerFrame::Removed { room: need(f.room, "room")?, reason: need(f.reason, "reason")? },
            "profile" => ServerFrame::Profile { profile: need(f.profile, "profile")? },
            "error" => {
                ServerFrame::Error { code: need(f.code, "code")?, message: need(f.message, "message")?, id: f.id }
            }
            other => return Err(D::Error::unknown_variant(other, FRAME_TYPES)),
        })
    }
}

#[derive(serde::Deserialize)]
struct FlatEvent {
    event: String,
    title: Option<String>,
    topic: Option<String>,
    private: Option<bool>,
    dm: Option<Vec<String>>,
    user: Option<String>,
    reason: Option<String>,
    role: Option<RoomRole>,
    origin: Option<String>,
    seq: Option<u64>,
    body: Option<String>,
    emoji: Option<String>,
    on: Option<bool>,
    hash: Option<String>,
    name: Option<String>,
    size: Option<u64>,
    #[serde(rename = "type")]
    mime: Option<String>,
    thread: Option<bool>,
    also: Option<bool>,
    archived: Option<bool>,
    days: Option<u32>,
}

const EVENT_KINDS: &[&str] = &RoomEvent::KINDS;

impl<'de> Deserialize<'de> for RoomEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = FlatEvent::deserialize(d)?;
        Ok(match f.event.as_str() {
            "created" => RoomEvent::Created {
                title: f.title.unwrap_or_default(),
                topic: f.topic.unwrap_or_default(),
                private: need(f.private, "private")?,
                dm: f.dm.unwrap_or_default(),
            },
            "joined" => RoomEvent::Joined,
            "left" => RoomEvent::Left,
            "invited" => RoomEvent::Invited { user: need(f.user, "user")? },
            "kicked" => RoomEvent::Kicked { user: need(f.user, "user")?, reason: f.reason.unwrap_or_default() },
            "banned" => RoomEvent::Banned { user: need(f.user, "user")?, reason: f.reason.unwrap_or_default() },
            "unbanned" => RoomEvent::Unbanned { user: need(f.user, "user")? },
            "role" => RoomEvent::Role { user: need(f.user, "user")?, role: need(f.role, "role")? },
            "topic" => RoomEvent::Topic { topic: need(f.topic, "topic")? },
            "title" => RoomEvent::Title { title: need(f.title, "title")? },
            "visibility" => RoomEvent::Visibility { private: need(f.private, "private")? },
            "deleted" => RoomEvent::Deleted { origin: need(f.origin, "origin")?, seq: need(f.seq, "seq")? },
            "edited" => RoomEvent::Edited {
                origin: need(f.origin, "origin")?,
                seq: need(f.seq, "seq")?,
                body: need(f.body, "body")?,
            },
            "reacted" => RoomEvent::Reacted {
                origin: need(f.origin, "origin")?,
                seq: need(f.seq, "seq")?,
                emoji: need(f.emoji, "emoji")?,
                on: need(f.on, "on")?,
            },
            "read" => RoomEvent::Read,
            "read_thread" => RoomEvent::ReadThread { origin: need(f.origin, "origin")?, seq: need(f.seq, "seq")? },
            "reply" => RoomEvent::Reply {
                origin: need(f.origin, "origin")?,
                seq: need(f.seq, "seq")?,
                body: need(f.body, "body")?,
                thread: f.thread.unwrap_or(false),
                also: f.also.unwrap_or(false),
            },
            "room_deleted" => RoomEvent::RoomDeleted,
            "archived" => RoomEvent::Archived { archived: need(f.archived, "archived")? },
            "retention" => RoomEvent::Retention { days: need(f.days, "days")? },
            "author_erased" => RoomEvent::AuthorErased { user: need(f.user, "user")? },
            "file" => RoomEvent::File {
                hash: need(f.hash, "hash")?,
                name: need(f.name, "name")?,
                size: need(f.size, "size")?,
                mime: need(f.mime, "type")?,
                body: f.body.unwrap_or_default(),
                thread: match (f.origin, f.seq) {
                    (Some(origin), Some(seq)) => Some(crate::rooms::Root { origin, seq }),
                    (None, None) => None,
                    (Some(_), None) => return Err(D::Error::missing_field("seq")),
                    (None, Some(_)) => return Err(D::Error::missing_field("origin")),
                },
            },
            other => return Err(D::Error::unknown_variant(other, EVENT_KINDS)),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn events() -> Vec<RoomEvent> {
        let (origin, seq) = ("n1".to_owned(), 4);
        vec![
            RoomEvent::Created { title: "T".into(), topic: "t".into(), private: true, dm: vec!["a".into()] },
            RoomEvent::Joined,
            RoomEvent::Left,
            RoomEvent::Invited { user: "bob".into() },
            RoomEvent::Kicked { user: "bob".into(), reason: "r".into() },
            RoomEvent::Banned { user: "bob".into(), reason: String::new() },
            RoomEvent::Unbanned { user: "bob".into() },
            RoomEvent::Role { user: "bob".into(), role: RoomRole::Moderator },
            RoomEvent::Topic { topic: "t".into() },
            RoomEvent::Title { title: "T".into() },
            RoomEvent::Visibility { private: false },
            RoomEvent::Deleted { origin: origin.clone(), seq },
            RoomEvent::Edited { origin: origin.clone(), seq, body: "b".into() },
            RoomEvent::Reacted { origin: origin.clone(), seq, emoji: "🎉".into(), on: true },
            RoomEvent::Read,
            RoomEvent::ReadThread { origin: origin.clone(), seq },
            RoomEvent::Reply { origin: origin.clone(), seq, body: "b".into(), thread: false, also: false },
            RoomEvent::Reply { origin, seq, body: "b".into(), thread: true, also: true },
            RoomEvent::RoomDeleted,
            RoomEvent::Archived { archived: true },
            RoomEvent::Retention { days: 7 },
            RoomEvent::AuthorErased { user: "bob".into() },
            RoomEvent::File {
                hash: "ab".repeat(32),
                name: "a.png".into(),
                size: 5,
                mime: "image/png".into(),
                body: String::new(),
                thread: None,
            },
        ]
    }

    /// The tag of each variant; the match makes a new variant fail to
    /// compile here until it is added to the samples.
    fn event_kind(e: &RoomEvent) -> &'static str {
        match e {
            RoomEvent::Created { .. } => "created",
            RoomEvent::Joined => "joined",
            RoomEvent::Left => "left",
            RoomEvent::Invited { .. } => "invited",
            RoomEvent::Kicked { .. } => "kicked",
            RoomEvent::Banned { .. } => "banned",
            RoomEvent::Unbanned { .. } => "unbanned",
            RoomEvent::Role { .. } => "role",
            RoomEvent::Topic { .. } => "topic",
            RoomEvent::Title { .. } => "title",
            RoomEvent::Visibility { .. } => "visibility",
            RoomEvent::Deleted { .. } => "deleted",
            RoomEvent::Edited { .. } => "edited",
            RoomEvent::Reacted { .. } => "reacted",
            RoomEvent::Read => "read",
            RoomEvent::ReadThread { .. } => "read_thread",
            RoomEvent::Reply { .. } => "reply",
            RoomEvent::RoomDeleted => "room_deleted",
            RoomEvent::Archived { .. } => "archived",
            RoomEvent::Retention { .. } => "retention",
            RoomEvent::AuthorErased { .. } => "author_erased",
            RoomEvent::File { .. } => "file",
        }
    }

    fn frames() -> Vec<ServerFrame> {
        let msg = Message::sample("r", "n1", 1);
        let nodes = vec![NodeInfo { id: "n1".into(), url: "ws://x".into(), up: true }];
        vec![
            ServerFrame::Welcome { v: 1, node: "n1".into(), name: "a".into(), nodes: nodes.clone() },
            ServerFrame::Joined { room: "r".into(), members: vec!["a".into()] },
            ServerFrame::Message { msg: msg.clone() },
            ServerFrame::Synced { room: "r".into(), vector: msg.vc.clone(), gap: true },
            ServerFrame::Ack { id: "m".into(), msg: msg.clone() },
            ServerFrame::Presence { room: "r".into(), name: "a".into(), online: true },
            ServerFrame::Typing { room: "r".into(), name: "a".into() },
            ServerFrame::History { room: "r".into(), messages: vec![msg.clone()], more: false },
            ServerFrame::Nodes { nodes },
            ServerFrame::Pong,
            ServerFrame::Room { info: RoomInfo { room: "r".into(), title: "R".into(), ..RoomInfo::default() } },
            ServerFrame::Hidden { room: "r".into(), author: "a".into(), from: msg.cursor() },
            ServerFrame::Deleted { room: "r".into(), origin: "n1".into(), seq: 1 },
            ServerFrame::Removed { room: "r".into(), reason: "banned".into() },
            ServerFrame::Profile { profile: crate::profile::Profile { name: "a".into(), ..Default::default() } },
            ServerFrame::Error { code: ErrorCode::Invalid, message: "no".into(), id: Some("m".into()) },
            ServerFrame::Error { code: ErrorCode::NoHello, message: "no".into(), id: None },
        ]
    }

    fn frame_kind(f: &ServerFrame) -> &'static str {
        match f {
            ServerFrame::Welcome { .. } => "welcome",
            ServerFrame::Joined { .. } => "joined",
            ServerFrame::Message { .. } => "message",
            ServerFrame::Synced { .. } => "synced",
            ServerFrame::Ack { .. } => "ack",
            ServerFrame::Presence { .. } => "presence",
            ServerFrame::Typing { .. } => "typing",
            ServerFrame::History { .. } => "history",
            ServerFrame::Nodes { .. } => "nodes",
            ServerFrame::Pong => "pong",
            ServerFrame::Room { .. } => "room",
            ServerFrame::Hidden { .. } => "hidden",
            ServerFrame::Deleted { .. } => "deleted",
            ServerFrame::Removed { .. } => "removed",
            ServerFrame::Error { .. } => "error",
            ServerFrame::Profile { .. } => "profile",
        }
    }

    #[test]
    fn every_variant_decodes_what_the_derived_encoder_wrote() {
        for e in events() {
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(serde_json::from_str::<RoomEvent>(&json).unwrap(), e, "{json}");
        }
        for f in frames() {
            let json = f.to_json();
            assert_eq!(serde_json::from_str::<ServerFrame>(&json).unwrap(), f, "{json}");
        }
        let kinds: BTreeSet<_> = events().iter().map(event_kind).collect();
        assert_eq!(kinds, EVENT_KINDS.iter().copied().collect());
        let kinds: BTreeSet<_> = frames().iter().map(frame_kind).collect();
        assert_eq!(kinds, FRAME_TYPES.iter().copied().collect());
    }

    #[test]
    fn missing_fields_and_unknown_tags_are_errors_that_say_so() {
        let err = |json: &str| serde_json::from_str::<RoomEvent>(json).unwrap_err().to_string();
        assert!(err(r#"{"event":"edited","origin":"n1","seq":1}"#).contains("missing field `body`"));
        assert!(err(r#"{"event":"exploded"}"#).contains("unknown variant `exploded`"));
        assert!(err(r#"{"user":"bob"}"#).contains("missing field `event`"));
        assert!(err(r#"{"event":"kicked","user":7}"#).contains("invalid type"));
        let err = |json: &str| serde_json::from_str::<ServerFrame>(json).unwrap_err().to_string();
        assert!(err(r#"{"type":"synced","room":"r","gap":false}"#).contains("missing field `vector`"));
        assert!(err(r#"{"type":"nope"}"#).contains("unknown variant `nope`"));
        // Optional fields and the defaults of the derived encoding.
        let e: RoomEvent = serde_json::from_str(r#"{"event":"created","private":false}"#).unwrap();
        assert_eq!(e, RoomEvent::Created { title: String::new(), topic: String::new(), private: false, dm: vec![] });
        let e: RoomEvent = serde_json::from_str(r#"{"event":"joined","extra":[1]}"#).unwrap();
        assert_eq!(e, RoomEvent::Joined);
    }
}
