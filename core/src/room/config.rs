//! Tunables of every room.

/// Tunables of every room.
#[derive(Debug, Clone)]
pub struct Config {
    /// Messages kept in memory per room for joins and resumes.
    pub cache: usize,
    /// A resume that lacks more than this gets the latest 50 and `gap`.
    pub catchup_limit: u64,
    /// How long the users of a node that went away still count as online,
    /// so that moving to another node is not seen as leaving and coming back.
    pub grace_ms: u64,
    /// A gap is asked of a peer at most this often.
    pub want_every_ms: u64,
    /// Live messages held for a joiner while its backlog is read from the
    /// store; past this it gets the latest messages and `gap` instead.
    pub buffer_limit: usize,
    /// Messages per page of a catch-up read from the store: a backlog goes
    /// out a page at a time, each when the connection has drained the last.
    pub page: usize,
    /// A peer's message stamped further ahead of this node's clock than
    /// this is refused (it would drag every later stamp into the future).
    pub max_drift_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cache: 256,
            catchup_limit: 1000,
            grace_ms: 5_000,
            want_every_ms: 250,
            buffer_limit: 1000,
            page: 200,
            max_drift_ms: 60_000,
        }
    }
}
