//! Web Push from a real mesh to a local push service that decrypts what it
//! gets, as a browser would (RFC 8291, written here from the RFC, not with
//! the node's code): a mention pushed once by the node that took it,
//! whichever node the person subscribed on; the text only if they opted
//! in; a direct message to each browser of the other person; nothing for a
//! message naming nobody; a subscription the service
//! says is gone removed; a signed-out browser pushed no more.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use common::*;
use ring::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::agreement::{ECDH_P256, EphemeralPrivateKey, UnparsedPublicKey, agree_ephemeral};
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Value, json};

/// What the push service received: (path, Authorization, body).
type Got = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;

async fn receive(State(got): State<Got>, Path(who): Path<String>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let auth = headers.get("authorization").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    assert_eq!(headers.get("content-encoding").unwrap(), "aes128gcm");
    assert!(headers.get("ttl").is_some());
    got.lock().unwrap().push((who.clone(), auth, body.to_vec()));
    if who == "gone" { StatusCode::GONE } else { StatusCode::CREATED }
}

async fn push_service() -> (String, Got) {
    let got: Got = Arc::default();
    let app = axum::Router::new().route("/push/{who}", axum::routing::post(receive)).with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

/// A browser's push keys: its private key opens one push.
struct Browser {
    private: Option<EphemeralPrivateKey>,
    public: Vec<u8>,
    auth: [u8; 16],
}

impl Browser {
    fn new() -> Browser {
        let rng = SystemRandom::new();
        let private = EphemeralPrivateKey::generate(&ECDH_P256, &rng).unwrap();
        let public = private.compute_public_key().unwrap().as_ref().to_vec();
        let mut auth = [0u8; 16];
        rng.fill(&mut auth).unwrap();
        Browser { private: Some(private), public, auth }
    }

    /// RFC 8291 §3.4 and RFC 8188 §2, from the browser's side.
    fn open(&mut self, body: &[u8]) -> Value {
        let (salt, rs, idlen) = (&body[..16], u32::from_be_bytes(body[16..20].try_into().unwrap()), body[20] as usize);
        assert_eq!((rs, idlen), (4096, 65));
        let (as_public, sealed) = (&body[21..21 + idlen], &body[21 + idlen..]);
        let peer = UnparsedPublicKey::new(&ECDH_P256, as_public);
        let secret = agree_ephemeral(self.private.take().unwrap(), &peer, |s| s.to_vec()).unwrap();
        let hmac = |key: &[u8], parts: &[&[u8]]| {
            let mut c = ring::hmac::Context::with_key(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key));
            parts.iter().for_each(|p| c.update(p));
            c.sign().as_ref().to_vec()
        };
        let prk_key = hmac(&self.auth, &[&secret]);
        let ikm = hmac(&prk_key, &[b"WebPush: info\0", &self.public, as_public, &[1]]);
        let prk = hmac(salt, &[&ikm]);
        let cek = hmac(&prk, &[b"Content-Encoding: aes128gcm\0", &[1]]);
        let nonce = hmac(&prk, &[b"Content-Encoding: nonce\0", &[1]]);
        let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &cek[..16]).unwrap());
        let mut record = sealed.to_vec();
        let nonce = Nonce::try_assume_unique_for_key(&nonce[..12]).unwrap();
        let plain = key.open_in_place(nonce, Aad::empty(), &mut record).unwrap();
        assert_eq!(plain.last(), Some(&2), "one record, last");
        serde_json::from_slice(&plain[..plain.len() - 1]).unwrap()
    }

    fn subscription(&self, endpoint: &str, key: &Value, preview: bool) -> Value {
        json!({"endpoint": endpoint, "p256dh": B64.encode(&self.public), "auth": B64.encode(self.auth), "key": key, "preview": preview})
    }
}

/// The VAPID header names the service's origin and verifies with `key`.
fn check_vapid(authorization: &str, key: &str, service: &str) {
    let rest = authorization.strip_prefix("vapid t=").unwrap();
    let (jwt, k) = rest.split_once(", k=").unwrap();
    assert_eq!(k, key);
    let (signed, sig) = jwt.rsplit_once('.').unwrap();
    let claims: Value = serde_json::from_slice(&B64.decode(signed.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(claims["aud"], service);
    assert!(claims["sub"].as_str().unwrap().starts_with("http"), "{claims}");
    let public =
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, B64.decode(key).unwrap());
    public.verify(signed.as_bytes(), &B64.decode(sig).unwrap()).expect("the VAPID signature verifies");
}

async fn pushes_to(got: &Got, who: &str) -> Vec<(String, Vec<u8>)> {
    got.lock().unwrap().iter().filter(|(w, _, _)| w == who).map(|(_, a, b)| (a.clone(), b.clone())).collect()
}

#[tokio::test]
async fn a_mention_is_pushed_once_encrypted_for_the_browser_and_stops_at_sign_out() {
    let (service, got) = push_service().await;
    let m = Mesh::start_accounts(2, &["--push-any-endpoint"]).await;
    let (n1, n2) = (&m.nodes[0], &m.nodes[1]);
    let alice = account_everywhere(&m, "alice").await;
    let bob = account_everywhere(&m, "bob").await;
    let carol = account_everywhere(&m, "carol").await;

    // alice's browser subscribes on n1, with the text; bob's on n2, without.
    let key = api("GET", &n1.url("/api/push/key"), Some(&alice), None).await.1["key"].clone();
    let (mut alices, mut bobs) = (Browser::new(), Browser::new());
    let sub = alices.subscription(&format!("{service}/push/alice"), &key, true);
    assert_eq!(api("POST", &n1.url("/api/push/subscriptions"), Some(&alice), Some(sub)).await.0, 204);
    eventually(Duration::from_secs(10), "n2 has the same key", || async {
        api("GET", &n2.url("/api/push/key"), Some(&bob), None).await.1["key"] == key
    })
    .await;
    let sub = bobs.subscription(&format!("{service}/push/bob"), &key, false);
    assert_eq!(api("POST", &n2.url("/api/push/subscriptions"), Some(&bob), Some(sub)).await.0, 204);
    let gone = Browser::new().subscription(&format!("{service}/push/gone"), &key, true);
    assert_eq!(api("POST", &n1.url("/api/push/subscriptions"), Some(&carol), Some(gone)).await.0, 204);
    // Bad subscriptions are refused, and nothing is stored for them.
    let wrong_key = alices.subscription(&format!("{service}/push/x"), &json!(B64.encode([4u8; 65])), true);
    let (status, body) = api("POST", &n1.url("/api/push/subscriptions"), Some(&alice), Some(wrong_key)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid")), "{body}");
    // (the subscriptions reach the other node with the account log)
    tokio::time::sleep(Duration::from_millis(500)).await;

    // bob, on n2, mentions alice: n2 pushes, once.
    let (mut b, _) = ws_with_token(n2, &bob).await;
    b.join("general", None).await;
    b.say_busy("general", "m1", "nothing for anyone").await;
    b.say_busy("general", "m2", "lunch, @alice?").await;
    eventually(Duration::from_secs(10), "alice's push", || async { !pushes_to(&got, "alice").await.is_empty() }).await;
    let (mut a, _) = ws_with_token(n1, &alice).await;
    a.join("general", None).await;
    // alice mentions herself and bob from n1: bob's push, without the text.
    a.say_busy("general", "m3", "@alice @bob see this").await;
    eventually(Duration::from_secs(10), "bob's push", || async { !pushes_to(&got, "bob").await.is_empty() }).await;
    a.say_busy("general", "m4", "@carol are you there").await;
    eventually(Duration::from_secs(10), "carol's push tried", || async { !pushes_to(&got, "gone").await.is_empty() })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let to_alice = pushes_to(&got, "alice").await;
    assert_eq!(to_alice.len(), 1, "one push for one mention, from one node");
    check_vapid(&to_alice[0].0, key.as_str().unwrap(), &service);
    assert_eq!(
        alices.open(&to_alice[0].1),
        json!({"room": "general", "author": "bob", "dm": false, "text": "lunch, @alice?"})
    );
    let to_bob = pushes_to(&got, "bob").await;
    assert_eq!(to_bob.len(), 1);
    assert_eq!(
        bobs.open(&to_bob[0].1),
        json!({"room": "general", "author": "alice", "dm": false}),
        "no text: bob did not opt in"
    );

    // A direct message: to bob's browsers, marked as one; his phone takes the text.
    let mut bobs_phone = Browser::new();
    let sub = bobs_phone.subscription(&format!("{service}/push/bob-phone"), &key, true);
    assert_eq!(api("POST", &n2.url("/api/push/subscriptions"), Some(&bob), Some(sub)).await.0, 204);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let dm = api("POST", &n1.url("/api/dm"), Some(&alice), Some(json!({"users": ["bob"]}))).await.1;
    let dm = dm["room"].as_str().unwrap().to_owned();
    a.join(&dm, None).await;
    a.say_busy(&dm, "d1", "psst").await;
    eventually(Duration::from_secs(10), "the DM's push", || async { !pushes_to(&got, "bob-phone").await.is_empty() })
        .await;
    let to_phone = pushes_to(&got, "bob-phone").await;
    assert_eq!(bobs_phone.open(&to_phone[0].1), json!({"room": dm, "author": "alice", "dm": true, "text": "psst"}));

    // Gone (410): removed, so the next mention is not pushed there.
    a.say_busy("general", "m5", "@carol again").await;
    // Signed out: alice's browser gets nothing more.
    assert_eq!(api("POST", &n1.url("/api/logout"), Some(&alice), None).await.0, 204);
    tokio::time::sleep(Duration::from_millis(500)).await;
    b.say_busy("general", "m6", "@alice still there?").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(pushes_to(&got, "gone").await.len(), 1, "a gone subscription is removed");
    assert_eq!(pushes_to(&got, "alice").await.len(), 1, "nothing after sign-out");
    let sent = metric(n1, "meshchat_pushes_sent_total").await + metric(n2, "meshchat_pushes_sent_total").await;
    // alice's mention, bob's mention, the DM to both of bob's browsers.
    assert_eq!(sent, 4);
}

#[tokio::test]
async fn subscriptions_are_bounded_and_endpoints_must_be_public_https() {
    let m = Mesh::start_accounts(1, &[]).await;
    let n1 = &m.nodes[0];
    let alice = account_everywhere(&m, "alice").await;
    let key = api("GET", &n1.url("/api/push/key"), Some(&alice), None).await.1["key"].clone();
    let browser = Browser::new();
    for bad in ["http://push.example.com/x", "https://127.0.0.1/x", "https://localhost/x", "https://10.1.2.3/x"] {
        let (status, body) =
            api("POST", &n1.url("/api/push/subscriptions"), Some(&alice), Some(browser.subscription(bad, &key, false)))
                .await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid")), "{bad}: {body}");
    }
    for i in 0..10 {
        let s = browser.subscription(&format!("https://push.example.com/{i}"), &key, false);
        assert_eq!(api("POST", &n1.url("/api/push/subscriptions"), Some(&alice), Some(s)).await.0, 204);
    }
    let s = browser.subscription("https://push.example.com/10", &key, false);
    let (status, body) = api("POST", &n1.url("/api/push/subscriptions"), Some(&alice), Some(s)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("limit_reached")), "{body}");
    // The same browser again is no new one; one turned off makes room.
    let again = browser.subscription("https://push.example.com/3", &key, true);
    assert_eq!(api("POST", &n1.url("/api/push/subscriptions"), Some(&alice), Some(again)).await.0, 204);
    let off = json!({"endpoint": "https://push.example.com/3"});
    assert_eq!(api("DELETE", &n1.url("/api/push/subscriptions"), Some(&alice), Some(off)).await.0, 204);
    let s = browser.subscription("https://push.example.com/10", &key, false);
    assert_eq!(api("POST", &n1.url("/api/push/subscriptions"), Some(&alice), Some(s)).await.0, 204);
    assert_eq!(api("GET", &n1.url("/api/push/key"), None, None).await.0, 401, "signed in only");
}

/// A reply in a thread is pushed to those who follow it (who wrote its
/// root, replied or were named in it), whichever node takes the reply; not
/// to others, not to its author.
#[tokio::test]
async fn a_reply_in_a_thread_is_pushed_to_its_followers() {
    let (service, got) = push_service().await;
    let m = Mesh::start_accounts(2, &["--push-any-endpoint"]).await;
    let (n1, n2) = (&m.nodes[0], &m.nodes[1]);
    let alice = account_everywhere(&m, "alice").await;
    let bob = account_everywhere(&m, "bob").await;
    let carol = account_everywhere(&m, "carol").await;
    let key = api("GET", &n1.url("/api/push/key"), Some(&alice), None).await.1["key"].clone();
    let (mut alices, mut carols) = (Browser::new(), Browser::new());
    for (who, token, browser) in [("alice", &alice, &mut alices), ("carol", &carol, &mut carols)] {
        let sub = browser.subscription(&format!("{service}/push/{who}"), &key, true);
        assert_eq!(api("POST", &n1.url("/api/push/subscriptions"), Some(token), Some(sub)).await.0, 204);
    }
    // (the subscriptions reach n2 with the account log)
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (status, root) = api(
        "POST",
        &n1.url("/api/rooms/general/messages"),
        Some(&alice),
        Some(json!({"id": "r1", "body": "the plan"})),
    )
    .await;
    assert_eq!(status, 200, "{root}");
    let root = root["msg"].clone();
    // bob answers in alice's thread on n2: alice, not carol.
    assert_eq!(thread_reply_on(n2, &bob, "b1", &root, "sounds good").await.0, 200);
    eventually(Duration::from_secs(10), "alice's push", || async { !pushes_to(&got, "alice").await.is_empty() }).await;
    // carol answers: alice again; carol's own reply is not pushed to her.
    assert_eq!(thread_reply_on(n2, &carol, "c1", &root, "count me in").await.0, 200);
    eventually(Duration::from_secs(10), "alice's second push", || async { pushes_to(&got, "alice").await.len() == 2 })
        .await;
    // bob again: carol follows it now she replied.
    assert_eq!(thread_reply_on(n2, &bob, "b2", &root, "great").await.0, 200);
    eventually(Duration::from_secs(10), "carol's push", || async { !pushes_to(&got, "carol").await.is_empty() }).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // (a test browser's key opens one push: the first of each)
    let (to_alice, to_carol) = (pushes_to(&got, "alice").await, pushes_to(&got, "carol").await);
    assert_eq!(to_alice.len(), 3, "bob's, carol's and bob's again");
    assert_eq!(alices.open(&to_alice[0].1)["text"], "sounds good");
    assert_eq!(to_carol.len(), 1, "only once she followed it");
    assert_eq!(carols.open(&to_carol[0].1)["text"], "great");
}
