//! The nodes a client knows, and which one to try next.
//!
//! Learned from `welcome`, `nodes` frames and `/api/nodes`, remembered
//! across reloads by the app. A URL known before its node's id (the page's
//! own node) is kept with an empty id until a node claims it.

use serde::{Deserialize, Serialize};

use crate::NodeInfo;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeList {
    /// In id order; at most one entry per URL.
    nodes: Vec<NodeInfo>,
}

impl NodeList {
    pub fn new(nodes: &[NodeInfo]) -> NodeList {
        let mut list = NodeList::default();
        list.learn(nodes);
        list
    }

    pub fn all(&self) -> &[NodeInfo] {
        &self.nodes
    }

    /// How many nodes have a URL to try.
    pub fn reachable(&self) -> usize {
        self.nodes.iter().filter(|n| !n.url.is_empty()).count()
    }

    /// A URL to try, whose node is not known yet.
    pub fn seed(&mut self, url: &str) {
        if !url.is_empty() && !self.nodes.iter().any(|n| n.url == url) {
            self.nodes.insert(0, NodeInfo { id: String::new(), url: url.to_owned(), up: true });
        }
    }

    /// Merges what a node said about the mesh: liveness always, a URL when
    /// it has one (a peer never reached has none yet).
    pub fn learn(&mut self, nodes: &[NodeInfo]) {
        for n in nodes {
            if !n.url.is_empty() {
                // A seed with this URL now has a name.
                self.nodes.retain(|m| !(m.id.is_empty() && m.url == n.url));
            }
            match self.nodes.iter_mut().find(|m| m.id == n.id) {
                Some(m) => {
                    m.up = n.up;
                    if !n.url.is_empty() {
                        m.url = n.url.clone();
                    }
                }
                None => self.nodes.push(n.clone()),
            }
        }
        self.nodes.sort_by(|a, b| a.id.cmp(&b.id));
    }

    /// This URL did not answer: believe it down until told otherwise.
    pub fn mark_down(&mut self, url: &str) {
        for n in self.nodes.iter_mut().filter(|n| n.url == url) {
            n.up = false;
        }
    }

    /// The URL to try after `current`: the next node believed up, in id
    /// order, wrapping around; if none is, simply the next one.
    pub fn next_after(&self, current: Option<&str>) -> Option<String> {
        let urls: Vec<&NodeInfo> = self.nodes.iter().filter(|n| !n.url.is_empty()).collect();
        if urls.is_empty() {
            return None;
        }
        let start = current.and_then(|c| urls.iter().position(|n| n.url == c)).map_or(0, |i| i + 1);
        let ring = (0..urls.len()).map(|k| urls[(start + k) % urls.len()]);
        let others: Vec<&NodeInfo> = ring.filter(|n| Some(n.url.as_str()) != current || urls.len() == 1).collect();
        others.iter().find(|n| n.up).or_else(|| others.first()).map(|n| n.url.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, up: bool) -> NodeInfo {
        NodeInfo { id: id.into(), url: format!("ws://{id}/ws"), up }
    }

    #[test]
    fn rotates_to_the_next_node_believed_up() {
        let list = NodeList::new(&[node("n1", true), node("n2", false), node("n3", true)]);
        assert_eq!(list.next_after(Some("ws://n1/ws")).as_deref(), Some("ws://n3/ws"));
        assert_eq!(list.next_after(Some("ws://n3/ws")).as_deref(), Some("ws://n1/ws"));
        assert_eq!(list.next_after(None).as_deref(), Some("ws://n1/ws"));
    }

    #[test]
    fn when_none_is_up_it_still_tries_the_next() {
        let mut list = NodeList::new(&[node("n1", true), node("n2", true)]);
        list.mark_down("ws://n1/ws");
        list.mark_down("ws://n2/ws");
        assert_eq!(list.next_after(Some("ws://n1/ws")).as_deref(), Some("ws://n2/ws"));
        assert_eq!(list.next_after(Some("ws://n2/ws")).as_deref(), Some("ws://n1/ws"));
        let single = NodeList::new(&[node("n1", false)]);
        assert_eq!(single.next_after(Some("ws://n1/ws")).as_deref(), Some("ws://n1/ws"));
    }

    #[test]
    fn a_seed_is_named_when_its_node_shows_up() {
        let mut list = NodeList::default();
        list.seed("ws://n2/ws");
        assert_eq!(list.reachable(), 1);
        list.learn(&[node("n1", true), node("n2", true), NodeInfo { id: "n3".into(), url: String::new(), up: false }]);
        assert_eq!(list.all().iter().map(|n| n.id.as_str()).collect::<Vec<_>>(), ["n1", "n2", "n3"]);
        assert_eq!(list.reachable(), 2, "n3 has no URL yet");
        // Liveness updates without a URL keep the one known.
        list.learn(&[NodeInfo { id: "n2".into(), url: String::new(), up: false }]);
        assert_eq!(list.all()[1].url, "ws://n2/ws");
        assert!(!list.all()[1].up);
        // Leaving n1, the only other node is tried even though believed down.
        assert_eq!(list.next_after(Some("ws://n1/ws")).as_deref(), Some("ws://n2/ws"));
    }
}
