//! What nodes say to each other: length-delimited postcard frames.
//!
//! Every frame is a 4-byte big-endian length and a postcard body, at most
//! [`MAX_FRAME`] long. A frame that does not decode ends that stream only.
//!
//! Per connection, each way: one control stream, and [`LANES`] lanes that
//! carry every room's messages (a room always on the same lane, so its
//! messages keep their order). The number of rooms never touches the
//! number of streams.

use bytes::{BufMut, Bytes, BytesMut};
use meshchat_shared::Message;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::core::{Range, Signed, SyncFrame};

/// The mesh protocol version, also in ALPN (`meshchat-mesh/4`): 3 added
/// file streams, 4 the restore handshake (`AskOwn`/`Own`).
pub const MESH_VERSION: u32 = 4;
/// The oldest version this node still links with, so that a mesh can be
/// upgraded one node at a time: a link speaks the lower of the two.
pub const MIN_MESH_VERSION: u32 = 3;
/// Largest frame accepted from a peer.
pub const MAX_FRAME: usize = 1 << 20;
/// Messages per `Msgs` frame at most (a full one is well under `MAX_FRAME`).
pub const MSGS_PER_FRAME: usize = 64;
/// Unidirectional streams each way that carry the rooms' messages: a busy
/// room delays only the rooms that share its lane.
pub const LANES: usize = 8;

/// The control stream: one per connection, both ways.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Control {
    /// First frame each way: who I am, which mesh version, my browser URL.
    Hello {
        node: String,
        version: u32,
        url: String,
    },
    /// Anti-entropy: digests and listings ([`crate::core::sync`]).
    Sync(SyncFrame),
    /// I lack these; send them on the room's lane.
    Want {
        room: String,
        ranges: Vec<Range>,
    },
    /// A name came or went on my node.
    Presence {
        room: String,
        name: String,
        online: bool,
    },
    /// Every name online on my node, per room (repairs lost presence frames).
    PresenceSnapshot(Vec<(String, Vec<String>)>),
    Typing {
        room: String,
        name: String,
    },
    /// Certificates of the mesh's nodes I know (sent on connect): with them
    /// you can check the signatures of messages I pass on from any origin.
    Certs(Vec<(String, Vec<u8>)>),
    /// A message of a claim (a name, an invitation) agreed by a majority.
    Claim(crate::core::claims::ClaimMsg),
    /// (4) I was restored from a backup: which of my messages do you hold?
    AskOwn,
    /// (4) The highest seq of yours I hold, per room; `last` ends the answer.
    Own {
        rooms: Vec<(String, u64)>,
        last: bool,
    },
}

/// A lane: messages of any room, each frame naming its room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LaneFrame {
    Msgs { room: String, msgs: Vec<WireMsg> },
}

/// A message on a lane, with its origin's signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireMsg {
    pub msg: Message,
    pub sig: Option<Vec<u8>>,
}

impl From<WireMsg> for Signed {
    fn from(w: WireMsg) -> Signed {
        Signed { msg: w.msg, proof: w.sig.map(Into::into) }
    }
}

impl From<&Signed> for WireMsg {
    fn from(s: &Signed) -> WireMsg {
        WireMsg { msg: s.msg.clone(), sig: s.proof.as_deref().map(<[u8]>::to_vec) }
    }
}

/// A lane frame stays under this many bytes (estimated), a quarter of the cap.
const MSGS_FRAME_BYTES: usize = MAX_FRAME / 4;

/// `Msgs` frames for a run of a room's messages: at most
/// [`MSGS_PER_FRAME`] messages and about [`MSGS_FRAME_BYTES`] each, so
/// that no frame nears the cap whatever the bodies and vectors.
pub fn encode_msgs<'a>(room: &str, msgs: impl IntoIterator<Item = &'a Signed>) -> Result<Vec<Bytes>, ProtoError> {
    let mut frames = Vec::new();
    let mut chunk: Vec<WireMsg> = Vec::new();
    let mut bytes = 0;
    for s in msgs {
        let m = &s.msg;
        let sig = s.proof.as_ref().map_or(0, |p| p.len());
        let vc: usize = m.vc.iter().map(|(o, _)| o.len() + 11).sum();
        let size = 128 + sig + m.id.len() + m.author.len() + m.body.len() + vc;
        if !chunk.is_empty() && (chunk.len() == MSGS_PER_FRAME || bytes + size > MSGS_FRAME_BYTES) {
            frames.push(encode(&LaneFrame::Msgs { room: room.to_owned(), msgs: std::mem::take(&mut chunk) })?);
            bytes = 0;
        }
        bytes += size;
        chunk.push(WireMsg::from(s));
    }
    if !chunk.is_empty() {
        frames.push(encode(&LaneFrame::Msgs { room: room.to_owned(), msgs: chunk })?);
    }
    Ok(frames)
}

/// The lane a room's messages travel on.
pub fn lane_of(room: &str) -> usize {
    crate::core::digest::bucket_of(room) % LANES
}

#[derive(Debug, Error)]
pub enum ProtoError {
    #[error("frame of {0} bytes is over the {MAX_FRAME}-byte limit")]
    TooBig(usize),
    #[error("frame does not decode: {0}")]
    Decode(#[source] postcard::Error),
    #[error("cannot encode a frame: {0}")]
    Encode(#[source] postcard::Error),
    #[error("stream read failed: {0}")]
    Read(#[from] quinn::ReadExactError),
}

/// A frame ready to write: length prefix and body.
pub fn encode<T: Serialize>(value: &T) -> Result<Bytes, ProtoError> {
    let body = postcard::to_stdvec(value).map_err(ProtoError::Encode)?;
    if body.len() > MAX_FRAME {
        return Err(ProtoError::TooBig(body.len()));
    }
    let mut out = BytesMut::with_capacity(4 + body.len());
    out.put_u32(body.len() as u32);
    out.put_slice(&body);
    Ok(out.freeze())
}

pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ProtoError> {
    postcard::from_bytes(body).map_err(ProtoError::Decode)
}

/// Reads one frame and its size on the wire; `None` at a clean end of stream.
pub async fn read_frame<T: DeserializeOwned>(recv: &mut quinn::RecvStream) -> Result<Option<(T, usize)>, ProtoError> {
    let mut len = [0u8; 4];
    match recv.read_exact(&mut len).await {
        Ok(()) => {}
        Err(quinn::ReadExactError::FinishedEarly(0)) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(ProtoError::TooBig(len));
    }
    let mut body = vec![0u8; len];
    recv.read_exact(&mut body).await?;
    decode(&body).map(|f| Some((f, 4 + len)))
}

/// Every version this node speaks, newest first: TLS settles on the newest
/// both ends speak, so an upgraded node still links with one not yet upgraded.
pub fn alpn() -> Vec<Vec<u8>> {
    (MIN_MESH_VERSION..=MESH_VERSION).rev().map(|v| format!("meshchat-mesh/{v}").into_bytes()).collect()
}

/// `meshchat-mesh/3` → 3.
pub fn version_of(alpn: &[u8]) -> Option<u32> {
    std::str::from_utf8(alpn).ok()?.strip_prefix("meshchat-mesh/")?.parse().ok()
}

/// The version a connection settled on in its handshake.
pub fn negotiated(conn: &quinn::Connection) -> Option<u32> {
    let data = conn.handshake_data()?.downcast::<quinn::crypto::rustls::HandshakeData>().ok()?;
    version_of(data.protocol.as_deref()?)
}

/// Who opened a connection. When both sides dial at once, both keep the one
/// opened by the node with the smaller id, so exactly one survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialer {
    Me,
    Them,
}

/// A connection whose handshake is done: identity checked, hellos exchanged.
pub(super) struct Established {
    pub conn: quinn::Connection,
    pub send: quinn::SendStream,
    pub recv: quinn::RecvStream,
    pub dialer: Dialer,
    /// The peer's WebSocket URL, from its hello.
    pub url: String,
    /// The mesh version both ends speak (the TLS handshake settled it).
    pub version: u32,
}

/// Application close codes on mesh connections.
pub(super) mod code {
    pub const DUPLICATE: u32 = 1;
    pub const GOODBYE: u32 = 2;
    pub const REFUSED: u32 = 3;
    pub const BROKEN: u32 = 4;
    /// The dialer was removed from the mesh: the reason is the CA's
    /// signed removal, for it to check and stop taking writes.
    pub const REMOVED: u32 = 5;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(seq: u64) -> Signed {
        Signed { msg: msg(seq), proof: Some(vec![7u8; 72].into()) }
    }

    fn msg(seq: u64) -> Message {
        Message {
            id: format!("id-{seq}"),
            author: "alice".into(),
            body: "héllo <b>".into(),
            ts: 1_763_600_000_000 + seq,
            ..Message::sample("general", "n1", seq).after(&[("n2", 3)])
        }
    }

    fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(v: T) {
        let bytes = encode(&v).unwrap();
        let len = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
        assert_eq!(len, bytes.len() - 4);
        assert_eq!(decode::<T>(&bytes[4..]).unwrap(), v);
    }

    #[test]
    fn frames_round_trip() {
        round_trip(Control::Hello { node: "n1".into(), version: MESH_VERSION, url: "ws://127.0.0.1:8081/ws".into() });
        round_trip(Control::Sync(SyncFrame::Root { root: 42 }));
        round_trip(Control::Want { room: "r".into(), ranges: vec![Range { origin: "n2".into(), after: 3, upto: 9 }] });
        round_trip(Control::PresenceSnapshot(vec![("r".into(), vec!["alice".into()])]));
        let msgs = (1..=MSGS_PER_FRAME as u64).map(|s| WireMsg::from(&signed(s))).collect();
        round_trip(LaneFrame::Msgs { room: "general".into(), msgs });
        round_trip(Control::Certs(vec![("n2".into(), vec![1, 2, 3])]));
        round_trip(Control::AskOwn);
        round_trip(Control::Own { rooms: vec![("general".into(), 7)], last: true });
        round_trip(Control::Sync(SyncFrame::Groups { hashes: vec![u64::MAX; crate::core::digest::GROUPS] }));
    }

    #[test]
    fn compact_and_bounded() {
        let one = encode(&LaneFrame::Msgs { room: "general".into(), msgs: vec![WireMsg::from(&signed(1))] }).unwrap();
        let json = serde_json::to_string(&msg(1)).unwrap();
        assert!(one.len() < json.len() + 80, "postcard {} vs JSON {} (+ a 72-byte signature)", one.len(), json.len());
        // The largest possible messages are split over frames under the cap.
        let mut big = signed(1);
        big.msg.body = "🦀".repeat(4000);
        big.msg.vc = (0..32).map(|i| (format!("{:a>32}", i), u64::MAX)).collect();
        let frames = encode_msgs(&"r".repeat(48), &vec![big; 1000]).unwrap();
        assert!(frames.len() > 1000 / MSGS_PER_FRAME);
        let mut count = 0;
        for f in &frames {
            assert!(f.len() <= MSGS_FRAME_BYTES + 64, "{}", f.len());
            let LaneFrame::Msgs { msgs, .. } = decode::<LaneFrame>(&f[4..]).unwrap();
            count += msgs.len();
        }
        assert_eq!(count, 1000);
        let small = encode_msgs("r", &(1..=130).map(signed).collect::<Vec<_>>()).unwrap();
        assert_eq!(small.len(), 3, "64 + 64 + 2");
    }

    #[test]
    fn alpn_names_the_versions_newest_first() {
        let alpn = super::alpn();
        assert_eq!(alpn[0], format!("meshchat-mesh/{MESH_VERSION}").into_bytes());
        assert_eq!(alpn.last().unwrap(), &format!("meshchat-mesh/{MIN_MESH_VERSION}").into_bytes());
        for v in MIN_MESH_VERSION..=MESH_VERSION {
            assert_eq!(super::version_of(format!("meshchat-mesh/{v}").as_bytes()), Some(v));
        }
        assert_eq!(super::version_of(b"h3"), None);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode::<Control>(&[0xff, 0xff, 0xff]).is_err());
        assert!(decode::<LaneFrame>(&[]).is_err());
    }

    #[test]
    fn rooms_spread_over_every_lane() {
        let mut seen = [0usize; LANES];
        for i in 0..1000 {
            seen[lane_of(&format!("room-{i}"))] += 1;
        }
        assert!(seen.iter().all(|&n| n > 60), "{seen:?}");
    }
}
