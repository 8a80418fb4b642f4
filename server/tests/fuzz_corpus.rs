//! The fuzzers' corpora (fuzz/corpus/<target>/), replayed through the same
//! entry points on every test run: an input that once crashed a target
//! stays fixed. Then a few thousand seeded random inputs per target, a
//! short fuzz without the nightly toolchain (scripts/fuzz runs the real one).
#![allow(clippy::unwrap_used)]

use std::path::Path;

use rand::{Rng, SeedableRng};

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 7] = [
    ("client_frame", meshchat::tools::fuzz::client_frame),
    ("server_frames", meshchat::tools::fuzz::server_frames),
    ("mesh_frame", meshchat::tools::fuzz::mesh_frame),
    ("http_bodies", meshchat::tools::fuzz::http_bodies),
    ("room_core", meshchat::tools::fuzz::room_core),
    ("origin_peer", meshchat::tools::fuzz::origin_peer),
    ("replication", meshchat::core::sim::fuzz::replication),
];

/// A whole simulated mesh per input: a few, not thousands.
fn inputs_for(name: &str) -> usize {
    if name == "replication" { 20 } else { 2_000 }
}

#[test]
fn every_corpus_input_returns() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    for (name, target) in TARGETS {
        let dir = root.join(name);
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            target(&std::fs::read(&path).unwrap());
            n += 1;
        }
        assert!(n > 0, "{name}: an empty corpus");
    }
}

#[test]
fn seeded_random_inputs_return() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(17);
    for (name, target) in TARGETS {
        for _ in 0..inputs_for(name) {
            let len = rng.random_range(0..512);
            let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            target(&bytes);
        }
        // JSON-shaped noise for the JSON decoders.
        for _ in 0..inputs_for(name) / 4 {
            let keys = ["type", "room", "id", "body", "since", "v", "msg", "name", "seq", "vc"];
            let mut s = String::from("{");
            for _ in 0..rng.random_range(0..6) {
                let k = keys[rng.random_range(0..keys.len())];
                let v = match rng.random_range(0..5) {
                    0 => "null".to_owned(),
                    1 => rng.random::<u32>().to_string(),
                    2 => format!("\"{}\"", keys[rng.random_range(0..keys.len())]),
                    3 => "{\"n1\":1}".to_owned(),
                    _ => "[\"a\",1]".to_owned(),
                };
                s.push_str(&format!("\"{k}\":{v},"));
            }
            s.push_str("\"x\":0}");
            target(s.as_bytes());
        }
        eprintln!("{name}: {} inputs", inputs_for(name) + inputs_for(name) / 4);
    }
}
