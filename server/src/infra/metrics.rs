//! Counters and gauges, rendered in the Prometheus text format.
//!
//! Plain atomics: a metric update on the fan-out path must cost no more than
//! an uncontended add, and there is no registry to look names up in.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use meshchat_shared::ErrorCode;

#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Relaxed);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    pub fn inc(&self) {
        self.0.fetch_add(1, Relaxed);
    }
    pub fn dec(&self) {
        self.0.fetch_sub(1, Relaxed);
    }
    pub fn set(&self, v: i64) {
        self.0.store(v, Relaxed);
    }
    pub fn get(&self) -> i64 {
        self.0.load(Relaxed)
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
    errors: [Counter; ErrorCode::ALL.len()],
}

impl Metrics {
    pub fn error(&self, code: ErrorCode) {
        if let Some(i) = ErrorCode::ALL.iter().position(|&c| c == code) {
            self.errors[i].inc();
        }
    }

    pub fn errors_of(&self, code: ErrorCode) -> u64 {
        ErrorCode::ALL.iter().position(|&c| c == code).map_or(0, |i| self.errors[i].get())
    }

    /// The Prometheus exposition text, every series labelled with the node.
    pub fn render(&self, node: &str, peers_up: usize, peers: usize) -> String {
        let mut out = String::with_capacity(4096);
        let mut metric = |name: &str, kind: &str, help: &str, value: i128| {
            let _ = writeln!(out, "# HELP meshchat_{name} {help}");
            let _ = writeln!(out, "# TYPE meshchat_{name} {kind}");
            let _ = writeln!(out, "meshchat_{name}{{node=\"{node}\"}} {value}");
        };
        let c = |c: &Counter| i128::from(c.get());
        let g = |g: &Gauge| i128::from(g.get());
        metric("connections", "gauge", "Open WebSocket connections.", g(&self.connections));
        metric("connections_total", "counter", "WebSocket connections accepted.", c(&self.connections_total));
        metric("frames_in_total", "counter", "Frames received from clients.", c(&self.frames_in));
        metric("frames_out_total", "counter", "Frames written to clients.", c(&self.frames_out));
        metric(
            "messages_accepted_total",
            "counter",
            "Messages accepted from local clients.",
            c(&self.messages_accepted),
        );
        metric(
            "messages_replicated_in_total",
            "counter",
            "Messages received from peers and stored.",
            c(&self.messages_replicated_in),
        );
        metric("deliveries_total", "counter", "Message frames queued to clients.", c(&self.deliveries));
        metric("slow_disconnects_total", "counter", "Clients disconnected for not reading.", c(&self.slow_disconnects));
        metric(
            "refused_connections_total",
            "counter",
            "Connections refused at accept for a limit.",
            c(&self.refused_connections),
        );
        metric(
            "oversize_closes_total",
            "counter",
            "Connections closed for a frame over 64 KiB.",
            c(&self.oversize_closes),
        );
        metric("rooms_open", "gauge", "Rooms with a running room actor.", g(&self.rooms_open));
        metric("store_commits_total", "counter", "Group commits.", c(&self.store_commits));
        metric(
            "store_committed_total",
            "counter",
            "Writes committed (messages and room records).",
            c(&self.store_committed_msgs),
        );
        metric("http_requests_total", "counter", "HTTP API requests.", c(&self.http_requests));
        metric("mesh_frames_out_total", "counter", "Frames sent to peers.", c(&self.mesh_frames_out));
        metric("mesh_frames_in_total", "counter", "Frames received from peers.", c(&self.mesh_frames_in));
        metric(
            "mesh_frames_dropped_total",
            "counter",
            "Outgoing mesh frames dropped by --mesh-drop.",
            c(&self.mesh_frames_dropped),
        );
        metric("mesh_bytes_out_total", "counter", "Bytes of frames sent to peers.", c(&self.mesh_bytes_out));
        metric("mesh_bytes_in_total", "counter", "Bytes of frames received from peers.", c(&self.mesh_bytes_in));
        metric("rooms", "gauge", "Rooms with at least one message on this node.", g(&self.rooms));
        metric("files_bytes", "gauge", "Bytes of shared files stored on this node.", g(&self.files_bytes));
        metric(
            "mesh_repairs_total",
            "counter",
            "Ranges of a room sent to a peer that lacked them, found by anti-entropy.",
            c(&self.mesh_repairs),
        );
        metric("rooms_behind", "gauge", "Rooms a peer holds more messages of than this node.", g(&self.rooms_behind));
        metric(
            "replication_lag_seconds",
            "gauge",
            "How long the room furthest behind a peer has been behind.",
            g(&self.replication_lag_seconds),
        );
        metric(
            "mesh_refused_messages_total",
            "counter",
            "Peer messages refused: malformed, or passed on without their origin's valid signature.",
            c(&self.mesh_refused_msgs),
        );
        metric(
            "clock_skew_refused_total",
            "counter",
            "Peer messages refused for a stamp too far ahead of this node's clock.",
            c(&self.clock_skew_refused),
        );
        metric(
            "clock_jumps_total",
            "counter",
            "Times this node's clock jumped ahead and was not followed.",
            c(&self.clock_jumps),
        );
        metric("peers", "gauge", "Configured peers.", peers as i128);
        metric("peers_up", "gauge", "Peers with a live mesh connection.", peers_up as i128);
        let _ = writeln!(out, "# HELP meshchat_errors_total Error frames and refused requests, by code.");
        let _ = writeln!(out, "# TYPE meshchat_errors_total counter");
        for (code, n) in ErrorCode::ALL.iter().zip(&self.errors) {
            let _ = writeln!(out, "meshchat_errors_total{{node=\"{node}\",code=\"{}\"}} {}", code.as_str(), n.get());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.deliveries.add(3);
        m.error(ErrorCode::RateLimited);
        let text = m.render("n1", 1, 2);
        assert!(text.contains("meshchat_deliveries_total{node=\"n1\"} 3\n"), "{text}");
        assert!(text.contains("meshchat_errors_total{node=\"n1\",code=\"rate_limited\"} 1\n"));
        assert!(text.contains("meshchat_peers_up{node=\"n1\"} 1\n"));
        assert!(text.contains("# TYPE meshchat_connections gauge\n"));
        assert_eq!(m.errors_of(ErrorCode::RateLimited), 1);
    }
}
