//! Who is in the room: joins with their backlog, leaves, presence across
//! the mesh, typing.

use std::collections::BTreeSet;
use std::sync::Arc;

use meshchat_shared::frames::encode;
use meshchat_shared::limits::BACKLOG;
use meshchat_shared::{RoomVector, ServerFrame};

use super::CatchUp;
use super::actor::{Member, Room};
use crate::clock::now_ms;
use crate::conn::{ConnHandle, ConnId, Frame};
use crate::repl::Change;

impl Room {
    pub(super) async fn on_join(&mut self, conn: ConnHandle, since: Option<RoomVector>) {
        let catch = self.catch_up(since.as_ref()).await;
        let id = conn.id();
        let rejoin = self.members.contains_key(&id);
        let name = conn.name_arc();
        let change = if rejoin { None } else { self.local_join(&name) };
        let mut frames = Vec::with_capacity(catch.messages.len() + 2);
        let members = self.presence.online().into_iter().collect();
        frames.push(Frame::from(ServerFrame::Joined { room: self.name.to_string(), members }.to_json()));
        frames.extend(catch.messages.iter().map(|m| Frame::from(encode::message(m))));
        let synced = ServerFrame::Synced { room: self.name.to_string(), vector: catch.vector.clone(), gap: catch.gap };
        frames.push(Frame::from(synced.to_json()));
        let skip = since.filter(|s| !catch.gap && !self.committed.dominates(s));
        let accepted = conn.push_many(frames);
        self.members.insert(id, Member { conn, skip });
        if !accepted {
            self.remove_member(id);
            return;
        }
        if let Some(c) = change {
            self.announce(c, Some(id));
        }
        if !self.touched {
            self.ctx.store.touch(&self.name);
            self.touched = true;
        }
        self.publish_status();
    }

    /// Counts a connection of `name` in; tells peers about a first one.
    fn local_join(&mut self, name: &str) -> Option<Change> {
        let (first_here, change) = self.presence.local_join(name);
        if first_here {
            if let Some(mesh) = &self.ctx.mesh {
                mesh.presence(&self.name, name, true);
            }
            self.publish_local_names();
        }
        change
    }

    pub(super) fn remove_member(&mut self, id: ConnId) {
        let Some(member) = self.members.remove(&id) else {
            return;
        };
        let name = member.conn.name_arc();
        let (last_here, change) = self.presence.local_leave(&name);
        if last_here {
            // A node that is stopping says goodbye instead: its users are
            // moving to other nodes, and peers give them a grace period.
            if let Some(mesh) = &self.ctx.mesh
                && !self.ctx.shutdown.is_cancelled()
            {
                mesh.presence(&self.name, &name, false);
            }
            self.publish_local_names();
        }
        if let Some(c) = change {
            self.announce(c, None);
        }
        self.publish_status();
    }

    pub(super) fn on_typing(&mut self, conn: ConnId) {
        let Some(name) = self.members.get(&conn).map(|m| m.conn.name_arc()) else {
            return;
        };
        self.on_peer_typing(&name);
        if let Some(mesh) = &self.ctx.mesh {
            mesh.typing(&self.name, &name);
        }
    }

    /// Shows `name` typing to everyone here but that name's own connections.
    pub(super) fn on_peer_typing(&mut self, name: &str) {
        self.broadcast(Frame::from(encode::typing(&self.name, name)), |m| m.conn.name() != name);
    }

    pub(super) fn on_peer_presence(&mut self, peer: &str, names: BTreeSet<String>) {
        for c in self.presence.peer_set(peer, names) {
            self.announce(c, None);
        }
        self.publish_status();
    }

    pub(super) fn on_peer_presence_update(&mut self, peer: &str, name: &str, online: bool) {
        if let Some(c) = self.presence.peer_update(peer, name, online) {
            self.announce(c, None);
        }
        self.publish_status();
    }

    pub(super) fn on_grace_over(&mut self) {
        for c in self.presence.tick(now_ms()) {
            self.announce(c, None);
        }
        self.publish_status();
    }

    /// Tells the members here that a name came or went.
    fn announce(&mut self, change: Change, except: Option<ConnId>) {
        let (name, online) = match &change {
            Change::Online(n) => (n, true),
            Change::Offline(n) => (n, false),
        };
        let frame = Frame::from(encode::presence(&self.name, name, online));
        self.broadcast(frame, |m| Some(m.conn.id()) != except);
    }

    fn publish_local_names(&self) {
        let names = self.presence.local_names().map(str::to_owned).collect();
        self.ctx.index.set_local_names(&self.name, names);
    }

    /// Queues `frame` to the members `to` selects; drops those that cannot take it.
    pub(super) fn broadcast(&mut self, frame: Frame, to: impl Fn(&Member) -> bool) {
        let dead: Vec<ConnId> = self
            .members
            .iter()
            .filter(|(_, m)| to(m))
            .filter(|(_, m)| !m.conn.push(frame.clone()))
            .map(|(id, _)| *id)
            .collect();
        for id in dead {
            self.remove_member(id);
        }
    }

    /// What a client holding `since` lacks (the latest messages without it).
    pub(super) async fn catch_up(&self, since: Option<&RoomVector>) -> CatchUp {
        let latest = |gap| CatchUp { messages: self.cache.latest(BACKLOG), vector: self.committed.clone(), gap };
        let Some(since) = since else {
            return latest(false);
        };
        let mut vector = self.committed.clone();
        vector.merge(since);
        let missing = since.missing_from(&self.committed);
        if missing == 0 {
            return CatchUp { messages: Vec::new(), vector, gap: false };
        }
        if missing > self.ctx.config.catchup_limit {
            return latest(true);
        }
        if let Some(messages) = self.cache.since(since, &self.committed) {
            return CatchUp { messages, vector, gap: false };
        }
        match self.ctx.store.missing(&self.name, since.clone(), self.committed.clone()).await {
            Ok(msgs) => CatchUp { messages: msgs.into_iter().map(Arc::new).collect(), vector, gap: false },
            Err(e) => {
                tracing::warn!(room = %self.name, error = %e, "catch-up read failed; sending the latest");
                latest(true)
            }
        }
    }
}
