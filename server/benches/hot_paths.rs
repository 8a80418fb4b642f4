//! Micro-benchmarks of the hot paths: `cargo bench -p meshchat`.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use meshchat::core::{CausalLog, Config, Effect, Input, RoomState, Signed, Snapshot, VectorIndex};
use meshchat::infra::metrics::Metrics;
use meshchat::mesh::proto::{self, LaneFrame, WireMsg};
use meshchat::store::{Store, Stored, Sync};
use meshchat_shared::frames::{decode_client, encode};
use meshchat_shared::{Message, RoomVector, ServerFrame};

fn msg(origin: &str, seq: u64, deps: &[(&str, u64)]) -> Message {
    Message {
        id: format!("7f0c2a9e-0d7b-4b8e-9f55-{seq:012}"),
        author: "alice".into(),
        body: "Morning! Did the n2 restart go through? Nobody noticed a thing.".into(),
        ts: 1_763_600_000_000 + seq,
        ..Message::sample("general", origin, seq).after(deps)
    }
}

fn frames(c: &mut Criterion) {
    let m = msg("n1", 7, &[("n2", 3), ("n3", 9)]);
    let mut g = c.benchmark_group("client frames");
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode message (borrowing, once per fan-out)", |b| b.iter(|| encode::message(black_box(&m))));
    g.bench_function("encode message via ServerFrame (clones)", |b| {
        b.iter(|| ServerFrame::Message { msg: black_box(&m).clone() }.to_json())
    });
    let send = r#"{"type":"send","room":"general","id":"7f0c2a9e-0d7b-4b8e-9f55-2f1c8c1f3a10","body":"Morning! Did the n2 restart go through?"}"#;
    g.bench_function("decode send", |b| b.iter(|| decode_client(black_box(send)).unwrap()));
    g.finish();

    let batch: Vec<Message> = (1..=64).map(|s| msg("n1", s, &[("n2", 3)])).collect();
    let msgs = batch.into_iter().map(|msg| WireMsg { msg, sig: Some(vec![7; 72]) }).collect();
    let frame = LaneFrame::Msgs { room: "general".into(), msgs };
    let bytes = proto::encode(&frame).unwrap();
    let mut g = c.benchmark_group("mesh frames (64 messages)");
    g.throughput(Throughput::Elements(64));
    g.bench_function("encode", |b| b.iter(|| proto::encode(black_box(&frame)).unwrap()));
    g.bench_function("decode", |b| b.iter(|| proto::decode::<LaneFrame>(black_box(&bytes[4..])).unwrap()));
    g.finish();
}

fn replication(c: &mut Criterion) {
    let n = 1_000u64;
    // Two origins, each message depending on the other's latest.
    let msgs: Vec<Message> =
        (1..=n).flat_map(|s| [msg("n2", s, &[("n3", s - 1)]), msg("n3", s, &[("n2", s)])]).collect();
    let mut g = c.benchmark_group("replication core");
    g.throughput(Throughput::Elements(msgs.len() as u64));
    g.bench_function("deliver in causal order", |b| {
        b.iter_batched(
            || (CausalLog::new("general", "n1", RoomVector::new(), 0), msgs.clone()),
            |(mut core, msgs)| {
                for m in msgs {
                    black_box(core.receive(Signed { msg: m, proof: None }, u64::MAX / 2, 60_000).unwrap());
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("deliver in reverse (all held back, then released)", |b| {
        b.iter_batched(
            || (CausalLog::new("general", "n1", RoomVector::new(), 0), msgs.iter().rev().cloned().collect::<Vec<_>>()),
            |(mut core, msgs)| {
                for m in msgs {
                    black_box(core.receive(Signed { msg: m, proof: None }, u64::MAX / 2, 60_000).unwrap());
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("accept local", |b| {
        b.iter_batched(
            || CausalLog::new("general", "n1", RoomVector::new(), 0),
            |mut core| {
                for i in 0..2_000u64 {
                    black_box(core.accept_local("alice", "id", "body", 1_763_600_000_000 + i));
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn storage(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut g = c.benchmark_group("store group commit");
    g.sample_size(10);
    for (sync, label) in [(Sync::Full, "sync=full"), (Sync::Normal, "sync=normal")] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "n1", sync, Arc::new(Metrics::default())).unwrap();
        let mut seq = 0u64;
        let writers = 500u64;
        g.throughput(Throughput::Elements(writers));
        // 500 rooms' worth of single-message appends in flight at once: one
        // group commit (one WAL sync) should carry most of them.
        g.bench_function(format!("{writers} concurrent appends, {label}"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let mut waits = Vec::with_capacity(writers as usize);
                    for _ in 0..writers {
                        seq += 1;
                        let m = Arc::new(msg("n1", seq, &[]));
                        waits.push(store.append(vec![Stored { msg: m, hidden: false, proof: None }]).await.unwrap());
                    }
                    for w in waits {
                        w.await.unwrap().unwrap();
                    }
                })
            })
        });
        // Light load: every message its own commit (and, with full, its own sync).
        g.throughput(Throughput::Elements(1));
        g.bench_function(format!("one append at a time, {label}"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    seq += 1;
                    let m = Arc::new(msg("n1", seq, &[]));
                    let wait = store.append(vec![Stored { msg: m, hidden: false, proof: None }]).await.unwrap();
                    wait.await.unwrap().unwrap();
                })
            })
        });
    }
    g.finish();
}

/// The room's whole state machine: a local send, its commit, the ack and
/// the fan-out to 30 members, as the actor drives it.
fn room_state(c: &mut Criterion) {
    let mut g = c.benchmark_group("room state machine");
    g.throughput(Throughput::Elements(1));
    let mut room = RoomState::new("general", "n1", Config::default(), Snapshot::default());
    for conn in 0..30 {
        room.handle(Input::Join { conn, name: format!("user{conn}").into(), since: None }, 1);
    }
    while room.poll().is_some() {}
    let mut i = 0u64;
    g.bench_function("send, commit, ack, fan out to 30", |b| {
        b.iter(|| {
            i += 1;
            let send =
                Input::Send { req: i, conn: Some(0), author: "user0".into(), id: i.to_string(), body: "hi".into() };
            room.handle(send, 1_763_600_000_000 + i);
            let mut batch = 0;
            while let Some(e) = room.poll() {
                if let Effect::Append { batch: b, .. } = e {
                    batch = b;
                }
            }
            room.handle(Input::Committed { batch, ok: true }, 1_763_600_000_000 + i);
            while let Some(e) = black_box(room.poll()) {
                drop(e);
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group("anti-entropy digest");
    let mut index = VectorIndex::new();
    for r in 0..100_000u64 {
        index.load(&format!("room-{r}"), &[("n1", r % 9 + 1)].into_iter().collect());
    }
    let mut seq = 10u64;
    g.bench_function("update one room of 100,000", |b| {
        b.iter(|| {
            seq += 1;
            index.set(black_box("room-77"), &[("n1", seq)].into_iter().collect::<RoomVector>(), seq);
        })
    });
    g.finish();
}

/// A metric update on the fan-out path: prometheus-client's counter against
/// the plain atomic it replaced.
fn metrics(c: &mut Criterion) {
    let mut g = c.benchmark_group("metrics");
    let m = meshchat::infra::metrics::Metrics::default();
    g.bench_function("prometheus-client counter inc", |b| b.iter(|| black_box(&m.deliveries).inc()));
    let plain = std::sync::atomic::AtomicU64::new(0);
    g.bench_function("plain AtomicU64 fetch_add", |b| {
        b.iter(|| black_box(&plain).fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    });
    g.bench_function("render /metrics", |b| b.iter(|| m.render(black_box("n1"), 2, 3)));
}

criterion_group!(benches, frames, replication, room_state, storage, metrics);
criterion_main!(benches);
