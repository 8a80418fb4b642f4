//! The load generator's second dialect: a socket.io 4 server, spoken as
//! Engine.IO v4 over a plain WebSocket (no polling, no client library), so
//! the same lean clients measure both systems with the same clock.
//!
//! Engine.IO frames are a digit and a payload: `0{…}` opens, `2` is the
//! server's ping (answered `3`), `4` carries a socket.io packet: `40` joins
//! the default namespace, `42["event",…]` is an event. The server side is
//! `scripts/peers/socketio-server.js`: `join` a room (answered `joined`),
//! `send` `{room,id,body}` (answered `ack` with the id; the others in the
//! room get `message` `{room,id,author,body,origin}`, `origin` being the
//! server that took it).

use serde_json::json;

/// What a frame from a socket.io server is to the load generator.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// Engine.IO's open packet (`0{…}`).
    Open,
    /// The namespace connect's answer (`40…`).
    Connected,
    /// The server's ping: answer [`PONG`].
    Ping,
    /// `42["joined",…]`.
    Joined,
    /// `42["message",{…}]`, the whole text (fields are found in it).
    Message(&'a str),
    /// `42["ack","<id>"]`.
    Ack(&'a str),
    /// `42["failed",…]`.
    Failed(&'a str),
    Other,
}

/// The client's answer to a ping.
pub const PONG: &str = "3";
/// Joins the default namespace.
pub const CONNECT: &str = "40";

/// The WebSocket URL of a socket.io server at `addr`.
pub fn url(addr: &std::net::SocketAddr) -> String {
    format!("ws://{addr}/socket.io/?EIO=4&transport=websocket")
}

pub fn join(room: &str) -> String {
    format!("42{}", json!(["join", room]))
}

pub fn send(room: &str, id: &str, body: &str) -> String {
    format!("42{}", json!(["send", {"room": room, "id": id, "body": body}]))
}

/// A typing notice to the room (the server passes it on to the others).
pub fn typing(room: &str) -> String {
    format!("42{}", json!(["typing", room]))
}

pub fn classify(text: &str) -> Incoming<'_> {
    if text.starts_with('0') {
        return Incoming::Open;
    }
    if text == "2" {
        return Incoming::Ping;
    }
    if let Some(event) = text.strip_prefix("42[\"") {
        if event.starts_with("message\"") {
            return Incoming::Message(text);
        }
        if let Some(rest) = event.strip_prefix("ack\",\"") {
            return Incoming::Ack(rest.split('"').next().unwrap_or(""));
        }
        if event.starts_with("joined\"") {
            return Incoming::Joined;
        }
        if event.starts_with("failed\"") {
            return Incoming::Failed(text);
        }
        return Incoming::Other;
    }
    if text.starts_with("40") {
        return Incoming::Connected;
    }
    Incoming::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_both_ways() {
        assert_eq!(join("bench-3"), r#"42["join","bench-3"]"#);
        assert_eq!(send("bench-3", "c1-5", "b 1 5 9"), r#"42["send",{"body":"b 1 5 9","id":"c1-5","room":"bench-3"}]"#);
        assert_eq!(typing("bench-3"), r#"42["typing","bench-3"]"#);
        assert_eq!(classify(r#"42["typing",{"room":"bench-3","name":"x"}]"#), Incoming::Other);
        assert_eq!(classify(r#"0{"sid":"x","pingInterval":25000}"#), Incoming::Open);
        assert_eq!(classify(r#"40{"sid":"y"}"#), Incoming::Connected);
        assert_eq!(classify("2"), Incoming::Ping);
        assert_eq!(classify(r#"42["joined","bench-3"]"#), Incoming::Joined);
        assert_eq!(classify(r#"42["ack","c1-5"]"#), Incoming::Ack("c1-5"));
        let m = r#"42["message",{"room":"bench-3","id":"c2-1","author":"a","body":"b 2 1 7","origin":"s2"}]"#;
        assert_eq!(classify(m), Incoming::Message(m));
        assert_eq!(classify(r#"42["failed","not joined"]"#), Incoming::Failed(r#"42["failed","not joined"]"#));
        assert_eq!(classify("6"), Incoming::Other);
    }
}
