//! What nodes say to each other: length-delimited postcard frames.
//!
//! Every frame is a 4-byte big-endian length and a postcard body, at most
//! [`MAX_FRAME`] long. A frame that does not decode ends that stream only.

use bytes::{BufMut, Bytes, BytesMut};
use meshchat_shared::{Message, RoomVector};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::repl::Range;

/// The mesh protocol version, also in ALPN (`meshchat-mesh/1`).
pub const MESH_VERSION: u32 = 1;
/// Largest frame accepted from a peer.
pub const MAX_FRAME: usize = 1 << 20;
/// Messages per `Msgs` frame at most (a full one is well under `MAX_FRAME`).
pub const MSGS_PER_FRAME: usize = 64;

/// The control stream: one per connection, both ways.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Control {
    /// First frame each way: who I am, which mesh version, my browser URL.
    Hello {
        node: String,
        version: u32,
        url: String,
    },
    /// My committed vector of every room I know (anti-entropy).
    Vectors(Vec<(String, RoomVector)>),
    /// I lack these; send them on the room's stream.
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
}

/// A room stream: one per room per direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RoomFrame {
    /// First frame: which room this stream carries.
    Open {
        room: String,
    },
    Msgs(Vec<Message>),
}

#[derive(Debug, Error)]
pub enum ProtoError {
    #[error("frame of {0} bytes is over the {MAX_FRAME}-byte limit")]
    TooBig(usize),
    #[error("frame does not decode: {0}")]
    Decode(String),
    #[error("cannot encode a frame: {0}")]
    Encode(String),
    #[error("stream read failed: {0}")]
    Read(String),
}

/// A frame ready to write: length prefix and body.
pub fn encode<T: Serialize>(value: &T) -> Result<Bytes, ProtoError> {
    let body = postcard::to_stdvec(value).map_err(|e| ProtoError::Encode(e.to_string()))?;
    if body.len() > MAX_FRAME {
        return Err(ProtoError::TooBig(body.len()));
    }
    let mut out = BytesMut::with_capacity(4 + body.len());
    out.put_u32(body.len() as u32);
    out.put_slice(&body);
    Ok(out.freeze())
}

pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ProtoError> {
    postcard::from_bytes(body).map_err(|e| ProtoError::Decode(e.to_string()))
}

/// Reads one frame; `None` at a clean end of stream.
pub async fn read_frame<T: DeserializeOwned>(recv: &mut quinn::RecvStream) -> Result<Option<T>, ProtoError> {
    let mut len = [0u8; 4];
    match recv.read_exact(&mut len).await {
        Ok(()) => {}
        Err(quinn::ReadExactError::FinishedEarly(0)) => return Ok(None),
        Err(e) => return Err(ProtoError::Read(e.to_string())),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(ProtoError::TooBig(len));
    }
    let mut body = vec![0u8; len];
    recv.read_exact(&mut body).await.map_err(|e| ProtoError::Read(e.to_string()))?;
    decode(&body).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        round_trip(Control::Vectors(vec![("general".into(), [("n1", 7)].into_iter().collect())]));
        round_trip(Control::Want { room: "r".into(), ranges: vec![Range { origin: "n2".into(), after: 3, upto: 9 }] });
        round_trip(Control::PresenceSnapshot(vec![("r".into(), vec!["alice".into()])]));
        round_trip(RoomFrame::Open { room: "general".into() });
        round_trip(RoomFrame::Msgs((1..=MSGS_PER_FRAME as u64).map(msg).collect()));
    }

    #[test]
    fn compact_and_bounded() {
        let one = encode(&RoomFrame::Msgs(vec![msg(1)])).unwrap();
        let json = serde_json::to_string(&msg(1)).unwrap();
        assert!(one.len() < json.len(), "postcard {} vs JSON {}", one.len(), json.len());
        // The largest possible messages still fit a full frame.
        let mut big = msg(1);
        big.body = "🦀".repeat(4000);
        let full = encode(&RoomFrame::Msgs(vec![big; MSGS_PER_FRAME])).unwrap();
        assert!(full.len() < MAX_FRAME, "{}", full.len());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode::<Control>(&[0xff, 0xff, 0xff]).is_err());
        assert!(decode::<RoomFrame>(&[]).is_err());
    }
}
