//! What a room event costs as the room's history grows: one more reaction
//! into a room that holds 100, 10,000 or 100,000 events already, through
//! the governance alone and through the whole room state machine (taken,
//! committed, fanned out to 30 members, the state published for readers).
//! Flat is the goal: the cost must not grow with the history.
//!
//! `cargo bench -p meshchat --bench governance`
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use meshchat::core::governance::GovernanceLog;
use meshchat::core::{Config, Effect, Input, RoomState, Snapshot};
use meshchat_shared::rooms::{RoomEvent, StoredEvent};
use meshchat_shared::{Message, RoomVector};

const T0: u64 = 1_763_600_000_000;

fn event(origin: &str, seq: u64, ts: u64, author: &str, e: RoomEvent) -> Message {
    let mut vc = RoomVector::new();
    vc.set(origin, seq);
    Message {
        room: "general".into(),
        id: format!("§{origin}-{seq}"),
        author: author.into(),
        body: serde_json::to_string(&StoredEvent::new(e)).unwrap(),
        origin: origin.into(),
        seq,
        ts,
        vc,
    }
}

/// A room of `n` events: its creation, 30 members joining, then
/// reactions, read markers and edits (what a busy room's log holds).
fn history(n: u64) -> Vec<Message> {
    let created = RoomEvent::Created { title: String::new(), topic: String::new(), private: false, dm: vec![] };
    let mut log = vec![event("n1", 1, T0, "user0", created)];
    for u in 1..30 {
        log.push(event("n1", 1 + u, T0 + u, &format!("user{u}"), RoomEvent::Joined));
    }
    for i in log.len() as u64..n {
        let target = ("n2".to_owned(), 1 + i / 10);
        let e = match i % 3 {
            0 => RoomEvent::Reacted { origin: target.0, seq: target.1, emoji: "👍".into(), on: i.is_multiple_of(2) },
            1 => RoomEvent::Read,
            _ => RoomEvent::Edited { origin: target.0, seq: target.1, body: "edited".into() },
        };
        log.push(event("n1", 1 + i, T0 + 100 + i, &format!("user{}", i % 30), e));
    }
    log
}

fn reaction(seq: u64, ts: u64) -> Message {
    event("n3", seq, ts, "user7", RoomEvent::Reacted { origin: "n2".into(), seq: 1, emoji: "🎉".into(), on: true })
}

fn governance_alone(c: &mut Criterion) {
    let mut g = c.benchmark_group("one more event into a room's governance");
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    for n in [100u64, 10_000, 100_000] {
        let mut log = GovernanceLog::load("general", history(n));
        let mut seq = 0;
        g.bench_function(format!("after {n} events, in order"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    seq += 1;
                    black_box(log.insert(&reaction(seq, T0 + 1_000_000_000 + seq)));
                }
                start.elapsed()
            })
        });
        // A peer's event from a moment ago: it sorts before the last few.
        g.bench_function(format!("after {n} events, a little late"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    seq += 2;
                    log.insert(&reaction(seq, T0 + 1_000_000_000 + seq));
                    black_box(log.insert(&event("n4", seq, T0 + 1_000_000_000 + seq - 1, "user8", RoomEvent::Read)));
                }
                start.elapsed() / 2
            })
        });
    }
    g.finish();
}

fn through_the_room(c: &mut Criterion) {
    let mut g = c.benchmark_group("one more reaction through the room state machine");
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    for n in [100u64, 10_000, 100_000] {
        let mut vector = RoomVector::new();
        vector.set("n1", n);
        let snap = Snapshot { vector, last_ts: T0 + 100 + n, events: history(n), ..Snapshot::default() };
        let mut room = RoomState::new("general", "n1", Config::default(), snap);
        for conn in 0..30 {
            room.handle(Input::Join { conn, name: format!("user{conn}").into(), since: None }, T0);
        }
        while room.poll().is_some() {}
        let mut i = 0u64;
        g.bench_function(format!("after {n} events: taken, committed, fanned out to 30"), |b| {
            b.iter(|| {
                i += 1;
                let body = serde_json::to_string(&StoredEvent::new(RoomEvent::Reacted {
                    origin: "n2".into(),
                    seq: 1,
                    emoji: "🎉".into(),
                    on: i.is_multiple_of(2),
                }))
                .unwrap();
                let now = T0 + 1_000_000_000 + i;
                let id = format!("§r{i}");
                room.handle(Input::Send { req: i, conn: Some(7), author: "user7".into(), id, body }, now);
                let mut batch = 0;
                while let Some(e) = room.poll() {
                    if let Effect::Append { batch: b, .. } = e {
                        batch = b;
                    }
                }
                room.handle(Input::Committed { batch, ok: true }, now);
                while let Some(e) = black_box(room.poll()) {
                    drop(e);
                }
            })
        });
    }
    g.finish();
}

/// What a room pays when it loads (after being idle, or at a restart): its
/// governance folded from every event stored.
fn loading(c: &mut Criterion) {
    let mut g = c.benchmark_group("loading a room's governance");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for n in [10_000u64, 100_000] {
        let events = history(n);
        g.bench_function(format!("from {n} stored events"), |b| {
            b.iter(|| black_box(GovernanceLog::load("general", events.iter().cloned())))
        });
    }
    g.finish();
}

criterion_group!(benches, governance_alone, through_the_room, loading);
criterion_main!(benches);
