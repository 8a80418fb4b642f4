//! What happened to each message of a room: its latest edit, whether it
//! was deleted, who reacted with what. Folded from the room's events in
//! room order, so every client shows the same whatever order they came in.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::rooms::{RoomEvent, is_event_id};

use super::room::RoomView;

/// A message by its place in the log.
pub type Target = (String, u64);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotations {
    /// The latest text its author gave it, and when.
    pub edits: HashMap<Target, (String, u64)>,
    pub deleted: HashSet<Target>,
    /// Emoji → who reacted so.
    pub reactions: HashMap<Target, BTreeMap<String, BTreeSet<String>>>,
    /// Each person's read marker: where their latest `read` is.
    pub read: HashMap<String, crate::Cursor>,
    /// Each person's read marker in each thread: (person, root) → where
    /// their latest `read_thread` is.
    pub read_threads: HashMap<(String, Target), crate::Cursor>,
    /// The threads of root messages: their replies as they stand.
    pub threads: HashMap<Target, Thread>,
    /// Deleted replies of threads, by the root of theirs (the delete's
    /// `in_thread` mark: their text is gone, their tombstone is there).
    pub deleted_in: HashMap<Target, Target>,
}

/// The marks of a stored event a client reads (the rest is the event).
#[derive(serde::Deserialize)]
struct Marks {
    #[serde(default)]
    in_thread: Option<Target>,
}

/// A thread as its root shows it: how many replies, the last one's time,
/// who took part (first replies first), and the replies in room order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Thread {
    pub last: u64,
    pub people: Vec<String>,
    pub replies: Vec<Target>,
}

impl Annotations {
    /// Folds the events of `room` (as it holds them) in room order.
    pub fn of(room: &RoomView) -> Annotations {
        Annotations::from(room, None)
    }

    /// Folds the events from `from` on: what a view of the entries from
    /// there needs (an event comes after what it names), at the cost of
    /// those entries only.
    pub fn from(room: &RoomView, from: Option<&crate::Cursor>) -> Annotations {
        let mut a = Annotations::default();
        let events = room.entries_from(from).filter_map(|(_, e)| match e {
            super::room::Entry::Msg(m) if is_event_id(&m.id) => Some(m),
            _ => None,
        });
        for m in events {
            // (The node's marks, `admin` and `own`, are not the client's concern.)
            let Ok(event) = serde_json::from_str::<RoomEvent>(&m.body) else { continue };
            // A reply or a file in a thread: its root shows it.
            if let Some(((origin, seq), _)) = event.thread() {
                let t = a.threads.entry((origin.to_owned(), seq)).or_default();
                t.last = t.last.max(m.ts);
                if !t.people.contains(&m.author) {
                    t.people.push(m.author.clone());
                }
                t.replies.push((m.origin.clone(), m.seq));
            }
            match event {
                RoomEvent::Edited { origin, seq, body } => {
                    let t = (origin, seq);
                    // Only its author edits a message (the node checked;
                    // a client checks again with what it holds).
                    if room.get(&t.0, t.1).is_some_and(|o| o.author == m.author) {
                        a.edits.insert(t, (body, m.ts));
                    }
                }
                RoomEvent::Deleted { origin, seq } => {
                    if let Some(root) = serde_json::from_str::<Marks>(&m.body).ok().and_then(|k| k.in_thread) {
                        a.deleted_in.insert((origin.clone(), seq), root);
                    }
                    a.deleted.insert((origin, seq));
                }
                RoomEvent::Reacted { origin, seq, emoji, on } => {
                    let who = a.reactions.entry((origin, seq)).or_default().entry(emoji.clone()).or_default();
                    if on {
                        who.insert(m.author.clone());
                    } else {
                        who.remove(&m.author);
                    }
                }
                RoomEvent::Read => {
                    a.read.insert(m.author.clone(), m.cursor());
                }
                RoomEvent::ReadThread { origin, seq } => {
                    a.read_threads.insert((m.author.clone(), (origin, seq)), m.cursor());
                }
                _ => {}
            }
        }
        for r in a.reactions.values_mut() {
            r.retain(|_, who| !who.is_empty());
        }
        for t in a.threads.values_mut() {
            t.replies.retain(|r| !a.deleted.contains(r));
        }
        a
    }
}

/// `who`'s read marker in `room`: where their latest `read` is. From the
/// newest entry back, so it costs what lies after the marker, not the room.
pub fn read_marker(room: &RoomView, who: &str) -> Option<crate::Cursor> {
    room.entries().rev().find_map(|(_, e)| match e {
        super::room::Entry::Msg(m) if m.author == who && crate::rooms::is_read_marker(m) => Some(m.cursor()),
        _ => None,
    })
}

/// What an event message is to a client: a reply (a message), something
/// done to another message (not shown by itself), or a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    Reply {
        to: Target,
        body: String,
        /// In the thread of `to`, not the room; `also`: in the room too.
        thread: bool,
        also: bool,
    },
    /// A shared file, shown as a message.
    File(FileRef),
    Annotation,
    Notice(String),
}

/// A file as a message shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    pub hash: String,
    pub name: String,
    pub size: u64,
    pub mime: String,
    /// Words that came with it.
    pub body: String,
    /// Shared in the thread of this root, not the room.
    pub thread: Option<Target>,
}

impl FileRef {
    /// Shown in the page as a picture (a thumbnail the node makes).
    pub fn is_image(&self) -> bool {
        crate::rooms::is_inline_image(&self.mime)
    }

    /// Where the node serves it, relative to its HTTP base.
    pub fn url(&self, room: &str, thumb: bool) -> String {
        format!("/api/rooms/{room}/files/{}{}", self.hash, if thumb { "?thumb=1" } else { "" })
    }
}

/// Reads an event message as a client shows it.
pub fn kind(author: &str, body: &str) -> EventKind {
    match serde_json::from_str::<RoomEvent>(body) {
        Ok(RoomEvent::Reply { origin, seq, body, thread, also }) => {
            EventKind::Reply { to: (origin, seq), body, thread, also }
        }
        Ok(RoomEvent::File { hash, name, size, mime, body, thread }) => {
            let thread = thread.map(|r| (r.origin, r.seq));
            EventKind::File(FileRef { hash, name, size, mime, body, thread })
        }
        Ok(
            RoomEvent::Edited { .. }
            | RoomEvent::Reacted { .. }
            | RoomEvent::Deleted { .. }
            | RoomEvent::Read
            | RoomEvent::ReadThread { .. },
        ) => EventKind::Annotation,
        Ok(e) => EventKind::Notice(crate::rooms::describe(author, &e)),
        // A node that did not send it as it is wrote the notice already.
        Err(_) => EventKind::Notice(body.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;
    use crate::rooms::StoredEvent;

    fn event(origin: &str, seq: u64, ts: u64, author: &str, e: RoomEvent) -> Message {
        Message {
            id: format!("§{origin}{seq}"),
            author: author.into(),
            body: serde_json::to_string(&StoredEvent::new(e)).unwrap(),
            ts,
            ..Message::sample("r", origin, seq)
        }
    }

    fn msg(origin: &str, seq: u64, ts: u64, author: &str) -> Message {
        Message { ts, author: author.into(), ..Message::sample("r", origin, seq) }
    }

    #[test]
    fn edits_by_the_author_only_deletes_and_reactions_toggle() {
        let mut r = RoomView::new("r");
        r.insert(msg("n1", 1, 10, "alice"));
        let edit = |seq, ts, who: &str, body: &str| {
            event("n2", seq, ts, who, RoomEvent::Edited { origin: "n1".into(), seq: 1, body: body.into() })
        };
        r.insert(edit(1, 20, "alice", "first fix"));
        r.insert(edit(2, 30, "mallory", "forged"));
        let react = |seq, ts, who: &str, on| {
            event("n3", seq, ts, who, RoomEvent::Reacted { origin: "n1".into(), seq: 1, emoji: "🎉".into(), on })
        };
        r.insert(react(1, 40, "bob", true));
        r.insert(react(2, 41, "carol", true));
        r.insert(react(3, 42, "bob", false));
        let a = Annotations::of(&r);
        assert_eq!(a.edits[&("n1".to_owned(), 1)], ("first fix".to_owned(), 20));
        let who: Vec<&str> = a.reactions[&("n1".to_owned(), 1)]["🎉"].iter().map(String::as_str).collect();
        assert_eq!(who, ["carol"]);
        r.insert(event("n2", 3, 50, "alice", RoomEvent::Deleted { origin: "n1".into(), seq: 1 }));
        assert!(Annotations::of(&r).deleted.contains(&("n1".to_owned(), 1)));
    }

    /// Property: whatever order messages and their events arrive in, the
    /// room shows the same.
    #[test]
    fn any_arrival_order_gives_the_same_annotations() {
        let mut seed = 7u64;
        let mut next = move |n: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        for _ in 0..200 {
            let people = ["alice", "bob", "carol"];
            let mut all = vec![msg("n1", 1, 10, "alice"), msg("n2", 1, 11, "bob")];
            for i in 0..next(25) + 5 {
                let (origin, seq, ts) = ("n3", i + 1, 20 + next(50));
                let who = people[next(3) as usize];
                let target = if next(2) == 0 { ("n1", 1) } else { ("n2", 1) };
                let (o, s) = (target.0.to_owned(), target.1);
                let e = match next(3) {
                    0 => RoomEvent::Edited { origin: o, seq: s, body: format!("v{i}") },
                    1 => RoomEvent::Reacted {
                        origin: o,
                        seq: s,
                        emoji: ["👍", "🎉"][next(2) as usize].into(),
                        on: next(3) > 0,
                    },
                    _ => RoomEvent::Deleted { origin: o, seq: s },
                };
                all.push(event(origin, seq, ts, who, e));
            }
            let mut a = RoomView::new("r");
            for m in &all {
                a.insert(m.clone());
            }
            let mut shuffled = all.clone();
            for i in (1..shuffled.len()).rev() {
                shuffled.swap(i, next(i as u64 + 1) as usize);
            }
            let mut b = RoomView::new("r");
            for m in shuffled {
                b.insert(m);
            }
            assert_eq!(Annotations::of(&a), Annotations::of(&b));
        }
    }

    #[test]
    fn event_messages_read_as_replies_annotations_or_notices() {
        let reply = serde_json::to_string(&StoredEvent::new(RoomEvent::Reply {
            origin: "n1".into(),
            seq: 4,
            body: "agreed".into(),
            thread: false,
            also: false,
        }))
        .unwrap();
        let to = ("n1".into(), 4);
        assert_eq!(kind("bob", &reply), EventKind::Reply { to, body: "agreed".into(), thread: false, also: false });
        let topic = serde_json::to_string(&StoredEvent::new(RoomEvent::Topic { topic: "t".into() })).unwrap();
        assert_eq!(kind("bob", &topic), EventKind::Notice("bob set the topic: t".into()));
        assert_eq!(kind("bob", "bob joined"), EventKind::Notice("bob joined".into()));
    }
}
