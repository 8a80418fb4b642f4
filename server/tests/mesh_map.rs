//! The mesh map: `/api/mesh` for admins only, and `meshchat status` with a token.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mesh_map_shows_links_rooms_and_lag_to_admins_only() {
    let m = Mesh::start_accounts(3, &[]).await;
    let admin = account_everywhere(&m, "root").await; // the mesh's first account
    let member = account_everywhere(&m, "mia").await;
    let (status, _) = api("POST", &m.nodes[0].url("/api/rooms"), Some(&admin), Some(json!({"room": "ops"}))).await;
    assert_eq!(status, 201);
    for i in 0..5 {
        let body = json!({"id": format!("m{i}"), "body": "hello"});
        let (s, r) = api("POST", &m.nodes[0].url("/api/rooms/ops/messages"), Some(&admin), Some(body)).await;
        assert_eq!(s, 200, "{r}");
    }

    // Names every room, private ones too: admins only, on every path.
    assert_eq!(api("GET", &m.nodes[1].url("/api/mesh"), None, None).await.0, 401);
    assert_eq!(api("GET", &m.nodes[1].url("/api/mesh"), Some(&member), None).await.0, 403);
    let view = eventually_view(&m.nodes[1], &admin).await;
    assert_eq!(view["node"], "n2");
    let links = view["links"].as_array().unwrap();
    assert_eq!(links.len(), 2);
    assert!(links.iter().all(|l| l["up"] == true && l["rtt_us"].as_u64().is_some()), "{view}");
    assert_eq!(view["rooms_behind"], 0);
    let (_, asked) = api("GET", &m.nodes[2].url("/api/mesh?rooms=ops,nowhere"), Some(&admin), None).await;
    let rooms = asked["rooms"].as_array().unwrap();
    let ops = rooms.iter().find(|r| r["room"] == "ops").unwrap();
    assert!(ops["vector"]["n1"].as_u64().unwrap() >= 5, "{asked}");
    assert!(rooms.iter().any(|r| r["room"] == "nowhere" && r["vector"] == json!({})));
    let too_many: Vec<String> = (0..65).map(|i| format!("r{i}")).collect();
    let url = m.nodes[2].url(&format!("/api/mesh?rooms={}", too_many.join(",")));
    assert_eq!(api("GET", &url, Some(&admin), None).await.0, 400);

    // The same from the command line, from any node.
    let out = tokio::process::Command::new(exe())
        .args(["status", "--url", &m.nodes[2].url("")])
        .env("MESHCHAT_TOKEN", &admin)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("links (round trip)"), "{text}");
    let n1 = text.lines().find(|l| l.starts_with("n1 ") && l.contains("repairs")).unwrap_or_default();
    assert!(n1.contains("n2 ") && n1.contains(" ms") && n1.contains("behind none"), "{text}");
    let ops = text.lines().find(|l| l.starts_with("ops ")).unwrap_or_default();
    assert_eq!(ops.split_whitespace().count(), 4, "ops and a count per node: {text}");
}

/// `/api/mesh` once the room shows up in n2's recent rooms.
async fn eventually_view(node: &NodeProc, token: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, view) = api("GET", &node.url("/api/mesh"), Some(token), None).await;
        assert_eq!(status, 200, "{view}");
        if view["rooms"].as_array().unwrap().iter().any(|r| r["room"] == "ops") {
            return view;
        }
        assert!(std::time::Instant::now() < deadline, "ops never showed: {view}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
