//! What a message of a room's log must be, wherever it was made.
//!
//! The origin checks what it is about to give a place in the log with
//! [`validate_content`]; every node checks what a peer sends it with
//! [`validate_stored`], which calls the same function. So an origin can
//! never store what its peers refuse: a refused message would hold back
//! every later message of its origin in that room, on every other node,
//! for good.

use crate::Message;
use crate::limits::{self, Invalid};
use crate::rooms::{REDACTED, RoomEvent, StoredEvent, is_event_id};

/// An event's stored body (its JSON): room for the longest event a client
/// may ask for, a 4,000-character reply every character of which JSON
/// escapes (`\u001f`: 6 bytes), with its fields.
pub const MAX_EVENT_BYTES: usize = 6 * limits::MAX_BODY_CHARS + 4096;

/// The author, id and body of a message: an ordinary message's text (the
/// client rules), a deleted one's mark, or an event the rules of its kind
/// allow. An event of a kind this version does not know (a newer node's)
/// is taken if it is a bounded JSON object: a mesh upgrades one node at a
/// time.
pub fn validate_content(author: &str, id: &str, body: &str) -> Result<(), Invalid> {
    limits::validate_name(author)?;
    limits::validate_mesh_msg_id(id)?;
    if let Some(hash) = body.strip_prefix(REDACTED) {
        return if hash.len() <= 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(())
        } else {
            Err(Invalid::Other("a deleted message keeps only its hash".into()))
        };
    }
    if !is_event_id(id) {
        return limits::validate_body(body);
    }
    if body.len() > MAX_EVENT_BYTES {
        return Err(Invalid::Other("an event is too large".into()));
    }
    match serde_json::from_str::<StoredEvent>(body) {
        Ok(StoredEvent { event, .. }) => event.validate(),
        Err(_) if unknown_kind(body) => Ok(()),
        Err(_) => Err(Invalid::Other("an event must be one this version knows, or a newer kind".into())),
    }
}

/// A JSON object whose `event` names no kind this version knows.
fn unknown_kind(body: &str) -> bool {
    let Ok(serde_json::Value::Object(o)) = serde_json::from_str::<serde_json::Value>(body) else { return false };
    o.get("event").and_then(|e| e.as_str()).is_some_and(|kind| !RoomEvent::KINDS.contains(&kind))
}

/// A message as a peer hands it over for `room`: its place in the log
/// (origin, seq, vector clock) well formed, and its content as above.
pub fn validate_stored(m: &Message, room: &str) -> Result<(), Invalid> {
    let placed = m.room == room
        && m.seq > 0
        && limits::validate_node_id(&m.origin).is_ok()
        && m.vc.validate().is_ok()
        && m.vc.get(&m.origin) == m.seq;
    if !placed {
        return Err(Invalid::Other("a message's place in the log is malformed".into()));
    }
    validate_content(&m.author, &m.id, &m.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(body: &str) -> String {
        let e = StoredEvent::new(RoomEvent::Reply {
            origin: "n1".into(),
            seq: 1,
            body: body.into(),
            thread: false,
            also: false,
        });
        serde_json::to_string(&e).unwrap()
    }

    #[test]
    fn a_reply_of_the_longest_text_escaped_throughout_is_an_event_peers_take() {
        for text in ["x".repeat(4000), "\u{1f}".repeat(4000), "\"".repeat(4000), "\n".repeat(3999) + "x"] {
            let body = reply(&text);
            assert!(body.chars().count() > limits::MAX_BODY_CHARS, "longer than a message may be");
            assert_eq!(validate_content("alice", "§r1", &body), Ok(()));
        }
        assert!(validate_content("alice", "§r1", &reply(&"x".repeat(4001))).is_err());
    }

    #[test]
    fn events_of_newer_kinds_are_taken_unknown_shapes_are_not() {
        assert_eq!(validate_content("alice", "§x", r#"{"event":"pinned","origin":"n1","seq":3}"#), Ok(()));
        assert!(validate_content("alice", "§x", r#"{"event":"topic"}"#).is_err(), "a known kind, malformed");
        assert!(validate_content("alice", "§x", "not json").is_err());
        let big = format!(r#"{{"event":"pinned","pad":"{}"}}"#, "x".repeat(MAX_EVENT_BYTES));
        assert!(validate_content("alice", "§x", &big).is_err());
    }

    #[test]
    fn deleted_messages_keep_only_their_hash() {
        assert_eq!(validate_content("alice", "m1", &format!("{REDACTED}{}", "ab".repeat(32))), Ok(()));
        assert!(validate_content("alice", "m1", &format!("{REDACTED}secret words")).is_err());
    }
}
