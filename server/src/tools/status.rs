//! `meshchat status --url URL`: the mesh as one node knows it, a line per
//! node: whether it answers, its peers, clients, rooms, uptime, and
//! whether every node that answers holds the same rooms (equal digests).
//! With an admin's token, the mesh map too: each node's links with their
//! round-trip times, repairs, and the rooms that changed last, node by
//! node, with how far behind each node is.

use std::fmt::Write;
use std::time::Duration;

use meshchat_shared::api::{Health, MeshView, Nodes, PeerState};
use meshchat_shared::meshmap::{self, MeshMap};

use crate::infra::http::{self, HttpError};

/// How long one node may take to answer.
const ASK: Duration = Duration::from_secs(3);

async fn get_json_as<T: serde::de::DeserializeOwned>(url: &str, token: Option<&str>) -> Option<T> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    let r = http::request_within(ASK, "GET", url, &headers, None).await.ok()?;
    (r.status == 200).then(|| serde_json::from_slice(&r.body).ok()).flatten()
}

/// `meshchat_connections{node="n1"} 3` → 3.
fn connections(metrics: &str) -> Option<u64> {
    metrics.lines().find(|l| l.starts_with("meshchat_connections{"))?.rsplit(' ').next()?.parse().ok()
}

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("{0}: {1}")]
    Unreachable(String, String),
    #[error("{0} answered {1}: is it a meshchat node's address?")]
    Answered(String, u16),
}

/// Why a node did not answer, in words an operator can act on.
pub fn explain(e: &HttpError) -> String {
    let text = e.to_string();
    if matches!(e, HttpError::Http(h) if h.is_parse() || h.is_incomplete_message()) {
        "it did not answer HTTP: if it serves HTTPS, say https://".into()
    } else if text.contains("UnknownIssuer") {
        "its certificate is signed by a CA this tool does not trust: give --ca with that CA's certificate (PEM), \
         or set SSL_CERT_FILE"
            .into()
    } else if text.contains("CaUsedAsEndEntity") {
        "its certificate is a CA's (`openssl req -x509` makes one unless told CA:FALSE): serve a certificate \
         signed by a CA instead"
            .into()
    } else if text.contains("NotValidForName") {
        "its certificate does not name the host in the URL: use the name it was made for".into()
    } else {
        text
    }
}

/// The table, asked of the node at `url` (its HTTP base); with an admin's
/// `token`, the mesh map after it.
pub async fn report(url: &str, token: Option<&str>) -> Result<String, StatusError> {
    let url = url.trim_end_matches('/');
    let nodes: Nodes = match http::request_within(ASK, "GET", &format!("{url}/api/nodes"), &[], None).await {
        Ok(r) if r.status == 200 => {
            serde_json::from_slice(&r.body).map_err(|_| StatusError::Answered(url.to_owned(), r.status))?
        }
        Ok(r) => return Err(StatusError::Answered(url.to_owned(), r.status)),
        Err(e) => return Err(StatusError::Unreachable(url.to_owned(), explain(&e))),
    };
    let mut out = format!(
        "{:<10} {:<6} {:>8} {:>8} {:>7} {:>9}  {}\n",
        "node", "state", "peers", "clients", "rooms", "uptime", "url"
    );
    let mut digests = Vec::new();
    let mut why = Vec::new();
    for n in &nodes.nodes {
        let base = crate::edge::http::secure::page_origin(&n.url).unwrap_or_default();
        let health: Option<Health> =
            match http::request_within(ASK, "GET", &format!("{base}/api/health"), &[], None).await {
                Ok(r) if r.status == 200 => serde_json::from_slice(&r.body).ok(),
                Ok(r) => {
                    why.push(format!("{}: answered {}", n.id, r.status));
                    None
                }
                Err(e) => {
                    why.push(format!("{}: {}", n.id, explain(&e)));
                    None
                }
            };
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
    for w in &why {
        let _ = writeln!(out, "{w}");
    }
    let _ = match (digests.len(), same) {
        (0, _) => writeln!(out, "no node answers"),
        (1, _) => writeln!(out, "only {} answers: no other node to compare its rooms with", answering.join(", ")),
        (_, true) => writeln!(out, "converged: {} hold the same rooms", answering.join(", ")),
        (_, false) => writeln!(out, "converging: {} differ (anti-entropy is repairing)", answering.join(", ")),
    };
    if let Some(token) = token {
        let bases: Vec<(String, String)> = nodes
            .nodes
            .iter()
            .map(|n| (n.id.clone(), crate::edge::http::secure::page_origin(&n.url).unwrap_or_default()))
            .collect();
        out.push_str(&map_text(&mesh_map(&bases, token).await));
    }
    Ok(out)
}

/// Every node's view, twice: the second time each is asked for the rooms
/// any node listed, so every cell is filled.
async fn mesh_map(bases: &[(String, String)], token: &str) -> MeshMap {
    let ask = |rooms: String| async move {
        let mut views = Vec::new();
        for (id, base) in bases {
            let view: Option<MeshView> = get_json_as(&format!("{base}/api/mesh?rooms={rooms}"), Some(token)).await;
            views.push((id.clone(), view));
        }
        views
    };
    let first = MeshMap::build(ask(String::new()).await, None, 0);
    MeshMap::build(ask(first.room_names().join(",")).await, None, 0)
}

/// The map as text: links, then rooms by node.
pub fn map_text(map: &MeshMap) -> String {
    let mut out = String::from("\nlinks (round trip), repairs sent, rooms behind:\n");
    for n in &map.nodes {
        let _ = match &n.view {
            Some(v) => {
                let links: Vec<String> = v.links.iter().map(meshmap::link_label).collect();
                let lag = if v.rooms_behind == 0 {
                    "none".to_owned()
                } else {
                    format!("{} (longest {} s)", v.rooms_behind, v.lag_seconds)
                };
                writeln!(out, "{:<10} {:<40} repairs {:<6} behind {lag}", n.id, links.join(", "), v.repairs)
            }
            None => writeln!(out, "{:<10} (no answer, or the token is not an admin's)", n.id),
        };
    }
    let _ = write!(out, "\n{:<24}", "room (changed last)");
    for n in &map.nodes {
        let _ = write!(out, " {:>14}", n.id);
    }
    out.push('\n');
    for r in &map.rooms {
        let _ = write!(out, "{:<24}", crate::core::names::for_terminal(&r.room));
        for c in &r.cells {
            let cell = match c {
                None => "-".to_owned(),
                Some(c) if c.behind == 0 => c.held.to_string(),
                Some(c) => format!("{} (-{}, {}s)", c.held, c.behind, c.seconds),
            };
            let _ = write!(out, " {cell:>14}");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn connections_from_metrics() {
        let m = "# TYPE meshchat_connections gauge\nmeshchat_connections{node=\"n1\"} 7\n";
        assert_eq!(super::connections(m), Some(7));
    }
}
