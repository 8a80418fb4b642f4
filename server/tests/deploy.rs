//! The deployment files in `deploy/` are what their tools accept: the
//! systemd unit passes `systemd-analyze verify` (skipped, saying so, where
//! systemd's tools are not installed).
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
