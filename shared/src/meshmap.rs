//! The mesh map: every node's [`MeshView`] put side by side, room by room,
//! with how far each node is behind the one furthest ahead. The web app's
//! map and `meshchat status` both draw it; no I/O here.

use std::collections::BTreeMap;

use crate::api::{LinkView, MeshView};

/// One node as the map shows it; `view` is `None` when it did not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeColumn {
    pub id: String,
    pub view: Option<MeshView>,
    /// Messages stored per second since the previous sample, in tenths.
    pub per_sec_tenths: Option<u64>,
}

/// What one node holds of one room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// Messages held (the vector's sum).
    pub held: u64,
    /// Messages the node furthest ahead holds that this one does not.
    pub behind: u64,
    /// Seconds this node has known it is behind there (its own report).
    pub seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomRow {
    pub room: String,
    /// One per node, in the order of [`MeshMap::nodes`]; `None`: no answer.
    pub cells: Vec<Option<Cell>>,
}

impl RoomRow {
    pub fn converged(&self) -> bool {
        self.cells.iter().flatten().all(|c| c.behind == 0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshMap {
    pub nodes: Vec<NodeColumn>,
    pub rooms: Vec<RoomRow>,
}

/// Rooms on the map, at most.
pub const MAP_ROOMS: usize = 24;

impl MeshMap {
    /// Puts the nodes' views side by side. `previous` (the last map, `dt_ms`
    /// milliseconds ago) gives messages per second.
    pub fn build(views: Vec<(String, Option<MeshView>)>, previous: Option<&MeshMap>, dt_ms: u64) -> MeshMap {
        let nodes: Vec<NodeColumn> = views
            .into_iter()
            .map(|(id, view)| {
                let before = previous.and_then(|p| p.nodes.iter().find(|n| n.id == id)).and_then(|n| n.view.as_ref());
                let per_sec_tenths = match (&view, before) {
                    (Some(now), Some(then)) if dt_ms > 0 && now.stored >= then.stored => {
                        Some((now.stored - then.stored) * 10_000 / dt_ms)
                    }
                    _ => None,
                };
                NodeColumn { id, view, per_sec_tenths }
            })
            .collect();
        // Every room any node listed, its vector per node. A few dozen rooms:
        // a list is enough (and keeps another map type out of the web app).
        let mut table: Vec<(&str, Vec<Option<&Vector>>)> = Vec::new();
        for (i, n) in nodes.iter().enumerate() {
            for r in n.view.iter().flat_map(|v| &v.rooms) {
                let at = match table.iter().position(|(room, _)| *room == r.room) {
                    Some(at) => at,
                    None => {
                        table.push((&r.room, vec![None; nodes.len()]));
                        table.len() - 1
                    }
                };
                table[at].1[i] = Some(&r.vector);
            }
        }
        let all: Vec<RoomRow> = table.iter().map(|(room, vectors)| row(room, vectors, &nodes)).collect();
        // Rooms that differ first, each part in the order the nodes listed them.
        let (same, differ): (Vec<RoomRow>, Vec<RoomRow>) = all.into_iter().partition(RoomRow::converged);
        let rooms = differ.into_iter().chain(same).take(MAP_ROOMS).collect();
        MeshMap { nodes, rooms }
    }

    /// The names of the rooms on the map, to ask every node for next time.
    pub fn room_names(&self) -> Vec<String> {
        self.rooms.iter().map(|r| r.room.clone()).collect()
    }

    /// Do all nodes that answered hold the same rooms (equal digests)?
    pub fn converged(&self) -> bool {
        let digests: Vec<&str> = self.nodes.iter().filter_map(|n| n.view.as_ref()).map(|v| v.digest.as_str()).collect();
        digests.windows(2).all(|w| w[0] == w[1])
    }
}

/// A room's vector as the views carry it.
type Vector = BTreeMap<String, u64>;

fn row(room: &str, vectors: &[Option<&Vector>], nodes: &[NodeColumn]) -> RoomRow {
    // What the node furthest ahead holds, per origin.
    let mut top: Vec<(&str, u64)> = Vec::new();
    for v in vectors.iter().flatten() {
        for (o, s) in v.iter() {
            match top.iter_mut().find(|(t, _)| *t == o.as_str()) {
                Some((_, t)) => *t = (*t).max(*s),
                None => top.push((o, *s)),
            }
        }
    }
    let empty = BTreeMap::new();
    let cells = nodes
        .iter()
        .zip(vectors)
        .map(|(n, v)| {
            let view = n.view.as_ref()?;
            let v = v.unwrap_or(&empty);
            let held = v.values().sum();
            let behind = top.iter().map(|(o, s)| s.saturating_sub(v.get(*o).copied().unwrap_or(0))).sum();
            let seconds = view.lagging.iter().find(|l| l.room == room).map_or(0, |l| l.seconds);
            Some(Cell { held, behind, seconds })
        })
        .collect();
    RoomRow { room: room.to_owned(), cells }
}

/// What changed from `before` to `now`, in words, for the map's live log:
/// nodes going down or coming back, repairs sent, rooms catching up.
pub fn events(before: &MeshMap, now: &MeshMap) -> Vec<String> {
    let mut out = Vec::new();
    for n in &now.nodes {
        let Some(was) = before.nodes.iter().find(|b| b.id == n.id) else { continue };
        match (&was.view, &n.view) {
            (Some(_), None) => out.push(format!("{} stopped answering", n.id)),
            (None, Some(_)) => out.push(format!("{} is back", n.id)),
            (Some(a), Some(b)) if b.repairs > a.repairs => {
                out.push(format!("{} repaired {} room range(s) for a peer", n.id, b.repairs - a.repairs));
            }
            _ => {}
        }
    }
    for r in &now.rooms {
        let Some(was) = before.rooms.iter().find(|b| b.room == r.room) else { continue };
        for (i, (a, b)) in was.cells.iter().zip(&r.cells).enumerate() {
            if let (Some(a), Some(b)) = (a, b)
                && a.behind > 0
                && b.behind == 0
                && let Some(n) = now.nodes.get(i)
            {
                out.push(format!("{} caught up in {}", n.id, r.room));
            }
        }
    }
    out
}

/// Tenths as a decimal, `4` → `"0.4"`: integers all the way, as float
/// parsing and formatting would add kilobytes to the web app.
pub fn tenths(t: u64) -> String {
    format!("{}.{}", t / 10, t % 10)
}

/// A link as a short label: `n2 0.4 ms`, `n3 down`.
pub fn link_label(l: &LinkView) -> String {
    match (l.up, l.rtt_us) {
        (true, Some(us)) => format!("{} {} ms", l.peer, tenths((us + 50) / 100)),
        (true, None) => format!("{} up", l.peer),
        (false, _) => format!("{} down", l.peer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{RoomLagView, RoomVectorView};

    fn view(node: &str, stored: u64, rooms: &[(&str, &[(&str, u64)])]) -> MeshView {
        MeshView {
            node: node.into(),
            stored,
            digest: format!("{rooms:?}"),
            rooms: rooms
                .iter()
                .map(|(r, v)| RoomVectorView {
                    room: (*r).into(),
                    vector: v.iter().map(|(o, s)| (o.to_string(), *s)).collect(),
                })
                .collect(),
            ..MeshView::default()
        }
    }

    #[test]
    fn a_node_behind_shows_how_far_and_differing_rooms_come_first() {
        let mut n2 = view("n2", 10, &[("general", &[("n1", 3), ("n2", 2)]), ("zeta", &[("n2", 1)])]);
        n2.lagging = vec![RoomLagView { room: "general".into(), messages: 2, seconds: 7 }];
        let views = vec![
            ("n1".to_string(), Some(view("n1", 10, &[("general", &[("n1", 5), ("n2", 2)]), ("zeta", &[("n2", 1)])]))),
            ("n2".to_string(), Some(n2)),
            ("n3".to_string(), None),
        ];
        let map = MeshMap::build(views, None, 0);
        assert_eq!(map.rooms[0].room, "general", "the room that differs first");
        assert_eq!(map.rooms[0].cells[0], Some(Cell { held: 7, behind: 0, seconds: 0 }));
        assert_eq!(map.rooms[0].cells[1], Some(Cell { held: 5, behind: 2, seconds: 7 }));
        assert_eq!(map.rooms[0].cells[2], None, "n3 did not answer");
        assert!(map.rooms[1].converged());
        assert!(!map.converged());
        assert_eq!(map.room_names(), ["general", "zeta"]);
    }

    #[test]
    fn two_samples_give_messages_per_second() {
        let first = MeshMap::build(vec![("n1".into(), Some(view("n1", 100, &[])))], None, 0);
        assert_eq!(first.nodes[0].per_sec_tenths, None);
        let second = MeshMap::build(vec![("n1".into(), Some(view("n1", 150, &[])))], Some(&first), 2000);
        assert_eq!(second.nodes[0].per_sec_tenths, Some(250));
    }

    #[test]
    fn events_say_what_changed() {
        let general = |n1: u64, n2: u64| ("general", [("n1", n1)].to_vec(), n2);
        let map = |repairs: u64, (room, v1, n2seq): (&str, Vec<(&str, u64)>, u64), n3: bool| {
            let mut a = view("n1", 0, &[(room, &v1)]);
            a.repairs = repairs;
            let b = view("n2", 0, &[(room, &[("n1", n2seq)])]);
            let c = n3.then(|| view("n3", 0, &[]));
            MeshMap::build(vec![("n1".into(), Some(a)), ("n2".into(), Some(b)), ("n3".into(), c)], None, 0)
        };
        let before = map(1, general(5, 3), true);
        let after = map(3, general(5, 5), false);
        assert_eq!(
            events(&before, &after),
            ["n1 repaired 2 room range(s) for a peer", "n3 stopped answering", "n2 caught up in general"]
        );
        assert_eq!(events(&after, &map(3, general(5, 5), true)), ["n3 is back"]);
    }

    #[test]
    fn links_read_as_labels() {
        let up = LinkView { peer: "n2".into(), up: true, rtt_us: Some(420) };
        assert_eq!(link_label(&up), "n2 0.4 ms");
        assert_eq!(link_label(&LinkView { peer: "n3".into(), up: false, rtt_us: None }), "n3 down");
        assert_eq!(tenths(130), "13.0");
    }
}
