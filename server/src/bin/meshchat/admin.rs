//! `meshchat admin …`: the admin console's actions from a terminal, over
//! the same API routes (the node checks who may do what).

use clap::{Subcommand, ValueEnum};
use meshchat::core::names::for_terminal;
use meshchat::infra::clock::now_ms;
use meshchat::infra::tls::TlsClient;
use meshchat::tools::client::signin::{SignIn, signed_in_call, signed_in_upload};
use meshchat_shared::api::{AdminRooms, Audit, Invites, People, ResetLink};
use serde_json::json;

#[derive(Subcommand)]
pub enum AdminAction {
    /// People whose name contains QUERY: role, state, sessions, last seen.
    People { query: Option<String> },
    /// End every session of NAME on every node and refuse their sign-in
    /// (their name stays taken, their messages stay).
    Deactivate { name: String },
    /// Let NAME sign in again.
    Reactivate { name: String },
    /// A link that sets a new password for NAME once (within a day).
    ResetLink { name: String },
    /// Make NAME an admin or a member.
    Role { name: String, role: RoleArg },
    /// Who may sign up, for every node at once (overrides the nodes' flags).
    Registration {
        mode: ModeArg,
        /// Take name-only guests too.
        #[arg(long)]
        guests: bool,
        /// Admins act as admins only with two-factor sign-in on.
        #[arg(long)]
        admins_two_factor: bool,
    },
    /// Invitations that still work: id (what revoke-invite takes), by whom, until when.
    Invites,
    /// Withdraw an invitation, on every node.
    RevokeInvite { id: String },
    /// What admins did, newest first.
    Audit {
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Rooms whose name contains QUERY, busiest first: kind, members,
    /// messages (a private room by name and size only).
    Rooms { query: Option<String> },
    /// Make ROOM read-only on every node (`--undo`: writable again).
    Archive {
        room: String,
        #[arg(long)]
        undo: bool,
    },
    /// Delete ROOM on every node: nobody reads or joins it again.
    DeleteRoom { room: String },
    /// Write ROOM as a zip (room.json, messages.jsonl, its files) to OUT.
    ExportRoom { room: String, out: std::path::PathBuf },
    /// Bring a room exported from another mesh in as ROOM (a name nobody
    /// uses here), its history replayed with its authors and times.
    ImportRoom { room: String, zip: std::path::PathBuf },
    /// Delete messages older than DAYS in every room, on every node
    /// (0: keep them); with `--room`, that room's own policy (0: the mesh's).
    Retention {
        days: u32,
        #[arg(long)]
        room: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Admin,
    Member,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ModeArg {
    Open,
    Invite,
    Closed,
}

/// A name as a path segment: account names are letters, digits, `-`, `_`, `.`.
fn seg(name: &str) -> String {
    name.chars().filter(|c| c.is_alphanumeric() || "-_.".contains(*c)).collect()
}

fn ago(at: Option<u64>) -> String {
    match at {
        None => "never".into(),
        Some(t) => match now_ms().saturating_sub(t) / 60_000 {
            m if m < 60 => "within the hour".into(),
            m if m < 48 * 60 => format!("{} hours ago", m / 60),
            m => format!("{} days ago", m / 1440),
        },
    }
}

pub async fn run(s: SignIn, tls: TlsClient, action: AdminAction) -> anyhow::Result<()> {
    let call = |method: &'static str, path: String, body: Option<serde_json::Value>| {
        let (s, tls) = (&s, &tls);
        async move { signed_in_call(s, tls, method, &path, body.map(|b| b.to_string())).await }
    };
    match action {
        AdminAction::Rooms { query } => list_rooms(&s, &tls, query).await?,
        AdminAction::Archive { room, undo } => archive_room(&s, &tls, &room, undo).await?,
        AdminAction::DeleteRoom { room } => {
            call("DELETE", format!("/api/admin/rooms/{}", seg(&room)), None).await?;
            println!("{} is deleted on every node", for_terminal(&room));
        }
        AdminAction::Retention { days, room: Some(room) } => {
            let path = format!("/api/admin/rooms/{}/retention", seg(&room));
            call("POST", path, Some(json!({ "days": days }))).await?;
            let room = for_terminal(&room);
            match days {
                0 => println!("{room} keeps messages as the mesh does"),
                d => println!("{room} deletes messages older than {d} days, on every node"),
            }
        }
        AdminAction::Retention { days, room: None } => {
            call("POST", "/api/admin/retention".into(), Some(json!({ "days": days }))).await?;
            match days {
                0 => println!("messages are kept (rooms may have their own policy)"),
                d => {
                    println!("messages older than {d} days are deleted on every node (rooms may have their own policy)")
                }
            }
        }
        AdminAction::ExportRoom { room, out } => {
            let zip = call("GET", format!("/api/admin/rooms/{}/export", seg(&room)), None).await?;
            write_new(&out, &zip)?;
            println!("{} written to {} ({} bytes)", for_terminal(&room), out.display(), zip.len());
        }
        AdminAction::ImportRoom { room, zip } => {
            let bytes = std::fs::read(&zip).map_err(|e| anyhow::anyhow!("{}: {e}", zip.display()))?;
            let path = format!("/api/admin/rooms/{}/import", seg(&room));
            let done = signed_in_upload(&s, &tls, &path, ("room.zip", "application/zip"), &bytes).await?;
            let done: serde_json::Value = serde_json::from_slice(&done)?;
            println!(
                "{} imported: {} messages and events, {} files, {} skipped",
                for_terminal(&room),
                done["messages"],
                done["files"],
                done["skipped"]
            );
        }
        AdminAction::People { query } => {
            let q: String = seg(&query.unwrap_or_default());
            let people: People = serde_json::from_slice(&call("GET", format!("/api/admin/people?q={q}"), None).await?)?;
            for p in people.people {
                let state = if p.active { "active" } else { "deactivated" };
                let seen = ago(p.last_seen);
                println!(
                    "{:<24} {:<7} {state:<12} {} sessions, seen {seen}",
                    for_terminal(&p.name),
                    p.role,
                    p.sessions
                );
            }
        }
        AdminAction::Deactivate { name } => {
            call("POST", format!("/api/admin/people/{}/active", seg(&name)), Some(json!({"active": false}))).await?;
            println!("{} is deactivated: signed out everywhere, sign-in refused", for_terminal(&name));
        }
        AdminAction::Reactivate { name } => {
            call("POST", format!("/api/admin/people/{}/active", seg(&name)), Some(json!({"active": true}))).await?;
            println!("{} may sign in again", for_terminal(&name));
        }
        AdminAction::ResetLink { name } => {
            let path = format!("/api/admin/people/{}/reset", seg(&name));
            let link: ResetLink = serde_json::from_slice(&call("POST", path, None).await?)?;
            println!("{}", link.url);
            eprintln!("single use, for {} within a day", for_terminal(&name));
        }
        AdminAction::Role { name, role } => {
            let role = match role {
                RoleArg::Admin => "admin",
                RoleArg::Member => "member",
            };
            call("POST", format!("/api/users/{}/role", seg(&name)), Some(json!({ "role": role }))).await?;
            println!("{} is now {role}", for_terminal(&name));
        }
        AdminAction::Registration { mode, guests, admins_two_factor } => {
            let mode = match mode {
                ModeArg::Open => "open",
                ModeArg::Invite => "invite",
                ModeArg::Closed => "closed",
            };
            let rules = json!({"registration": mode, "guests": guests, "admins_need_two_factor": admins_two_factor});
            call("POST", "/api/admin/settings".into(), Some(rules)).await?;
            let on = |b: bool| if b { "on" } else { "off" };
            println!(
                "registration {mode}, guests {}, admins' two-factor {} on every node",
                on(guests),
                on(admins_two_factor)
            );
        }
        AdminAction::Invites => {
            let list: Invites = serde_json::from_slice(&call("GET", "/api/admin/invites".into(), None).await?)?;
            for i in list.invites {
                let until =
                    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_millis(i.expires));
                println!("{} by {} until {until}", for_terminal(&i.id), for_terminal(&i.by));
            }
        }
        AdminAction::RevokeInvite { id } => {
            let id: String = id.chars().filter(char::is_ascii_hexdigit).collect();
            call("DELETE", format!("/api/admin/invites/{id}"), None).await?;
            println!("the invitation is withdrawn on every node");
        }
        AdminAction::Audit { limit } => {
            let audit: Audit =
                serde_json::from_slice(&call("GET", format!("/api/admin/audit?limit={limit}"), None).await?)?;
            for e in audit.entries {
                let when = httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_millis(e.at));
                println!("{when} {} {} {}", for_terminal(&e.by), for_terminal(&e.action), for_terminal(&e.target));
            }
        }
    }
    Ok(())
}

/// The console's rooms: busiest first, a private room by name and size only.
async fn list_rooms(s: &SignIn, tls: &TlsClient, query: Option<String>) -> anyhow::Result<()> {
    let path = format!("/api/admin/rooms?q={}", seg(&query.unwrap_or_default()));
    let list: AdminRooms = serde_json::from_slice(&signed_in_call(s, tls, "GET", &path, None).await?)?;
    for r in &list.rooms {
        let kind = match (r.dm, r.private, r.governed) {
            (true, _, _) => "conversation",
            (_, true, _) => "private",
            (_, _, true) => "public",
            _ => "open",
        };
        let archived = if r.archived { " archived" } else { "" };
        let name = for_terminal(&r.room);
        println!("{name:<24} {kind:<12} {} members, {} messages{archived}", r.members, r.messages);
    }
    if list.more {
        eprintln!("more rooms match: narrow the search");
    }
    Ok(())
}

async fn archive_room(s: &SignIn, tls: &TlsClient, room: &str, undo: bool) -> anyhow::Result<()> {
    let body = json!({ "archived": !undo }).to_string();
    signed_in_call(s, tls, "POST", &format!("/api/admin/rooms/{}/archive", seg(room)), Some(body)).await?;
    let now = if undo { "writable again" } else { "archived: read-only" };
    println!("{} is {now} on every node", for_terminal(room));
    Ok(())
}

/// Writes `bytes` to a file that must not exist yet, readable by its owner only.
fn write_new(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}
