//! `meshchat status --url URL`: the mesh as one node knows it, a line per
//! node: whether it answers, its peers, clients, rooms, uptime, and
//! whether every node that answers holds the same rooms (equal digests).

use std::fmt::Write;
use std::time::Duration;

use meshchat_shared::api::{Health, Nodes, PeerState};

use crate::harness::http::{self, HttpError};

/// How long one node may take to answer.
const ASK: Duration = Duration::from_secs(3);

async fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> Option<T> {
    let r = http::request_within(ASK, "GET", url, &[], None).await.ok()?;
    (r.status == 200).then(|| serde_json::from_slice(&r.body).ok()).flatten()
}

/// `meshchat_connections{node="n1"} 3` → 3.
fn connections(metrics: &str) -> Option<u64> {
    metrics.lines().find(|l| l.starts_with("meshchat_connections{"))?.rsplit(' ').next()?.parse().ok()
}

/// The table, asked of the node at `url` (its HTTP base).
pub async fn report(url: &str) -> Result<String, HttpError> {
    let url = url.trim_end_matches('/');
    let nodes: Nodes = match get_json(&format!("{url}/api/nodes")).await {
        Some(n) => n,
        None => return http::get(&format!("{url}/api/nodes")).await.map(|r| format!("{url} answered {}\n", r.status)),
    };
    let mut out = format!(
        "{:<10} {:<6} {:>8} {:>8} {:>7} {:>9}  {}\n",
        "node", "state", "peers", "clients", "rooms", "uptime", "url"
    );
    let mut digests = Vec::new();
    for n in &nodes.nodes {
        let base = crate::http::secure::page_origin(&n.url).unwrap_or_default();
        let health: Option<Health> = get_json(&format!("{base}/api/health")).await;
        let metrics = http::request_within(ASK, "GET", &format!("{base}/metrics"), &[], None).await.ok();
        let clients = metrics.and_then(|m| connections(&m.text()));
        let _ = match health {
            Some(h) => {
                let up = h.peers.values().filter(|p| **p == PeerState::Up).count();
                digests.push((n.id.clone(), h.digest.clone()));
                writeln!(
                    out,
                    "{:<10} {:<6} {:>8} {:>8} {:>7} {:>8}s  {}",
                    n.id,
                    "up",
                    format!("{up}/{}", h.peers.len()),
                    clients.map_or("-".into(), |c| c.to_string()),
                    h.rooms,
                    h.uptime_s,
                    n.url
                )
            }
            None => writeln!(out, "{:<10} {:<6} {:>8} {:>8} {:>7} {:>9}  {}", n.id, "down", "-", "-", "-", "-", n.url),
        };
    }
    let same = digests.windows(2).all(|w| w[0].1 == w[1].1);
    let answering: Vec<&str> = digests.iter().map(|(id, _)| id.as_str()).collect();
    let _ = match (digests.len(), same) {
        (0, _) => writeln!(out, "no node answers"),
        (_, true) => writeln!(out, "converged: {} hold the same rooms", answering.join(", ")),
        (_, false) => writeln!(out, "converging: {} differ (anti-entropy is repairing)", answering.join(", ")),
    };
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn connections_from_metrics() {
        let m = "# TYPE meshchat_connections gauge\nmeshchat_connections{node=\"n1\"} 7\n";
        assert_eq!(super::connections(m), Some(7));
    }
}
