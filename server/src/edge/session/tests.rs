//! The session over a pair of channels instead of a socket.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ws::Message;
use futures_util::{Sink, Stream};
use meshchat_shared::{ErrorCode, NodeInfo, ServerFrame};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::room::{RoomConfig, RoomCtx};
use crate::store::{Store, Sync};

/// One end of a WebSocket, made of two channels.
struct ChanSocket {
    incoming: mpsc::UnboundedReceiver<Result<Message, axum::Error>>,
    outgoing: mpsc::UnboundedSender<Message>,
}

impl Stream for ChanSocket {
    type Item = Result<Message, axum::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.incoming.poll_recv(cx)
    }
}

impl Sink<Message> for ChanSocket {
    type Error = axum::Error;
    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        self.outgoing.send(item).map_err(axum::Error::new)
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
}

struct Harness {
    to_session: mpsc::UnboundedSender<Result<Message, axum::Error>>,
    from_session: mpsc::UnboundedReceiver<Message>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn new(config: SessionConfig) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let metrics = Arc::new(Metrics::default());
        let store = Store::open(dir.path(), "n1", Sync::Normal, metrics.clone()).unwrap();
        let shutdown = CancellationToken::new();
        let hub = Hub::new(RoomCtx {
            on_commit: None,
            node: "n1".into(),
            store: store.clone(),
            metrics: metrics.clone(),
            config: RoomConfig::default(),
            broker: None,
            signer: None,
            refusals: std::sync::Mutex::new(crate::infra::logs::EveryKey::new(Duration::from_secs(60))),
            index: Arc::new(crate::room::RoomIndex::default()),
            gate: crate::room::restore::RestoreGate::fixed(Default::default()),
            shutdown: shutdown.clone(),
            retention: tokio::sync::watch::Sender::new(0),
        });
        let me = NodeInfo { id: "n1".into(), url: "ws://127.0.0.1:1/ws".into(), up: true };
        // A node that takes guests: these tests are about the protocol.
        let keys = Arc::new(crate::trust::identity::NodeKeys::local("n1", dir.path()).unwrap());
        let registry = crate::accounts::Registry::start("n1", vec!["n1".into()], store.clone(), None);
        let guests = crate::accounts::AccountsConfig { guests: true, ..Default::default() };
        let accounts =
            crate::accounts::Accounts::start(guests, "n1", keys, registry, &hub, store.clone()).await.unwrap();
        let ctx = Arc::new(SessionCtx {
            hub,
            accounts,
            guard: crate::edge::guard::Guard::new(crate::edge::guard::Limits::default()),
            store,
            cluster: Arc::new(Cluster::new(me, Vec::new())),
            metrics,
            shutdown: shutdown.clone(),
            config,
        });
        let (to_session, incoming) = mpsc::unbounded_channel();
        let (outgoing, from_session) = mpsc::unbounded_channel();
        let task = tokio::spawn(serve(ChanSocket { incoming, outgoing }, ctx, None));
        Harness { to_session, from_session, shutdown, task, _dir: dir }
    }

    fn send(&self, v: Value) {
        self.to_session.send(Ok(Message::Text(v.to_string().into()))).unwrap();
    }

    async fn next(&mut self) -> Message {
        tokio::time::timeout(Duration::from_secs(5), self.from_session.recv())
            .await
            .expect("timed out")
            .expect("closed")
    }

    async fn frame(&mut self) -> ServerFrame {
        match self.next().await {
            Message::Text(t) => serde_json::from_str(&t).unwrap(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    async fn error(&mut self) -> (ErrorCode, Option<String>) {
        match self.frame().await {
            ServerFrame::Error { code, id, .. } => (code, id),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    async fn close_code(&mut self) -> u16 {
        loop {
            if let Message::Close(Some(c)) = self.next().await {
                return c.code;
            }
        }
    }

    async fn hello(&mut self) {
        self.send(json!({"type":"hello","v":1,"name":"alice"}));
        assert!(matches!(self.frame().await, ServerFrame::Welcome { .. }));
    }
}

#[tokio::test]
async fn hello_must_come_first_and_speak_version_one() {
    let mut h = Harness::new(SessionConfig::default()).await;
    h.send(json!({"type":"join","room":"general"}));
    assert_eq!(h.error().await.0, ErrorCode::NoHello);
    h.send(json!({"type":"hello","v":2,"name":"alice"}));
    assert_eq!(h.error().await.0, ErrorCode::UnsupportedVersion);
    h.send(json!({"type":"hello","v":1,"name":" alice"}));
    assert_eq!(h.error().await.0, ErrorCode::Invalid);
    h.send(json!({"type":"hello","v":1,"name":"alice"}));
    match h.frame().await {
        ServerFrame::Welcome { v, node, name, nodes } => {
            assert_eq!((v, node.as_str(), name.as_str()), (1, "n1", "alice"));
            assert_eq!(nodes.len(), 1);
        }
        other => panic!("{other:?}"),
    }
    h.send(json!({"type":"hello","v":1,"name":"bob"}));
    assert_eq!(h.error().await.0, ErrorCode::Invalid);
}

#[tokio::test]
async fn malformed_frames_are_answered_and_the_connection_stays() {
    let mut h = Harness::new(SessionConfig::default()).await;
    h.hello().await;
    h.to_session.send(Ok(Message::Text("{not json".into()))).unwrap();
    assert_eq!(h.error().await.0, ErrorCode::BadFrame);
    h.to_session.send(Ok(Message::Binary(vec![1, 2, 3].into()))).unwrap();
    assert_eq!(h.error().await.0, ErrorCode::BadFrame);
    h.send(json!({"type":"dance"}));
    assert_eq!(h.error().await.0, ErrorCode::BadFrame);
    h.send(json!({"type":"send","room":"general"}));
    assert_eq!(h.error().await.0, ErrorCode::Invalid);
    h.send(json!({"type":"send","room":"general","id":"m1","body":"hi"}));
    assert_eq!(h.error().await, (ErrorCode::NotJoined, Some("m1".into())));
    h.send(json!({"type":"join","room":"general"}));
    assert!(matches!(h.frame().await, ServerFrame::Joined { .. }));
}

#[tokio::test]
async fn an_oversize_frame_closes_with_1009() {
    let mut h = Harness::new(SessionConfig::default()).await;
    h.hello().await;
    let too_long = tungstenite::error::CapacityError::MessageTooLong { size: 70_000, max_size: 65_536 };
    h.to_session.send(Err(axum::Error::new(tungstenite::Error::Capacity(too_long)))).unwrap();
    assert_eq!(h.close_code().await, close::TOO_BIG);
}

#[tokio::test]
async fn stopping_the_node_closes_with_1012() {
    let mut h = Harness::new(SessionConfig::default()).await;
    h.hello().await;
    h.shutdown.cancel();
    assert_eq!(h.close_code().await, close::RESTART);
    drop(h.to_session);
    tokio::time::timeout(Duration::from_secs(5), h.task).await.unwrap().unwrap();
}

#[tokio::test]
async fn flooding_is_rate_limited_with_the_send_id() {
    let config = SessionConfig { rate: RateConfig { per_sec: 0.001, burst: 3.0 }, ..SessionConfig::default() };
    let mut h = Harness::new(config).await;
    h.hello().await;
    h.send(json!({"type":"join","room":"general"}));
    h.send(json!({"type":"history","room":"general"}));
    // Over the limit: a typing hint is dropped without an error frame ...
    h.send(json!({"type":"typing","room":"general"}));
    // ... and a send is refused with its id (the first error that arrives).
    h.send(json!({"type":"send","room":"general","id":"m9","body":"hi"}));
    let mut got = None;
    for _ in 0..6 {
        if let ServerFrame::Error { code, id, .. } = h.frame().await {
            got = Some((code, id));
            break;
        }
    }
    assert_eq!(got, Some((ErrorCode::RateLimited, Some("m9".into()))));
}
