//! Counterexamples in a line per step: `p0` is proposer 0, `a1` acceptor 1,
//! a ballot `1n2` is round 1 of node n2.

use meshchat_core::claims::{Ballot, ClaimMsg};

use crate::model::{Action, Addr, Envelope};

fn ballot(b: &Ballot) -> String {
    format!("{}{}", b.round, b.node)
}

fn maybe(b: &Option<Ballot>) -> String {
    b.as_ref().map_or("-".into(), ballot)
}

fn msg(m: &ClaimMsg) -> String {
    let ok = |ok: &bool| if *ok { "ok" } else { "refused" };
    match m {
        ClaimMsg::Prepare { ballot: b, .. } => format!("Prepare {}", ballot(b)),
        ClaimMsg::Promise { ballot: b, ok: o, promised, accepted, .. } => {
            let acc = accepted.as_ref().map_or("-".into(), |(b, v)| format!("{}={v}", ballot(b)));
            format!("Promise {} {} (promised {}, accepted {acc})", ballot(b), ok(o), maybe(promised))
        }
        ClaimMsg::Accept { ballot: b, value, .. } => format!("Accept {}={value}", ballot(b)),
        ClaimMsg::Accepted { ballot: b, ok: o, promised, .. } => {
            format!("Accepted {} {} (promised {})", ballot(b), ok(o), maybe(promised))
        }
    }
}

fn addr(a: Addr) -> String {
    match a {
        Addr::Acceptor(a) => format!("a{a}"),
        Addr::Proposer(p) => format!("p{p}"),
    }
}

fn envelope(e: &Envelope) -> String {
    format!("{}->{} {}", addr(e.src), addr(e.dst), msg(&e.msg))
}

pub fn action(a: &Action) -> String {
    match a {
        Action::Deliver(e) => format!("deliver {}", envelope(e)),
        Action::Duplicate(e) => format!("deliver a copy of {}", envelope(e)),
        Action::Drop(e) => format!("lose {}", envelope(e)),
        Action::Learn(p, steps) => {
            let taken: Vec<String> = steps
                .iter()
                .map(|(e, keep)| format!("{}{}", envelope(e), if *keep { " (a copy stays)" } else { "" }))
                .collect();
            format!("p{p} takes {}", taken.join("; "))
        }
        Action::Crash(a) => format!("a{a} crashes"),
        Action::Restart(a) => format!("a{a} restarts"),
        Action::Retry(p) => format!("p{p} gives up its attempt and retries"),
    }
}
