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

// Hash and Ord let a model checker keep messages in sets (tests/claims_model).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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

    /// The ballot a request carries, or a reply answers.
    pub fn ballot(&self) -> &Ballot {
        match self {
            ClaimMsg::Prepare { ballot, .. }
            | ClaimMsg::Promise { ballot, .. }
            | ClaimMsg::Accept { ballot, .. }
            | ClaimMsg::Accepted { ballot, .. } => ballot,
        }
    }
}

/// What one node keeps for one key, durably.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Acceptor {
    pub promised: Option<Ballot>,
    pub accepted: Option<(Ballot, String)>,
}

impl Acceptor {
    /// Answers a `Prepare`; `true` when the state changed and must be made
    /// durable before the answer goes out.
    ///
    /// The ballot it promised already is promised again: a duplicated
    /// `Prepare` gets the same answer as the first (found by the model
    /// checker: refusing it cost its proposer the attempt). Ballots are
    /// never reused (see [`next_round`](Self::next_round)), so the same
    /// ballot is the same proposer's same attempt.
    pub fn on_prepare(&mut self, key: &str, ballot: Ballot) -> (ClaimMsg, bool) {
        let ok = self.promised.as_ref().is_none_or(|p| ballot >= *p);
        let changed = ok && self.promised.as_ref() != Some(&ballot);
        if changed {
            self.promised = Some(ballot.clone());
        }
        let reply = ClaimMsg::Promise {
            key: key.to_owned(),
            ballot,
            ok,
            promised: self.promised.clone(),
            accepted: self.accepted.clone(),
        };
        (reply, changed)
    }

    /// The round of this node's next ballot for the key: above every round
    /// it has seen (`seen`, kept in memory) and above what its own acceptor
    /// made durable. A node proposes to its own acceptor first, so after a
    /// restart that forgot `seen` it still never reuses a ballot; a reused
    /// ballot with another value could have two values chosen
    /// (tests/claims_model.rs shows how).
    pub fn next_round(&self, seen: u64) -> u64 {
        let promised = self.promised.as_ref().map_or(0, |b| b.round);
        let accepted = self.accepted.as_ref().map_or(0, |(b, _)| b.round);
        seen.max(promised).max(accepted) + 1
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
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Outcome {
    Pending,
    /// This value is chosen (perhaps another proposer's).
    Chosen(String),
    /// A higher ballot got there first: try again above it.
    Outrun(Ballot),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Phase {
    Preparing { promises: BTreeMap<String, Option<(Ballot, String)>> },
    Accepting { value: String, acks: BTreeSet<String> },
    Done(Outcome),
}

/// One node's attempt to have `value` chosen for `key`. Clone, Eq and Hash
/// so a model checker can hold it in its states.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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

    /// A refusal names the higher ballot promised; the caller retries
    /// above it.
    fn refused(&mut self, promised: Option<Ballot>) {
        self.phase = Phase::Done(Outcome::Outrun(promised.unwrap_or_else(|| self.ballot.clone())));
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
