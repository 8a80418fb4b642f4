//! Exhaustive model checking of the claims (`meshchat_core::claims`) with
//! stateright: the real `Acceptor` and `Proposal` of one key, three
//! acceptors, one to three proposers with different values, a network that
//! loses, duplicates and reorders, acceptors that crash and restart with
//! what they made durable, proposers that give up an attempt (timeout,
//! outrun, crash) and retry with a higher ballot.
//!
//! `cargo test -p meshchat-core --test claims_model` checks the small
//! configurations (debug build, under a minute); `CLAIMS_MODEL=full`
//! (`scripts/model`, release build) the larger ones. Each prints its
//! unique state count and time.
// The checker's own time is printed: a test may read the clock.
#![allow(clippy::disallowed_types)]
#[path = "claims_model/model.rs"]
mod model;
#[path = "claims_model/show.rs"]
mod show;
#[path = "claims_model/steps.rs"]
mod steps;
#[path = "claims_model/symmetry.rs"]
mod symmetry;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use model::{ClaimsModel, Config, Net};
use stateright::{Checker, CheckerBuilder, Expectation, HasDiscoveries, Model};

fn checker(cfg: Config) -> CheckerBuilder<ClaimsModel> {
    let threads = std::env::var("CLAIMS_MODEL_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(1);
    let symmetric = !cfg.amnesia;
    let builder = ClaimsModel::new(cfg).checker().threads(threads);
    if symmetric { builder.symmetry_fn(symmetry::representative) } else { builder }
}

/// Checks every reachable state (one per class of renumbered acceptors,
/// depth first); prints the counts and the time.
fn check(name: &str, cfg: Config) {
    let start = Instant::now();
    let checker = checker(cfg).spawn_dfs();
    let mut next_report = Duration::from_secs(60);
    while !checker.is_done() {
        std::thread::sleep(Duration::from_millis(20));
        if start.elapsed() >= next_report {
            println!("  {name}: {} states so far, {:.0?}", checker.unique_state_count(), start.elapsed());
            next_report += Duration::from_secs(60);
        }
    }
    let checker = checker.join();
    println!(
        "claims model, {name}: {} unique states ({} generated, depth {}) in {:.1?}",
        checker.unique_state_count(),
        checker.state_count(),
        checker.max_depth(),
        start.elapsed()
    );
    // A failure in a line per step first; assert_properties prints states.
    for p in checker.model().properties() {
        if let Some(path) = checker.discovery(p.name).filter(|_| p.expectation != Expectation::Sometimes) {
            println!("claims model, {name}: counterexample to {:?}:", p.name);
            for a in path.into_actions() {
                println!("  {}", show::action(&a));
            }
        }
    }
    checker.assert_properties();
}

/// Checks until `property` fails; prints the counterexample.
fn counterexample(name: &str, cfg: Config, property: &'static str) {
    let start = Instant::now();
    let checker = checker(cfg).finish_when(HasDiscoveries::AnyOf(BTreeSet::from([property]))).spawn_dfs().join();
    let path = checker.discovery(property).unwrap_or_else(|| panic!("{name}: no counterexample to {property:?}"));
    let actions = path.into_actions();
    println!("claims model, {name}: {property:?} fails after {} steps ({:.1?}):", actions.len(), start.elapsed());
    for a in &actions {
        println!("  {}", show::action(a));
    }
}

fn full() -> bool {
    std::env::var("CLAIMS_MODEL").is_ok_and(|v| v == "full")
}

fn base(proposers: usize) -> Config {
    Config {
        acceptors: 3,
        proposers,
        retries: 0,
        crashes: 0,
        net: Net::InFlight { drops: Some(0), dups: Some(0) },
        amnesia: false,
        reuse_rounds: false,
        drop_stale: false,
        forget_on_restart: false,
        liveness: false,
    }
}

fn faults(drops: u8, dups: u8) -> Net {
    Net::InFlight { drops: Some(drops), dups: Some(dups) }
}

/// Two proposers race: every interleaving of their messages; in full, with
/// an acceptor crash and restart, a lost request and a duplicated message.
#[test]
fn two_proposers_never_choose_two_values() {
    if full() {
        check("2 proposers, 1 crash, 1 loss, 1 duplicate", Config { crashes: 1, net: faults(1, 1), ..base(2) });
    } else {
        check("2 proposers", base(2));
    }
}

/// Two proposers and a retry: the first attempt's messages still in flight.
#[test]
fn two_proposers_and_a_retry_never_choose_two_values() {
    if !full() {
        return println!("claims model, 2 proposers and a retry: CLAIMS_MODEL=full only");
    }
    check("2 proposers, 1 retry", Config { retries: 1, drop_stale: true, ..base(2) });
}

#[test]
fn three_proposers_never_choose_two_values() {
    if !full() {
        return println!("claims model, 3 proposers: CLAIMS_MODEL=full only");
    }
    check("3 proposers", base(3));
}

/// Any message delivered any number of times, or never.
#[test]
fn unbounded_loss_and_duplication_never_choose_two_values() {
    if !full() {
        return println!("claims model, unbounded loss and duplication: CLAIMS_MODEL=full only");
    }
    check("2 proposers, unbounded loss and duplication", Config { net: Net::Sent, ..base(2) });
}

/// A majority up (one acceptor may crash, and may come back), one
/// proposer, nothing lost or duplicated: every run ends with its value
/// chosen, whenever it gives up an attempt.
#[test]
fn a_lone_proposer_with_a_majority_gets_its_value_chosen() {
    let retries = if full() { 2 } else { 1 };
    let cfg = Config { retries, crashes: 1, liveness: true, ..base(1) };
    check(&format!("1 proposer, {retries} retr{}, 1 crash", if retries == 1 { "y" } else { "ies" }), cfg);
}

/// The checker finds a counterexample when an acceptor forgets its
/// promises on restart: its properties can fail.
#[test]
fn the_checker_catches_an_acceptor_that_forgets() {
    let cfg = Config { crashes: 1, forget_on_restart: true, ..base(2) };
    counterexample("an acceptor that forgets", cfg, "at most one value is chosen");
}

/// A proposer's node restarts between attempts, forgetting the rounds it
/// saw, with another value each time; it asks its own acceptor for its next
/// round and prepares there first (`accounts/registry.rs`), and a promise
/// of its earlier attempt may be duplicated: one value at most.
#[test]
fn a_restarted_proposer_never_reuses_a_ballot() {
    let retries = if full() { 2 } else { 1 };
    let cfg = Config { retries, amnesia: true, net: faults(0, 1), ..base(1) };
    check(&format!("1 proposer restarted {retries}x, 1 duplicate"), cfg);
}

/// Why: a restart that starts again at round 1 (the server before
/// `Acceptor::next_round`) reuses a ballot with another value, and a
/// duplicated promise of the first attempt gets both chosen.
#[test]
fn a_reused_ballot_can_choose_two_values() {
    let cfg = Config { retries: 1, amnesia: true, reuse_rounds: true, net: faults(0, 1), ..base(1) };
    counterexample("a reused ballot", cfg, "at most one value is chosen");
}

/// A duplicated message costs no attempt: a `Prepare` delivered twice is
/// promised again (it used to be refused, and the refusal ended the
/// attempt), a duplicated promise counts its node once.
#[test]
fn a_lone_proposer_gets_its_value_chosen_through_duplicates() {
    let cfg = Config { net: faults(0, 2), liveness: true, ..base(1) };
    check("1 proposer, 2 duplicates", cfg);
}
