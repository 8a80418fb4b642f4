//! Local sends: idempotency, the commit pipeline, acks and fan-out.

use std::sync::Arc;

use meshchat_shared::frames::encode;
use meshchat_shared::{ErrorCode, Message, ServerFrame};

use super::AckTo;
use super::actor::Room;
use crate::clock::now_ms;
use crate::conn::{ConnId, Frame};
use crate::store::{StoreError, Stored, idem_hash};

impl Room {
    pub(super) async fn on_send(&mut self, to: AckTo, author: Arc<str>, id: String, body: String) {
        let key = (author, id);
        if let Some(waiters) = self.inflight.get_mut(&key) {
            waiters.push(to);
            return;
        }
        let (author, id) = key;
        let hash = idem_hash(&author, &id);
        if self.ids.contains(&hash) {
            match self.find_visible(&author, &id).await {
                Ok(Some(original)) => return ack(to, &original),
                Ok(None) => {} // a hash collision: it is new after all
                Err(e) => {
                    tracing::warn!(room = %self.name, error = %e, "idempotency lookup failed");
                    return refuse(to, ErrorCode::Unavailable, &id);
                }
            }
        }
        if self.broken {
            return refuse(to, ErrorCode::Unavailable, &id);
        }
        let msg = Arc::new(self.core.accept_local(&author, &id, &body, now_ms()));
        match self.ctx.store.append(vec![Stored { msg: msg.clone(), hidden: false }]).await {
            Ok(done) => {
                self.ids.insert(hash);
                let key = (author, id);
                self.uncommitted.insert(key.clone(), msg.clone());
                self.inflight.insert(key, vec![to]);
                self.commits.push_back(super::actor::PendingCommit { msgs: vec![Stored { msg, hidden: false }], done });
                self.ctx.metrics.messages_accepted.inc();
            }
            Err(e) => {
                tracing::error!(room = %self.name, error = %e, "store refused a message");
                self.broken = true;
                refuse(to, ErrorCode::Unavailable, &id);
            }
        }
    }

    /// The visible message with this key: in flight, cached, or stored.
    pub(super) async fn find_visible(&self, author: &str, id: &str) -> Result<Option<Arc<Message>>, StoreError> {
        let key = (Arc::<str>::from(author), id.to_owned());
        if let Some(m) = self.uncommitted.get(&key) {
            return Ok(Some(m.clone()));
        }
        if let Some(m) = self.cache.find(author, id) {
            return Ok(Some(m.clone()));
        }
        Ok(self.ctx.store.find(&self.name, author, id).await?.map(Arc::new))
    }

    pub(super) fn on_committed(&mut self, msgs: Vec<Stored>, result: Result<(), StoreError>) {
        if let Err(e) = result {
            // The core already counted these seqs; with the store stopped,
            // nothing more is accepted here until a restart reloads from disk.
            tracing::error!(room = %self.name, error = %e, "commit failed; room stops accepting");
            self.broken = true;
            for s in msgs {
                let key = (Arc::from(s.msg.author.as_str()), s.msg.id.clone());
                self.uncommitted.remove(&key);
                for to in self.inflight.remove(&key).unwrap_or_default() {
                    refuse(to, ErrorCode::Unavailable, &s.msg.id);
                }
            }
            return;
        }
        let mut ours = Vec::new();
        for Stored { msg, hidden } in msgs {
            self.committed.set(&msg.origin, msg.seq.max(self.committed.get(&msg.origin)));
            let key = (Arc::from(msg.author.as_str()), msg.id.clone());
            if self.uncommitted.get(&key).is_some_and(|m| Arc::ptr_eq(m, &msg)) {
                self.uncommitted.remove(&key);
            }
            let hidden = hidden | self.hide_on_commit.remove(&(msg.origin.clone(), msg.seq));
            let waiters = self.inflight.remove(&key).unwrap_or_default();
            let mut skip_conns: Vec<ConnId> = Vec::with_capacity(waiters.len());
            for to in waiters {
                if let AckTo::Conn(c) = &to {
                    skip_conns.push(c.id());
                }
                ack(to, &msg);
            }
            if !hidden {
                self.cache.insert(msg.clone());
                self.fan_out(&msg, &skip_conns);
            }
            if *msg.origin == *self.ctx.node {
                ours.push(msg);
            } else {
                self.ctx.metrics.messages_replicated_in.inc();
            }
        }
        // Peers hear of this node's messages only once they are durable here:
        // a seq a crash could reuse never leaves the node.
        if let Some(mesh) = &self.ctx.mesh
            && !ours.is_empty()
        {
            mesh.replicate(&self.name, &ours);
        }
        self.publish_vector();
    }

    /// Queues one serialised `message` frame to every member but `except`.
    pub(super) fn fan_out(&mut self, msg: &Message, except: &[ConnId]) {
        let frame = Frame::from(encode::message(msg));
        let mut delivered = 0;
        let mut dead = Vec::new();
        for (id, member) in &self.members {
            if except.contains(id) || member.skip.as_ref().is_some_and(|s| s.covers(&msg.origin, msg.seq)) {
                continue;
            }
            if member.conn.push(frame.clone()) {
                delivered += 1;
            } else {
                dead.push(*id);
            }
        }
        self.ctx.metrics.deliveries.add(delivered);
        for id in dead {
            self.remove_member(id);
        }
    }
}

pub(super) fn ack(to: AckTo, msg: &Arc<Message>) {
    match to {
        AckTo::Conn(c) => {
            c.push(Frame::from(encode::ack(msg)));
        }
        AckTo::Http(tx) => {
            let _ = tx.send(Ok(msg.clone()));
        }
    }
}

/// Answers a `send` with an error that names its id.
pub(super) fn refuse(to: AckTo, code: ErrorCode, id: &str) {
    match to {
        AckTo::Conn(c) => {
            let frame = ServerFrame::Error { code, message: code.describe().to_owned(), id: Some(id.to_owned()) };
            c.push(Frame::from(frame.to_json()));
        }
        AckTo::Http(tx) => {
            let _ = tx.send(Err(code));
        }
    }
}
