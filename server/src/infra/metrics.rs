//! Counters and gauges, rendered in the Prometheus text format by
//! `prometheus-client` (the official Rust client).
//!
//! Its counters and gauges are plain atomics behind an `Arc`: a metric
//! update on the fan-out path costs an uncontended add. The registry that
//! names them is built per scrape, labelled with the node.

use std::borrow::Cow;

use meshchat_shared::ErrorCode;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

pub type Counter = prometheus_client::metrics::counter::Counter;
pub type Gauge = prometheus_client::metrics::gauge::Gauge;

/// Error frames by code: one counter per code, rendered in the codes'
/// order (a zero is a series too), as one family labelled `code`.
#[derive(Debug, Clone, Default)]
struct Errors(std::sync::Arc<[Counter; ErrorCode::ALL.len()]>);

impl Collector for Errors {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "errors",
            "Error frames and refused requests, by code",
            None,
            MetricType::Counter,
        )?;
        for (code, counter) in ErrorCode::ALL.iter().zip(self.0.iter()) {
            let labels = [("code", code.as_str())];
            counter.encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    pub connections: Gauge,
    pub connections_total: Counter,
    pub frames_in: Counter,
    pub frames_out: Counter,
    pub messages_accepted: Counter,
    pub messages_replicated_in: Counter,
    pub deliveries: Counter,
    pub slow_disconnects: Counter,
    /// Connections refused at accept for a limit.
    pub refused_connections: Counter,
    pub oversize_closes: Counter,
    pub rooms_open: Gauge,
    pub store_commits: Counter,
    pub store_committed_msgs: Counter,
    pub http_requests: Counter,
    pub mesh_frames_out: Counter,
    pub mesh_frames_in: Counter,
    pub mesh_frames_dropped: Counter,
    pub mesh_bytes_out: Counter,
    /// Peer messages refused: malformed, or forwarded without a valid signature.
    pub mesh_refused_msgs: Counter,
    /// Peer messages refused for a stamp too far ahead of this clock.
    pub clock_skew_refused: Counter,
    /// Times this node's own clock jumped ahead and was not followed.
    pub clock_jumps: Counter,
    pub mesh_bytes_in: Counter,
    /// Rooms with at least one message here.
    pub rooms: Gauge,
    /// Bytes of shared files stored here.
    pub files_bytes: Gauge,
    /// Ranges of a room sent to a peer that lacked them (anti-entropy).
    pub mesh_repairs: Counter,
    /// Rooms this node knows it lacks messages of (a peer holds more).
    pub rooms_behind: Gauge,
    /// How long the longest of those has been behind, in seconds.
    pub replication_lag_seconds: Gauge,
    /// Web Push: accepted by the push service, refused or unanswered, and
    /// not sent because the sender's queue was full.
    pub pushes_sent: Counter,
    pub pushes_failed: Counter,
    pub pushes_dropped: Counter,
    errors: Errors,
    /// Set at each scrape from the mesh's view.
    peers: Gauge,
    peers_up: Gauge,
}

impl Metrics {
    pub fn error(&self, code: ErrorCode) {
        if let Some(i) = ErrorCode::ALL.iter().position(|&c| c == code) {
            self.errors.0[i].inc();
        }
    }

    pub fn errors_of(&self, code: ErrorCode) -> u64 {
        ErrorCode::ALL.iter().position(|&c| c == code).map_or(0, |i| self.errors.0[i].get())
    }

    /// The Prometheus exposition text, every series labelled with the node.
    pub fn render(&self, node: &str, peers_up: usize, peers: usize) -> String {
        self.peers.set(peers as i64);
        self.peers_up.set(peers_up as i64);
        let label = (Cow::Borrowed("node"), Cow::Owned(node.to_owned()));
        let mut r = Registry::with_prefix_and_labels("meshchat", std::iter::once(label));
        self.register(&mut r);
        let mut out = String::with_capacity(8192);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &r);
        out
    }

    /// Counters are named without `_total`: the encoder adds it.
    fn register(&self, r: &mut Registry) {
        let mut c = |name: &str, help: &str, m: &Counter| r.register(name, help, m.clone());
        c("connections", "WebSocket connections accepted", &self.connections_total);
        c("frames_in", "Frames received from clients", &self.frames_in);
        c("frames_out", "Frames written to clients", &self.frames_out);
        c("messages_accepted", "Messages accepted from local clients", &self.messages_accepted);
        c("messages_replicated_in", "Messages received from peers and stored", &self.messages_replicated_in);
        c("deliveries", "Message frames queued to clients", &self.deliveries);
        c("slow_disconnects", "Clients disconnected for not reading", &self.slow_disconnects);
        c("refused_connections", "Connections refused at accept for a limit", &self.refused_connections);
        c("oversize_closes", "Connections closed for a frame over 64 KiB", &self.oversize_closes);
        c("store_commits", "Group commits", &self.store_commits);
        c("store_committed", "Writes committed (messages and room records)", &self.store_committed_msgs);
        c("http_requests", "HTTP API requests", &self.http_requests);
        c("mesh_frames_out", "Frames sent to peers", &self.mesh_frames_out);
        c("mesh_frames_in", "Frames received from peers", &self.mesh_frames_in);
        c("mesh_frames_dropped", "Outgoing mesh frames dropped by --mesh-drop", &self.mesh_frames_dropped);
        c("mesh_bytes_out", "Bytes of frames sent to peers", &self.mesh_bytes_out);
        c("mesh_bytes_in", "Bytes of frames received from peers", &self.mesh_bytes_in);
        c(
            "mesh_repairs",
            "Ranges of a room sent to a peer that lacked them, found by anti-entropy",
            &self.mesh_repairs,
        );
        c(
            "mesh_refused_messages",
            "Peer messages refused: malformed, or passed on without their origin's valid signature",
            &self.mesh_refused_msgs,
        );
        c(
            "clock_skew_refused",
            "Peer messages refused for a stamp too far ahead of this node's clock",
            &self.clock_skew_refused,
        );
        c("clock_jumps", "Times this node's clock jumped ahead and was not followed", &self.clock_jumps);
        c("pushes_sent", "Web Push notifications a push service accepted", &self.pushes_sent);
        c("pushes_failed", "Web Push notifications refused or unanswered", &self.pushes_failed);
        c("pushes_dropped", "Web Push notifications not sent: the sender was behind", &self.pushes_dropped);
        let mut g = |name: &str, help: &str, m: &Gauge| r.register(name, help, m.clone());
        g("connections", "Open WebSocket connections", &self.connections);
        g("rooms_open", "Rooms with a running room actor", &self.rooms_open);
        g("rooms", "Rooms with at least one message on this node", &self.rooms);
        g("files_bytes", "Bytes of shared files stored on this node", &self.files_bytes);
        g("rooms_behind", "Rooms a peer holds more messages of than this node", &self.rooms_behind);
        g(
            "replication_lag_seconds",
            "How long the room furthest behind a peer has been behind",
            &self.replication_lag_seconds,
        );
        g("peers", "Configured peers", &self.peers);
        g("peers_up", "Peers with a live mesh connection", &self.peers_up);
        r.register_collector(Box::new(self.errors.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.deliveries.inc_by(3);
        m.error(ErrorCode::RateLimited);
        let text = m.render("n1", 1, 2);
        assert!(text.contains("meshchat_deliveries_total{node=\"n1\"} 3\n"), "{text}");
        assert!(text.contains("meshchat_errors_total{node=\"n1\",code=\"rate_limited\"} 1\n"));
        assert!(text.contains("meshchat_peers_up{node=\"n1\"} 1\n"));
        assert!(text.contains("# TYPE meshchat_connections gauge\n"));
        assert_eq!(m.errors_of(ErrorCode::RateLimited), 1);
        // In the codes' order, the same on every scrape.
        let codes: Vec<&str> = text.lines().filter(|l| l.starts_with("meshchat_errors_total{")).collect();
        assert_eq!(codes.len(), ErrorCode::ALL.len());
        assert!(codes[0].contains(&format!("code=\"{}\"", ErrorCode::ALL[0].as_str())), "{codes:?}");
    }
}
