//! Every frame against literal JSON written from protocol.md: decoding the
//! literal gives the value, and encoding the value gives back the same JSON.

use serde_json::{Value, json};

use super::*;

fn vector(pairs: &[(&str, u64)]) -> RoomVector {
    pairs.iter().map(|&(o, s)| (o, s)).collect()
}

fn sample_msg() -> Message {
    Message {
        room: "general".into(),
        id: "7f0c".into(),
        author: "alice".into(),
        body: "hi".into(),
        origin: "n1".into(),
        seq: 7,
        ts: 1763600000123,
        vc: vector(&[("n1", 7), ("n2", 3)]),
    }
}

const MSG_JSON: &str = r#"{"room":"general","id":"7f0c","author":"alice","body":"hi","origin":"n1","seq":7,"ts":1763600000123,"vc":{"n1":7,"n2":3}}"#;

/// Decodes `literal`, compares with `value`, and checks the encoding of
/// `value` is the same JSON object as the literal.
fn both_ways<T>(literal: &str, value: T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let decoded: T = serde_json::from_str(literal).unwrap_or_else(|e| panic!("{literal}: {e}"));
    assert_eq!(decoded, value, "decoding {literal}");
    let encoded: Value = serde_json::to_value(&value).unwrap();
    let expected: Value = serde_json::from_str(literal).unwrap();
    assert_eq!(encoded, expected, "encoding {value:?}");
}

#[test]
fn message_matches_protocol_example() {
    both_ways(MSG_JSON, sample_msg());
}

#[test]
fn client_frames() {
    both_ways(
        r#"{"type":"hello","v":1,"name":"alice"}"#,
        ClientFrame::Hello { v: 1, name: Some("alice".into()), token: None, events: false },
    );
    both_ways(
        r#"{"type":"hello","v":1,"token":"mc1.x.y"}"#,
        ClientFrame::Hello { v: 1, name: None, token: Some("mc1.x.y".into()), events: false },
    );
    both_ways(r#"{"type":"ping"}"#, ClientFrame::Ping);
    both_ways(r#"{"type":"join","room":"general"}"#, ClientFrame::Join { room: "general".into(), since: None });
    both_ways(
        r#"{"type":"join","room":"general","since":{"n1":7,"n2":3}}"#,
        ClientFrame::Join { room: "general".into(), since: Some(vector(&[("n1", 7), ("n2", 3)])) },
    );
    both_ways(r#"{"type":"leave","room":"general"}"#, ClientFrame::Leave { room: "general".into() });
    both_ways(
        r#"{"type":"send","room":"general","id":"7f0c","body":"hi"}"#,
        ClientFrame::Send { room: "general".into(), id: "7f0c".into(), body: "hi".into() },
    );
    both_ways(r#"{"type":"typing","room":"general"}"#, ClientFrame::Typing { room: "general".into() });
    both_ways(
        r#"{"type":"history","room":"general"}"#,
        ClientFrame::History { room: "general".into(), before: None, limit: None },
    );
    both_ways(
        r#"{"type":"history","room":"general","before":{"ts":1763600000123,"origin":"n1","seq":7},"limit":20}"#,
        ClientFrame::History {
            room: "general".into(),
            before: Some(Cursor { ts: 1763600000123, origin: "n1".into(), seq: 7 }),
            limit: Some(20),
        },
    );
}

#[test]
fn server_frames() {
    let nodes = vec![
        NodeInfo { id: "n1".into(), url: "ws://127.0.0.1:8081/ws".into(), up: true },
        NodeInfo { id: "n2".into(), url: "ws://127.0.0.1:8082/ws".into(), up: false },
    ];
    let nodes_json = r#"[{"id":"n1","url":"ws://127.0.0.1:8081/ws","up":true},{"id":"n2","url":"ws://127.0.0.1:8082/ws","up":false}]"#;
    both_ways(
        &format!(r#"{{"type":"welcome","v":1,"node":"n1","name":"alice","nodes":{nodes_json}}}"#),
        ServerFrame::Welcome { v: 1, node: "n1".into(), name: "alice".into(), nodes: nodes.clone() },
    );
    both_ways(
        r#"{"type":"joined","room":"general","members":["alice","bob"]}"#,
        ServerFrame::Joined { room: "general".into(), members: vec!["alice".into(), "bob".into()] },
    );
    both_ways(&format!(r#"{{"type":"message","msg":{MSG_JSON}}}"#), ServerFrame::Message { msg: sample_msg() });
    both_ways(
        r#"{"type":"synced","room":"general","vector":{"n1":7,"n2":3},"gap":false}"#,
        ServerFrame::Synced { room: "general".into(), vector: vector(&[("n1", 7), ("n2", 3)]), gap: false },
    );
    both_ways(
        &format!(r#"{{"type":"ack","id":"7f0c","msg":{MSG_JSON}}}"#),
        ServerFrame::Ack { id: "7f0c".into(), msg: sample_msg() },
    );
    both_ways(
        r#"{"type":"presence","room":"general","name":"bob","online":false}"#,
        ServerFrame::Presence { room: "general".into(), name: "bob".into(), online: false },
    );
    both_ways(
        r#"{"type":"typing","room":"general","name":"bob"}"#,
        ServerFrame::Typing { room: "general".into(), name: "bob".into() },
    );
    both_ways(
        &format!(r#"{{"type":"history","room":"general","messages":[{MSG_JSON}],"more":true}}"#),
        ServerFrame::History { room: "general".into(), messages: vec![sample_msg()], more: true },
    );
    both_ways(&format!(r#"{{"type":"nodes","nodes":{nodes_json}}}"#), ServerFrame::Nodes { nodes });
    both_ways(
        r#"{"type":"error","code":"invalid","message":"body must be 1-4000 characters","id":"7f0c"}"#,
        ServerFrame::Error {
            code: ErrorCode::Invalid,
            message: "body must be 1-4000 characters".into(),
            id: Some("7f0c".into()),
        },
    );
    both_ways(
        r#"{"type":"error","code":"no_hello","message":"say hello first"}"#,
        ServerFrame::Error { code: ErrorCode::NoHello, message: "say hello first".into(), id: None },
    );
}

#[test]
fn hot_path_encoders_match_the_enum() {
    let msg = sample_msg();
    let same = |fast: String, frame: ServerFrame| {
        assert_eq!(serde_json::from_str::<Value>(&fast).unwrap(), serde_json::to_value(frame).unwrap());
    };
    same(encode::message(&msg), ServerFrame::Message { msg: msg.clone() });
    same(encode::ack(&msg), ServerFrame::Ack { id: msg.id.clone(), msg: msg.clone() });
    same(encode::typing("general", "bob"), ServerFrame::Typing { room: "general".into(), name: "bob".into() });
    same(
        encode::presence("general", "bob", true),
        ServerFrame::Presence { room: "general".into(), name: "bob".into(), online: true },
    );
}

#[test]
fn unknown_fields_are_ignored() {
    let f = decode_client(r#"{"type":"typing","room":"general","extra":[1,2,3]}"#).unwrap();
    assert_eq!(f, ClientFrame::Typing { room: "general".into() });
    let m: Message = serde_json::from_value({
        let mut v: Value = serde_json::from_str(MSG_JSON).unwrap();
        v["edited"] = json!(true);
        v
    })
    .unwrap();
    assert_eq!(m, sample_msg());
}

#[test]
fn decode_tells_bad_frames_from_invalid_fields() {
    let bad = |t: &str| assert_eq!(decode_client(t).unwrap_err().code(), ErrorCode::BadFrame, "{t}");
    let invalid = |t: &str| assert_eq!(decode_client(t).unwrap_err().code(), ErrorCode::Invalid, "{t}");
    bad("not json");
    bad("[1,2]");
    bad("{}");
    bad(r#"{"type":"shout","room":"general"}"#);
    bad(r#"{"type":7}"#);
    invalid(r#"{"type":"send","room":"general"}"#);
    invalid(r#"{"type":"hello","v":"1","name":"a"}"#);
    invalid(r#"{"type":"history","room":"general","limit":-1}"#);
    invalid(r#"{"type":"join","room":"general","since":{"n1":"x"}}"#);
    let err = decode_client(r#"{"type":"send","room":"general","id":"1"}"#).unwrap_err();
    assert!(err.message().contains("body"), "{}", err.message());
    assert!(!err.message().contains("line"), "{}", err.message());
}

#[test]
fn validate_checks_every_field() {
    let ok = |f: ClientFrame| assert_eq!(f.validate(), Ok(()), "{f:?}");
    let no = |f: ClientFrame, e: Invalid| assert_eq!(f.validate(), Err(e));
    ok(ClientFrame::Hello { v: 9, name: Some("alice".into()), token: None, events: false });
    no(ClientFrame::Hello { v: 1, name: Some(" alice".into()), token: None, events: false }, Invalid::NameWhitespace);
    no(ClientFrame::Join { room: "Gen".into(), since: None }, Invalid::Room);
    no(ClientFrame::Join { room: "gen".into(), since: Some(vector(&[("N1", 1)])) }, Invalid::NodeId);
    no(ClientFrame::Leave { room: "".into() }, Invalid::Room);
    no(ClientFrame::Typing { room: "a b".into() }, Invalid::Room);
    no(ClientFrame::Send { room: "g".into(), id: "".into(), body: "x".into() }, Invalid::MessageId);
    no(ClientFrame::Send { room: "g".into(), id: "1".into(), body: "  ".into() }, Invalid::BodyBlank);
    no(ClientFrame::Send { room: "g".into(), id: "1".into(), body: "x".repeat(4001) }, Invalid::BodyLength);
    no(ClientFrame::History { room: "g".into(), before: None, limit: Some(0) }, Invalid::Limit);
    no(ClientFrame::History { room: "g".into(), before: None, limit: Some(201) }, Invalid::Limit);
    no(
        ClientFrame::History {
            room: "g".into(),
            before: Some(Cursor { ts: 1, origin: "N!".into(), seq: 1 }),
            limit: None,
        },
        Invalid::NodeId,
    );
    ok(ClientFrame::History { room: "g".into(), before: None, limit: Some(200) });
}
