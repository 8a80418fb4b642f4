//! Claims: one value per key, agreed by a majority of the configured nodes
//! (single-decree Paxos), for what must never happen twice across the mesh
//! even under partitions: an account name, the use of an invite, the mesh's
//! first admin.
//!
//! Every node is an acceptor: per key it keeps, durably, the highest ballot
//! it promised and the last value it accepted. A node that wants a key
//! proposes: it prepares a ballot with every node, and once a majority has
//! promised it asks them to accept a value, its own unless one of the
//! promises carried a value already accepted (that one must win: it may be
//! chosen). A value accepted by a majority is chosen and can never change;
//! two claims of one key, at the same moment on two nodes or on both sides
//! of a partition, cannot both be chosen, because any two majorities meet.
//! Without a majority reachable a claim fails, and the caller answers
//! `unavailable`; chat goes on everywhere meanwhile.
//!
//! Sans-IO: the proposer and the acceptor are plain state; the caller moves
//! messages and persists the acceptor's state before it answers.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// A proposal number: round, then proposer, so two nodes never share one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Ballot {
    pub round: u64,
    pub node: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClaimMsg {
    Prepare {
        key: String,
        ballot: Ballot,
    },
    /// `ok: false` says a higher ballot was promised (`promised`).
    Promise {
        key: String,
        ballot: Ballot,
        ok: bool,
        promised: Option<Ballot>,
        accepted: Option<(Ballot, String)>,
    },
    Accept {
        key: String,
        ballot: Ballot,
        value: String,
    },
    Accepted {
        key: String,
        ballot: Ballot,
        ok: bool,
        promised: Option<Ballot>,
    },
}

impl ClaimMsg {
    pub fn key(&self) -> &str {
        match self {
            ClaimMsg::Prepare { key, .. }
            | ClaimMsg::Promise { key, .. }
            | ClaimMsg::Accept { key, .. }
            | ClaimMsg::Accepted { key, .. } => key,
        }
    }
}

/// What one node keeps for one key, durably.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acceptor {
    pub promised: Option<Ballot>,
    pub accepted: Option<(Ballot, String)>,
}

impl Acceptor {
    /// Answers a `Prepare`; `true` when the state changed and must be made
    /// durable before the answer goes out.
    pub fn on_prepare(&mut self, key: &str, ballot: Ballot) -> (ClaimMsg, bool) {
        let ok = self.promised.as_ref().is_none_or(|p| ballot > *p);
        if ok {
            self.promised = Some(ballot.clone());
        }
        let reply = ClaimMsg::Promise {
            key: key.to_owned(),
            ballot,
            ok,
            promised: self.promised.clone(),
            accepted: self.accepted.clone(),
        };
        (reply, ok)
    }

    /// Answers an `Accept`, as [`on_prepare`](Self::on_prepare).
    pub fn on_accept(&mut self, key: &str, ballot: Ballot, value: String) -> (ClaimMsg, bool) {
        let ok = self.promised.as_ref().is_none_or(|p| ballot >= *p);
        if ok {
            self.promised = Some(ballot.clone());
            self.accepted = Some((ballot.clone(), value));
        }
        (ClaimMsg::Accepted { key: key.to_owned(), ballot, ok, promised: self.promised.clone() }, ok)
    }
}

/// Where a proposal stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pending,
    /// This value is chosen (perhaps another proposer's).
    Chosen(String),
    /// A higher ballot got there first: try again above it.
    Outrun(Ballot),
}

#[derive(Debug)]
enum Phase {
    Preparing { promises: BTreeMap<String, Option<(Ballot, String)>> },
    Accepting { value: String, acks: BTreeSet<String> },
    Done(Outcome),
}

/// One node's attempt to have `value` chosen for `key`.
#[derive(Debug)]
pub struct Proposal {
    key: String,
    ballot: Ballot,
    value: String,
    nodes: BTreeSet<String>,
    phase: Phase,
}

impl Proposal {
    /// Starts with ballot `ballot` among `nodes` (this one included);
    /// returns the `Prepare` for every node.
    pub fn new(key: &str, ballot: Ballot, value: String, nodes: &[String]) -> (Proposal, ClaimMsg) {
        let prepare = ClaimMsg::Prepare { key: key.to_owned(), ballot: ballot.clone() };
        let p = Proposal {
            key: key.to_owned(),
            ballot,
            value,
            nodes: nodes.iter().cloned().collect(),
            phase: Phase::Preparing { promises: BTreeMap::new() },
        };
        (p, prepare)
    }

    pub fn ballot(&self) -> &Ballot {
        &self.ballot
    }

    fn quorum(&self) -> usize {
        self.nodes.len() / 2 + 1
    }

    pub fn outcome(&self) -> Outcome {
        match &self.phase {
            Phase::Done(o) => o.clone(),
            _ => Outcome::Pending,
        }
    }

    /// A refusal ends the proposal only when a higher ballot was promised:
    /// a duplicated `Prepare` is refused for the very ballot it promised
    /// (found by the model checker), and its first answer still counts.
    fn refused(&mut self, promised: Option<Ballot>) {
        if let Some(p) = promised.filter(|p| *p > self.ballot) {
            self.phase = Phase::Done(Outcome::Outrun(p));
        }
    }

    /// Takes a node's answer; returns the `Accept` for every node once a
    /// majority has promised.
    pub fn on_reply(&mut self, from: &str, msg: ClaimMsg) -> Option<ClaimMsg> {
        if !self.nodes.contains(from) || msg.key() != self.key {
            return None;
        }
        let quorum = self.quorum();
        match (&mut self.phase, msg) {
            (Phase::Preparing { promises }, ClaimMsg::Promise { ballot, ok, promised, accepted, .. })
                if ballot == self.ballot =>
            {
                if !ok {
                    self.refused(promised);
                    return None;
                }
                promises.insert(from.to_owned(), accepted);
                if promises.len() < quorum {
                    return None;
                }
                // A value some node accepted may be chosen already: it wins.
                let earlier = promises.values().flatten().max_by(|a, b| a.0.cmp(&b.0)).map(|(_, v)| v.clone());
                let value = earlier.unwrap_or_else(|| self.value.clone());
                let accept =
                    ClaimMsg::Accept { key: self.key.clone(), ballot: self.ballot.clone(), value: value.clone() };
                self.phase = Phase::Accepting { value, acks: BTreeSet::new() };
                Some(accept)
            }
            (Phase::Accepting { value, acks }, ClaimMsg::Accepted { ballot, ok, promised, .. })
                if ballot == self.ballot =>
            {
                if !ok {
                    self.refused(promised);
                    return None;
                }
                acks.insert(from.to_owned());
                if acks.len() >= quorum {
                    let chosen = value.clone();
                    self.phase = Phase::Done(Outcome::Chosen(chosen));
                }
                None
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
