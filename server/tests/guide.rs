//! docs/deploy.md's walkthrough, run as written: every command block
//! tagged `sh on=<machines>` runs, in order, on four machines made of
//! network namespaces on a bridge, each with its own `/etc` (users, host
//! names, `/etc/meshchat`, the systemd unit), `/usr/local/bin`,
//! `/var/lib/meshchat` and `/var/backups`. Two commands the machines
//! cannot have are stand-ins: `scp` copies between the machines'
//! directories, and `systemctl` starts a unit's `ExecStart` as its `User`
//! with its ambient capabilities (`systemd-analyze verify` checks the unit
//! itself, as shipped). Between the steps the test checks what the guide
//! promises: the mesh converged over HTTPS with a private CA, a fourth
//! node joined, then removed and refusing writes, a backup restored, and a
//! rolling restart under a client posting with nothing lost or doubled.
//! Root only (namespaces, mounts): skipped elsewhere, saying so.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::net::Net;

const MACHINES: [&str; 4] = ["n1", "n2", "n3", "n4"];
const CA: &str = "/etc/meshchat/tls/ca.pem";

/// A command block of the guide.
#[derive(Debug)]
struct Block {
    on: Vec<String>,
    /// Its output becomes this variable for the blocks after it.
    out: Option<String>,
    text: String,
}

fn blocks(page: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut lines = page.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.strip_prefix("```sh ") else { continue };
        let attr = |k: &str| info.split_whitespace().find_map(|w| w.strip_prefix(k)).map(str::to_owned);
        let Some(on) = attr("on=") else { continue };
        let text: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
        out.push(Block { on: on.split(',').map(str::to_owned).collect(), out: attr("out="), text: text.join("\n") });
    }
    out
}

/// `systemctl`, for machines without systemd: a unit's `ExecStart` run as
/// its `User`, with its `AmbientCapabilities`, its `StateDirectory` made.
const SYSTEMCTL: &str = r#"#!/bin/bash
set -euo pipefail
op=$1; shift
[ "${1:-}" = "--now" ] && shift
unit=${1%.service}; inst=${unit#*@}
file=/etc/systemd/system/${unit%%@*}@.service
pidf=/root/.shim-$unit.pid
start() {
  cmd=$(sed -n 's/^ExecStart=//p' "$file" | sed "s/%i/$inst/g")
  user=$(sed -n 's/^User=//p' "$file")
  caps=$(sed -n 's/^AmbientCapabilities=//p' "$file" | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
  state=$(sed -n 's/^StateDirectory=//p' "$file")
  [ -n "$state" ] && install -d -o "$user" -g "$user" -m 0700 "/var/lib/$state"
  umask 0077
  setsid setpriv --reuid="$user" --regid="$user" --init-groups --inh-caps="$caps" --ambient-caps="$caps" -- \
    $cmd >> "/root/.shim-$unit.log" 2>&1 < /dev/null &
  echo $! > "$pidf"
}
stop() {
  [ -f "$pidf" ] || return 0
  pid=$(cat "$pidf"); rm -f "$pidf"
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid"
}
case $op in
  enable|start) start ;;
  disable|stop) stop ;;
  restart) stop; start ;;
  daemon-reload) ;;
  *) echo "systemctl (guide test): $op is not known here" >&2; exit 1 ;;
esac
"#;

/// `scp FILES… HOST:/etc/DIR/`, between the machines' directories.
fn scp_shim(root: &Path) -> String {
    format!(
        r#"#!/bin/bash
set -euo pipefail
args=("$@"); target=${{args[-1]}}; unset 'args[-1]'
host=${{target%%:*}}; path=${{target#*:}}
case $path in /etc/*) ;; *) echo "scp (guide test): only /etc/… is known" >&2; exit 1 ;; esac
cp "${{args[@]}}" "{root}/${{host%%.*}}/etc${{path#/etc}}"
"#,
        root = root.display()
    )
}

struct Guide {
    net: Net,
    root: tempfile::TempDir,
    /// Variables blocks set (`out=`).
    vars: BTreeMap<String, String>,
    blocks: std::vec::IntoIter<Block>,
}

impl Guide {
    fn new() -> Option<Guide> {
        let net = Net::up(MACHINES.len())?;
        let root = tempfile::tempdir().unwrap();
        let hosts: String =
            (0..MACHINES.len()).map(|i| format!("{} {m}.chat.internal {m}\n", net.addr(i), m = MACHINES[i])).collect();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for m in MACHINES {
            let dir = root.path().join(m);
            for sub in ["etc", "root/.shims", "varlib", "bin", "backups"] {
                std::fs::create_dir_all(dir.join(sub)).unwrap();
            }
            assert!(Command::new("cp").args(["-a", "/etc/."]).arg(dir.join("etc")).status().unwrap().success());
            std::fs::write(dir.join("etc/hosts"), format!("127.0.0.1 localhost\n{hosts}")).unwrap();
            // A link, not three copies of a debug binary, where the
            // file system allows.
            let exe = dir.join("root/meshchat");
            if std::fs::hard_link(common::exe(), &exe).is_err() {
                std::fs::copy(common::exe(), &exe).unwrap();
            }
            std::fs::copy(repo.join("deploy/meshchat@.service"), dir.join("root/meshchat@.service")).unwrap();
            write_exec(&dir.join("root/.shims/systemctl"), SYSTEMCTL);
            write_exec(&dir.join("root/.shims/scp"), &scp_shim(root.path()));
        }
        // Mount points on the host for what each machine has of its own.
        std::fs::create_dir_all("/var/lib/meshchat").unwrap();
        let page = std::fs::read_to_string(repo.join("docs/deploy.md")).unwrap();
        let blocks = blocks(&page);
        assert!(blocks.len() >= 12, "the walkthrough's blocks: {blocks:?}");
        Some(Guide { net, root, vars: BTreeMap::new(), blocks: blocks.into_iter() })
    }

    /// Runs `script` on machine `m` (as root, in its files), with `ME` and
    /// the variables set.
    fn run(&self, m: &str, script: &str) -> Output {
        let dir = self.root.path().join(m);
        std::fs::write(dir.join("root/.step.sh"), script).unwrap();
        let mounts = [("etc", "/etc"), ("root", "/root"), ("varlib", "/var/lib/meshchat"), ("bin", "/usr/local/bin")];
        let mut setup: Vec<String> =
            mounts.iter().map(|(from, to)| format!("mount --bind {} {to}", dir.join(from).display())).collect();
        setup.push(format!("mount --bind {} /var/backups", dir.join("backups").display()));
        let vars: String = self.vars.iter().map(|(k, v)| format!("export {k}='{v}'; ")).collect();
        let inner = format!(
            "{} && cd /root && export ME={m} HOME=/root PATH=/root/.shims:$PATH && {vars}exec bash -euo pipefail /root/.step.sh",
            setup.join(" && ")
        );
        let i = MACHINES.iter().position(|x| *x == m).unwrap();
        self.net
            .exec(i, &["unshare", "--mount", "--propagation", "private", "--", "bash", "-c", &inner])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Runs the guide's blocks in order, up to and with the first whose text
    /// holds `marker`.
    fn run_until(&mut self, marker: &str) {
        while let Some(b) = self.blocks.next() {
            for m in &b.on {
                let out = self.run(m, &b.text);
                let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
                assert!(out.status.success(), "on {m}:\n{}\n---\n{said}", b.text);
                if let Some(var) = &b.out {
                    let value = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                    self.vars.insert(var.clone(), value);
                }
            }
            if b.text.contains(marker) {
                return;
            }
        }
        panic!("no block of the walkthrough holds {marker:?}");
    }

    /// `script` on `m` until it succeeds; its output.
    fn until(&self, m: &str, what: &str, script: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self.run(m, script);
            if out.status.success() {
                return String::from_utf8_lossy(&out.stdout).into_owned();
            }
            let said = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
            assert!(Instant::now() < deadline, "{what}: not within 30 s: {said}\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn logs(&self) -> String {
        let mut all = String::new();
        for m in MACHINES {
            if let Ok(text) =
                std::fs::read_to_string(self.root.path().join(m).join(format!("root/.shim-meshchat@{m}.log")))
            {
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                all.push_str(&format!("--- {m}'s log, newest first:\n{}\n", tail.join("\n")));
            }
        }
        all
    }
}

impl Drop for Guide {
    fn drop(&mut self) {
        for m in MACHINES {
            let _ = self.run(m, &format!("systemctl stop meshchat@{m}"));
        }
        // The mount point, if this test made it (it stays empty).
        let _ = std::fs::remove_dir("/var/lib/meshchat");
    }
}

/// Every message body of `general` as machine `m`'s node holds it, paged.
fn bodies(g: &Guide, m: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut query = String::new();
    loop {
        let url = format!("'https://{m}.chat.internal/api/rooms/general/messages?limit=200{query}'");
        let page = g.until(m, "a page of history", &curl(&format!("-H \"Authorization: Bearer $ADMIN\" {url}")));
        let page: serde_json::Value = serde_json::from_str(&page).unwrap();
        let msgs = page["messages"].as_array().unwrap();
        out.extend(msgs.iter().filter_map(|m| m["body"].as_str().map(str::to_owned)));
        match (page["more"].as_bool(), msgs.first()) {
            (Some(true), Some(f)) => {
                query = format!(
                    "&before_ts={}&before_origin={}&before_seq={}",
                    f["ts"],
                    f["origin"].as_str().unwrap(),
                    f["seq"]
                );
            }
            _ => return out,
        }
    }
}

fn write_exec(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `curl` on a machine, trusting the guide's CA.
fn curl(args: &str) -> String {
    format!("curl -sS --fail-with-body --cacert {CA} {args}")
}

#[test]
fn the_deployment_guide_as_written() {
    let Some(mut g) = Guide::new() else {
        eprintln!("skipped: network namespaces need root, ip and nft");
        return;
    };
    // 1-3: three machines, certificates, the units started.
    g.run_until("systemctl enable --now meshchat@$ME");
    g.until("n1", "the mesh over HTTPS", &format!(
        "meshchat status --ca {CA} --url https://n1.chat.internal | tee /dev/stderr | grep -q 'converged: n1, n2, n3'"
    ));
    g.run_until("meshchat status");
    // The first account, and a session kept for the client below.
    let register = curl(
        r#"-H 'Content-Type: application/json' -d '{"name":"admin","password":"admin password"}' https://n1.chat.internal/api/register"#,
    );
    let session = g.until("n1", "the first account", &register);
    let token = serde_json::from_str::<serde_json::Value>(&session).unwrap()["token"].as_str().unwrap().to_owned();
    g.vars.insert("ADMIN".into(), token.clone());
    g.run("n1", "printf '%s\\n' \"$ADMIN\" > /root/admin.token");
    let post = |m: &str, id: &str| {
        curl(&format!(
            r#"-H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' -d '{{"id":"{id}","body":"{id}"}}' https://{m}.chat.internal/api/rooms/general/messages"#
        ))
    };
    g.until("n2", "a post on n2", &post("n2", "before-n4"));

    // 5: n4 joins and holds the room.
    g.run_until("systemctl enable --now meshchat@n4");
    g.until(
        "n4",
        "n4 has the room",
        &(curl("-H \"Authorization: Bearer $ADMIN\" https://n4.chat.internal/api/rooms/general/messages")
            + " | grep -q before-n4"),
    );
    // 6: removed, n4 refuses writes and says why.
    g.run_until("meshchat remove-node n4");
    g.until(
        "n4",
        "n4 knows it was removed",
        &(curl("https://n4.chat.internal/api/health") + " | grep -q '\"status\":\"removed\"'"),
    );
    let refused = g.run("n4", &post("n4", "after-removal"));
    let said = String::from_utf8_lossy(&refused.stdout);
    assert!(!refused.status.success() && said.contains("unavailable"), "n4 took a write: {said}");
    g.run_until("systemctl disable --now meshchat@n4");

    // 7: backup and restore of n2; it takes writes again.
    g.run_until("meshchat backup");
    g.until("n1", "a post after the backup", &post("n2", "after-backup"));
    g.run_until("systemctl start meshchat@n2");
    g.until("n2", "n2 takes writes after the restore", &post("n2", "after-restore"));

    // 8: a rolling restart under a client posting: nothing lost, nothing twice.
    let poster = Poster::start(&g);
    g.run_until("systemctl restart meshchat@$ME");
    let sent = poster.finish(&g);
    std::thread::sleep(Duration::from_secs(2));
    for m in ["n1", "n2", "n3"] {
        let held = bodies(&g, m);
        for want in sent.iter().map(String::as_str).chain(["before-n4", "after-backup", "after-restore"]) {
            let n = held.iter().filter(|b| *b == want).count();
            assert_eq!(n, 1, "{m} holds {want:?} {n} times");
        }
    }
}

/// The terminal client on n1, posting a line every 50 ms through the
/// rolling restart (it moves between nodes with its outbox).
struct Poster {
    child: std::process::Child,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    writer: std::thread::JoinHandle<Vec<String>>,
}

impl Poster {
    fn start(g: &Guide) -> Poster {
        let dir = g.root.path().join("n1");
        let nodes = "wss://n1.chat.internal/ws,wss://n2.chat.internal/ws,wss://n3.chat.internal/ws";
        std::fs::write(
            dir.join("root/.poster.sh"),
            format!("exec meshchat client --ca {CA} --token-file /root/admin.token --room general --nodes {nodes}"),
        )
        .unwrap();
        let mounts = format!(
            "mount --bind {d}/etc /etc && mount --bind {d}/root /root && mount --bind {d}/bin /usr/local/bin && cd /root",
            d = dir.display()
        );
        let mut child = g
            .net
            .exec(
                0,
                &[
                    "unshare",
                    "--mount",
                    "--propagation",
                    "private",
                    "--",
                    "bash",
                    "-c",
                    &format!("{mounts} && exec bash /root/.poster.sh"),
                ],
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let writer = std::thread::spawn(move || {
            let mut sent = Vec::new();
            for i in 0.. {
                if flag.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let line = format!("rolling-{i}");
                if writeln!(input, "{line}").is_err() {
                    break;
                }
                sent.push(line);
                std::thread::sleep(Duration::from_millis(50));
            }
            sent
        });
        Poster { child, stop, writer }
    }

    /// Stops typing; waits until the client has every line acknowledged.
    fn finish(mut self, g: &Guide) -> Vec<String> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let sent = self.writer.join().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "the client failed\n{}", g.logs());
                break;
            }
            assert!(Instant::now() < deadline, "the client did not get its lines acknowledged\n{}", g.logs());
            std::thread::sleep(Duration::from_millis(200));
        }
        assert!(sent.len() > 20, "{} lines", sent.len());
        sent
    }
}
