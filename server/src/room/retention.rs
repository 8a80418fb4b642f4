//! Retention for every room this node holds, running or not: the store is
//! told to take out what each room's policy (its own, else the mesh's: the
//! core's one rule, [`keep_ms`]) puts past it. Done once before the node
//! serves anyone, so a node back from a long absence shows nothing old, and
//! every hour after; running rooms also apply it every minute, to what they
//! hold in memory too.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Hub;
use crate::core::keep_ms;
use crate::infra::clock::now_ms;
use crate::store::StoreError;

/// How often every room is visited.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// Applies every room's policy as of now; returns once it is committed
/// (texts erased, files freed), with how many rooms have a policy.
pub async fn sweep(hub: &Hub) -> Result<usize, StoreError> {
    let (mesh_days, now) = (*hub.ctx.retention.borrow(), now_ms());
    let mut rooms = 0;
    for room in hub.index().names() {
        let own = hub.index().meta(&room).map_or(0, |m| m.retention_days);
        if let Some(keep) = keep_ms(&room, own, mesh_days) {
            hub.ctx.store.expire(&room, now.saturating_sub(keep)).await?;
            rooms += 1;
        }
    }
    hub.ctx.store.flush().await?;
    Ok(rooms)
}

/// Sweeps every hour until the node stops.
pub fn start(hub: &Arc<Hub>, shutdown: CancellationToken) {
    let hub = Arc::downgrade(hub);
    tokio::spawn(async move {
        let mut every = tokio::time::interval_at(tokio::time::Instant::now() + SWEEP_EVERY, SWEEP_EVERY);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = shutdown.cancelled() => return,
            }
            let Some(hub) = hub.upgrade() else { return };
            if let Err(e) = sweep(&hub).await {
                tracing::warn!(error = %e, "cannot apply the retention policy");
            }
        }
    });
}
