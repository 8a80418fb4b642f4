//! The replication core: sans-IO.
//!
//! No sockets, no tokio, no SQLite and no clock in here: inputs arrive as
//! method calls (`accept_local`, `receive`) with the time passed in, and
//! outputs are return values. That keeps it deterministic, so the mesh's
//! simulation tests can drive many nodes through delays, drops and crashes
//! with a fixed seed and check every invariant after every step.
//!
//! - [`RoomCore`]: one room's vector, stamps and causal delivery.
//! - [`sync`]: anti-entropy: the ranges a peer lacks, and when to compare.
//! - [`presence`]: who is online in a room across nodes, with a grace period
//!   for users of a node that went away.

pub mod presence;
mod room;
pub mod sync;

pub use presence::{Change, Presence};
pub use room::{Rejected, RoomCore, preferred};
pub use sync::{Range, Schedule, missing};
