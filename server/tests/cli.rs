//! The command-line tools as people run them: the terminal client signing
//! in with a token file or at a prompt, creating an account (with an
//! invitation where the mesh asks for one), `meshchat invite`, and errors
//! as one line, never a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::json;

/// Runs `meshchat <args>` with `stdin` as its input; (exit ok, stdout, stderr).
/// `RUST_BACKTRACE` is set, as on many developers' machines.
async fn run_cli(args: &[&str], stdin: &str) -> (bool, String, String) {
    run_with(std::process::Command::new(exe()).args(args), stdin).await
}

/// Runs `meshchat <args>` at a terminal (under `script`, which gives it a
/// pseudo-terminal) and answers as a person would: each line is typed once
/// the screen shows its prompt. (exit ok, everything the screen showed)
async fn run_at_terminal(args: &[&str], talk: &[(&str, &str)]) -> (bool, String) {
    use std::io::{Read, Write};
    use std::process::Stdio;
    use std::sync::{Arc, Mutex};
    // A terminal of a real size (`script`'s own has none): the full-screen app draws in it.
    let line = std::iter::once(format!("stty rows 40 cols 120; {}", exe().to_str().unwrap()))
        .chain(args.iter().map(|a| format!("'{a}'")))
        .collect::<Vec<_>>()
        .join(" ");
    let talk: Vec<(String, String)> = talk.iter().map(|(p, l)| (p.to_string(), l.to_string())).collect();
    let run = move || {
        let mut child = std::process::Command::new("script")
            .args(["-qefc", &line, "/dev/null"])
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let (mut typing, mut out) = (child.stdin.take().unwrap(), child.stdout.take().unwrap());
        let screen = Arc::new(Mutex::new(String::new()));
        let reader = {
            let screen = screen.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = out.read(&mut buf) {
                    screen.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            })
        };
        let mut seen = 0;
        for (prompt, answer) in talk {
            let deadline = std::time::Instant::now() + WAIT;
            loop {
                let shown = screen.lock().unwrap().clone();
                if let Some(at) = shown[seen..].find(&prompt) {
                    seen += at + prompt.len();
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "no {prompt:?} on the screen: {shown}");
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            typing.write_all(format!("{answer}\n").as_bytes()).unwrap();
        }
        let status = child.wait().unwrap();
        reader.join().unwrap();
        let shown = screen.lock().unwrap().clone();
        (status.success(), shown)
    };
    tokio::time::timeout(WAIT * 2, tokio::task::spawn_blocking(run)).await.expect("the client did not finish").unwrap()
}

async fn run_with(cmd: &mut std::process::Command, stdin: &str) -> (bool, String, String) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = tokio::time::timeout(WAIT, tokio::task::spawn_blocking(move || child.wait_with_output()))
        .await
        .expect("the command did not finish")
        .unwrap()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[tokio::test]
async fn the_terminal_client_signs_in_with_a_token_file_or_at_the_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_accounts("n1", &dir.path().join("n1"), 0, &[], None);
    let (_, s) = register(&node, "ops", "ops password").await;
    let ws = node.ws_url();
    // A bot with a token file.
    let bot_file = dir.path().join("bot.token");
    std::fs::write(&bot_file, format!("{}\n", token(&s))).unwrap();
    let bot = bot_file.to_str().unwrap();
    let (ok, _, err) = run_cli(&["client", "--room", "ops", "--nodes", &ws, "--token-file", bot], "deployed\n").await;
    assert!(ok, "{err}");
    // A person at the prompt (the password piped here); the session is kept.
    let kept = dir.path().join("me.token");
    let args = ["client", "--room", "ops", "--nodes", &ws, "--name", "ops", "--token-file", kept.to_str().unwrap()];
    let (ok, _, err) = run_cli(&args, "ops password\nby hand\n").await;
    assert!(ok, "{err}");
    let saved = std::fs::read_to_string(&kept).unwrap();
    assert!(saved.trim().starts_with("mc1."), "{saved:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&kept).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let (_, page) = api("GET", &node.url("/api/rooms/ops/messages"), Some(&token(&s)), None).await;
    let got: Vec<(&str, &str)> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["author"].as_str().unwrap(), m["body"].as_str().unwrap()))
        .collect();
    assert_eq!(got, [("ops", "deployed"), ("ops", "by hand")]);
    // A wrong password: an error, not a hang.
    let args = ["client", "--room", "ops", "--nodes", &ws, "--name", "ops"];
    let (ok, _, err) = run_cli(&args, "wrong password\n").await;
    assert!(!ok && err.contains("wrong name or password"), "{err}");
    assert_one_line(&err);
    // A session that ended: the client says so and stops.
    assert_eq!(api("POST", &node.url("/api/logout"), Some(&token(&s)), None).await.0, 204);
    let (_, _, err) = run_cli(&["client", "--room", "ops", "--nodes", &ws, "--token-file", bot], "").await;
    assert!(err.contains("signed out"), "{err}");
}

#[tokio::test]
async fn admins_invite_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_accounts("n1", &dir.path().join("n1"), 0, &["--registration", "invite"], None);
    let (_, admin) = register(&node, "root", "root password").await;
    let file = dir.path().join("admin.token");
    std::fs::write(&file, token(&admin)).unwrap();
    let (ok, out, err) =
        run_cli(&["invite", "--nodes", &node.ws_url(), "--token-file", file.to_str().unwrap()], "").await;
    assert!(ok, "{err}");
    let code = out.trim().rsplit("#invite=").next().unwrap();
    assert!(out.trim().starts_with(&node.url("/")), "{out}");
    let body = json!({"name": "newbie", "password": "newbie password", "invite": code});
    assert_eq!(api("POST", &node.url("/api/register"), None, Some(body)).await.0, 201);
}

/// The admin console's actions from a terminal: deactivate, reset link,
/// registration, the audit log; a member is refused in one line.
#[tokio::test]
async fn admins_run_the_community_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_accounts("n1", &dir.path().join("n1"), 0, &[], None);
    let (_, admin) = register(&node, "root", "root password").await;
    let (_, bob) = register(&node, "bob", "bob's password").await;
    let (_, dave) = register(&node, "dave", "dave's password").await;
    let file = dir.path().join("admin.token");
    std::fs::write(&file, token(&admin)).unwrap();
    let (ws, f) = (node.ws_url(), file.to_str().unwrap().to_owned());
    let admin_cli = |action: &'static [&'static str]| {
        let mut args = vec!["admin", "--nodes", &ws, "--token-file", &f];
        args.extend_from_slice(action);
        async move { run_cli(&args, "").await }
    };
    let (ok, out, err) = admin_cli(&["deactivate", "bob"]).await;
    assert!(ok, "{err}");
    assert!(out.contains("bob is deactivated"), "{out}");
    assert_eq!(me(&node, &token(&bob)).await.0, 401);
    let (ok, out, _) = admin_cli(&["people", "bo"]).await;
    assert!(ok && out.contains("bob") && out.contains("deactivated") && !out.contains("root"), "{out}");
    let (ok, out, err) = admin_cli(&["reset-link", "bob"]).await;
    assert!(ok, "{err}");
    assert!(out.trim().starts_with(&node.url("/#reset=")), "{out}");
    assert_eq!(api("POST", &node.url("/api/invites"), Some(&token(&admin)), None).await.0, 201);
    let (ok, out, err) = admin_cli(&["invites"]).await;
    assert!(ok && out.lines().count() == 1 && out.contains("by root until"), "{out}{err}");
    let id = out.split_whitespace().next().unwrap().to_owned();
    let (ok, _, err) = run_cli(&["admin", "--nodes", &ws, "--token-file", &f, "revoke-invite", &id], "").await;
    assert!(ok, "{err}");
    let (ok, out, _) = admin_cli(&["invites"]).await;
    assert!(ok && out.trim().is_empty(), "withdrawn: {out}");
    let (ok, _, err) = admin_cli(&["registration", "closed"]).await;
    assert!(ok, "{err}");
    assert_eq!(http_get(&node.url("/api/auth")).await.1["registration"], "closed");
    let (ok, out, _) = admin_cli(&["audit"]).await;
    let lines: Vec<&str> = out.lines().collect();
    assert!(ok && lines.len() == 5, "{out}");
    assert!(lines[0].ends_with("root registration closed, guests off, admins' two-factor off "), "{out}");
    assert!(lines[4].ends_with("root deactivate bob"), "{out}");
    // Rooms: listed by size, archived, deleted.
    let ops = json!({"room": "ops", "title": "Ops", "topic": "", "private": true});
    assert_eq!(api("POST", &node.url("/api/rooms"), Some(&token(&dave)), Some(ops)).await.0, 201);
    let (ok, out, err) = admin_cli(&["rooms", "op"]).await;
    assert!(ok && out.lines().count() == 1, "{out}{err}");
    assert!(out.starts_with("ops ") && out.contains("private") && out.contains("1 members"), "{out}");
    let (ok, out, err) = admin_cli(&["archive", "ops"]).await;
    assert!(ok && out.contains("ops is archived"), "{out}{err}");
    let (_, out, _) = admin_cli(&["rooms"]).await;
    assert!(out.contains("archived"), "{out}");
    let (ok, out, err) = admin_cli(&["retention", "30", "--room", "ops"]).await;
    assert!(ok && out.contains("ops deletes messages older than 30 days"), "{out}{err}");
    let (ok, out, err) = admin_cli(&["retention", "365"]).await;
    assert!(ok && out.contains("older than 365 days"), "{out}{err}");
    assert_eq!(http_get(&node.url("/api/auth")).await.1["retention_days"], 365);
    // A room out as a zip and in again under another name.
    let open = json!({"room": "pub", "title": "Pub", "topic": "", "private": false});
    assert_eq!(api("POST", &node.url("/api/rooms"), Some(&token(&dave)), Some(open)).await.0, 201);
    let said = json!({"id": "p1", "body": "cheers"});
    assert_eq!(api("POST", &node.url("/api/rooms/pub/messages"), Some(&token(&dave)), Some(said)).await.0, 200);
    let zip: &'static str = dir.path().join("pub.zip").to_str().unwrap().to_owned().leak();
    let (ok, out, err) = admin_cli(Vec::leak(vec!["export-room", "pub", zip])).await;
    assert!(ok && out.contains("pub written to"), "{out}{err}");
    let (ok, out, err) = admin_cli(Vec::leak(vec!["import-room", "pub-copy", zip])).await;
    assert!(ok && out.contains("pub-copy imported: 2 messages and events, 0 files, 0 skipped"), "{out}{err}");
    let (_, page) = api("GET", &node.url("/api/rooms/pub-copy/messages"), Some(&token(&dave)), None).await;
    assert!(page.to_string().contains("cheers"), "{page}");
    let (ok, out, err) = admin_cli(&["delete-room", "ops"]).await;
    assert!(ok && out.contains("ops is deleted"), "{out}{err}");
    assert_eq!(api("GET", &node.url("/api/rooms/ops"), Some(&token(&dave)), None).await.0, 404);
    // A member is told no, in one line.
    let member = dir.path().join("member.token");
    std::fs::write(&member, token(&dave)).unwrap();
    let (ok, _, err) = run_cli(&["admin", "--nodes", &ws, "--token-file", member.to_str().unwrap(), "audit"], "").await;
    assert!(!ok);
    assert_one_line(&err);
}

/// With two-factor sign-in on, the prompt asks for the app's code (a
/// recovery code here, piped) after the password.
#[tokio::test]
async fn the_terminal_client_asks_for_the_second_factor() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_accounts("n1", &dir.path().join("n1"), 0, &[], None);
    let (_, s) = register(&node, "ops", "ops password").await;
    let (_, setup) = api("POST", &node.url("/api/2fa/setup"), Some(&token(&s)), None).await;
    let secret = totp_rs::Secret::try_from_base32(setup["secret"].as_str().unwrap()).unwrap();
    let totp = totp_rs::Builder::new().with_secret(secret).build_noncompliant();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let enable = json!({"secret": setup["secret"], "code": totp.generate(now).to_string(), "password": "ops password"});
    let (status, codes) = api("POST", &node.url("/api/2fa/enable"), Some(&token(&s)), Some(enable)).await;
    assert_eq!(status, 200, "{codes}");
    let recovery = codes["codes"][0].as_str().unwrap();
    let args = ["client", "--room", "ops", "--nodes", &node.ws_url(), "--name", "ops"];
    let (ok, _, err) = run_cli(&args, &format!("ops password\n{recovery}\nwith two factors\n")).await;
    assert!(ok, "{err}");
    let said = all_messages_as(&node, "ops", Some(&token(&s))).await;
    assert_eq!(said.last().unwrap()["body"], "with two factors");
    let (ok, _, err) = run_cli(&args, &format!("ops password\n{recovery}\n")).await;
    assert!(!ok, "a recovery code works once");
    assert_one_line(&err);
}

/// What a person sees of a failure: one line naming the tool, no backtrace.
fn assert_one_line(err: &str) {
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.starts_with("meshchat: ") && !err.contains("backtrace"), "{err}");
}

/// The messages of a room as (author, body), read with `token`.
async fn said(node: &NodeProc, room: &str, token: &str) -> Vec<(String, String)> {
    all_messages_as(node, room, Some(token))
        .await
        .iter()
        .map(|m| (m["author"].as_str().unwrap().to_owned(), m["body"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn the_terminal_client_creates_an_account_where_the_mesh_allows_it() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_accounts("n1", &dir.path().join("n1"), 0, &[], None);
    let (_, admin) = register(&node, "root", "root password").await;
    let ws = node.ws_url();
    // --register, the password piped (a script): the account exists and speaks.
    let kept = dir.path().join("carol.token");
    let args = ["client", "--register", "--name", "carol", "--room", "general", "--nodes", &ws, "--token-file"];
    let (ok, _, err) = run_cli(&[&args[..], &[kept.to_str().unwrap()]].concat(), "carol password\nhello\n").await;
    assert!(ok, "{err}");
    assert_eq!(login(&node, "carol", "carol password").await.0, 200);
    assert!(said(&node, "general", &token(&admin)).await.contains(&("carol".into(), "hello".into())));
    // A name with an account already: one line saying so.
    let args = ["client", "--register", "--name", "carol", "--room", "general", "--nodes", &ws];
    let (ok, _, err) = run_cli(&args, "other password\n").await;
    assert!(!ok && err.contains("taken"), "{err}");
    assert_one_line(&err);
    // At a terminal, a sign-in that fails offers to create the account;
    // then the full-screen app runs, and `/quit` leaves it.
    let args = ["client", "--name", "dave", "--room", "general", "--nodes", &ws];
    let talk =
        [("password for dave", "dave password"), ("[y/N]", "y"), ("again", "dave password"), ("dave on n1", "/quit")];
    let (ok, out) = run_at_terminal(&args, &talk).await;
    assert!(ok, "{out}");
    assert!(out.contains("Create it"), "{out}");
    assert_eq!(login(&node, "dave", "dave password").await.0, 200);
    // The offer taken with the wrong password of an existing account says so.
    let args = ["client", "--name", "carol", "--room", "general", "--nodes", &ws];
    let talk = [("password for carol", "not carols"), ("[y/N]", "y"), ("again", "not carols")];
    let (ok, out) = run_at_terminal(&args, &talk).await;
    assert!(!ok && out.contains("carol has an account already"), "{out}");
    assert!(!out.contains("backtrace"), "{out}");
}

/// The line client at a terminal (`--lines`): what one types shows once
/// (the terminal's echo), not a second time when the node acknowledges it.
#[tokio::test]
async fn a_typed_line_shows_once_in_the_line_client() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node("n1", &dir.path().join("n1"), 0, &[]);
    let ws = node.ws_url();
    let args = ["client", "--lines", "--name", "ann", "--room", "general", "--nodes", &ws];
    // Once it is stored, bob speaks: his line comes after the ack.
    let url = node.url("/api/rooms/general/messages");
    let (n, bob) =
        (node.url("/api/rooms/general/messages?limit=100"), json!({"name": "bob", "id": "b1", "body": "from-bob"}));
    let after = tokio::spawn(async move {
        eventually(WAIT, "typed-once stored", || async {
            http_get(&n).await.1["messages"].as_array().is_some_and(|m| m.iter().any(|m| m["body"] == "typed-once"))
        })
        .await;
        http_post(&url, &bob.to_string()).await
    });
    let talk = [("connected", "typed-once"), ("from-bob", "/quit")];
    let (ok, out) = run_at_terminal(&args, &talk).await;
    assert!(ok, "{out}");
    assert_eq!(after.await.unwrap().0, 200);
    assert_eq!(out.matches("typed-once").count(), 1, "{out}");
}

/// A fresh invitation: (link, code).
async fn invite(node: &NodeProc, admin: &str) -> (String, String) {
    let (_, i) = api("POST", &node.url("/api/invites"), Some(admin), None).await;
    (i["url"].as_str().unwrap().to_owned(), i["code"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn the_terminal_client_registers_with_an_invitation() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_accounts("n1", &dir.path().join("n1"), 0, &["--registration", "invite"], None);
    let (_, admin) = register(&node, "root", "root password").await;
    let ws = node.ws_url();
    // The link as the admin shared it, on the command line.
    let (link, _) = invite(&node, &token(&admin)).await;
    let args = ["client", "--register", "--name", "erin", "--invite", &link, "--room", "general", "--nodes", &ws];
    let (ok, _, err) = run_cli(&args, "erin password\n").await;
    assert!(ok, "{err}");
    assert_eq!(login(&node, "erin", "erin password").await.0, 200);
    // Asked for when missing: the code typed after the password.
    let (_, code) = invite(&node, &token(&admin)).await;
    let args = ["client", "--register", "--name", "frank", "--room", "general", "--nodes", &ws];
    let (ok, _, err) = run_cli(&args, &format!("frank password\n{code}\n")).await;
    assert!(ok, "{err}");
    // Used once only.
    let args = ["client", "--register", "--name", "gina", "--room", "general", "--nodes", &ws];
    let (ok, _, err) = run_cli(&args, &format!("gina password\n{code}\n")).await;
    assert!(!ok, "{err}");
    assert_one_line(&err);
    assert_eq!(login(&node, "gina", "gina password").await.0, 401);
}

#[tokio::test]
async fn the_tools_fail_in_one_line() {
    // No node at all, a missing file: one line each.
    let port = meshchat::tools::harness::free_port().unwrap();
    let ws = format!("ws://127.0.0.1:{port}/ws");
    let (ok, _, err) = run_cli(&["client", "--name", "x", "--room", "general", "--nodes", &ws], "").await;
    assert!(!ok, "{err}");
    assert_one_line(&err);
    let (ok, _, err) = run_cli(&["restore", "--from", "/nonexistent/backup.db", "--data", "/nonexistent/d"], "").await;
    assert!(!ok, "{err}");
    assert_one_line(&err);
}

/// Two runs of the client in containers: both are process 1 there, and
/// with a token file neither has a name. Each line is a message of its own.
#[tokio::test]
async fn runs_of_the_client_in_containers_never_share_a_message_id() {
    let probe = std::process::Command::new("unshare").args(["--pid", "--fork", "--mount-proc", "true"]).status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("skipped: cannot make a PID namespace here (unshare, as root)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_accounts("n1", &dir.path().join("n1"), 0, &[], None);
    let (_, s) = register(&node, "ops", "ops password").await;
    let file = dir.path().join("bot.token");
    std::fs::write(&file, token(&s)).unwrap();
    let (ws, exe) = (node.ws_url(), exe());
    for line in ["first deploy", "second deploy"] {
        let mut cmd = std::process::Command::new("unshare");
        cmd.args(["--pid", "--fork", "--mount-proc"]).arg(&exe).args([
            "client",
            "--room",
            "ops",
            "--nodes",
            &ws,
            "--token-file",
            file.to_str().unwrap(),
        ]);
        let (ok, out, err) = run_with(&mut cmd, &format!("{line}\n")).await;
        assert!(ok, "{out}{err}");
    }
    let got = said(&node, "ops", &token(&s)).await;
    let bodies: Vec<&str> = got.iter().map(|(_, b)| b.as_str()).collect();
    assert_eq!(bodies, ["first deploy", "second deploy"]);
}

/// `meshchat status` of a node behind a private CA: told the CA with
/// `--ca`, it reads the mesh; not told, or asked the wrong way, it says
/// what to do in one line.
#[tokio::test]
async fn status_of_a_node_behind_a_private_ca_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    make_certs(&certs, &["n1"]);
    let (cert, key) = (certs.join("n1.pem"), certs.join("n1.key"));
    let args = ["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()];
    let node = start_node_accounts("n1", &dir.path().join("data"), 0, &args, None);
    let https = format!("https://{}", node.http);
    let ca = certs.join("ca.pem");
    eventually(WAIT, "the node answers", || async {
        run_cli(&["status", "--ca", ca.to_str().unwrap(), "--url", &https], "").await.0
    })
    .await;
    let (ok, out, err) = run_cli(&["status", "--ca", ca.to_str().unwrap(), "--url", &https], "").await;
    assert!(ok && out.contains("n1") && out.contains(" up ") && out.contains("only n1 answers"), "{out}{err}");
    for (url, hint) in [
        (https.clone(), "give --ca"),
        (format!("http://{}", node.http), "if it serves HTTPS, say https://"),
        (node.http.clone(), "with its scheme"),
    ] {
        let (ok, _, err) = run_cli(&["status", "--url", &url], "").await;
        assert!(!ok && err.contains(hint), "{url}: {err}");
        assert_one_line(&err);
    }
}

/// The terminal client reads and replies in threads: a thread reply's line
/// names its root, and `/thread <origin>:<seq> text` answers there.
#[tokio::test]
async fn the_terminal_client_replies_in_a_thread() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node("n1", &dir.path().join("n1"), 0, &["--guests"]);
    let root = json!({"name": "ada", "id": "r1", "body": "the plan"}).to_string();
    let (status, root) = http_post(&node.url("/api/rooms/general/messages"), &root).await;
    assert!((200..300).contains(&status), "{root}");
    let place = format!("{}:{}", root["msg"]["origin"].as_str().unwrap(), root["msg"]["seq"]);
    let ws = node.ws_url();
    let input = format!("/thread {place} from the terminal\n/thread nonsense\n");
    let (ok, out, err) = run_cli(&["client", "--room", "general", "--nodes", &ws, "--name", "tess"], &input).await;
    assert!(ok, "{err}");
    assert!(out.contains(&format!("tess (thread {place}): from the terminal")), "{out}");
    assert!(err.contains("/thread <origin>:<seq> <text>"), "a malformed command is explained: {err}");
    let events = all_events_as(&node, "general", None).await;
    let reply = events.iter().find(|m| m["author"] == "tess").expect("the reply stored");
    let e: serde_json::Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        (e["event"].as_str(), e["thread"].as_bool(), e["body"].as_str()),
        (Some("reply"), Some(true), Some("from the terminal"))
    );
}
