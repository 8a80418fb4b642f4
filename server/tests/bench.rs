//! `meshchat bench` at a small scale: every scenario runs end to end against
//! real nodes and its accounting holds (nothing lost, nothing twice), so the
//! load generator cannot rot between benchmark runs. Speed is not checked.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use serde_json::Value;

fn bench(json: &std::path::Path, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_meshchat"))
        .arg("bench")
        .arg("--json")
        .arg(json)
        .args(args)
        .output()
        .expect("run meshchat bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "meshchat bench {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

#[test]
fn fanout_ramps_and_accounts_for_every_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let v = bench(
        &dir.path().join("fanout.json"),
        &[
            "fanout",
            "--clients",
            "60",
            "--room-size",
            "6",
            "--start",
            "150",
            "--step",
            "150",
            "--max",
            "300",
            "--warmup-s",
            "1",
            "--measure-s",
            "2",
            // A debug build on a shared machine: latency must not cut the
            // ramp here (when it does is a unit test of `Step::within`).
            "--bound-ms",
            "60000",
        ],
    );
    let steps = v["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{v}");
    for s in steps {
        assert!(s["deliveries_per_s"].as_f64().unwrap() > 0.0);
        assert!(s["same_node"]["count"].as_u64().unwrap() > 0, "{s}");
        assert!(s["cross_node"]["count"].as_u64().unwrap() > 0, "{s}");
    }
    let a = &v["accounting"];
    assert!(a["acked"].as_u64().unwrap() > 0);
    assert_eq!(
        (a["lost"].as_u64(), a["duplicated"].as_u64(), a["errors"].as_u64()),
        (Some(0), Some(0), Some(0)),
        "{a}"
    );
    // Every acked message, to each of the other five members.
    assert_eq!(a["expected_deliveries"].as_u64().unwrap(), 5 * a["acked"].as_u64().unwrap());
}

#[test]
fn idle_reports_memory_per_connection() {
    let dir = tempfile::tempdir().unwrap();
    let v = bench(&dir.path().join("idle.json"), &["idle", "--connections", "200", "--room-size", "50"]);
    assert_eq!(v["connections"], 200);
    let per = v["kib_per_connection"].as_f64().unwrap();
    assert!(per > 0.0 && v["rss_after_kib"].as_u64() > v["rss_before_kib"].as_u64(), "{v}");
}

#[test]
fn failover_brings_every_displaced_client_back_with_nothing_lost() {
    let dir = tempfile::tempdir().unwrap();
    let v = bench(
        &dir.path().join("failover.json"),
        &["failover", "--clients", "30", "--room-size", "5", "--rate", "30", "--warmup-s", "2", "--down-s", "3"],
    );
    assert_eq!(v["displaced"], 10, "{v}");
    assert_eq!(v["recovered"], 10, "{v}");
    assert!(v["acked"].as_u64().unwrap() > 0);
    assert_eq!(
        (v["lost"].as_u64(), v["duplicated"].as_u64(), v["errors"].as_u64()),
        (Some(0), Some(0), Some(0)),
        "{v}"
    );
}

#[test]
fn capacity_ramps_a_workspace_and_phones_resume_with_nothing_lost() {
    let dir = tempfile::tempdir().unwrap();
    let v = bench(
        &dir.path().join("capacity.json"),
        &[
            "capacity",
            "--people",
            "40,80",
            // Busy people and restless phones, so that a short window
            // holds sends, typing and phones coming back to catch up.
            "--gap-s",
            "2",
            "--phones",
            "0.5",
            "--phone-online-s",
            "2",
            "--warmup-s",
            "1",
            "--measure-s",
            "5",
            "--bound-ms",
            "60000",
        ],
    );
    let run = &v["runs"][0];
    assert_eq!(run["system"], "meshchat", "{v}");
    let levels = run["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 2, "{v}");
    for l in levels {
        let (a, w) = (&l["accounting"], &l["window"]);
        assert!(a["acked"].as_u64().unwrap() > 0 && w["latency"]["count"].as_u64().unwrap() > 0, "{l}");
        assert!(w["reconnects"].as_u64().unwrap() > 0, "phones came back: {l}");
        assert!(a["expected_deliveries"].as_u64().unwrap() > a["acked"].as_u64().unwrap(), "{l}");
        let counts = ["lost", "missed_while_away", "duplicated", "errors"].map(|k| a[k].as_u64());
        assert_eq!(counts, [Some(0); 4], "{l}");
        assert_eq!(l["within"], true, "{l}");
    }
    assert_eq!(run["capacity"], 80, "{v}");
}
