//! The mesh map: every node's [`MeshView`] put side by side, room by room,
//! with how far each node is behind the one furthest ahead. The web app's
//! map and `meshchat status` both draw it; no I/O here.

use std::collections::BTreeMap;

use crate::api::{LinkView, MeshView};

/// One node as the map shows it; `view` is `None` when it did not answer.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeColumn {
    pub id: String,
    pub view: Option<MeshView>,
    /// Messages stored per second since the previous sample, if there was one.
    pub per_sec: Option<f64>,
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

#[derive(Debug, Clone, PartialEq)]
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

#[derive(Debug, Clone, PartialEq)]
pub struct MeshMap {
    pub nodes: Vec<NodeColumn>,
    pub rooms: Vec<RoomRow>,
}

/// Rooms on the map, at most.
pub const MAP_ROOMS: usize = 24;

impl MeshMap {
    /// Puts the nodes' views side by side. `previous` (the last map, `dt_s`
    /// seconds ago) gives messages per second.
    pub fn build(views: Vec<(String, Option<MeshView>)>, previous: Option<&MeshMap>, dt_s: f64) -> MeshMap {
        let nodes: Vec<NodeColumn> = views
            .into_iter()
            .map(|(id, view)| {
                let before = previous.and_then(|p| p.nodes.iter().find(|n| n.id == id)).and_then(|n| n.view.as_ref());
                let per_sec = match (&view, before) {
                    (Some(now), Some(then)) if dt_s > 0.0 && now.stored >= then.stored => {
                        Some((now.stored - then.stored) as f64 / dt_s)
                    }
                    _ => None,
                };
                NodeColumn { id, view, per_sec }
            })
            .collect();
        // Every room any node listed, its vector per node.
        let mut table: BTreeMap<&str, Vec<Option<&BTreeMap<String, u64>>>> = BTreeMap::new();
        for (i, n) in nodes.iter().enumerate() {
            for r in n.view.iter().flat_map(|v| &v.rooms) {
                table.entry(r.room.as_str()).or_insert_with(|| vec![None; nodes.len()])[i] = Some(&r.vector);
            }
        }
        let mut rooms: Vec<RoomRow> = table.into_iter().map(|(room, vectors)| row(room, &vectors, &nodes)).collect();
        // Rooms that differ first, then by name.
        rooms.sort_by_key(|r| (r.converged(), r.room.clone()));
        rooms.truncate(MAP_ROOMS);
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

fn row(room: &str, vectors: &[Option<&BTreeMap<String, u64>>], nodes: &[NodeColumn]) -> RoomRow {
    // What the node furthest ahead holds, per origin.
    let mut top: BTreeMap<&str, u64> = BTreeMap::new();
    for v in vectors.iter().flatten() {
        for (o, s) in v.iter() {
            let e = top.entry(o.as_str()).or_default();
            *e = (*e).max(*s);
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

/// A link as a short label: `n2 0.4 ms`, `n3 down`.
pub fn link_label(l: &LinkView) -> String {
    match (l.up, l.rtt_ms) {
        (true, Some(ms)) => format!("{} {ms:.1} ms", l.peer),
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
        let map = MeshMap::build(views, None, 0.0);
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
        let first = MeshMap::build(vec![("n1".into(), Some(view("n1", 100, &[])))], None, 0.0);
        assert_eq!(first.nodes[0].per_sec, None);
        let second = MeshMap::build(vec![("n1".into(), Some(view("n1", 150, &[])))], Some(&first), 2.0);
        assert_eq!(second.nodes[0].per_sec, Some(25.0));
    }

    #[test]
    fn links_read_as_labels() {
        let up = LinkView { peer: "n2".into(), up: true, rtt_ms: Some(0.42) };
        assert_eq!(link_label(&up), "n2 0.4 ms");
        assert_eq!(link_label(&LinkView { peer: "n3".into(), up: false, rtt_ms: None }), "n3 down");
    }
}
