//! The real room state machines and anti-entropy, many nodes, one seeded
//! simulation (see `sim/mod.rs`): delays, reordering, loss, duplication,
//! partitions that heal, crashes that lose what was not durable, restarts,
//! clients resending to other nodes, joins that resume from any node.
//!
//! Checked at every durable write: causal delivery, gapless origins.
//! Checked at the end, after healing: identical logs (hidden copies
//! included), causal order within room order, exactly one visible copy per
//! `(author, id)` (even when two nodes accepted one key), every
//! acknowledged message everywhere, every connection got its backlog and
//! then every message once, and presence agrees.
//!
//! `SIM_SEEDS=<n>` runs n seeds per scenario, `SIM_KEEP_GOING=1` runs
//! them all whatever fails and lists the failures (`scripts/sim` does a
//! long run); `SIM_SEED=<s>` replays one.
#![allow(clippy::unwrap_used, clippy::disallowed_types)]
use std::collections::BTreeMap;
use std::sync::Mutex;

use meshchat_core::sim::{Faults, Sim, scenario};

/// Runs scenario `name` and returns its stats summed over its seeds.
fn run(
    name: &str,
    (base, count): (u64, u64),
    nodes: usize,
    steps: usize,
    faults: Faults,
    keep_down: Option<usize>,
) -> BTreeMap<&'static str, u64> {
    let total: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());
    scenario(name, base, count, |seed| {
        let mut sim = Sim::new(seed, nodes, faults);
        sim.run(steps, keep_down);
        sim.check();
        assert!(!sim.acked.is_empty(), "seed {seed}: no traffic");
        let mut total = total.lock().unwrap();
        for (k, v) in &sim.stats {
            *total.entry(*k).or_default() += v;
        }
        *total.entry("acked").or_default() += sim.acked.len() as u64;
    });
    let total = total.into_inner().unwrap();
    eprintln!("{name}: {total:?}");
    total
}

#[test]
fn a_calm_network_converges() {
    let faults = Faults { drop: 0.0, dup: 0.0, max_delay: 5, crash: 0.0, partition: 0.0 };
    let stats = run("a_calm_network_converges", (0, 10), 3, 2_000, faults, None);
    assert_eq!(stats.get("dropped"), None);
}

#[test]
fn drops_duplicates_and_reordering() {
    let faults = Faults { drop: 0.2, dup: 0.1, max_delay: 60, crash: 0.0, partition: 0.0 };
    let stats = run("drops_duplicates_and_reordering", (1_000_000, 20), 3, 3_000, faults, None);
    assert!(stats["dropped"] > 100 && stats["wants"] > 10, "{stats:?}");
}

#[test]
fn partitions_that_heal() {
    let faults = Faults { drop: 0.05, dup: 0.02, max_delay: 30, crash: 0.0, partition: 0.01 };
    let stats = run("partitions_that_heal", (2_000_000, 20), 4, 3_000, faults, None);
    assert!(stats["partitions"] > 30 && stats["fetches"] > 30, "{stats:?}");
}

#[test]
fn crashes_and_restarts_lose_nothing_acknowledged() {
    let faults = Faults { drop: 0.05, dup: 0.05, max_delay: 30, crash: 0.004, partition: 0.005 };
    let stats = run("crashes_and_restarts_lose_nothing_acknowledged", (3_000_000, 30), 3, 4_000, faults, None);
    assert!(stats["crashes"] > 20 && stats["rooms retired"] > 20, "{stats:?}");
    // Resends after a crash or across a partition make two copies of one
    // key on different origins: every node hides the same one.
    assert!(stats["hides"] > 0 && stats["lookups"] > 0, "{stats:?}");
    // And once more, with a node that never comes back.
    run("crashes_and_restarts_lose_nothing_acknowledged/one_down", (4_000_000, 15), 3, 3_000, faults, Some(1));
}

#[test]
fn joins_resume_from_any_node_and_read_from_the_store() {
    let faults = Faults { drop: 0.05, dup: 0.05, max_delay: 40, crash: 0.002, partition: 0.005 };
    let stats = run("joins_resume_from_any_node_and_read_from_the_store", (5_000_000, 20), 3, 4_000, faults, None);
    assert!(stats["joins"] > 200 && stats["catch-up reads"] > 20, "{stats:?}");
}

#[test]
fn messages_spread_while_their_origin_is_down() {
    // n1 is cut off from n3 for the whole run, so n3 can learn n1's
    // messages only from n2; then n1 dies for good.
    let faults = Faults { drop: 0.05, dup: 0.02, max_delay: 30, crash: 0.0, partition: 0.0 };
    let from_n1 = std::sync::atomic::AtomicUsize::new(0);
    scenario("messages_spread_while_their_origin_is_down", 6_000_000, 10, |seed| {
        let mut sim = Sim::new(seed, 3, faults);
        for _ in 0..3_000 {
            sim.cut.insert((0, 2));
            sim.update_links();
            sim.tick(true);
        }
        let n3_from_n1 = sim.nodes[2].disk.values().flatten().filter(|r| r.msg.origin == "n1").count();
        from_n1.fetch_add(n3_from_n1, std::sync::atomic::Ordering::Relaxed);
        sim.crash(0);
        for _ in 0..100_000 {
            sim.tick(false);
            if sim.converged() {
                break;
            }
        }
        assert!(sim.converged(), "seed {seed}: n2 and n3 did not converge");
        sim.check();
    });
    let from_n1 = from_n1.into_inner();
    assert!(from_n1 > 100, "n3 got n1's messages through n2: {from_n1}");
}

/// "general" is a created room whose owner bans, kicks, invites and
/// deletes on random nodes while everyone posts: every node's room, folded
/// as events reached it, shows what the log folded in room order shows.
#[test]
fn moderation_ends_the_same_on_every_node() {
    let faults = Faults { drop: 0.1, dup: 0.05, max_delay: 60, crash: 0.002, partition: 0.01 };
    scenario("moderation_ends_the_same_on_every_node", 8_000_000, 10, |seed| {
        let mut sim = Sim::new(seed, 3, faults);
        sim.governed = true;
        sim.run(3_000, None);
        sim.check();
        assert!(sim.stats.get("moderations").copied().unwrap_or(0) > 10, "seed {seed}: {:?}", sim.stats);
    });
}

#[test]
fn everything_at_once_on_five_nodes() {
    let faults = Faults { drop: 0.15, dup: 0.1, max_delay: 80, crash: 0.003, partition: 0.01 };
    run("everything_at_once_on_five_nodes", (7_000_000, 8), 5, 5_000, faults, None);
}
