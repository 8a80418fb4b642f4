//! The deployment files in `deploy/` are what their tools accept: the
//! systemd unit passes `systemd-analyze verify`, and the container image
//! builds and serves (each skipped, saying so, where its tools are not
//! installed or cannot run). The image, a static release build that takes
//! minutes on a fresh machine, is built with `MESHCHAT_CONTAINER=1`:
//! `scripts/test` sets it when the image's inputs changed since it last
//! worked (`deploy/container.verified`).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

#[test]
fn the_systemd_unit_verifies() {
    if std::process::Command::new("systemd-analyze").arg("--version").output().is_err() {
        eprintln!("skipped: systemd-analyze is not installed here");
        return;
    }
    let unit =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/meshchat@.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/meshchat node --config /etc/meshchat/%i.toml"));
    // As an instance, with the binary where this build put it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meshchat@n1.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/meshchat", common::exe().to_str().unwrap())).unwrap();
    let out = std::process::Command::new("systemd-analyze").arg("verify").arg(&path).output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.trim().is_empty(), "systemd-analyze: {said}");
}

/// A runtime podman can start containers with here: its default, or runc
/// (crun refuses hybrid cgroup hierarchies, as on this CI machine).
fn podman_run(args: &[&str]) -> Result<String, String> {
    // Limits within what an unprivileged host allows (podman's defaults ask for more).
    let limits = ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"];
    let mut last = String::new();
    for runtime in [None, Some("runc")] {
        let mut cmd = std::process::Command::new("podman");
        if let Some(r) = runtime {
            cmd.args(["--runtime", r]);
        }
        let out = cmd.arg("run").args(limits).args(args).output().map_err(|e| e.to_string())?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned());
        }
        last = String::from_utf8_lossy(&out.stderr).into_owned();
        let _ = std::process::Command::new("podman").args(["rm", "-f", "meshchat-test"]).output();
    }
    Err(last)
}

#[test]
fn the_container_image_builds_and_serves_the_app_from_its_one_binary() {
    if std::env::var("MESHCHAT_CONTAINER").as_deref() != Ok("1") {
        eprintln!("skipped: the image's inputs are as when it last worked (MESHCHAT_CONTAINER=1 builds it)");
        return;
    }
    if std::process::Command::new("podman").arg("--version").output().is_err() {
        eprintln!("skipped: podman is not installed here (scripts/setup --test installs it)");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // The static release binary (web app inside) on an empty base.
    let built = std::process::Command::new(root.join("scripts/container")).arg("meshchat:test").output().unwrap();
    assert!(built.status.success(), "scripts/container: {}", String::from_utf8_lossy(&built.stderr));
    let port = meshchat::tools::harness::free_port().unwrap();
    let _ = std::process::Command::new("podman").args(["rm", "-f", "meshchat-test"]).output();
    let publish = format!("127.0.0.1:{port}:8081");
    let run = podman_run(&["-d", "--name", "meshchat-test", "-p", &publish, "meshchat:test"]);
    if let Err(why) = run {
        eprintln!("skipped running it: no container runtime can run here: {why}");
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let result = rt.block_on(async {
        let base = format!("http://127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            // Refused until the node in the container listens.
            if let Ok(r) = meshchat::infra::http::get(&format!("{base}/api/health")).await
                && r.status == 200
            {
                break Some((r.json(), common::http_text("GET", &format!("{base}/"), None).await));
            }
            if std::time::Instant::now() > deadline {
                break None;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    });
    let logs = std::process::Command::new("podman").args(["logs", "meshchat-test"]).output().unwrap();
    let _ = std::process::Command::new("podman").args(["rm", "-f", "meshchat-test"]).output();
    let logs = String::from_utf8_lossy(&logs.stderr).into_owned() + &String::from_utf8_lossy(&logs.stdout);
    let (health, (status, page)) = result.unwrap_or_else(|| panic!("no health answer from the container: {logs}"));
    assert_eq!(health["status"], "ok", "{health}");
    // The image has nothing but the binary: the app comes from inside it.
    assert_eq!(status, 200);
    assert!(page.contains("<html") && page.contains(".wasm"), "{page}");
}
