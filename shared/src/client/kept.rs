//! A room as a browser keeps it across reloads and outages (the web app
//! stores it in IndexedDB): its newest messages and the vector it had come
//! to, so the app opens with its history when no node answers, and resumes
//! from that vector once one does (a resume sends only what is newer, and
//! a view keeps one message per key: nothing is shown twice).

use serde::{Deserialize, Serialize};

use super::Chat;
use super::room::{Entry, RoomView};
use crate::{Message, RoomVector};

/// Messages kept per room: a screenful and more, bounded.
pub const KEPT_MESSAGES: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptRoom {
    pub room: String,
    pub vector: RoomVector,
    /// The newest messages, oldest first.
    pub messages: Vec<Message>,
    /// Older messages may exist before the first kept.
    pub more: bool,
}

impl RoomView {
    /// What to keep of this room.
    pub fn kept(&self) -> KeptRoom {
        let mut messages: Vec<Message> = self
            .entries()
            .rev()
            .filter_map(|(_, e)| match e {
                Entry::Msg(m) => Some(m.clone()),
                Entry::Presence { .. } => None,
            })
            .take(KEPT_MESSAGES)
            .collect();
        messages.reverse();
        let more = self.more || self.message_count() > messages.len();
        KeptRoom { room: self.name.clone(), vector: self.vector.clone(), messages, more }
    }
}

impl Chat {
    /// Puts a kept room back, before any node answers. A message that is
    /// not of this room, or whose place in the log is malformed, is left
    /// out (the store is this page's own: what it shows is text, never
    /// markup, like everything a node sends).
    pub fn restore_kept(&mut self, kept: KeptRoom) {
        if crate::limits::validate_room(&kept.room).is_err() {
            return;
        }
        let r = self.rooms.entry(kept.room.clone()).or_insert_with(|| RoomView::new(&kept.room));
        if r.message_count() > 0 {
            // A node has spoken already: its word is newer.
            return;
        }
        let fit = |m: &Message| m.room == kept.room && m.seq > 0 && m.vc.get(&m.origin) == m.seq;
        for m in kept.messages.into_iter().filter(fit).take(KEPT_MESSAGES) {
            r.insert(m);
        }
        r.adopt_vector(&kept.vector);
        r.more = kept.more;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(seq: u64) -> Message {
        Message { ts: 1_000 + seq, id: format!("m{seq}"), ..Message::sample("general", "n1", seq) }
    }

    #[test]
    fn a_kept_room_comes_back_bounded_and_resumes_from_its_vector() {
        let mut chat = Chat::new("alice", &["general".to_owned()], Some("general"));
        let r = chat.rooms.get_mut("general").unwrap();
        for s in 1..=300 {
            r.insert(msg(s));
            r.absorb("n1", s);
        }
        r.more = false;
        let kept = r.kept();
        assert_eq!(kept.messages.len(), KEPT_MESSAGES);
        assert_eq!(kept.messages[0].seq, 101);
        assert!(kept.more, "older messages exist than those kept");
        let json = serde_json::to_string(&kept).unwrap();

        let mut again = Chat::new("alice", &["general".to_owned()], Some("general"));
        again.restore_kept(serde_json::from_str(&json).unwrap());
        let r = &again.rooms["general"];
        assert_eq!(r.message_count(), KEPT_MESSAGES);
        assert_eq!(r.vector.get("n1"), 300, "the resume starts after what was seen");
        // A message the node sends again is shown once.
        let mut r = r.clone();
        assert!(!r.insert(msg(300)));
    }

    #[test]
    fn a_kept_room_with_a_bad_name_or_message_is_left_out() {
        let mut chat = Chat::new("alice", &[], None);
        let mut bad =
            KeptRoom { room: "no spaces allowed".into(), vector: RoomVector::new(), messages: vec![], more: true };
        chat.restore_kept(bad.clone());
        assert!(chat.rooms.is_empty());
        bad.room = "general".into();
        bad.messages = vec![Message { room: "elsewhere".into(), ..msg(1) }, msg(2)];
        chat.restore_kept(bad);
        assert_eq!(chat.rooms["general"].message_count(), 1);
    }
}
