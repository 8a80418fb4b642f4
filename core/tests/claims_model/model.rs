//! The model: the real `Acceptor` and `Proposal` of one key, moved by a
//! network and faults that the checker chooses.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use meshchat_core::claims::{Acceptor, Ballot, ClaimMsg, Outcome, Proposal};
use stateright::{Model, Property};

pub const KEY: &str = "name:alice";

/// What one run may do.
#[derive(Clone, Debug)]
pub struct Config {
    pub acceptors: usize,
    pub proposers: usize,
    /// New attempts in a run, by any proposers (after a timeout, an
    /// outrun or a crash).
    pub retries: u8,
    /// Acceptor crashes in a run; each may be followed by a restart.
    pub crashes: u8,
    pub net: Net,
    /// A retry is a restart of the proposer's node with a new value: it
    /// forgot the rounds it saw (the server keeps them in memory) and takes
    /// its next round from its own acceptor ([`Acceptor::next_round`]), to
    /// which it sends first, as the server does. No acceptor symmetry then:
    /// a proposer's own acceptor is not interchangeable.
    pub amnesia: bool,
    /// With `amnesia`, starts again at round 1 instead (the server before
    /// `next_round`): the checker's proof that reuse breaks safety.
    pub reuse_rounds: bool,
    /// Replies to a ballot its proposer gave up are dropped rather than
    /// kept in flight forever: the proposal ignores them (its ballot
    /// check), which the configurations without this check as a property.
    pub drop_stale: bool,
    /// Deliberately wrong restarts: the acceptor comes back empty (the
    /// checker's own test).
    pub forget_on_restart: bool,
    /// Adds the `eventually` property (runs must end: no unbounded faults).
    pub liveness: bool,
}

/// How messages travel; any message may be delayed past any other.
#[derive(Clone, Copy, Debug)]
pub enum Net {
    /// In flight until delivered; up to `drops` requests are lost and up to
    /// `dups` messages delivered and kept for another delivery (`None`:
    /// unbounded). Any message may also stay in flight forever, so loss
    /// needs no `drops` for safety: they only add states.
    InFlight { drops: Option<u8>, dups: Option<u8> },
    /// Every message sent stays deliverable, any number of times, or never:
    /// loss, duplication and reordering, unbounded.
    Sent,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Addr {
    Acceptor(u8),
    Proposer(u8),
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Envelope {
    pub src: Addr,
    pub dst: Addr,
    pub msg: ClaimMsg,
}

/// An acceptor as the server keeps it: what it answers with, and what it
/// made durable (all a restart has).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Node {
    pub live: Acceptor,
    pub disk: Acceptor,
    pub up: bool,
}

#[derive(Clone, Debug)]
pub struct Proposer {
    pub proposal: Proposal,
    pub value: String,
    /// Attempts before this one.
    pub attempt: u8,
    /// The replies the proposal took, to rebuild it under another numbering
    /// of the acceptors (`symmetry.rs`); not part of the state's identity.
    pub taken: Vec<(u8, ClaimMsg)>,
}

impl PartialEq for Proposer {
    fn eq(&self, other: &Self) -> bool {
        (&self.proposal, &self.value, self.attempt) == (&other.proposal, &other.value, other.attempt)
    }
}

impl Eq for Proposer {}

impl Hash for Proposer {
    fn hash<H: Hasher>(&self, h: &mut H) {
        (&self.proposal, &self.value, self.attempt).hash(h);
    }
}

/// Acceptor `a` accepted `value` at `ballot`.
pub type Vote = (Ballot, String, u8);

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    /// Behind `Arc`s so that a step copies only what it changes.
    pub nodes: Vec<Arc<Node>>,
    pub proposers: Vec<Arc<Proposer>>,
    /// In flight, in no order. A set: two equal messages in flight are one,
    /// whose second delivery is a duplicate's.
    pub net: BTreeSet<Arc<Envelope>>,
    /// Ghost: every vote ever cast, since a value is chosen once a majority
    /// accepted it at one ballot, even if they moved on since.
    pub votes: Arc<BTreeSet<Vote>>,
    /// Retries and faults so far (drops and dups only when bounded).
    pub retries: u8,
    pub crashes: u8,
    pub drops: u8,
    pub dups: u8,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// A request to an acceptor.
    Deliver(Arc<Envelope>),
    /// Delivers a request and keeps a copy in flight.
    Duplicate(Arc<Envelope>),
    /// Loses a request; a reply lost is one its proposer never takes.
    Drop(Arc<Envelope>),
    /// A proposer takes replies (keeping a copy or not), see `steps.rs`.
    Learn(u8, Vec<(Arc<Envelope>, bool)>),
    Crash(u8),
    Restart(u8),
    /// Abandons the attempt (timeout, outrun, crash) for a higher ballot.
    Retry(u8),
}

pub struct ClaimsModel {
    pub cfg: Config,
    pub names: Vec<String>,
}

/// Acceptor `a` is node `n{a+1}`; proposer `p` runs on node `n{p+1}`, as
/// in the server, so its ballots carry that name.
pub fn names(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("n{i}")).collect()
}

/// Proposer `p`'s value at its `attempt`-th amnesiac restart (0: first).
pub fn value_of(p: usize, attempt: u8) -> String {
    if attempt == 0 { format!("v{}", p + 1) } else { format!("v{}.{attempt}", p + 1) }
}

impl ClaimsModel {
    pub fn new(cfg: Config) -> ClaimsModel {
        let names = names(cfg.acceptors);
        ClaimsModel { cfg, names }
    }

    pub fn quorum(&self) -> usize {
        self.cfg.acceptors / 2 + 1
    }

    pub(crate) fn broadcast(&self, net: &mut BTreeSet<Arc<Envelope>>, p: u8, msg: &ClaimMsg) {
        for a in 0..self.cfg.acceptors {
            let env = Envelope { src: Addr::Proposer(p), dst: Addr::Acceptor(a as u8), msg: msg.clone() };
            net.insert(Arc::new(env));
        }
    }

    /// A new attempt of proposer `p`: `Prepare` to every acceptor; with
    /// `amnesia`, to its own first, at once (the server's order).
    fn start(&self, s: &mut State, p: u8, round: u64, value: String, attempt: u8) {
        let ballot = Ballot { round, node: self.names[p as usize].clone() };
        let (proposal, prepare) = Proposal::new(KEY, ballot, value.clone(), &self.names);
        s.proposers[p as usize] = Arc::new(Proposer { proposal, value, attempt, taken: Vec::new() });
        self.broadcast(&mut s.net, p, &prepare);
        if self.cfg.amnesia {
            let own = Envelope { src: Addr::Proposer(p), dst: Addr::Acceptor(p), msg: prepare };
            let own = s.net.take(&own).expect("just sent");
            self.at_acceptor(s, p, &own);
        }
    }

    /// The values a majority accepted at one ballot.
    pub fn chosen(&self, state: &State) -> BTreeSet<String> {
        let mut count: BTreeMap<(&Ballot, &String), usize> = BTreeMap::new();
        for (b, v, _) in state.votes.iter() {
            *count.entry((b, v)).or_default() += 1;
        }
        count.into_iter().filter(|(_, n)| *n >= self.quorum()).map(|((_, v), _)| v.clone()).collect()
    }

    fn deliverable(&self, s: &State, env: &Envelope) -> bool {
        match env.dst {
            Addr::Acceptor(a) => s.nodes[a as usize].up,
            Addr::Proposer(_) => true,
        }
    }

    /// Above the ballot that outran it, as the server does; or from round
    /// 1 with a new value when the proposer forgot its rounds.
    pub(crate) fn retry(&self, s: &mut State, p: u8) {
        s.retries += 1;
        let old = &s.proposers[p as usize];
        let attempt = old.attempt + 1;
        let (round, value) = if self.cfg.amnesia {
            let round = if self.cfg.reuse_rounds { 1 } else { s.nodes[p as usize].disk.next_round(0) };
            (round, value_of(p as usize, attempt))
        } else {
            let above = match old.proposal.outcome() {
                Outcome::Outrun(b) => b.round,
                _ => 0,
            };
            (old.proposal.ballot().round.max(above) + 1, old.value.clone())
        };
        self.start(s, p, round, value, attempt);
        if self.cfg.drop_stale {
            let ballot = s.proposers[p as usize].proposal.ballot().clone();
            s.net.retain(|e| e.dst != Addr::Proposer(p) || reply_ballot(&e.msg) == Some(&ballot));
        }
    }

    /// Whether proposer `p` may give up its attempt now: with `amnesia` its
    /// node restarts, so that node must be up (one process).
    fn may_retry(&self, s: &State, p: usize) -> bool {
        s.retries < self.cfg.retries && learned(&s.proposers[p]).is_none() && (!self.cfg.amnesia || s.nodes[p].up)
    }

    /// Requests to acceptors; replies go through `Learn`.
    fn net_actions(&self, s: &State, actions: &mut Vec<Action>) {
        let drops = match self.cfg.net {
            Net::InFlight { drops, .. } => drops.is_none_or(|d| s.drops < d),
            Net::Sent => false,
        };
        for env in s.net.iter().filter(|e| matches!(e.dst, Addr::Acceptor(_))) {
            if self.deliverable(s, env) {
                for &keep in self.ways(s.dups) {
                    let env = env.clone();
                    actions.push(if keep { Action::Duplicate(env) } else { Action::Deliver(env) });
                }
            }
            if drops {
                actions.push(Action::Drop(env.clone()));
            }
        }
    }

    /// Whether `e`, a reply to a ballot its proposer gave up, would leave
    /// the proposal as it is (true of anything else).
    fn ignored(&self, s: &State, e: &Envelope) -> bool {
        let (Addr::Acceptor(from), Addr::Proposer(p)) = (e.src, e.dst) else { return true };
        let proposal = &s.proposers[p as usize].proposal;
        if reply_ballot(&e.msg) == Some(proposal.ballot()) {
            return true;
        }
        let mut copy = proposal.clone();
        copy.on_reply(&self.names[from as usize], e.msg.clone()).is_none() && copy == *proposal
    }

    fn values(&self) -> Vec<String> {
        let attempts = if self.cfg.amnesia { self.cfg.retries } else { 0 };
        (0..self.cfg.proposers).flat_map(|p| (0..=attempts).map(move |a| value_of(p, a))).collect()
    }
}

pub(crate) fn reply_ballot(msg: &ClaimMsg) -> Option<&Ballot> {
    match msg {
        ClaimMsg::Promise { ballot, .. } | ClaimMsg::Accepted { ballot, .. } => Some(ballot),
        _ => None,
    }
}

fn learned(p: &Proposer) -> Option<String> {
    match p.proposal.outcome() {
        Outcome::Chosen(v) => Some(v),
        _ => None,
    }
}

impl Model for ClaimsModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let node = Arc::new(Node { live: Acceptor::default(), disk: Acceptor::default(), up: true });
        let ballot = Ballot { round: 0, node: String::new() };
        let (none, _) = Proposal::new(KEY, ballot, String::new(), &self.names);
        let none = Arc::new(Proposer { proposal: none, value: String::new(), attempt: 0, taken: Vec::new() });
        let mut s = State {
            nodes: vec![node; self.cfg.acceptors],
            proposers: vec![none; self.cfg.proposers],
            net: BTreeSet::new(),
            votes: Arc::default(),
            retries: 0,
            crashes: 0,
            drops: 0,
            dups: 0,
        };
        for p in 0..self.cfg.proposers as u8 {
            self.start(&mut s, p, 1, value_of(p as usize, 0), 0);
        }
        vec![s]
    }

    fn actions(&self, s: &State, actions: &mut Vec<Action>) {
        self.net_actions(s, actions);
        for (a, node) in s.nodes.iter().enumerate() {
            if !node.up {
                actions.push(Action::Restart(a as u8));
            } else if s.crashes < self.cfg.crashes {
                actions.push(Action::Crash(a as u8));
            }
        }
        for p in 0..s.proposers.len() {
            self.learn_actions(s, p as u8, actions);
            if self.may_retry(s, p) {
                actions.push(Action::Retry(p as u8));
            }
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut s = last.clone();
        self.step(&mut s, action);
        // A step that changes nothing is no step: keeps paths acyclic.
        (s != *last).then_some(s)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        let mut props = vec![
            Property::always("at most one value is chosen", |m: &Self, s: &State| m.chosen(s).len() <= 1),
            Property::always("a proposer's Chosen is the chosen value", |m: &Self, s: &State| {
                let chosen = m.chosen(s);
                s.proposers.iter().filter_map(|p| learned(p)).all(|v| chosen.contains(&v))
            }),
            Property::always("only a proposed value is chosen", |m: &Self, s: &State| {
                let values = m.values();
                m.chosen(s).iter().all(|v| values.contains(v))
            }),
            // A crash then loses nothing an answer relied on: restarts need
            // no crash to be checked, and crashes add no behaviour but
            // being unreachable for a while.
            Property::always("an acceptor answers only what is durable", |_: &Self, s: &State| {
                s.nodes.iter().all(|n| !n.up || n.live == n.disk)
            }),
            // What the acceptor symmetry relies on too (`symmetry.rs`).
            Property::always("one value per ballot", |_: &Self, s: &State| {
                s.votes.iter().zip(s.votes.iter().skip(1)).all(|(a, b)| a.0 != b.0 || a.1 == b.1)
            }),
            Property::sometimes("a value is chosen", |m: &Self, s: &State| !m.chosen(s).is_empty()),
        ];
        if self.cfg.proposers > 1 {
            props.push(Property::sometimes("a proposer learns another's value", |_: &Self, s: &State| {
                s.proposers.iter().any(|p| learned(p).is_some_and(|v| v != p.value))
            }));
            props.push(Property::sometimes("two values were accepted", |_: &Self, s: &State| {
                s.votes.iter().map(|(_, v, _)| v).collect::<BTreeSet<_>>().len() > 1
            }));
        }
        if !self.cfg.drop_stale && self.cfg.retries > 0 {
            props.push(Property::always("a proposal ignores replies to other ballots", |m: &Self, s: &State| {
                s.net.iter().all(|e| m.ignored(s, e))
            }));
        }
        if self.cfg.liveness {
            props.push(Property::eventually("the proposer learns a chosen value", |_: &Self, s: &State| {
                s.proposers.iter().any(|p| learned(p).is_some())
            }));
        }
        props
    }
}
