//! Files between nodes, each on a bidirectional stream of its own, so a
//! 25 MiB file never holds up the lanes that carry messages.
//!
//! A stream starts with a [`FileReq`] and is answered by a [`FileAns`]:
//! `Put` pushes a file the sender just took (its bytes follow the frame),
//! `Get` asks for one this node lacks. Either way the receiver checks the
//! bytes against the SHA-256 they are named by before keeping them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

use super::MeshCtx;
use super::proto;
use crate::store::files::{Blob, FileStore};

/// Live connections by peer, for opening file streams.
pub(crate) type Conns = Arc<Mutex<BTreeMap<String, quinn::Connection>>>;

/// File streams at once per connection, each way.
pub const FILE_STREAMS: u32 = 8;
/// How long a file may take to cross to a peer.
const TRANSFER: Duration = Duration::from_secs(60);

#[derive(Debug, Serialize, Deserialize)]
enum FileReq {
    /// `shared_by`: the message that shares it `(room, origin, seq)`: the
    /// peer answers once it holds that message too, so the file is
    /// readable there even if this node dies the moment it acknowledges.
    Put {
        hash: String,
        size: u64,
        shared_by: Option<(String, String, u64)>,
    },
    Get {
        hash: String,
    },
}

/// How long a peer waits for the message that shares a file it was given.
const MESSAGE_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Serialize, Deserialize)]
enum FileAns {
    /// Held already: nothing needs to cross.
    Have,
    Stored,
    /// The bytes follow.
    Sending {
        size: u64,
    },
    Missing,
    Refused(String),
}

fn live(conns: &Conns) -> Vec<(String, quinn::Connection)> {
    let map = conns.lock().unwrap_or_else(|p| p.into_inner());
    map.iter().filter(|(_, c)| c.close_reason().is_none()).map(|(p, c)| (p.clone(), c.clone())).collect()
}

/// A stream's bytes as chunks, for [`FileStore::receive`].
fn chunks(recv: quinn::RecvStream) -> impl Stream<Item = Result<Bytes, quinn::ReadError>> + Unpin {
    Box::pin(futures_util::stream::unfold(recv, |mut r| async move {
        match r.read_chunk(64 * 1024, true).await {
            Ok(Some(c)) => Some((Ok(c.bytes), r)),
            Ok(None) => None,
            Err(e) => Some((Err(e), r)),
        }
    }))
}

async fn send_file(send: &mut quinn::SendStream, files: &FileStore, hash: &str) -> Result<(), String> {
    let mut f = tokio::fs::File::open(files.path(hash)).await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        send.write_all(&buf[..n]).await.map_err(|e| e.to_string())?;
    }
    send.finish().map_err(|e| e.to_string())
}

async fn push(conn: quinn::Connection, files: Arc<FileStore>, blob: Blob, by: Option<Key>) -> Result<(), String> {
    let (mut send, mut recv) = conn.open_bi().await.map_err(|e| e.to_string())?;
    let put = FileReq::Put { hash: blob.hash.clone(), size: blob.size, shared_by: by };
    let req = proto::encode(&put).map_err(|e| e.to_string())?;
    send.write_all(&req).await.map_err(|e| e.to_string())?;
    // The peer may answer `Have` before taking any bytes: then stop.
    let sending = send_file(&mut send, &files, &blob.hash);
    let answer = proto::read_frame::<FileAns>(&mut recv);
    tokio::pin!(answer);
    let answer = tokio::select! {
        a = &mut answer => a,
        sent = sending => { sent?; answer.await }
    };
    match answer.map_err(|e| e.to_string())? {
        Some((FileAns::Have | FileAns::Stored, _)) => Ok(()),
        Some((other, _)) => Err(format!("{other:?}")),
        None => Err("no answer".into()),
    }
}

/// A message's place: room, origin, seq.
pub(crate) type Key = (String, String, u64);

/// Pushes a file this node just took to every connected peer; returns
/// once one of them has it durably, and the message `by` that shares it
/// (or none could take it), the others carrying on meanwhile. How many
/// peers had it by then.
pub(crate) async fn replicate(conns: &Conns, files: &Arc<FileStore>, blob: &Blob, by: Option<Key>) -> usize {
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let peers = live(conns);
    for (peer, conn) in &peers {
        let (tx, files, blob, peer, conn) = (tx.clone(), files.clone(), blob.clone(), peer.clone(), conn.clone());
        let by = by.clone();
        tokio::spawn(async move {
            let done = tokio::time::timeout(TRANSFER, push(conn, files, blob, by)).await;
            let ok = matches!(done, Ok(Ok(())));
            if !ok {
                tracing::warn!(peer = %peer, outcome = ?done, "a peer did not take a file");
            }
            let _ = tx.send(ok).await;
        });
    }
    drop(tx);
    let mut stored = 0;
    while let Some(ok) = rx.recv().await {
        if ok {
            stored += 1;
            break;
        }
    }
    stored
}

/// Fetches `hash` from the first peer that holds it.
pub(crate) async fn fetch(conns: &Conns, files: &FileStore, hash: &str, max: u64) -> bool {
    for (peer, conn) in live(conns) {
        let got = tokio::time::timeout(TRANSFER, async {
            let (mut send, mut recv) = conn.open_bi().await.map_err(|e| e.to_string())?;
            let req = proto::encode(&FileReq::Get { hash: hash.to_owned() }).map_err(|e| e.to_string())?;
            send.write_all(&req).await.map_err(|e| e.to_string())?;
            let _ = send.finish();
            match proto::read_frame::<FileAns>(&mut recv).await.map_err(|e| e.to_string())? {
                Some((FileAns::Sending { size }, _)) if size <= max => {
                    files.receive(chunks(recv), max, Some(hash)).await.map_err(|e| e.to_string()).map(drop)
                }
                other => Err(format!("{other:?}")),
            }
        })
        .await;
        match got {
            Ok(Ok(())) => return true,
            outcome => tracing::debug!(peer = %peer, ?outcome, "a peer did not give a file"),
        }
    }
    false
}

/// `yes` once this node holds the message `by` (durably: it is in the
/// store), or a refusal when it does not arrive in time.
async fn holding(ctx: &MeshCtx, by: Option<Key>, yes: FileAns) -> FileAns {
    let Some((room, origin, seq)) = by else { return yes };
    let deadline = tokio::time::Instant::now() + MESSAGE_WAIT;
    while tokio::time::Instant::now() < deadline {
        if ctx.store.range(&room, &origin, seq.saturating_sub(1), seq).await.is_ok_and(|m| !m.is_empty()) {
            return yes;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    FileAns::Refused("the message that shares it did not arrive".into())
}

/// Answers a peer's file streams on `conn` until it closes.
pub(crate) async fn serve(conn: quinn::Connection, ctx: Arc<MeshCtx>) {
    while let Ok((send, recv)) = conn.accept_bi().await {
        tokio::spawn(answer(send, recv, ctx.clone()));
    }
}

async fn answer(mut send: quinn::SendStream, mut recv: quinn::RecvStream, ctx: Arc<MeshCtx>) {
    let files = ctx.store.files().clone();
    let reply = match proto::read_frame::<FileReq>(&mut recv).await {
        Ok(Some((FileReq::Put { hash, shared_by, .. }, _))) if files.has(&hash) => {
            let _ = recv.stop(0u32.into());
            holding(&ctx, shared_by, FileAns::Have).await
        }
        Ok(Some((FileReq::Put { hash, size, shared_by }, _))) if size <= ctx.max_file_bytes => {
            match files.receive(chunks(recv), ctx.max_file_bytes, Some(&hash)).await {
                Ok(_) => holding(&ctx, shared_by, FileAns::Stored).await,
                Err(e) => FileAns::Refused(e.to_string()),
            }
        }
        Ok(Some((FileReq::Put { .. }, _))) => FileAns::Refused("over this node's file size limit".into()),
        Ok(Some((FileReq::Get { hash }, _))) => {
            // Only files a message shares, not whatever a hash names.
            if files.has(&hash) && ctx.store.file_referenced(&hash).await.unwrap_or(false) {
                let size = std::fs::metadata(files.path(&hash)).map(|m| m.len()).unwrap_or(0);
                if let Ok(frame) = proto::encode(&FileAns::Sending { size })
                    && send.write_all(&frame).await.is_ok()
                {
                    let _ = send_file(&mut send, &files, &hash).await;
                }
                return;
            }
            FileAns::Missing
        }
        _ => return,
    };
    if let Ok(frame) = proto::encode(&reply) {
        let _ = send.write_all(&frame).await;
        let _ = send.finish();
        // Let the answer reach the peer before the stream is dropped.
        let _ = send.stopped().await;
    }
}
