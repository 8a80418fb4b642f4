//! Tools around the node, behind the `tools` feature: none of the node's
//! modules may name them (the node builds without the feature).

pub mod bench;
pub mod client;
pub mod fuzz;
pub mod harness;
pub mod launcher;
pub mod status;
pub mod tui;
