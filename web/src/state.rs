//! The chat state the app wraps in signals: the shared sans-IO client, and
//! the rows of the message list built from it.

pub use meshchat_shared::client::{Chat, Link, room};

pub use crate::timeline;
