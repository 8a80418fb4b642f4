//! Rooms the nodes keep for themselves (`!accounts`, `!mesh`): logs of
//! events written by nodes, replicated and caught up like any room, and
//! folded by whoever follows them.

use std::time::Duration;

use meshchat_shared::{ErrorCode, Message, RoomVector};
use tokio::sync::oneshot;

use super::{AckTo, RoomCmd, RoomHandle};
use crate::store::{Store, StoreError};

/// How long an append may wait for the room to store it.
const APPEND: Duration = Duration::from_secs(10);

/// Writes `body` to the log as `author`; Ok once it is durable here.
pub async fn append(log: &RoomHandle, author: &str, body: String) -> Result<(), ErrorCode> {
    let (tx, rx) = oneshot::channel();
    let id = crate::infra::random_id();
    log.send_wait(RoomCmd::Send { to: AckTo::Http(tx), author: author.into(), id, body }).await?;
    match tokio::time::timeout(APPEND, rx).await {
        Ok(Ok(Ok(_))) => Ok(()),
        Ok(Ok(Err(code))) => Err(code),
        _ => Err(ErrorCode::Unavailable),
    }
}

/// Hands every message of the log beyond `applied` to `apply`, in pages;
/// returns what is applied now.
pub async fn catch_up(
    store: &Store,
    log: &RoomHandle,
    mut applied: RoomVector,
    mut apply: impl FnMut(&Message),
) -> Result<RoomVector, StoreError> {
    let upto = log.status().vector;
    loop {
        let page = store.missing_page(log.name(), applied.clone(), upto.clone(), 500).await?;
        if page.is_empty() {
            applied.merge(&upto);
            return Ok(applied);
        }
        for m in &page {
            if m.seq > applied.get(&m.origin) {
                applied.set(&m.origin, m.seq);
            }
            apply(m);
        }
    }
}
