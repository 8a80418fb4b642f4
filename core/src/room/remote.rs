//! Messages replicated from peers: causal delivery, duplicate resolution,
//! then the same commit path as local ones; gaps asked of the sender.

use std::sync::Arc;

use meshchat_shared::{Message, RoomVector};

use super::retention::without_text_once;
use super::{Effect, Parked, RoomState, Signed, Stored};
use crate::idem_hash;

impl RoomState {
    pub(super) fn on_remote(&mut self, from: Arc<str>, msgs: Vec<Signed>, now_ms: u64) {
        for m in msgs {
            match self.log.receive(m, now_ms, self.config.max_drift_ms) {
                Ok(deliverable) => self.ready.extend(deliverable),
                Err(reason) => self.emit(Effect::Rejected { from: from.clone(), reason }),
            }
        }
        self.admit_ready();
        self.ask_for_gaps(&from, now_ms);
    }

    /// Moves delivered messages into the batch, in delivery order, until
    /// one needs the store to tell whether it duplicates a key.
    pub(super) fn admit_ready(&mut self) {
        while self.parked.is_none() {
            let Some(Signed { msg, proof }) = self.ready.pop_front() else { break };
            if self.broken {
                continue;
            }
            let msg = self.erased_if_deleted(Arc::new(msg));
            if self.is_expired(&msg) {
                // Past the retention policy here: kept hidden, without its
                // text, so the origin's log stays gapless (a node back from
                // a long absence brings no old text back).
                self.ids.insert(idem_hash(&msg.author, &msg.id));
                self.building.push(Stored { msg: without_text_once(&msg), hidden: true, proof });
                continue;
            }
            if self.ids.insert(idem_hash(&msg.author, &msg.id)) {
                let key = (Arc::<str>::from(msg.author.as_str()), msg.id.clone());
                self.uncommitted.insert(key, msg.clone());
                self.building.push(Stored { msg: msg.clone(), hidden: false, proof });
                // Counted at once, before the store lists the room (a
                // private room's name is never listed).
                self.govern(&msg);
                // As stored: governing it may have erased its text.
                let stored = self.building.last().map_or(msg, |s| s.msg.clone());
                self.show_early(stored);
                continue;
            }
            match self.visible_in_memory(&msg.author, &msg.id) {
                Some(existing) => self.resolve(msg, proof, Some(existing)),
                None => {
                    let lookup = self.next_id();
                    self.emit(Effect::Lookup { lookup, author: msg.author.as_str().into(), id: msg.id.clone() });
                    self.parked = Some((lookup, Parked::Remote(msg, proof)));
                }
            }
        }
    }

    /// A new key from a peer goes to members now: it is durable at its
    /// origin, whose seq a crash cannot reuse; waiting for this node's own
    /// commit would add a second sync to every cross-node delivery.
    fn show_early(&mut self, msg: Arc<Message>) {
        if self.gov.visible(&msg) {
            self.fan_out(&msg, &[]);
            self.early.push_back(msg);
        }
    }

    /// What a member joining now gets after its backlog and `synced`: the
    /// peers' messages it was not sent before their commit.
    pub(super) fn early_for(&self, since: Option<&RoomVector>) -> Vec<Arc<Message>> {
        let held = |m: &Message| since.is_some_and(|s| s.covers(&m.origin, m.seq));
        self.early.iter().filter(|m| !held(m) && self.gov.visible(m)).cloned().collect()
    }

    /// Held-back messages wait for ones this node lacks: ask the peer that
    /// sent them, instead of waiting for the next anti-entropy round.
    fn ask_for_gaps(&mut self, from: &Arc<str>, now_ms: u64) {
        if self.last_want.is_some_and(|t| now_ms < t + self.config.want_every_ms) {
            return;
        }
        let ranges = self.log.wants();
        if ranges.is_empty() {
            return;
        }
        self.last_want = Some(now_ms);
        self.emit(Effect::Want { peer: from.clone(), ranges });
    }
}
