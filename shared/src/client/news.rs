//! What is news: a live message of someone else counted unread and told
//! (an alert for a notification), and what came while moving to another
//! node counted the same way ([`read::news`] decides, for both).

use super::room::RoomView;
use super::{Chat, read, shown_text};
use crate::Message;

/// At most this many alerts wait to be taken.
pub const MAX_ALERTS: usize = 50;

/// A live message from someone else, for a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub room: String,
    pub author: String,
    pub text: String,
    /// It mentions this user.
    pub mention: bool,
    /// The message's place: `(origin, seq)`.
    pub at: (String, u64),
}

impl Chat {
    pub(super) fn on_message(&mut self, msg: Message) {
        let current = self.current.clone();
        let Some(r) = self.rooms.get_mut(&msg.room) else {
            return;
        };
        r.stop_typing(&msg.author);
        // One of ours, acked on a connection we lost, seen again here.
        if msg.author == self.name {
            r.remove_pending(&msg.id);
        }
        if r.backlog_push(msg.clone()) {
            return;
        }
        r.absorb(&msg.origin, msg.seq);
        // My own read marker, from another tab or device: what it covers
        // is read here too.
        let my_read = msg.author == self.name && crate::rooms::is_read_marker(&msg);
        let room_name = msg.room.clone();
        // News (counted, told), and told as a mention is: read::news.
        let news = read::news(r, &msg, &self.name, &mut Default::default());
        let theirs = news.is_some();
        let unread = current.as_deref() != Some(msg.room.as_str()) && theirs;
        let mentioned = news == Some(true);
        let alert = Alert {
            room: msg.room.clone(),
            author: msg.author.clone(),
            text: shown_text(&msg),
            mention: mentioned,
            at: (msg.origin.clone(), msg.seq),
        };
        if r.insert(msg) && theirs {
            if !alert.text.is_empty() {
                self.alerts.push(alert);
                if self.alerts.len() > MAX_ALERTS {
                    self.alerts.remove(0);
                }
            }
            self.fresh += 1;
            if mentioned {
                self.fresh_mentions += 1;
            }
            if unread {
                r.unread += 1;
                if mentioned {
                    r.mentioned += 1;
                }
            }
        }
        if my_read {
            self.recount(&room_name);
        }
    }

    /// The live messages from others since the last call (for notifications).
    pub fn take_alerts(&mut self) -> Vec<Alert> {
        std::mem::take(&mut self.alerts)
    }

    /// How many live messages from others that mention this user arrived
    /// since the last call (for notifications).
    pub fn take_fresh_mentions(&mut self) -> u32 {
        std::mem::take(&mut self.fresh_mentions)
    }

    /// How many live messages from others arrived since the last call.
    pub fn take_fresh(&mut self) -> u32 {
        std::mem::take(&mut self.fresh)
    }
}

/// What came while away (the backlog of a resume, `added` in room order),
/// counted as it would have been live: events and others' threads are
/// not news.
pub(super) fn count_resumed(r: &mut RoomView, added: &[(String, u64)], me: &str) {
    let mut follows = Default::default();
    for (origin, seq) in added {
        let Some(m) = r.get(origin, *seq) else { continue };
        if let Some(told) = read::news(r, m, me, &mut follows) {
            r.unread += 1;
            r.mentioned += u32::from(told);
        }
    }
}
