//! Messages replicated from peers: causal delivery, then the same commit
//! and fan-out path as local ones.

use std::sync::Arc;
use std::time::Duration;

use meshchat_shared::Message;
use tokio::time::Instant;

use super::actor::{PendingCommit, Room};
use crate::repl::{Range, preferred};
use crate::store::{Stored, idem_hash};

/// A gap is asked of a peer at most this often per room.
const WANT_EVERY: Duration = Duration::from_millis(250);

impl Room {
    pub(super) async fn on_remote(&mut self, from: &str, msgs: Vec<Message>) {
        let mut ready = Vec::new();
        for m in msgs {
            match self.core.receive(m) {
                Ok(deliverable) => ready.extend(deliverable),
                Err(e) => {
                    tracing::warn!(room = %self.name, peer = from, "refused a replicated message: {e}")
                }
            }
        }
        if !ready.is_empty() && !self.broken {
            self.store_remote(ready).await;
        }
        self.ask_for_gaps(from);
    }

    async fn store_remote(&mut self, ready: Vec<Message>) {
        let mut batch = Vec::with_capacity(ready.len());
        for m in ready {
            let msg = Arc::new(m);
            let hidden = self.resolve_duplicate(&msg).await;
            batch.push(Stored { msg, hidden });
        }
        match self.ctx.store.append(batch.clone()).await {
            Ok(done) => self.commits.push_back(PendingCommit { msgs: batch, done }),
            Err(e) => {
                tracing::error!(room = %self.name, error = %e, "store refused replicated messages");
                self.broken = true;
            }
        }
    }

    /// `(author, id)` is unique across the mesh. If a crash let two nodes
    /// accept one key, every node keeps the copy earlier in room order and
    /// hides the other; returns whether `m` is the hidden one.
    async fn resolve_duplicate(&mut self, m: &Arc<Message>) -> bool {
        let key = (Arc::<str>::from(m.author.as_str()), m.id.clone());
        if self.ids.insert(idem_hash(&m.author, &m.id)) {
            self.uncommitted.insert(key, m.clone());
            return false;
        }
        let existing = match self.find_visible(&m.author, &m.id).await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(room = %self.name, error = %e, "duplicate check failed; keeping both visible");
                None
            }
        };
        let Some(existing) = existing.filter(|e| (&e.origin, e.seq) != (&m.origin, m.seq)) else {
            self.uncommitted.insert(key, m.clone());
            return false;
        };
        if std::ptr::eq(preferred(&existing, m), &**m) {
            self.hide(&existing).await;
            self.uncommitted.insert(key, m.clone());
            false
        } else {
            true
        }
    }

    /// Hides a visible message that lost to another copy of its key.
    async fn hide(&mut self, loser: &Arc<Message>) {
        self.cache.remove(loser);
        let in_flight = self.commits.iter().flat_map(|c| &c.msgs).any(|s| Arc::ptr_eq(&s.msg, loser));
        if in_flight {
            self.hide_on_commit.insert((loser.origin.clone(), loser.seq));
        }
        // Queued behind the loser's own insert, so it applies after it.
        if let Err(e) = self.ctx.store.hide(&self.name, &loser.origin, loser.seq).await {
            tracing::warn!(room = %self.name, error = %e, "cannot hide a duplicate");
        }
    }

    /// Held-back messages wait for ones this node lacks: ask the peer that
    /// sent them, instead of waiting for the next anti-entropy round.
    fn ask_for_gaps(&mut self, from: &str) {
        let Some(mesh) = &self.ctx.mesh else { return };
        let wants = self.core.wants();
        if wants.is_empty() || self.last_want.is_some_and(|t| t.elapsed() < WANT_EVERY) {
            return;
        }
        self.last_want = Some(Instant::now());
        let ranges = wants.into_iter().map(|(origin, after, upto)| Range { origin, after, upto }).collect();
        mesh.want(from, &self.name, ranges);
    }
}
