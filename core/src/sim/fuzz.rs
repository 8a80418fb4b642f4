//! The whole simulation as a fuzz target: the bytes choose the seed, the
//! number of nodes, the faults and the length of the run, and every check
//! of the long runs applies. A fuzzer explores what the seed ranges of
//! `tests/replication_sim.rs` do not: fault rates no scenario uses.

use crate::fuzz::Bytes;

use super::{Faults, Sim};

/// One short run of a mesh of 2 to 5 nodes, healed, then checked.
pub fn replication(data: &[u8]) {
    let mut b = Bytes(data);
    let seed = (0..4).fold(0u64, |s, _| s << 16 | b.u16());
    let n = 2 + usize::from(b.u8() % 4);
    let rate = |b: &mut Bytes<'_>, max: f64| f64::from(b.u8()) / 255.0 * max;
    let faults = Faults {
        drop: rate(&mut b, 0.3),
        dup: rate(&mut b, 0.2),
        max_delay: 1 + b.u16() % 100,
        crash: rate(&mut b, 0.005),
        partition: rate(&mut b, 0.02),
    };
    let steps = 100 + (b.u16() % 700) as usize;
    let mut sim = Sim::new(seed, n, faults);
    sim.governed = b.u8() % 2 == 0;
    sim.run(steps, None);
    sim.check();
}
