//! Entry points for the fuzzers (`fuzz/`, cargo-fuzz) that need nothing
//! but the core: the room state machine fed arbitrary input, and an origin
//! whose every stored message must pass the check its peers make. Each must
//! return whatever the bytes: no panic, no hang, memory bounded. The
//! server's `tools::fuzz` replays their corpora in its tests.

use std::collections::BTreeSet;

use meshchat_shared::{Message, RoomVector};

use crate::Signed;
use crate::room::{Config, Effect, Input, RoomState, Snapshot};

/// What an origin stores, every peer takes: sends of any text and actions
/// of any kind (texts up to and past the limit, of the characters JSON
/// escapes) go through the real room core of an origin; every message it
/// hands to its store must pass the check each peer makes on arrival
/// (`meshchat_shared::stored::validate_stored`), or a room would stall.
pub fn origin_peer(data: &[u8]) {
    use meshchat_shared::rooms::{RoomEvent, StoredEvent};
    let mut b = Bytes(data);
    let mut room = RoomState::new("r", "n1", Config::default(), Snapshot::default());
    let mut now = 1_000u64;
    let mut req = 0;
    while !b.is_empty() && req < 64 {
        req += 1;
        now += 10;
        // A text of one character repeated: lengths near the limit are common.
        let c = ['x', '"', '\n', '\\', '\u{1}', 'é', '🦀', ' '][usize::from(b.u8() % 8)];
        let text: String = std::iter::repeat_n(c, (b.u16() % 4_100) as usize).collect();
        let target = (ORIGINS[usize::from(b.u8()) % 4].to_owned(), b.u16() % 8);
        let (id, body) = match b.u8() % 5 {
            0 => (format!("m{req}"), text),
            kind => {
                let event = match kind {
                    1 => RoomEvent::Reply {
                        origin: target.0,
                        seq: target.1,
                        body: text,
                        thread: req % 2 == 0,
                        also: false,
                    },
                    2 => RoomEvent::Edited { origin: target.0, seq: target.1, body: text },
                    3 => RoomEvent::Topic { topic: text },
                    _ => RoomEvent::Kicked { user: "u1".into(), reason: text },
                };
                let stored = StoredEvent { event, admin: b.u8() % 2 == 0, own: true, in_thread: None };
                (format!("§a{req}"), serde_json::to_string(&stored).unwrap_or_default())
            }
        };
        let author = ["u0", "u1", " u2", ""][usize::from(b.u8() % 4)];
        room.handle(Input::Send { req, conn: None, author: author.into(), id, body }, now);
        while let Some(e) = room.poll() {
            match e {
                Effect::Append { batch, msgs } => {
                    for s in &msgs {
                        let peer = meshchat_shared::stored::validate_stored(&s.msg, "r");
                        assert!(peer.is_ok(), "the origin stored what a peer refuses ({peer:?}): {:?}", s.msg);
                    }
                    room.handle(Input::Committed { batch, ok: true }, now);
                }
                Effect::Lookup { lookup, .. } => room.handle(Input::Found { lookup, result: Ok(None) }, now),
                _ => {}
            }
        }
    }
}

/// Reads bytes as numbers, 0 once they run out.
pub struct Bytes<'a>(pub &'a [u8]);

impl Bytes<'_> {
    pub fn u8(&mut self) -> u8 {
        let (b, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        b
    }
    pub fn u16(&mut self) -> u64 {
        u64::from(self.u8()) << 8 | u64::from(self.u8())
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

const ORIGINS: [&str; 4] = ["n1", "n2", "n3", "n4"];

/// A message a peer might send: any origin, seq, stamp and vector, signed
/// or not (this core checks order and duplicates; signatures are the
/// mesh's).
fn peer_message(b: &mut Bytes<'_>) -> Signed {
    let origin = ORIGINS[usize::from(b.u8()) % ORIGINS.len()];
    let seq = b.u16() % 64;
    let mut vc = RoomVector::new();
    for _ in 0..b.u8() % 3 {
        vc.set(ORIGINS[usize::from(b.u8()) % ORIGINS.len()], b.u16() % 64);
    }
    let msg = Message {
        room: "r".into(),
        id: format!("m{}", b.u8() % 8),
        author: format!("u{}", b.u8() % 4),
        body: "x".repeat(usize::from(b.u8() % 4)),
        origin: origin.into(),
        seq,
        ts: b.u16() * 1_000,
        vc,
    };
    Signed { msg, proof: None }
}

/// One room's state machine fed with arbitrary peer messages, client
/// sends, joins, commits that succeed or fail, store answers and timers.
pub fn room_core(data: &[u8]) {
    let mut b = Bytes(data);
    let mut room = RoomState::new("r", "n1", Config::default(), Snapshot::default());
    let mut now = 1_000u64;
    let mut pending: Vec<Effect> = Vec::new();
    let mut steps = 0;
    while !b.is_empty() && steps < 2_000 {
        steps += 1;
        now += b.u16() % 5_000;
        let input = match b.u8() % 9 {
            0 | 1 => {
                let msgs = (0..1 + b.u8() % 4).map(|_| peer_message(&mut b)).collect();
                Input::Remote { from: ORIGINS[usize::from(b.u8()) % 4].into(), msgs }
            }
            2 => Input::Send {
                req: u64::from(b.u8()),
                conn: Some(u64::from(b.u8() % 4)),
                author: format!("u{}", b.u8() % 4).into(),
                id: format!("m{}", b.u8() % 8),
                body: "hello".into(),
            },
            3 => Input::Join { conn: u64::from(b.u8() % 4), name: format!("u{}", b.u8() % 4).into(), since: None },
            4 if b.u8() % 2 == 0 => Input::Leave { conn: u64::from(b.u8() % 4) },
            4 => Input::Gone { conn: u64::from(b.u8() % 4) },
            5 => Input::PeerDown { peer: ORIGINS[usize::from(b.u8()) % 4].into() },
            6 => {
                let names: BTreeSet<String> = (0..b.u8() % 3).map(|i| format!("u{i}")).collect();
                Input::PeerPresence { peer: ORIGINS[usize::from(b.u8()) % 4].into(), names }
            }
            7 => Input::Timeout,
            _ => match answer(&mut pending, b.u8()) {
                Some(input) => input,
                None => continue,
            },
        };
        room.handle(input, now);
        while let Some(e) = room.poll() {
            pending.push(e);
        }
        pending.truncate(256);
    }
}

/// The store's answer to one of the effects asked for so far, if any.
fn answer(pending: &mut Vec<Effect>, pick: u8) -> Option<Input> {
    let at = pending
        .iter()
        .position(|e| matches!(e, Effect::Append { .. } | Effect::Lookup { .. } | Effect::Read { .. }))?;
    match pending.remove(at) {
        Effect::Append { batch, .. } => Some(Input::Committed { batch, ok: !pick.is_multiple_of(8) }),
        Effect::Lookup { lookup, .. } => Some(Input::Found { lookup, result: Ok(None) }),
        Effect::Read { read, .. } => Some(Input::Read { read, msgs: (!pick.is_multiple_of(4)).then(Vec::new) }),
        _ => None,
    }
}
