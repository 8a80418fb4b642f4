//! A scenario's seeds and how a run over them ends. By default a scenario
//! stops at its first failing seed. A long run (`SIM_KEEP_GOING=1`) runs
//! every seed and counts: at the end it lists the failing seeds, each with
//! the first line of its panic, and fails. A scenario that ends prints one
//! `sim-summary` line (scenario, seeds, failed, seconds) for the table of
//! `scripts/sim`, and a `sim-failed` line per failing seed.

use std::panic::{RefUnwindSafe, catch_unwind, resume_unwind};

/// Seeds of a scenario: `base..base + count`, or `SIM_SEEDS` of them for a
/// long run, or only `SIM_SEED` when it falls in this scenario's range
/// (each scenario owns a million seeds from its base).
pub fn seeds(base: u64, count: u64) -> Vec<u64> {
    if let Some(s) = std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()) {
        return if (base..base + 1_000_000).contains(&s) { vec![s] } else { Vec::new() };
    }
    let n: u64 = std::env::var("SIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(count);
    (base..base + n.min(999_999)).collect()
}

/// What a scenario's seeds came to.
#[derive(Debug)]
pub struct Tally {
    pub seeds: usize,
    /// Failing seeds, each with the first line of its panic.
    pub failed: Vec<(u64, String)>,
    pub seconds: f64,
}

/// Runs `body` for the seeds of scenario `name` (see [`seeds`]); fails at
/// the first failing seed, or with `SIM_KEEP_GOING=1` after all of them,
/// listing the failures. `name` is the test's (what a replay filters on),
/// with a `/suffix` when a test runs more than one scenario.
pub fn scenario(name: &str, base: u64, count: u64, body: impl Fn(u64) + RefUnwindSafe) {
    let keep_going = std::env::var("SIM_KEEP_GOING").is_ok_and(|v| !v.is_empty() && v != "0");
    let tally = run_seeds(name, &seeds(base, count), keep_going, &body);
    eprintln!("sim-summary\t{name}\t{}\t{}\t{:.1}", tally.seeds, tally.failed.len(), tally.seconds);
    for (seed, first) in &tally.failed {
        eprintln!("sim-failed\t{name}\t{seed}\t{first}");
    }
    if !tally.failed.is_empty() {
        let list: Vec<String> = tally.failed.iter().map(|(s, l)| format!("  {s}: {l}")).collect();
        panic!("{name}: {} of {} seeds failed:\n{}", tally.failed.len(), tally.seeds, list.join("\n"));
    }
}

/// Runs `body` for each seed; a failure names the seed and how to replay
/// it, and ends the run unless `keep_going`.
// The run's wall time is the tests' clock, not the core's.
#[allow(clippy::disallowed_types)]
pub fn run_seeds(name: &str, seeds: &[u64], keep_going: bool, body: &(impl Fn(u64) + RefUnwindSafe)) -> Tally {
    let start = std::time::Instant::now();
    let test = name.split('/').next().unwrap_or(name);
    let mut failed = Vec::new();
    for &seed in seeds {
        if let Err(e) = catch_unwind(|| body(seed)) {
            eprintln!(
                "\n*** simulation failed with seed {seed}; replay it with SIM_SEED={seed} cargo test --release -p meshchat-core --test replication_sim {test}\n"
            );
            if !keep_going {
                resume_unwind(e);
            }
            let message = e.downcast_ref::<String>().map(String::as_str).or_else(|| e.downcast_ref::<&str>().copied());
            let first = message.and_then(|m| m.lines().next()).unwrap_or("(a panic without a message)");
            failed.push((seed, first.to_owned()));
        }
    }
    Tally { seeds: seeds.len(), failed, seconds: start.elapsed().as_secs_f64() }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    #[test]
    fn a_long_run_counts_every_failing_seed_and_a_short_one_stops_at_the_first() {
        let odd = |s: u64| assert!(s % 2 == 1, "seed {s}: even\nand more");
        let tally = run_seeds("t", &[1, 2, 3, 4, 5], true, &odd);
        assert_eq!(tally.seeds, 5);
        assert_eq!(tally.failed, [(2, "seed 2: even".to_owned()), (4, "seed 4: even".to_owned())]);
        let last = AtomicU64::new(0);
        let stopped = catch_unwind(|| {
            run_seeds("t", &[1, 2, 3], false, &|s| {
                last.store(s, Ordering::Relaxed);
                odd(s)
            })
        });
        assert!(stopped.is_err());
        assert_eq!(last.load(Ordering::Relaxed), 2, "no seed after the first failure");
    }
}
