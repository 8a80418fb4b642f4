//! The steps of the model: the real acceptor taking a request, the real
//! proposal taking replies.
//!
//! A proposer's steps are grouped: it takes replies until one changes what
//! the others or the properties can see (it sends `Accept`s, or its outcome
//! changes), in one action. A reply that changes nothing visible only
//! alters the proposer's own state, which nobody else reads, and the reply
//! stays deliverable (only its proposer takes it), so taking it later,
//! just before the visible one, reaches the same states: the grouping
//! keeps every behaviour and skips a proposer's invisible intermediate
//! states and their interleavings, most of the state space otherwise.

use std::collections::VecDeque;
use std::sync::Arc;

use meshchat_core::claims::{Acceptor, ClaimMsg, Proposal};

use crate::model::{Action, Addr, ClaimsModel, Envelope, Net, State, reply_ballot};

/// A proposer in the middle of a step: its proposal, the replies it took
/// out of the network (indices) and the duplicates spent.
#[derive(Clone, PartialEq)]
struct Local {
    proposal: Proposal,
    taken: Vec<usize>,
    dups: u8,
}

impl ClaimsModel {
    /// The real acceptor takes a request; what it says changed is made
    /// durable before the reply leaves, as the server does.
    pub(crate) fn at_acceptor(&self, s: &mut State, a: u8, env: &Envelope) {
        let node = Arc::make_mut(&mut s.nodes[a as usize]);
        let (reply, changed) = match env.msg.clone() {
            ClaimMsg::Prepare { key, ballot } => node.live.on_prepare(&key, ballot),
            ClaimMsg::Accept { key, ballot, value } => {
                let (reply, changed) = node.live.on_accept(&key, ballot.clone(), value.clone());
                if let ClaimMsg::Accepted { ok: true, .. } = reply {
                    Arc::make_mut(&mut s.votes).insert((ballot, value, a));
                }
                (reply, changed)
            }
            other => panic!("an acceptor got {other:?}"),
        };
        if changed {
            node.disk = node.live.clone();
        }
        if let Addr::Proposer(p) = env.src
            && self.cfg.drop_stale
            && reply_ballot(&reply) != Some(s.proposers[p as usize].proposal.ballot())
        {
            return;
        }
        s.net.insert(Arc::new(Envelope { src: env.dst, dst: env.src, msg: reply }));
    }

    /// The real proposal takes a reply.
    fn at_proposer(&self, s: &mut State, p: u8, env: &Envelope) {
        let Addr::Acceptor(from) = env.src else { panic!("a proposer got {env:?}") };
        let proposer = Arc::make_mut(&mut s.proposers[p as usize]);
        proposer.taken.push((from, env.msg.clone()));
        if let Some(accept) = proposer.proposal.on_reply(&self.names[from as usize], env.msg.clone()) {
            self.broadcast(&mut s.net, p, &accept);
        }
    }

    /// One delivery: `keep` leaves a copy in flight (a duplicate).
    pub(crate) fn deliver(&self, s: &mut State, env: &Arc<Envelope>, keep: bool) {
        if !keep {
            s.net.remove(env);
        }
        match env.dst {
            Addr::Acceptor(a) => self.at_acceptor(s, a, env),
            Addr::Proposer(p) => self.at_proposer(s, p, env),
        }
    }

    /// The ways to deliver a message with `used` duplicates spent: `keep`
    /// leaves a copy in flight.
    pub(crate) fn ways(&self, used: u8) -> &'static [bool] {
        match self.cfg.net {
            Net::Sent => &[true],
            Net::InFlight { dups, .. } if dups.is_none_or(|d| used < d) => &[false, true],
            Net::InFlight { .. } => &[false],
        }
    }

    /// Whether keeping a copy spends one of a bounded number of duplicates.
    pub(crate) fn spends(&self, keep: bool) -> bool {
        keep && matches!(self.cfg.net, Net::InFlight { dups: Some(_), .. })
    }

    /// Every visible step of proposer `p`: the replies it takes, in order,
    /// the last one visible. Taking a reply that leaves the proposal as it
    /// was is never needed: leaving it in flight allows all the same.
    pub(crate) fn learn_actions(&self, s: &State, p: u8, actions: &mut Vec<Action>) {
        let replies: Vec<&Arc<Envelope>> = s.net.iter().filter(|e| e.dst == Addr::Proposer(p)).collect();
        if replies.is_empty() {
            return;
        }
        let start = Local { proposal: s.proposers[p as usize].proposal.clone(), taken: Vec::new(), dups: s.dups };
        let mut seen = vec![start.clone()];
        let mut found: Vec<Local> = Vec::new();
        let mut queue = VecDeque::from([(start, Vec::new())]);
        while let Some((cur, path)) = queue.pop_front() {
            for (i, env) in replies.iter().enumerate().filter(|(i, _)| !cur.taken.contains(i)) {
                for &keep in self.ways(cur.dups) {
                    let mut next = cur.clone();
                    let Addr::Acceptor(from) = env.src else { panic!("a proposer got {env:?}") };
                    let before = next.proposal.outcome();
                    let accept = next.proposal.on_reply(&self.names[from as usize], env.msg.clone());
                    let visible = accept.is_some() || next.proposal.outcome() != before;
                    if !visible && next.proposal == cur.proposal {
                        continue;
                    }
                    next.dups += u8::from(self.spends(keep));
                    if !keep {
                        next.taken.push(i);
                        next.taken.sort_unstable();
                    }
                    let mut path = path.clone();
                    path.push(((*env).clone(), keep));
                    if visible {
                        if !found.contains(&next) {
                            found.push(next);
                            actions.push(Action::Learn(p, path));
                        }
                    } else if !seen.contains(&next) {
                        seen.push(next.clone());
                        queue.push_back((next, path));
                    }
                }
            }
        }
    }

    /// Replays a proposer's step chosen by [`learn_actions`](Self::learn_actions).
    pub(crate) fn learn(&self, s: &mut State, p: u8, steps: &[(Arc<Envelope>, bool)]) {
        for (env, keep) in steps {
            debug_assert_eq!(env.dst, Addr::Proposer(p));
            s.dups += u8::from(self.spends(*keep));
            self.deliver(s, env, *keep);
        }
    }
}

impl ClaimsModel {
    /// Applies one action of [`Model::actions`](stateright::Model::actions).
    pub(crate) fn step(&self, s: &mut State, action: Action) {
        match action {
            Action::Deliver(env) => self.deliver(s, &env, false),
            Action::Duplicate(env) => {
                s.dups += u8::from(self.spends(true));
                self.deliver(s, &env, true);
            }
            Action::Drop(env) => {
                s.drops += u8::from(matches!(self.cfg.net, Net::InFlight { drops: Some(_), .. }));
                s.net.remove(&env);
            }
            Action::Learn(p, steps) => self.learn(s, p, &steps),
            Action::Crash(a) => {
                s.crashes += 1;
                Arc::make_mut(&mut s.nodes[a as usize]).up = false;
            }
            Action::Restart(a) => {
                let node = Arc::make_mut(&mut s.nodes[a as usize]);
                node.live = if self.cfg.forget_on_restart { Acceptor::default() } else { node.disk.clone() };
                node.up = true;
            }
            Action::Retry(p) => self.retry(s, p),
        }
    }
}
