//! What the simulated clients do: post (and resend), join, leave, and, in
//! a governed run, alice's moderation of "general".

use meshchat_shared::RoomVector;
use rand::Rng;

use super::node::{Member, Sent};
use super::{AUTHORS, ROOMS, Sim};
use crate::{ConnId, Input};

impl Sim {
    /// A client posts to node `at`: new, or a resend of an earlier one
    /// (possibly first sent to another node), through a joined connection
    /// when there is one.
    pub(super) fn client_send(&mut self, at: usize) {
        let resend = !self.sends.is_empty() && self.rng.random_bool(0.15);
        let (room, author, id, body) = if resend {
            let i = self.rng.random_range(0..self.sends.len());
            self.stat("resends");
            self.sends[i].clone()
        } else {
            self.next_id += 1;
            let room = ROOMS[self.rng.random_range(0..ROOMS.len())].to_owned();
            let author = AUTHORS[self.rng.random_range(0..AUTHORS.len())].to_owned();
            let s = (room, author, format!("m{}", self.next_id), format!("body {}", self.next_id));
            self.sends.push(s.clone());
            s
        };
        let conn = self.nodes[at]
            .members
            .iter()
            .find(|(_, m)| m.room == room && m.name == author && m.synced.is_some())
            .map(|(c, _)| *c);
        self.next_conn += 1;
        let req = self.next_conn;
        self.nodes[at]
            .sent
            .insert((room.clone(), req), Sent { room: room.clone(), author: author.clone(), id: id.clone(), conn });
        self.input(at, &room, Input::Send { req, conn, author: author.into(), id, body });
    }

    /// Alice creates "general" (`create`), or acts in it: bans, unbans,
    /// kicks, invites, makes moderators, deletes a message.
    pub(super) fn moderate(&mut self, at: usize, create: bool) {
        use meshchat_shared::rooms::{RoomEvent, RoomRole, StoredEvent};
        self.created = true;
        let user = AUTHORS[self.rng.random_range(1..AUTHORS.len())].to_owned();
        let event = if create {
            RoomEvent::Created { title: String::new(), topic: String::new(), private: false, dm: Vec::new() }
        } else {
            match self.rng.random_range(0..9) {
                0 => RoomEvent::Banned { user, reason: String::new() },
                1 => RoomEvent::Unbanned { user },
                2 => RoomEvent::Kicked { user, reason: String::new() },
                3 => RoomEvent::Invited { user },
                4 => RoomEvent::Role { user, role: RoomRole::Moderator },
                5 => match self
                    .acked
                    .iter()
                    .rfind(|((r, _, _), m)| r == "general" && m.author == "alice" && !m.id.starts_with('§'))
                {
                    Some(((_, origin, seq), _)) => {
                        RoomEvent::Edited { origin: origin.clone(), seq: *seq, body: format!("edit {}", self.next_id) }
                    }
                    None => return,
                },
                6 => match self.acked.keys().rfind(|(r, _, _)| r == "general").cloned() {
                    Some((_, origin, seq)) => {
                        RoomEvent::Reacted { origin, seq, emoji: "🎉".into(), on: self.rng.random_bool(0.7) }
                    }
                    None => return,
                },
                7 => RoomEvent::Archived { archived: self.rng.random_bool(0.5) },
                _ => match self.acked.keys().rfind(|(r, _, _)| r == "general").cloned() {
                    Some((_, origin, seq)) => RoomEvent::Deleted { origin, seq },
                    None => return,
                },
            }
        };
        self.next_id += 1;
        let id = format!("§e{}", self.next_id);
        // Alice's edits are of her own messages (the node checked).
        let own = matches!(event, RoomEvent::Edited { .. });
        let body = serde_json::to_string(&StoredEvent { event, admin: false, own, in_thread: None }).unwrap();
        self.next_conn += 1;
        let req = self.next_conn;
        let (room, author) = ("general".to_owned(), "alice".to_owned());
        self.nodes[at].sent.insert(
            (room.clone(), req),
            Sent { room: room.clone(), author: author.clone(), id: id.clone(), conn: None },
        );
        self.stat("moderations");
        self.input(at, &room, Input::Send { req, conn: None, author: author.into(), id, body });
    }

    /// A connection joins a room at `at`: fresh, or resuming from a vector
    /// some connection held (on any node).
    pub(super) fn client_join(&mut self, at: usize) {
        let room = ROOMS[self.rng.random_range(0..ROOMS.len())].to_owned();
        let name = AUTHORS[self.rng.random_range(0..AUTHORS.len())].to_owned();
        let since = if self.rng.random_bool(0.4) {
            let held: Vec<&RoomVector> = self.resumes.iter().filter(|(r, _)| *r == room).map(|(_, v)| v).collect();
            (!held.is_empty()).then(|| held[self.rng.random_range(0..held.len())].clone())
        } else {
            None
        };
        self.next_conn += 1;
        let conn = self.next_conn;
        let member = Member {
            room: room.clone(),
            name: name.clone(),
            base: since.clone(),
            joined: false,
            synced: None,
            gap: false,
            backlog: Vec::new(),
            live: Vec::new(),
            acked: Vec::new(),
            out: false,
        };
        self.nodes[at].members.insert(conn, member);
        self.stat("joins");
        self.input(at, &room, Input::Join { conn, name: name.into(), since });
    }

    pub(super) fn client_leave(&mut self, at: usize) {
        let conns: Vec<ConnId> = self.nodes[at].members.keys().copied().collect();
        if conns.is_empty() {
            return;
        }
        let conn = conns[self.rng.random_range(0..conns.len())];
        let m = self.nodes[at].members.remove(&conn).expect("member");
        if let Some(v) = m.synced {
            self.resumes.push((m.room.clone(), v));
        }
        // A client leaves, or its connection just ends (its name lingers).
        let input = if self.rng.random_bool(0.5) { Input::Gone { conn } } else { Input::Leave { conn } };
        self.input(at, &m.room, input);
    }
}
