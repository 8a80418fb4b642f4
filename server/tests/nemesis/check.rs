//! The checker: after healing everything, every node's state against the
//! recorded history, and the nodes against each other.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::common::{all_events_as, wait_peers_up};
use super::world::{Acked, CLUB, FOLLOWERS, Op, Place, ROOMS, What, World, fetch, target_of, try_api};

const REDACTED: &str = "\u{0}redacted:";

/// Heals every fault and restarts what is down.
pub async fn heal_all(w: &mut World) {
    w.net.heal();
    for i in 0..w.nodes.len() {
        let _ = std::fs::remove_file(w.disks[i].dir.path().join("filler"));
        w.nodes[i].signal("CONT");
        if !w.nodes[i].is_running() {
            w.nodes[i].restart().unwrap();
        }
    }
    for i in 0..w.nodes.len() {
        wait_peers_up(&w.nodes[i], w.nodes.len() - 1).await;
    }
}

/// What the checks saw that is allowed, counted for the report.
#[derive(Debug, Default)]
pub struct Findings {
    /// Acknowledged requests shown at another place: a retry taken by two
    /// nodes (one paused with the request queued), the copy earlier in
    /// room order kept and the acknowledged one hidden as its duplicate.
    pub moved: usize,
    /// Deletes that named such a hidden copy: its visible twin stays.
    pub deletes_of_hidden: usize,
    /// Acknowledged events that room order made void: a `left` placed
    /// after a concurrent one (by a node's clock ahead), an edit or a
    /// reaction placed after its target's delete. No node shows them.
    pub voided: usize,
}

pub async fn heal_and_check(w: &mut World) -> Findings {
    heal_all(w).await;
    flush_outboxes(w).await;
    let mut views = BTreeMap::new();
    let mut found = Findings::default();
    for room in ROOMS.into_iter().chain([CLUB]) {
        let view = converged(w, room).await;
        let (moved, voided) = check_room(w, room, &view);
        (found.moved, found.voided) = (found.moved + moved, found.voided + voided);
        views.insert(room, view);
    }
    let visible: BTreeSet<Place> =
        views.iter().flat_map(|(room, msgs)| msgs.iter().map(|m| target_of(room, m))).collect();
    found.deletes_of_hidden = w.deleted.iter().filter(|p| !visible.contains(*p)).count();
    check_deletes(w, &views, &visible);
    check_files(w).await;
    check_search(w, &visible).await;
    check_claims(w);
    check_identical(w, "node lists", "/api/nodes", |v| sorted(&v["nodes"], "id")).await;
    check_identical(w, "club membership", &format!("/api/rooms/{CLUB}"), |v| sorted(&v["members"], "name")).await;
    check_presence(w).await;
    check_followers(w, &views).await;
    found
}

/// Every request acknowledged at last, the WebSocket clients' included.
async fn flush_outboxes(w: &mut World) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Some(req) = w.outbox.pop() {
        if Instant::now() > deadline {
            let seen = target_everywhere(w, &req).await;
            w.fail(&format!("u{}'s {} never acknowledged after healing; its target: {seen}", req.user, req.id));
        }
        let node = w.outbox.len() % w.nodes.len();
        w.send(req, node).await;
    }
    for f in 0..FOLLOWERS {
        loop {
            let pending = w.followers[f].handle.snapshot().await.pending;
            let failed = w.followers[f].failed.lock().unwrap().clone();
            if !failed.is_empty() {
                w.fail(&format!("u{f}'s client gave up on {failed:?}"));
            }
            if pending == 0 {
                break;
            }
            if Instant::now() > deadline {
                w.fail(&format!("u{f}'s client still has {pending} unacknowledged after healing"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    w.collect_followers();
}

/// What each node holds at the place an act names (for a failure's report).
async fn target_everywhere(w: &World, req: &super::world::Req) -> String {
    let What::Act(action) = &req.what else { return String::new() };
    let place = key(action);
    let mut out = Vec::new();
    for (i, node) in w.nodes.iter().enumerate() {
        let log = all_events_as(node, req.room, Some(&w.tokens[0])).await;
        let found = log.iter().find(|m| key(m) == place).map_or("nothing".to_owned(), |m| m.to_string());
        out.push(format!("n{}: {found}", i + 1));
    }
    out.join("; ")
}

/// Every node's log of `room` (events as stored) once they are identical.
async fn converged(w: &World, room: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut views = Vec::new();
        for node in &w.nodes {
            views.push(all_events_as(node, room, Some(&w.tokens[0])).await);
        }
        if views.iter().all(|v| *v == views[0]) {
            return views.swap_remove(0);
        }
        if Instant::now() > deadline {
            let sizes: Vec<usize> = views.iter().map(Vec::len).collect();
            w.fail(&format!("{room} never converged: {sizes:?} messages"));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn key(m: &Value) -> (String, u64) {
    (m["origin"].as_str().unwrap_or_default().to_owned(), m["seq"].as_u64().unwrap_or_default())
}

/// Every acknowledged request exactly once (by author and id), unless
/// room order made it void; no place in the log twice; stamps within
/// reason despite the clock jumps. How many acknowledged requests are shown
/// at another place than acknowledged, and how many are void.
fn check_room(w: &World, room: &str, msgs: &[Value]) -> (usize, usize) {
    let mut at: BTreeSet<(String, u64)> = BTreeSet::new();
    let mut ids: BTreeMap<(String, String), (String, u64)> = BTreeMap::new();
    let now = meshchat::infra::clock::now_ms();
    for m in msgs {
        if !at.insert(key(m)) {
            w.fail(&format!("{:?} twice in {room}", key(m)));
        }
        let id = (m["author"].as_str().unwrap_or("").to_owned(), m["id"].as_str().unwrap_or("").to_owned());
        if ids.insert(id.clone(), key(m)).is_some() {
            w.fail(&format!("{id:?} shown twice in {room}"));
        }
        if m["ts"].as_u64().unwrap_or_default() > now + 120_000 {
            w.fail(&format!("a stamp far in the future: {m}"));
        }
    }
    check_causal(w, room, msgs);
    let (mut moved, mut voided) = (0, 0);
    for a in w.acked.iter().filter(|a| a.room == room) {
        match ids.get(&(format!("u{}", a.user), a.id.clone())) {
            Some(k) if *k == key_of(a) => {}
            Some(_) => moved += 1,
            None if is_void(w, a, msgs) => voided += 1,
            None => w.fail(&format!("acknowledged u{}'s {} (at {:?}) missing", a.user, a.id, a.target())),
        }
    }
    (moved, voided)
}

/// Causal order: each message comes after everything its origin had
/// delivered when it was made (its vector, `vc`), as every node shows it.
fn check_causal(w: &World, room: &str, msgs: &[Value]) {
    // Per origin, the last place (index) of any of its seqs up to each seq.
    let mut last_up_to: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut by_origin: BTreeMap<&str, BTreeMap<u64, usize>> = BTreeMap::new();
    for (i, m) in msgs.iter().enumerate() {
        by_origin.entry(m["origin"].as_str().unwrap_or("")).or_default().insert(m["seq"].as_u64().unwrap_or(0), i);
    }
    for (origin, seqs) in &by_origin {
        let top = seqs.keys().last().copied().unwrap_or(0) as usize;
        let mut acc = vec![0usize; top + 1];
        let mut best = 0;
        for (s, slot) in acc.iter_mut().enumerate() {
            if let Some(&i) = seqs.get(&(s as u64)) {
                best = best.max(i + 1);
            }
            *slot = best;
        }
        last_up_to.insert(origin, acc);
    }
    for (i, m) in msgs.iter().enumerate() {
        for (origin, n) in m["vc"].as_object().into_iter().flatten() {
            let mut n = n.as_u64().unwrap_or(0) as usize;
            if m["origin"] == origin.as_str() {
                n = n.saturating_sub(1);
            }
            let Some(acc) = last_up_to.get(origin.as_str()) else { continue };
            // `acc` holds place + 1: 0 for none of them shown.
            if acc[n.min(acc.len() - 1)] > i + 1 {
                w.fail(&format!("{room}: {:?} shown before what it had seen of {origin} (up to seq {n})", key(m)));
            }
        }
    }
}

/// Was `a`, missing from the room, rightly left out? An edit or reaction
/// whose target was deleted; a `left` whose author, at its place in room
/// order, was no member (a concurrent `left` came first).
fn is_void(w: &World, a: &Acked, msgs: &[Value]) -> bool {
    let What::Act(action) = &a.what else { return false };
    match action["event"].as_str() {
        Some("edited" | "reacted") => w.deleted.contains(&target_of(a.room, action)),
        Some("left") => {
            let me = format!("u{}", a.user);
            let mut member = false;
            let mine = (a.ts, a.origin.as_str(), a.seq);
            for m in msgs {
                let theirs =
                    (m["ts"].as_u64().unwrap_or(0), m["origin"].as_str().unwrap_or(""), m["seq"].as_u64().unwrap_or(0));
                if theirs >= mine {
                    break;
                }
                if m["author"] == me.as_str() {
                    let event: Value = serde_json::from_str(m["body"].as_str().unwrap_or("")).unwrap_or(Value::Null);
                    match event["event"].as_str() {
                        Some("joined") => member = true,
                        Some("left") => member = false,
                        _ => {}
                    }
                }
            }
            !member
        }
        _ => false,
    }
}

fn key_of(a: &Acked) -> (String, u64) {
    (a.origin.clone(), a.seq)
}

/// The word a request wrote (`x` and its id) and a search that finds
/// exactly it (that word and the next: search takes the last as a prefix).
fn word(a: &Acked) -> Option<(String, String)> {
    let text = match &a.what {
        What::Post(body) => body.as_str(),
        What::Act(action) => action["body"].as_str()?,
        What::File(_) => return None,
    };
    let words: Vec<&str> = text.split_whitespace().take(2).collect();
    Some((words.first()?.to_string(), words.join("+")))
}

fn holds_word(body: &str, w: &str) -> bool {
    body.split(|c: char| !c.is_alphanumeric()).any(|x| x == w)
}

/// The words of deleted messages and of every edit of them: gone.
fn erased_words(w: &World, visible: &BTreeSet<Place>) -> Vec<((String, String), Place)> {
    let mut words = Vec::new();
    for a in &w.acked {
        let target = match &a.what {
            What::Act(action) if action["event"] == "edited" => target_of(a.room, action),
            _ => a.target(),
        };
        if w.deleted.contains(&target) && visible.contains(&target) {
            words.extend(word(a).map(|x| (x, target)));
        }
    }
    words
}

/// Each deleted message a tombstone, and no word of it or its edits left.
fn check_deletes(w: &World, views: &BTreeMap<&'static str, Vec<Value>>, visible: &BTreeSet<Place>) {
    let erased = erased_words(w, visible);
    for (room, msgs) in views {
        for m in msgs {
            if w.deleted.contains(&target_of(room, m)) && !m["body"].as_str().unwrap_or("").starts_with(REDACTED) {
                w.fail(&format!("deleted {:?} still has its text in {room}: {m}", key(m)));
            }
            let body = m["body"].as_str().unwrap_or("");
            if let Some(((x, _), t)) = erased.iter().find(|((x, _), _)| holds_word(body, x)) {
                w.fail(&format!("{x}, of deleted {t:?}, still stored in {room}: {m}"));
            }
        }
    }
}

/// Every file shared and not deleted served by every node, byte for byte;
/// a deleted one by none.
async fn check_files(w: &World) {
    for a in &w.acked {
        let What::File(bytes) = &a.what else { continue };
        let hash = hex(&Sha256::digest(bytes));
        let gone = w.deleted.contains(&a.target());
        for i in 0..w.nodes.len() {
            let url = w.url(i, &format!("/api/rooms/{}/files/{hash}", a.room));
            let (status, body) = fetch("GET", &url, Some(&w.tokens[0]), &[], None).await;
            let ok = if gone { status == 404 } else { status == 200 && body == *bytes };
            if !ok {
                w.fail(&format!("file {} (deleted: {gone}) from n{}: {status}, {} bytes", a.id, i + 1, body.len()));
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Search on every node: a deleted message's words find nothing; a live,
/// never edited message is found where it is (20 s for the indexes).
async fn check_search(w: &World, visible: &BTreeSet<Place>) {
    let edited: BTreeSet<Place> = w
        .acked
        .iter()
        .filter_map(|a| match &a.what {
            What::Act(x) if x["event"] == "edited" => Some(target_of(a.room, x)),
            _ => None,
        })
        .collect();
    let live = w.acked.iter().filter(|a| {
        matches!(a.what, What::Post(_))
            && visible.contains(&a.target())
            && !w.deleted.contains(&a.target())
            && !edited.contains(&a.target())
    });
    let mut probes: Vec<(String, Option<(String, u64)>)> =
        live.take(8).filter_map(|a| Some((word(a)?.1, Some(key_of(a))))).collect();
    probes.extend(erased_words(w, visible).into_iter().take(8).map(|((_, q), _)| (q, None)));
    let deadline = Instant::now() + Duration::from_secs(20);
    for (x, want) in probes {
        for i in 0..w.nodes.len() {
            loop {
                let (status, found) =
                    try_api("GET", &w.url(i, &format!("/api/search?q={x}")), Some(&w.tokens[0]), None).await;
                let hits: Vec<(String, u64)> =
                    found["results"].as_array().map(|r| r.iter().map(key).collect()).unwrap_or_default();
                let ok = status == 200 && hits == want.iter().cloned().collect::<Vec<_>>();
                if ok {
                    break;
                }
                if Instant::now() > deadline {
                    w.fail(&format!("search for {x} on n{}: {status}, {hits:?}, wanted {want:?}", i + 1));
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }
}

/// A name has one account, the same on every node.
fn check_claims(w: &World) {
    let mut won: BTreeMap<String, u32> = BTreeMap::new();
    for op in &w.history {
        if let Op::Claim { name, status: 201, .. } = op {
            *won.entry(name.clone()).or_default() += 1;
        }
    }
    if let Some((name, n)) = won.iter().find(|(_, n)| **n > 1) {
        w.fail(&format!("{name} registered {n} times"));
    }
}

fn sorted(list: &Value, field: &str) -> Vec<String> {
    let mut v: Vec<String> = list.as_array().into_iter().flatten().map(|x| x[field].to_string()).collect();
    v.sort();
    v
}

/// `path` on every node, through `view`, the same (10 s to settle).
async fn check_identical(w: &World, what: &str, path: &str, view: impl Fn(&Value) -> Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut seen = BTreeSet::new();
        for i in 0..w.nodes.len() {
            seen.insert(view(&try_api("GET", &w.url(i, path), Some(&w.tokens[0]), None).await.1));
        }
        if seen.len() == 1 {
            return;
        }
        if Instant::now() > deadline {
            w.fail(&format!("{what} differ: {seen:?}"));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Who is online in each room, the same on every node: the WebSocket
/// clients, wherever they ended up, and nobody a killed node had (30 s).
async fn check_presence(w: &World) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut counts = Vec::new();
        for i in 0..w.nodes.len() {
            let (_, rooms) = try_api("GET", &w.url(i, "/api/rooms"), Some(&w.tokens[0]), None).await;
            let online: BTreeMap<String, u64> = rooms["rooms"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| ROOMS.iter().any(|x| r["room"] == *x))
                .map(|r| (r["room"].as_str().unwrap_or("").to_owned(), r["members"].as_u64().unwrap_or(0)))
                .collect();
            counts.push(online);
        }
        if counts.iter().all(|c| c.len() == ROOMS.len() && c.values().all(|n| *n == FOLLOWERS as u64)) {
            return;
        }
        if Instant::now() > deadline {
            w.fail(&format!("presence never converged to {FOLLOWERS} per room: {counts:?}"));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// What each WebSocket client holds is what the nodes hold, once it has
/// caught up: a client that was cut off resumes on its own after the heal,
/// and a hide reaches it as a frame, so its view is compared until it
/// agrees (30 s), not at one instant. A client that started a room over
/// from its latest page (a `gap`: too far behind, or a backlog the node
/// could not read) holds the rest as a person scrolling up does: it pages
/// back until the node says there is nothing older.
async fn check_followers(w: &World, views: &BTreeMap<&'static str, Vec<Value>>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut paged = BTreeSet::new();
    for f in &w.followers {
        loop {
            let snap = f.handle.snapshot().await;
            for room in &snap.more {
                if paged.insert((f.user, room.clone())) {
                    eprintln!(
                        "u{}'s client pages back in {room}: it started it over from its latest page (a gap)",
                        f.user
                    );
                }
                f.handle.load_older(room);
            }
            let differs = snap.rooms.iter().find_map(|(room, msgs)| {
                let node = views.get(room.as_str())?;
                let mine: Vec<(String, u64)> = msgs.iter().map(|m| (m.origin.clone(), m.seq)).collect();
                let theirs: Vec<(String, u64)> = node.iter().map(key).collect();
                (mine != theirs).then(|| {
                    let first = mine.iter().zip(&theirs).position(|(a, b)| a != b);
                    let at = first.map(|i| (mine.get(i).cloned(), theirs.get(i).cloned()));
                    let missing: Vec<&(String, u64)> = theirs.iter().filter(|k| !mine.contains(k)).take(20).collect();
                    let extra: Vec<String> = msgs
                        .iter()
                        .filter(|m| {
                            !theirs.contains(&(m.origin.clone(), m.seq))
                                || mine.iter().filter(|k| **k == (m.origin.clone(), m.seq)).count() > 1
                        })
                        .take(5)
                        .map(|m| described(m, node))
                        .collect();
                    format!(
                        "u{}'s client holds {} of {room}, the nodes {}; first difference at {first:?}: {at:?}; \
                         it lacks {missing:?}; it has besides {extra:?}; it is on {:?} with {} pending; \
                         older to load: {}",
                        f.user,
                        mine.len(),
                        theirs.len(),
                        snap.node,
                        snap.pending,
                        snap.more.contains(room)
                    )
                })
            });
            match differs {
                None => {
                    check_follower_texts(w, f.user, &snap, views);
                    break;
                }
                Some(why) if Instant::now() > deadline => w.fail(&why),
                Some(_) => tokio::time::sleep(Duration::from_millis(300)).await,
            }
        }
    }
}

/// A message a client holds beside what the nodes hold, with what the
/// nodes hold of the same author and id.
fn described(m: &meshchat_shared::Message, node: &[Value]) -> String {
    let copies: Vec<String> = node
        .iter()
        .filter(|n| n["author"] == m.author.as_str() && n["id"] == m.id.as_str())
        .map(|n| format!("{}:{} ts {}", n["origin"], n["seq"], n["ts"]))
        .collect();
    format!(
        "{}:{} ts {} by {} id {} {:?}; the nodes' copies: {copies:?}",
        m.origin, m.seq, m.ts, m.author, m.id, m.body
    )
}

/// The same text for every message not deleted.
fn check_follower_texts(
    w: &World,
    user: usize,
    snap: &meshchat::tools::client::Snapshot,
    views: &BTreeMap<&'static str, Vec<Value>>,
) {
    for (room, msgs) in &snap.rooms {
        let Some(node) = views.get(room.as_str()) else { continue };
        for (m, n) in msgs.iter().zip(node) {
            let stored = n["body"].as_str().unwrap_or("");
            if !stored.starts_with(REDACTED) && m.body != stored {
                w.fail(&format!("u{user}'s client shows {:?} for {:?}, the nodes {stored:?}", m.body, key(n)));
            }
        }
    }
}
