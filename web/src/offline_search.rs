//! Search with no node answering: the query, parsed by the node's own
//! parser (`meshchat_core::query`), matched over the messages this browser
//! holds (the rooms kept for reading offline), newest first. Each message
//! is searched by its current text (the author's latest edit), deleted
//! ones not at all, as the node's index does. Unit-tested natively.

use meshchat_core::query::{Local, parse};
use meshchat_shared::api::SearchHit;
use meshchat_shared::client::annotate::Annotations;
use meshchat_shared::client::{Chat, shown_text};
use meshchat_shared::rooms::is_redacted;

/// Hits shown at most.
pub const MOST: usize = 50;

pub fn search(chat: &Chat, q: &str) -> Result<Vec<SearchHit>, String> {
    let local = Local::new(parse(q).map_err(|e| e.to_string())?);
    let mut hits = Vec::new();
    for room in chat.rooms.values() {
        let notes = Annotations::of(room);
        for m in room.messages().filter(|m| local.admits(&room.name, &m.author, m.ts)) {
            let target = (m.origin.clone(), m.seq);
            if notes.deleted.contains(&target) || is_redacted(&m.body) {
                continue;
            }
            let text = notes.edits.get(&target).map_or_else(|| shown_text(m), |(t, _)| t.clone());
            if let Some(parts) = local.find(&text) {
                let (origin, seq, ts) = (m.origin.clone(), m.seq, m.ts);
                hits.push(SearchHit {
                    room: room.name.clone(),
                    origin,
                    seq,
                    ts,
                    author: m.author.clone(),
                    parts,
                    thread: meshchat_shared::rooms::thread_root(m).map(|(root, _)| root),
                });
            }
        }
    }
    hits.sort_by(|a, b| b.ts.cmp(&a.ts).then_with(|| (&b.origin, b.seq).cmp(&(&a.origin, a.seq))));
    hits.truncate(MOST);
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use meshchat_shared::Message;
    use meshchat_shared::rooms::{RoomEvent, StoredEvent};

    use super::*;

    fn msg(room: &str, seq: u64, author: &str, id: &str, body: &str) -> Message {
        Message {
            id: id.into(),
            author: author.into(),
            body: body.into(),
            ts: 1_000 + seq,
            ..Message::sample(room, "n1", seq)
        }
    }

    fn event(room: &str, seq: u64, author: &str, e: RoomEvent) -> Message {
        let body = serde_json::to_string(&StoredEvent::new(e)).unwrap();
        msg(room, seq, author, &format!("§e{seq}"), &body)
    }

    fn found(chat: &Chat, q: &str) -> Vec<(String, u64)> {
        search(chat, q).unwrap().into_iter().map(|h| (h.room, h.seq)).collect()
    }

    #[test]
    fn kept_messages_are_found_by_their_current_text_newest_first() {
        let mut chat = Chat::new("alice", &["general".to_owned(), "ops".to_owned()], Some("general"));
        let general = chat.rooms.get_mut("general").unwrap();
        general.insert(msg("general", 1, "bob", "a", "deploy on friday"));
        general.insert(msg("general", 2, "bob", "b", "lunch first"));
        // bob's edit makes message 2 about deploying; alice's reply too.
        general.insert(event(
            "general",
            3,
            "bob",
            RoomEvent::Edited { origin: "n1".into(), seq: 2, body: "deploy after lunch".into() },
        ));
        general.insert(event(
            "general",
            4,
            "alice",
            RoomEvent::Reply { origin: "n1".into(), seq: 1, body: "deploy it".into(), thread: false, also: false },
        ));
        // Deleted: gone from search.
        general.insert(msg("general", 5, "bob", "c", "deploy secrets"));
        general.insert(event("general", 6, "bob", RoomEvent::Deleted { origin: "n1".into(), seq: 5 }));
        chat.rooms.get_mut("ops").unwrap().insert(msg("ops", 1, "carol", "d", "Deploying the fix"));
        assert_eq!(
            found(&chat, "deplo"),
            [("general".into(), 4), ("general".into(), 2), ("general".into(), 1), ("ops".into(), 1)]
        );
        assert_eq!(found(&chat, "\"deploy\" in:ops"), Vec::<(String, u64)>::new(), "ops has Deploying, not deploy");
        assert_eq!(found(&chat, "deploy in:ops"), [("ops".into(), 1)], "the last word, a prefix");
        assert_eq!(found(&chat, "deploy from:ALICE"), [("general".into(), 4)]);
        assert!(found(&chat, "secrets").is_empty());
        assert!(search(&chat, "from:bob").is_err(), "no words: the node's own refusal");
    }
}
