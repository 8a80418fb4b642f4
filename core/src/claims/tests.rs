use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

fn nodes(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("n{i}")).collect()
}

#[test]
fn a_lone_proposer_is_chosen_with_a_majority() {
    let all = nodes(3);
    let mut acceptors = vec![Acceptor::default(); 3];
    let (mut p, prepare) = Proposal::new("name:alice", Ballot { round: 1, node: "n1".into() }, "acct-1".into(), &all);
    let ClaimMsg::Prepare { key, ballot } = prepare else { panic!() };
    // n3 is down: n1 and n2 are a majority.
    let mut accept = None;
    for (i, a) in acceptors.iter_mut().enumerate().take(2) {
        let (reply, _) = a.on_prepare(&key, ballot.clone());
        accept = accept.or(p.on_reply(&all[i], reply));
    }
    let Some(ClaimMsg::Accept { value, ballot, .. }) = accept else { panic!("no accept") };
    for (i, a) in acceptors.iter_mut().enumerate().take(2) {
        let (reply, _) = a.on_accept(&key, ballot.clone(), value.clone());
        p.on_reply(&all[i], reply);
    }
    assert_eq!(p.outcome(), Outcome::Chosen("acct-1".into()));
}

#[test]
fn a_minority_cannot_choose() {
    let all = nodes(3);
    let mut a = Acceptor::default();
    let (mut p, _) = Proposal::new("k", Ballot { round: 1, node: "n1".into() }, "v".into(), &all);
    let (reply, _) = a.on_prepare("k", Ballot { round: 1, node: "n1".into() });
    assert!(p.on_reply("n1", reply).is_none());
    assert_eq!(p.outcome(), Outcome::Pending);
}

#[test]
fn a_later_proposer_adopts_a_value_that_may_be_chosen() {
    let all = nodes(3);
    let mut acc = vec![Acceptor::default(); 3];
    let b1 = Ballot { round: 1, node: "n1".into() };
    acc[0].on_prepare("k", b1.clone());
    acc[0].on_accept("k", b1, "first".into());
    // n2 proposes "second" with a higher ballot and hears from n1 and n2.
    let b2 = Ballot { round: 2, node: "n2".into() };
    let (mut p, _) = Proposal::new("k", b2.clone(), "second".into(), &all);
    let (r1, _) = acc[0].on_prepare("k", b2.clone());
    assert!(p.on_reply("n1", r1).is_none());
    let (r2, _) = acc[1].on_prepare("k", b2);
    let Some(ClaimMsg::Accept { value, .. }) = p.on_reply("n2", r2) else { panic!() };
    assert_eq!(value, "first");
}

/// A `Prepare` delivered twice: the acceptor promises the very ballot it
/// promised again, without a change to make durable, and the proposal
/// counts the node once (found by the model checker, tests/claims_model.rs:
/// a refused copy used to cost the proposer its attempt).
#[test]
fn a_duplicated_prepare_is_promised_again() {
    let all = nodes(3);
    let mut acc = vec![Acceptor::default(); 3];
    let b = Ballot { round: 1, node: "n1".into() };
    let (mut p, _) = Proposal::new("k", b.clone(), "v".into(), &all);
    let (first, _) = acc[0].on_prepare("k", b.clone());
    let (copy, changed) = acc[0].on_prepare("k", b.clone());
    assert!(!changed);
    assert_eq!(copy, first);
    // The copy's answer arrives first; the node still counts once.
    assert!(p.on_reply("n1", copy).is_none());
    assert!(p.on_reply("n1", first).is_none());
    assert_eq!(p.outcome(), Outcome::Pending);
    let (second, _) = acc[1].on_prepare("k", b);
    let Some(ClaimMsg::Accept { value, .. }) = p.on_reply("n2", second) else { panic!("no accept") };
    assert_eq!(value, "v");
}

/// A node that forgot its rounds (a restart) asks its own acceptor: its
/// next ballot is above anything it promised or accepted.
#[test]
fn the_next_round_is_above_what_the_acceptor_keeps() {
    let mut a = Acceptor::default();
    assert_eq!(a.next_round(0), 1);
    assert_eq!(a.next_round(4), 5);
    a.on_prepare("k", Ballot { round: 3, node: "n2".into() });
    assert_eq!(a.next_round(0), 4);
    a.on_accept("k", Ballot { round: 7, node: "n3".into() }, "v".into());
    assert_eq!(a.next_round(2), 8);
}

/// A refusal above the proposal's ballot still ends it.
#[test]
fn a_higher_promise_outruns_a_proposal() {
    let all = nodes(3);
    let mut a = Acceptor::default();
    let high = Ballot { round: 2, node: "n2".into() };
    a.on_prepare("k", high.clone());
    let (mut p, _) = Proposal::new("k", Ballot { round: 1, node: "n1".into() }, "v".into(), &all);
    let (reply, _) = a.on_prepare("k", Ballot { round: 1, node: "n1".into() });
    assert!(p.on_reply("n1", reply).is_none());
    assert_eq!(p.outcome(), Outcome::Outrun(high));
}

struct Sim {
    rng: StdRng,
    all: Vec<String>,
    acceptors: Vec<Acceptor>,
    /// (deliver at, from, to, message)
    net: Vec<(u64, usize, usize, ClaimMsg)>,
    cut: Vec<bool>,
    now: u64,
}

impl Sim {
    fn send(&mut self, from: usize, to: usize, msg: ClaimMsg) {
        if self.cut[from] || self.cut[to] || self.rng.random_bool(0.1) {
            return;
        }
        let at = self.now + self.rng.random_range(1..=20);
        self.net.push((at, from, to, msg));
    }
}

/// Two to four nodes claim one key at once, over a network that delays,
/// reorders and drops, with nodes cut off now and then; each proposer
/// retries above whatever outran it. Never two values chosen.
#[test]
fn concurrent_claims_never_both_win() {
    let mut decided = 0;
    for seed in 0..400u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let n = [3, 5][rng.random_range(0..2)];
        let all = nodes(n);
        let mut sim = Sim {
            rng,
            all: all.clone(),
            acceptors: vec![Acceptor::default(); n],
            net: Vec::new(),
            cut: vec![false; n],
            now: 0,
        };
        let claimants: Vec<usize> = (0..sim.rng.random_range(2..=4usize.min(n))).collect();
        let mut proposals: Vec<(usize, Proposal, u64)> = Vec::new();
        let mut chosen: Vec<String> = Vec::new();
        for &c in &claimants {
            let (p, prepare) =
                Proposal::new("name:x", Ballot { round: 1, node: all[c].clone() }, format!("v{c}"), &all);
            for to in 0..n {
                sim.send(c, to, prepare.clone());
            }
            proposals.push((c, p, 60));
        }
        for _ in 0..3_000 {
            sim.now += 1;
            if sim.rng.random_bool(0.01) {
                let i = sim.rng.random_range(0..n);
                sim.cut[i] = !sim.cut[i];
            }
            let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut sim.net).into_iter().partition(|m| m.0 <= sim.now);
            sim.net = later;
            for (_, from, to, msg) in due {
                match msg {
                    ClaimMsg::Prepare { key, ballot } => {
                        let (reply, _) = sim.acceptors[to].on_prepare(&key, ballot);
                        sim.send(to, from, reply);
                    }
                    ClaimMsg::Accept { key, ballot, value } => {
                        let (reply, _) = sim.acceptors[to].on_accept(&key, ballot, value);
                        sim.send(to, from, reply);
                    }
                    reply => {
                        for (c, p, _) in proposals.iter_mut() {
                            if *c == to
                                && let Some(accept) = p.on_reply(&sim.all[from], reply.clone())
                            {
                                for dest in 0..n {
                                    sim.send(*c, dest, accept.clone());
                                }
                            }
                        }
                    }
                }
            }
            // Outcomes, and retries above what outran a proposal or when it
            // heard nothing for a while.
            for slot in proposals.iter_mut() {
                let (c, outcome, deadline) = (slot.0, slot.1.outcome(), slot.2);
                match outcome {
                    Outcome::Chosen(v) => {
                        chosen.push(v);
                        slot.2 = u64::MAX;
                    }
                    Outcome::Outrun(_) | Outcome::Pending if sim.now >= deadline => {
                        let round = slot.1.ballot().round.max(match &outcome {
                            Outcome::Outrun(b) => b.round,
                            _ => 0,
                        }) + 1;
                        let (p, prepare) =
                            Proposal::new("name:x", Ballot { round, node: all[c].clone() }, format!("v{c}"), &all);
                        for to in 0..n {
                            sim.send(c, to, prepare.clone());
                        }
                        let backoff = sim.rng.random_range(30..120);
                        *slot = (c, p, sim.now + backoff);
                    }
                    _ => {}
                }
            }
            proposals.retain(|(_, _, d)| *d != u64::MAX);
            if proposals.is_empty() {
                break;
            }
        }
        chosen.dedup();
        assert!(chosen.windows(2).all(|w| w[0] == w[1]), "seed {seed}: two values chosen: {chosen:?}");
        if !chosen.is_empty() {
            decided += 1;
        }
    }
    assert!(decided > 300, "most runs decide: {decided} of 400");
}
