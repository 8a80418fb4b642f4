//! The node list clients see: this node and its peers, with liveness.
//!
//! The mesh updates peer liveness; sessions watch for changes and send
//! `nodes` frames, so browsers always know where they could move to.

use std::sync::Mutex;

use meshchat_shared::NodeInfo;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub struct Cluster {
    me: NodeInfo,
    peers: Mutex<Vec<NodeInfo>>,
    /// Bumped on every change; sessions wait on it.
    version: watch::Sender<u64>,
    /// A peer said this node was removed, with the CA's signed removal
    /// (not yet checked: membership checks it and records it).
    heard_removal: watch::Sender<Option<String>>,
    /// This node is out of the mesh for good: its sessions close (so that
    /// browsers move on), it refuses writes, its health says so.
    removed: CancellationToken,
}

impl Cluster {
    /// `peers` start as down until the mesh connects to them.
    pub fn new(me: NodeInfo, peers: Vec<NodeInfo>) -> Cluster {
        let peers = peers.into_iter().map(|p| NodeInfo { up: false, ..p }).collect();
        Cluster {
            me,
            peers: Mutex::new(peers),
            version: watch::Sender::new(0),
            heard_removal: watch::Sender::new(None),
            removed: CancellationToken::new(),
        }
    }

    /// A peer refused this node as removed, giving `proof`.
    pub fn heard_removal(&self, proof: String) {
        self.heard_removal.send_replace(Some(proof));
    }

    pub fn removal_heard(&self) -> watch::Receiver<Option<String>> {
        self.heard_removal.subscribe()
    }

    /// This node was removed from the mesh (membership checked it).
    pub fn set_removed(&self) {
        self.removed.cancel();
    }

    pub fn is_removed(&self) -> bool {
        self.removed.is_cancelled()
    }

    /// Cancelled once this node is removed.
    pub fn removed(&self) -> &CancellationToken {
        &self.removed
    }

    pub fn me(&self) -> &NodeInfo {
        &self.me
    }

    /// Every node, this one first.
    pub fn nodes(&self) -> Vec<NodeInfo> {
        let mut all = vec![self.me.clone()];
        all.extend(self.peers.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned());
        all
    }

    /// The peers and whether each is up.
    pub fn peers(&self) -> Vec<NodeInfo> {
        self.peers.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Marks a peer up or down, and records the browser URL it announced;
    /// wakes watchers only on a real change.
    pub fn set_peer(&self, id: &str, up: bool, url: Option<&str>) {
        let changed = {
            let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
            match peers.iter_mut().find(|p| p.id == id) {
                Some(p) => {
                    let mut changed = p.up != up;
                    p.up = up;
                    if let Some(url) = url.filter(|u| *u != p.url) {
                        p.url = url.to_owned();
                        changed = true;
                    }
                    changed
                }
                None => false,
            }
        };
        if changed {
            self.version.send_modify(|v| *v += 1);
        }
    }

    /// A node that joined the mesh: browsers hear of it at once.
    pub fn add_peer(&self, node: NodeInfo) {
        let added = {
            let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
            let new = node.id != self.me.id && !peers.iter().any(|p| p.id == node.id);
            if new {
                peers.push(NodeInfo { up: false, ..node });
            }
            new
        };
        if added {
            self.version.send_modify(|v| *v += 1);
        }
    }

    /// A node removed from the mesh: browsers stop moving to it.
    pub fn remove_peer(&self, id: &str) {
        let removed = {
            let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
            let before = peers.len();
            peers.retain(|p| p.id != id);
            peers.len() != before
        };
        if removed {
            self.version.send_modify(|v| *v += 1);
        }
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str) -> NodeInfo {
        NodeInfo { id: id.into(), url: format!("ws://{id}/ws"), up: true }
    }

    #[test]
    fn peers_start_down_and_changes_wake_watchers() {
        let c = Cluster::new(info("n1"), vec![info("n2")]);
        let mut rx = c.subscribe();
        assert_eq!(c.nodes().iter().map(|n| n.up).collect::<Vec<_>>(), [true, false]);
        c.set_peer("n2", false, None);
        assert!(!rx.has_changed().unwrap());
        c.set_peer("n2", true, Some("ws://n2/ws"));
        assert!(rx.has_changed().unwrap());
        rx.mark_unchanged();
        c.set_peer("n2", true, Some("ws://n2/ws"));
        assert!(!rx.has_changed().unwrap());
        c.set_peer("n9", true, None);
        assert!(!rx.has_changed().unwrap());
    }
}
