use meshchat_shared::RoomVector;

use super::*;

fn index_with(room: &str, origin: &str, seq: u64) -> VectorIndex {
    let mut index = VectorIndex::new();
    let mut v = RoomVector::new();
    v.set(origin, seq);
    index.load(room, &v);
    index
}

fn want(room: &str, after: u64, upto: u64) -> PeerIn {
    PeerIn::Want { room: room.into(), ranges: vec![Range { origin: "n1".into(), after, upto }] }
}

fn fetched(outs: &[PeerOut]) -> Vec<(String, u64, u64)> {
    outs.iter()
        .filter_map(|o| match o {
            PeerOut::Fetch { room, ranges } => Some((room.clone(), ranges[0].after, ranges[0].upto)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_want_is_cut_to_what_we_hold_and_to_its_budget() {
    let index = index_with("general", "n1", 8_000);
    let mut p = PeerState::new(1_000);
    let outs = p.handle(want("general", 10, 9_999), 0, &index).unwrap();
    assert_eq!(fetched(&outs), vec![("general".into(), 10, 10 + MAX_WANT)]);
    let mut p = PeerState::new(1_000);
    let outs = p.handle(want("general", 7_000, 9_999), 0, &index).unwrap();
    assert_eq!(fetched(&outs), vec![("general".into(), 7_000, 8_000)], "only what this node holds");
    let mut p = PeerState::new(1_000);
    assert!(p.handle(want("elsewhere", 0, 5), 0, &index).unwrap().is_empty(), "a room this node lacks");
    assert!(p.handle(want("bad room!", 0, 5), 0, &index).unwrap().is_empty(), "a name no room has");
}

#[test]
fn one_want_per_room_within_its_interval_and_one_range_at_a_time() {
    let index = index_with("general", "n1", 100);
    let mut p = PeerState::new(1_000);
    assert_eq!(fetched(&p.handle(want("general", 0, 10), 1_000, &index).unwrap()).len(), 1);
    p.handle(PeerIn::Fetched { room: "general".into() }, 1_010, &index).unwrap();
    let again = p.handle(want("general", 10, 20), 1_000 + WANT_EVERY_MS - 1, &index).unwrap();
    assert!(again.is_empty(), "asked again too soon");
    let later = p.handle(want("general", 10, 20), 1_000 + WANT_EVERY_MS, &index).unwrap();
    assert_eq!(fetched(&later).len(), 1);
    let busy = p.handle(want("general", 20, 30), 2_000, &index).unwrap();
    assert!(busy.is_empty(), "the previous range is still on its way");
    p.handle(PeerIn::Down, 2_001, &index).unwrap();
    p.handle(PeerIn::Up { version: 5, restoring: false }, 2_002, &index).unwrap();
    assert_eq!(fetched(&p.handle(want("general", 20, 30), 2_003, &index).unwrap()).len(), 1, "a new connection");
}

#[test]
fn the_peers_users_start_their_grace_where_it_reported_them() {
    let index = VectorIndex::new();
    let mut p = PeerState::new(1_000);
    let presence = |room: &str, online| PeerIn::Presence { room: room.into(), name: "alice".into(), online };
    p.handle(presence("general", true), 0, &index).unwrap();
    p.handle(presence("dev", false), 0, &index).unwrap();
    let down = p.handle(PeerIn::Down, 1, &index).unwrap();
    assert_eq!(down, vec![PeerOut::Room { room: "general".into(), note: RoomNote::PeerDown }]);
    assert!(p.handle(PeerIn::Down, 2, &index).unwrap().is_empty(), "told once");
    let snap = vec![("dev".to_owned(), vec!["bob".to_owned(), "bad name\u{202e}".to_owned()])];
    p.handle(PeerIn::Snapshot(snap), 3, &index).unwrap();
    let outs = p.handle(PeerIn::Snapshot(vec![("general".into(), vec![])]), 4, &index).unwrap();
    let names = |n: &[&str]| RoomNote::Presence { names: n.iter().map(|s| s.to_string()).collect() };
    assert_eq!(
        outs,
        vec![
            PeerOut::Room { room: "dev".into(), note: names(&[]) },
            PeerOut::Room { room: "general".into(), note: names(&[]) },
        ],
        "a room no longer reported is told nobody is there"
    );
}

#[test]
fn a_restored_node_asks_peers_that_can_answer() {
    let index = VectorIndex::new();
    let up = |version, restoring| PeerState::new(1_000).handle(PeerIn::Up { version, restoring }, 0, &index).unwrap();
    assert_eq!(up(OWN_SINCE_VERSION, true), vec![PeerOut::AskOwn]);
    assert_eq!(up(OWN_SINCE_VERSION - 1, true), vec![PeerOut::CannotAsk { version: OWN_SINCE_VERSION - 1 }]);
    assert!(up(OWN_SINCE_VERSION, false).is_empty());
    let mut p = PeerState::new(1_000);
    assert_eq!(p.handle(PeerIn::AskOwn, 0, &index).unwrap(), vec![PeerOut::AnswerOwn]);
    let own = PeerIn::Own { rooms: vec![("general".into(), 3), ("no such room!".into(), 9)], last: true };
    assert_eq!(
        p.handle(own, 0, &index).unwrap(),
        vec![PeerOut::Own { rooms: vec![("general".into(), 3)], last: true }]
    );
}

#[test]
fn a_round_with_differences_sends_presence_too() {
    let index = index_with("general", "n1", 5);
    let mut p = PeerState::new(1_000);
    p.handle(PeerIn::Up { version: 5, restoring: false }, 0, &index).unwrap();
    let due = p.poll_timeout().unwrap();
    let outs = p.on_timeout(due, &index);
    assert!(matches!(outs.first(), Some(PeerOut::Sync(_))), "{outs:?}");
    assert_eq!(outs.last(), Some(&PeerOut::Snapshot));
}
