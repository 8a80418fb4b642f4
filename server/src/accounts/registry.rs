//! The claims actor: this node's acceptor for every key, and its proposals.
//!
//! One task owns the acceptor state (loaded from the store on first use,
//! and made durable before any answer leaves) and the proposals in flight.
//! Peers' claim messages come in through [`Registry::peer`]; this node's go
//! out through a [`ClaimNet`], which the mesh implements.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::core::claims::{Acceptor, Ballot, ClaimMsg, Outcome, Proposal};
use crate::store::Store;

/// Sends claim messages to peers; never blocks.
pub trait ClaimNet: Send + Sync {
    fn send(&self, to: &str, msg: ClaimMsg);
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    #[error("a majority of the mesh's nodes cannot be reached right now")]
    NoMajority,
    #[error("this node is stopping")]
    Stopped,
}

/// One attempt waits this long for a majority before trying again.
const ATTEMPT: Duration = Duration::from_secs(2);
/// Attempts before giving up (`unavailable`).
const ATTEMPTS: u32 = 4;

enum Cmd {
    Propose { key: String, value: String, reply: oneshot::Sender<Result<String, ClaimError>> },
    Peer { from: String, msg: ClaimMsg },
    Nodes(Vec<String>),
    Rewrite { key: String, rewrite: Rewrite },
}

/// A new text for the value this node's acceptor accepted, if it changes.
pub type Rewrite = Box<dyn FnOnce(&str) -> Option<String> + Send>;

#[derive(Clone)]
pub struct Registry {
    tx: mpsc::Sender<Cmd>,
}

impl Registry {
    /// Starts the actor for node `me` among `nodes` (this one included).
    pub fn start(me: &str, nodes: Vec<String>, store: Store, net: Option<Arc<dyn ClaimNet>>) -> Registry {
        let (tx, rx) = mpsc::channel(1024);
        let actor = Actor {
            me: me.to_owned(),
            nodes,
            store,
            net,
            acceptors: HashMap::new(),
            proposals: HashMap::new(),
            rounds: HashMap::new(),
        };
        tokio::spawn(actor.run(rx));
        Registry { tx }
    }

    /// Has `value` chosen for `key`, or learns the value chosen before it.
    pub async fn claim(&self, key: &str, value: &str) -> Result<String, ClaimError> {
        let (reply, rx) = oneshot::channel();
        let cmd = Cmd::Propose { key: key.to_owned(), value: value.to_owned(), reply };
        self.tx.send(cmd).await.map_err(|_| ClaimError::Stopped)?;
        rx.await.map_err(|_| ClaimError::Stopped)?
    }

    /// The mesh's members changed (a node joined or was removed): later
    /// proposals need a majority of these. One change at a time keeps every
    /// old majority and every new one overlapping.
    pub fn set_nodes(&self, nodes: Vec<String>) {
        let _ = self.tx.try_send(Cmd::Nodes(nodes));
    }

    /// Rewrites the value this node's acceptor keeps for `key` (a deleted
    /// account's name: its password hash goes). Only what the value says
    /// beyond the choice itself may change: the ballot stays, and every
    /// node rewrites its own copy the same way.
    pub async fn rewrite(&self, key: &str, rewrite: Rewrite) {
        let _ = self.tx.send(Cmd::Rewrite { key: key.to_owned(), rewrite }).await;
    }

    /// A peer's claim message.
    pub fn peer(&self, from: &str, msg: ClaimMsg) {
        let _ = self.tx.try_send(Cmd::Peer { from: from.to_owned(), msg });
    }
}

struct InFlight {
    proposal: Proposal,
    value: String,
    waiters: Vec<oneshot::Sender<Result<String, ClaimError>>>,
    attempts: u32,
    deadline: Instant,
}

struct Actor {
    me: String,
    nodes: Vec<String>,
    store: Store,
    net: Option<Arc<dyn ClaimNet>>,
    acceptors: HashMap<String, Acceptor>,
    proposals: HashMap<String, InFlight>,
    /// The highest round seen per key, so a retry goes above it.
    rounds: HashMap<String, u64>,
}

impl Actor {
    async fn run(mut self, mut rx: mpsc::Receiver<Cmd>) {
        loop {
            let next = self.proposals.values().map(|p| p.deadline).min();
            let timeout = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(Cmd::Propose { key, value, reply }) => self.propose(key, value, reply).await,
                    Some(Cmd::Peer { from, msg }) => self.on_message(&from, msg).await,
                    Some(Cmd::Nodes(nodes)) => self.nodes = nodes,
                    Some(Cmd::Rewrite { key, rewrite }) => self.rewrite(key, rewrite).await,
                    None => break,
                },
                _ = timeout => self.on_timeouts().await,
            }
        }
    }

    async fn propose(&mut self, key: String, value: String, reply: oneshot::Sender<Result<String, ClaimError>>) {
        if let Some(p) = self.proposals.get_mut(&key) {
            // One proposal per key at a time here: this one learns its outcome.
            p.waiters.push(reply);
            return;
        }
        let ballot = self.next_ballot(&key).await;
        let (proposal, prepare) = Proposal::new(&key, ballot, value.clone(), &self.nodes);
        let deadline = Instant::now() + ATTEMPT;
        self.proposals.insert(key, InFlight { proposal, value, waiters: vec![reply], attempts: 1, deadline });
        self.broadcast(prepare).await;
    }

    async fn rewrite(&mut self, key: String, rewrite: Rewrite) {
        let mut a = self.acceptor(&key).await;
        let Some((ballot, value)) = a.accepted.take() else { return };
        let Some(new) = rewrite(&value) else { return };
        a.accepted = Some((ballot, new));
        match self.store.save_claim(&key, &a).await {
            Ok(()) => {
                self.acceptors.insert(key, a);
            }
            Err(e) => tracing::warn!(key, error = %e, "cannot rewrite a claim"),
        }
    }

    /// Above every round seen, and above what this node's own acceptor
    /// keeps: the rounds seen are in memory, and a ballot used before a
    /// restart must never be used again.
    async fn next_ballot(&mut self, key: &str) -> Ballot {
        let seen = self.rounds.get(key).copied().unwrap_or(0);
        let round = self.acceptor(key).await.next_round(seen);
        self.rounds.insert(key.to_owned(), round);
        Ballot { round, node: self.me.clone() }
    }

    /// To this node first, then to its peers over the mesh. A ballot leaves
    /// only once this node's acceptor keeps it (promised, or refused for a
    /// higher one): that is what [`Acceptor::next_round`] reads after a
    /// restart.
    async fn broadcast(&mut self, msg: ClaimMsg) {
        let key = msg.key().to_owned();
        if self.nodes.contains(&self.me) {
            let me = self.me.clone();
            Box::pin(self.on_message(&me, msg.clone())).await;
            let kept = self.acceptor(&key).await.promised.is_some_and(|p| p >= *msg.ballot());
            if !kept {
                // Not on disk: the attempt times out and retries.
                return;
            }
        }
        for node in self.nodes.iter().filter(|n| **n != self.me) {
            if let Some(net) = &self.net {
                net.send(node, msg.clone());
            }
        }
    }

    async fn on_message(&mut self, from: &str, msg: ClaimMsg) {
        match msg {
            ClaimMsg::Prepare { key, ballot } => {
                self.see(&key, ballot.round);
                let mut a = self.acceptor(&key).await;
                let (reply, changed) = a.on_prepare(&key, ballot);
                self.answer(from, key, a, changed, reply).await;
            }
            ClaimMsg::Accept { key, ballot, value } => {
                self.see(&key, ballot.round);
                let mut a = self.acceptor(&key).await;
                let (reply, changed) = a.on_accept(&key, ballot, value);
                self.answer(from, key, a, changed, reply).await;
            }
            reply => self.on_reply(from, reply).await,
        }
    }

    fn see(&mut self, key: &str, round: u64) {
        let r = self.rounds.entry(key.to_owned()).or_insert(0);
        *r = (*r).max(round);
    }

    async fn acceptor(&mut self, key: &str) -> Acceptor {
        if let Some(a) = self.acceptors.get(key) {
            return a.clone();
        }
        let a = self.store.claim(key).await.unwrap_or_else(|e| {
            tracing::error!(key, error = %e, "cannot read a claim; answering as if new");
            None
        });
        a.unwrap_or_default()
    }

    /// Makes the acceptor's new state durable, then answers.
    async fn answer(&mut self, to: &str, key: String, a: Acceptor, changed: bool, reply: ClaimMsg) {
        if changed {
            if let Err(e) = self.store.save_claim(&key, &a).await {
                // Never answer what is not on disk.
                tracing::error!(key, error = %e, "cannot keep a claim; not answering");
                return;
            }
            self.acceptors.insert(key, a);
        }
        if to == self.me {
            Box::pin(self.on_reply(to, reply)).await;
        } else if let Some(net) = &self.net {
            net.send(to, reply);
        }
    }

    async fn on_reply(&mut self, from: &str, reply: ClaimMsg) {
        let key = reply.key().to_owned();
        if let ClaimMsg::Promise { promised: Some(b), .. } | ClaimMsg::Accepted { promised: Some(b), .. } = &reply {
            self.see(&key, b.round);
        }
        let Some(p) = self.proposals.get_mut(&key) else { return };
        let accept = p.proposal.on_reply(from, reply);
        if let Some(accept) = accept {
            self.broadcast(accept).await;
        }
        self.settle(&key).await;
    }

    /// Answers the waiters of a proposal that is done, or retries it.
    async fn settle(&mut self, key: &str) {
        let Some(p) = self.proposals.get(key) else { return };
        match p.proposal.outcome() {
            Outcome::Chosen(v) => {
                if let Some(p) = self.proposals.remove(key) {
                    for w in p.waiters {
                        let _ = w.send(Ok(v.clone()));
                    }
                }
            }
            Outcome::Outrun(_) => {
                // Someone else's ballot is ahead: retry above it, after a
                // random pause so that two proposers do not keep colliding.
                let pause = Duration::from_millis(rand::rng().random_range(20..200));
                if let Some(p) = self.proposals.get_mut(key) {
                    p.deadline = Instant::now() + pause;
                }
            }
            Outcome::Pending => {}
        }
    }

    async fn on_timeouts(&mut self) {
        let now = Instant::now();
        let due: Vec<String> =
            self.proposals.iter().filter(|(_, p)| p.deadline <= now).map(|(k, _)| k.clone()).collect();
        for key in due {
            let Some(mut p) = self.proposals.remove(&key) else { continue };
            if p.attempts >= ATTEMPTS {
                for w in p.waiters {
                    let _ = w.send(Err(ClaimError::NoMajority));
                }
                continue;
            }
            let ballot = self.next_ballot(&key).await;
            let (proposal, prepare) = Proposal::new(&key, ballot, p.value.clone(), &self.nodes);
            p.proposal = proposal;
            p.attempts += 1;
            p.deadline = Instant::now() + ATTEMPT;
            self.proposals.insert(key, p);
            self.broadcast(prepare).await;
        }
    }
}
