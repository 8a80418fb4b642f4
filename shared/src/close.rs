//! WebSocket close codes the node uses, and that clients act on.

/// A text frame that is not UTF-8.
pub const INVALID_DATA: u16 = 1007;
/// The client broke a rule it cannot recover from on this connection: it
/// does not read what it is sent, never said hello, or has no valid session.
pub const POLICY: u16 = 1008;
/// The client sent a frame over 64 KiB.
pub const TOO_BIG: u16 = 1009;
/// The node is stopping: move to another node at once.
pub const RESTART: u16 = 1012;
/// The node cannot serve this client yet (it is behind the mesh on the
/// client's account): try another node, or this one again later.
pub const TRY_AGAIN: u16 = 1013;
