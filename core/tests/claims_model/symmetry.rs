//! Acceptors are interchangeable: every one runs the same code on the same
//! kind of messages, and a proposer sends to all. A state and its image
//! under a renumbering of the acceptors behave alike, so the checker (DFS)
//! explores one state of each such class: the image whose acceptors,
//! messages and votes sort first.
//!
//! The image is a state the real code reaches: each proposal is rebuilt by
//! replaying the replies it took under the new numbering. It assumes the
//! proposal treats node names as labels, which holds while one ballot
//! carries one value ("one value per ballot", checked): then no tie among
//! promises can depend on the names' order.

use std::sync::Arc;

use meshchat_core::claims::{Ballot, ClaimMsg, Proposal};

use crate::model::{Addr, Envelope, KEY, Proposer, State, names};

/// Every numbering of `n` acceptors: `to[a]` is acceptor `a`'s new number.
fn numberings(n: usize) -> Vec<Vec<u8>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut all = Vec::new();
    for shorter in numberings(n - 1) {
        // The new acceptor takes number `at`; those at or above move up.
        for at in 0..n as u8 {
            let mut to: Vec<u8> = shorter.iter().map(|&x| if x >= at { x + 1 } else { x }).collect();
            to.push(at);
            all.push(to);
        }
    }
    all
}

fn map(addr: Addr, to: &[u8]) -> Addr {
    match addr {
        Addr::Acceptor(a) => Addr::Acceptor(to[a as usize]),
        proposer => proposer,
    }
}

type NodeKey<'a> = (bool, [&'a Option<Ballot>; 2], [&'a Option<(Ballot, String)>; 2]);
type Key<'a> = (Vec<(Addr, Addr, &'a ClaimMsg)>, Vec<(&'a Ballot, &'a String, u8)>);

/// The acceptors of `s` in `to`'s order: what orders the images first.
fn nodes_key<'a>(s: &'a State, to: &[u8]) -> Vec<NodeKey<'a>> {
    let mut nodes: Vec<(u8, NodeKey<'a>)> = s
        .nodes
        .iter()
        .enumerate()
        .map(|(a, n)| (to[a], (n.up, [&n.live.promised, &n.disk.promised], [&n.live.accepted, &n.disk.accepted])))
        .collect();
    nodes.sort_by_key(|(at, _)| *at);
    nodes.into_iter().map(|(_, k)| k).collect()
}

/// Then the messages and the votes, among images with the same acceptors.
fn rest_key<'a>(s: &'a State, to: &[u8]) -> Key<'a> {
    let mut net: Vec<_> = s.net.iter().map(|e| (map(e.src, to), map(e.dst, to), &e.msg)).collect();
    net.sort();
    let mut votes: Vec<_> = s.votes.iter().map(|(b, v, a)| (b, v, to[*a as usize])).collect();
    votes.sort();
    (net, votes)
}

/// Proposer `p` as it would be had its replies come from `to`'s acceptors.
fn renumber(p: &Proposer, to: &[u8], names: &[String]) -> Proposer {
    let (mut proposal, _) = Proposal::new(KEY, p.proposal.ballot().clone(), p.value.clone(), names);
    let taken: Vec<(u8, ClaimMsg)> = p.taken.iter().map(|(a, m)| (to[*a as usize], m.clone())).collect();
    for (a, msg) in &taken {
        proposal.on_reply(&names[*a as usize], msg.clone());
    }
    Proposer { proposal, value: p.value.clone(), attempt: p.attempt, taken }
}

fn apply(s: &State, to: &[u8]) -> State {
    let names = names(s.nodes.len());
    let mut nodes = s.nodes.clone();
    for (a, node) in s.nodes.iter().enumerate() {
        nodes[to[a] as usize] = node.clone();
    }
    let net = s
        .net
        .iter()
        .map(|e| Arc::new(Envelope { src: map(e.src, to), dst: map(e.dst, to), msg: e.msg.clone() }))
        .collect();
    let votes = s.votes.iter().map(|(b, v, a)| (b.clone(), v.clone(), to[*a as usize])).collect();
    State {
        nodes,
        proposers: s.proposers.iter().map(|p| Arc::new(renumber(p, to, &names))).collect(),
        net,
        votes: Arc::new(votes),
        retries: s.retries,
        crashes: s.crashes,
        drops: s.drops,
        dups: s.dups,
    }
}

/// The state of `s`'s class that the checker keeps.
pub fn representative(s: &State) -> State {
    let all = numberings(s.nodes.len());
    let keyed: Vec<_> = all.iter().map(|to| (nodes_key(s, to), to)).collect();
    let first = keyed.iter().map(|(k, _)| k).min().expect("one numbering at least");
    let ties = keyed.iter().filter(|(k, _)| k == first).map(|(_, to)| *to);
    let best = ties.min_by_key(|to| rest_key(s, to)).expect("one numbering at least");
    if best.iter().enumerate().all(|(a, &b)| a == b as usize) {
        return s.clone();
    }
    apply(s, best)
}

#[test]
fn numberings_are_the_permutations() {
    let all = numberings(3);
    assert_eq!(all.len(), 6);
    let set: std::collections::BTreeSet<_> = all.iter().collect();
    assert_eq!(set.len(), 6);
    assert!(all.iter().all(|to| { to.iter().copied().collect::<std::collections::BTreeSet<u8>>().len() == 3 }));
}
