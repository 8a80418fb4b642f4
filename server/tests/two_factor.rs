//! Two-factor sign-in over a real 3-node mesh: enrolled on one node, asked
//! for on every node; a code works once per node; a recovery code works
//! once across the mesh, even offered to two nodes at once; turned off
//! with the password; admins can be required to have it.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use totp_rs::{Algorithm, Builder, Secret};

fn code_now(secret: &str, offset_steps: i64) -> String {
    let t = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_secret(Secret::try_from_base32(secret).unwrap())
        .build_noncompliant();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    t.generate((now + 30 * offset_steps) as u64).to_string()
}

async fn sign_in(node: &NodeProc, name: &str, password: &str, code: Option<&str>) -> (u16, Value) {
    let mut body = json!({"name": name, "password": password});
    if let Some(c) = code {
        body["code"] = json!(c);
    }
    api("POST", &node.url("/api/login"), None, Some(body)).await
}

/// Enrols `name` (signed in with `tok`) on `node`: the secret and the recovery codes.
async fn enrol(node: &NodeProc, tok: &str, password: &str) -> (String, Vec<String>) {
    let (status, setup) = api("POST", &node.url("/api/2fa/setup"), Some(tok), None).await;
    assert_eq!(status, 200, "{setup}");
    assert!(setup["uri"].as_str().unwrap().starts_with("otpauth://totp/meshchat:"), "{setup}");
    assert!(setup["svg"].as_str().unwrap().contains("<svg"), "a QR code");
    let secret = setup["secret"].as_str().unwrap().to_owned();
    let enable = |code: String, password: &str| json!({"secret": secret, "code": code, "password": password});
    let (status, body) =
        api("POST", &node.url("/api/2fa/enable"), Some(tok), Some(enable(code_now(&secret, 0), "wrong one"))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("bad_credentials")));
    let (status, _) = api("POST", &node.url("/api/2fa/enable"), Some(tok), Some(enable("123".into(), password))).await;
    assert_eq!(status, 400, "a code that does not match");
    let (status, body) =
        api("POST", &node.url("/api/2fa/enable"), Some(tok), Some(enable(code_now(&secret, 0), password))).await;
    assert_eq!(status, 200, "{body}");
    let codes: Vec<String> = body["codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

#[tokio::test]
async fn two_factor_is_asked_on_every_node_and_each_code_works_once() {
    let m = Mesh::start_accounts(3, &[]).await;
    let ada = account_everywhere(&m, "ada").await;
    let (secret, recovery) = enrol(&m.nodes[0], &ada, "ada's password").await;
    for node in &m.nodes {
        eventually(Duration::from_secs(5), "a code asked for everywhere", || async {
            let (status, body) = sign_in(node, "ada", "ada's password", None).await;
            status == 401 && body["error"]["code"] == "code_required"
        })
        .await;
        let (status, body) = sign_in(node, "ada", "wrong password", None).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("bad_credentials")),
            "no hint without the password"
        );
        let (status, _) = sign_in(node, "ada", "ada's password", Some("000000")).await;
        assert_eq!(status, 401, "a wrong code");
    }
    // A code works once across the mesh: used on one node, refused on
    // every other within its 30 seconds. (A code of the next step serves
    // if the step turned meanwhile.)
    let mut used = code_now(&secret, 0);
    let (mut status, mut body) = sign_in(&m.nodes[0], "ada", "ada's password", Some(&used)).await;
    if status != 200 {
        used = code_now(&secret, 1);
        (status, body) = sign_in(&m.nodes[0], "ada", "ada's password", Some(&used)).await;
    }
    assert_eq!(status, 200, "{body}");
    for node in &m.nodes {
        let (again, body) = sign_in(node, "ada", "ada's password", Some(&used)).await;
        assert_eq!((again, body["error"]["code"].as_str()), (401, Some("code_required")), "{}: used", node.id());
    }
    assert_eq!(me(&m.nodes[1], &ada).await.1["two_factor"], true);

    // A recovery code, offered to two nodes at once: one wins.
    let code = recovery[0].to_uppercase();
    let (a, b) = tokio::join!(
        sign_in(&m.nodes[1], "ada", "ada's password", Some(&code)),
        sign_in(&m.nodes[2], "ada", "ada's password", Some(&code))
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 401], "{a:?} {b:?}");
    for node in &m.nodes {
        eventually(Duration::from_secs(5), "used everywhere", || async {
            sign_in(node, "ada", "ada's password", Some(&recovery[0])).await.0 == 401
        })
        .await;
    }
    let (status, _) = sign_in(&m.nodes[0], "ada", "ada's password", Some(&recovery[1])).await;
    assert_eq!(status, 200, "another recovery code works");

    // Off, with the password: no code asked any more.
    let body = json!({"password": "wrong one"});
    assert_eq!(api("POST", &m.nodes[2].url("/api/2fa/disable"), Some(&ada), Some(body)).await.0, 401);
    let body = json!({"password": "ada's password"});
    assert_eq!(api("POST", &m.nodes[2].url("/api/2fa/disable"), Some(&ada), Some(body)).await.0, 204);
    for node in &m.nodes {
        eventually(Duration::from_secs(5), "no code asked", || async {
            sign_in(node, "ada", "ada's password", None).await.0 == 200
        })
        .await;
    }
}

#[tokio::test]
async fn admins_can_be_required_to_have_two_factor() {
    let m = Mesh::start_accounts(2, &[]).await;
    let root = account_everywhere(&m, "root").await;
    let bob = account_everywhere(&m, "bob").await;
    let rules = json!({"registration": "open", "guests": false, "admins_need_two_factor": true});
    let (status, body) = api("POST", &m.nodes[0].url("/api/admin/settings"), Some(&root), Some(rules.clone())).await;
    assert_eq!(status, 400, "not before the admin has it: {body}");
    enrol(&m.nodes[0], &root, "root's password").await;
    let (status, _) =
        api("POST", &m.nodes[0].url("/api/users/bob/role"), Some(&root), Some(json!({"role": "admin"}))).await;
    assert_eq!(status, 204);
    assert_eq!(api("POST", &m.nodes[0].url("/api/admin/settings"), Some(&root), Some(rules)).await.0, 204);
    eventually(Duration::from_secs(5), "bob is an admin", || async {
        me(&m.nodes[1], &bob).await.1["role"] == "admin"
    })
    .await;
    // bob, an admin without two-factor, cannot act as one on any node.
    for node in &m.nodes {
        eventually(Duration::from_secs(5), "the rule everywhere", || async {
            api("GET", &node.url("/api/admin/audit"), Some(&bob), None).await.0 == 403
        })
        .await;
        assert_eq!(api("GET", &node.url("/api/admin/audit"), Some(&root), None).await.0, 200);
        // Nor anywhere else an admin may do more: the mesh map, rooms.
        assert_eq!(api("GET", &node.url("/api/mesh"), Some(&bob), None).await.0, 403, "{}", node.id());
    }
    let lobby = json!({"room": "lobby", "title": "", "topic": "", "private": false});
    assert_eq!(api("POST", &m.nodes[0].url("/api/rooms"), Some(&root), Some(lobby)).await.0, 201);
    let delete = json!({"id": "d1", "action": {"event": "room_deleted"}});
    let (status, body) = api("POST", &m.nodes[0].url("/api/rooms/lobby/actions"), Some(&bob), Some(delete)).await;
    assert_eq!(status, 403, "an admin without two-factor deletes nobody's room: {body}");
    enrol(&m.nodes[1], &bob, "bob's password").await;
    assert_eq!(api("GET", &m.nodes[1].url("/api/admin/audit"), Some(&bob), None).await.0, 200);
    assert_eq!(api("GET", &m.nodes[1].url("/api/mesh"), Some(&bob), None).await.0, 200);
}
