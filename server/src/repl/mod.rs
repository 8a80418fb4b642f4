//! The replication core: sans-IO.
//!
//! No sockets, no tokio, no SQLite and no clock in here: inputs arrive as
//! method calls (`accept_local`, `receive`) with the time passed in, and
//! outputs are return values. That keeps it deterministic, so the mesh's
//! simulation tests can drive many nodes through delays, drops and crashes
//! with a fixed seed and check every invariant after every step.

mod room;

pub use room::{Rejected, RoomCore, preferred};
