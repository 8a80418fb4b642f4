use super::*;

#[test]
fn invitation_codes_from_links_or_as_typed() {
    assert_eq!(invite_code("#invite=abc-DEF_123").as_deref(), Some("abc-DEF_123"));
    assert_eq!(invite_code("#x=1&invite=abc").as_deref(), Some("abc"));
    assert_eq!(invite_code("https://n1.example.org/#invite=abc").as_deref(), Some("abc"));
    assert_eq!(invite_code("  abc_1 \n").as_deref(), Some("abc_1"));
    assert_eq!(invite_code("#invite="), None);
    assert_eq!(invite_code("#invite=<script>"), None);
    assert_eq!(invite_code("https://n1.example.org/"), None);
    assert_eq!(invite_code(""), None);
}

#[test]
fn bodies_match_protocol_shapes() {
    let h: Health =
        serde_json::from_str(r#"{"node":"n1","status":"ok","peers":{"n2":"up","n3":"down"},"uptime_s":42}"#).unwrap();
    assert_eq!(h.peers["n3"], PeerState::Down);
    let e = serde_json::to_string(&ErrorBody::new(ErrorCode::Invalid, "room must be …")).unwrap();
    assert_eq!(e, r#"{"error":{"code":"invalid","message":"room must be …"}}"#);
    let p: Poll = serde_json::from_str(r#"{"messages":[],"vector":{"n1":7,"n2":3}}"#).unwrap();
    assert!(!p.gap);
    assert_eq!(p.vector.get("n1"), 7);
    let post: PostMessage = serde_json::from_str(r#"{"name":"alice","id":"1","body":"hi"}"#).unwrap();
    assert_eq!(post.name, "alice");
}
