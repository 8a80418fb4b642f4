//! The `meshchat` binary: one executable for every role.

mod admin;
mod node;
mod ops;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use node::{NodeArgs, wait_for_signal};
use ops::{BackupArgs, CertsArgs, InviteNodeArgs, RemoveNodeArgs, RestoreArgs};

#[derive(Parser)]
#[command(name = "meshchat", version, about = "A self-hosted, distributed, real-time web chat")]
struct Cli {
    /// More logging: -v for info, -vv for debug (RUST_LOG overrides).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Trust this CA (PEM) for https:// and wss:// besides the public roots
    /// and SSL_CERT_FILE's: a mesh behind a private CA (any command that
    /// talks to a node: client, status, invite-node, remove-node, a join).
    #[arg(long, global = true)]
    ca: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one node.
    #[command(args_override_self = true)]
    Node(Box<NodeArgs>),
    /// Make a cluster CA and a certificate per node for the mesh.
    Certs(CertsArgs),
    /// Run a local mesh of n1..nN (HTTP 8081.., mesh 9081..) for trying it out.
    Cluster(ClusterArgs),
    /// Chat from a terminal: the full-screen app at a terminal; with --lines
    /// or from a pipe, each line of input is a message, messages print as they come.
    Client(ClientArgs),
    /// The full-screen terminal app: rooms, threads, search, files.
    Tui(TuiArgs),
    /// Make a single-use invitation to register (admins; for --registration invite).
    Invite(InviteArgs),
    /// The admin console from a terminal: people, deactivation, reset
    /// links, roles, sign-up rules, the audit log (admins).
    Admin(AdminArgs),
    /// Print a single-use token that lets a new machine join the mesh
    /// (run where the CA key is, next to a node that uses it).
    InviteNode(InviteNodeArgs),
    /// Take a node out of the mesh for good (needs the CA key).
    RemoveNode(RemoveNodeArgs),
    /// Copy a node's database while it runs (SQLite's online backup).
    Backup(BackupArgs),
    /// Put a backup in place of a (stopped) node's database; the node
    /// catches up from its peers before it takes writes again.
    Restore(RestoreArgs),
    /// The mesh as a node knows it: each node up or down, its peers,
    /// clients, rooms, and whether they hold the same rooms.
    Status(StatusArgs),
    /// Load generator and benchmarks (each scenario starts its own nodes).
    Bench(meshchat::tools::bench::BenchArgs),
}

/// How the command-line tools reach the mesh and sign in.
#[derive(Args)]
struct SignInArgs {
    /// WebSocket URLs of nodes to start from, comma-separated; more are learned.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "ws://127.0.0.1:8081/ws,ws://127.0.0.1:8082/ws,ws://127.0.0.1:8083/ws"
    )]
    nodes: Vec<String>,
    /// The account to sign in as (asked if needed); a guest's name where
    /// the nodes take guests.
    #[arg(long)]
    name: Option<String>,
    /// A session or API token, one line; after a login at the prompt, the
    /// new session is kept here (readable by you only).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Sign in even where the nodes take guests.
    #[arg(long)]
    login: bool,
    /// Create the account (the password is asked twice) where the mesh
    /// lets people register; a failed sign-in at a terminal offers it too.
    #[arg(long, conflicts_with = "login")]
    register: bool,
    /// An invitation code, or the link an admin shared, where the mesh
    /// registers by invitation (asked for when needed).
    #[arg(long)]
    invite: Option<String>,
}

impl SignInArgs {
    fn split(self) -> anyhow::Result<(meshchat::tools::client::signin::SignIn, meshchat::infra::tls::TlsClient)> {
        let tls = meshchat::infra::tls::TlsClient::public();
        let s = meshchat::tools::client::signin::SignIn {
            nodes: self.nodes,
            name: self.name,
            token_file: self.token_file,
            login: self.login,
            register: self.register,
            invite: self.invite,
        };
        Ok((s, tls))
    }
}

#[derive(Args)]
struct ClientArgs {
    #[arg(long, default_value = "general")]
    room: String,
    /// One line per message even at a terminal (bots, scripts, `script(1)`).
    #[arg(long)]
    lines: bool,
    #[command(flatten)]
    signin: SignInArgs,
}

#[derive(Args)]
struct TuiArgs {
    /// Rooms to open besides those the account is in (guests: the rooms to be in).
    #[arg(long = "room", default_value = "general")]
    rooms: Vec<String>,
    /// Where `o` saves a message's file.
    #[arg(long, default_value = ".")]
    downloads: PathBuf,
    #[command(flatten)]
    signin: SignInArgs,
}

#[derive(Args)]
struct StatusArgs {
    /// Any node's HTTP address.
    #[arg(long, default_value = "http://127.0.0.1:8081")]
    url: String,
    /// An admin's session or API token: adds the mesh map (links, lag, rooms).
    #[arg(long, env = "MESHCHAT_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Read the admin's token from this file instead.
    #[arg(long, conflicts_with = "token")]
    token_file: Option<PathBuf>,
}

#[derive(Args)]
struct InviteArgs {
    #[command(flatten)]
    signin: SignInArgs,
}

#[derive(Args)]
struct AdminArgs {
    #[command(flatten)]
    signin: SignInArgs,
    #[command(subcommand)]
    action: admin::AdminAction,
}

#[derive(Args)]
struct ClusterArgs {
    /// How many nodes.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// HTTP port of n1; n2 gets the next one, and so on.
    #[arg(long, default_value_t = 8081)]
    http_base: u16,
    /// Mesh port of n1; n2 gets the next one, and so on.
    #[arg(long, default_value_t = 9081)]
    mesh_base: u16,
    /// Each node's database goes in <data>/<id>.
    #[arg(long, default_value = "data")]
    data: PathBuf,
    #[arg(long, default_value = "certs")]
    certs: PathBuf,
    /// The built web app (default: dist, if it exists).
    #[arg(long)]
    web: Option<PathBuf>,
    /// Anything after -- goes to every node (e.g. -- --mesh-drop 0.2).
    #[arg(last = true)]
    node_args: Vec<String>,
}

/// The command line with `node`'s settings from its config file and the
/// environment put in front of its own flags (see `meshchat::infra::config`).
fn with_settings(args: Vec<std::ffi::OsString>) -> anyhow::Result<Vec<std::ffi::OsString>> {
    use clap::CommandFactory;
    use meshchat::infra::config::{self, Flag};
    if args.get(1).and_then(|a| a.to_str()) != Some("node") {
        return Ok(args);
    }
    // Built, so that `node` carries the global flags too (`ca`, `verbose`).
    let mut cmd = Cli::command();
    cmd.build();
    let Some(node) = cmd.find_subcommand("node") else { return Ok(args) };
    let known: Vec<Flag> = node
        .get_arguments()
        .filter_map(|a| Some(Flag { long: a.get_long()?.to_owned(), takes_value: a.get_action().takes_values() }))
        .collect();
    let env = |k: &str| std::env::var(k).ok();
    let path = config::config_path(&args[2..], env);
    let text = path.as_deref().map(config::read).transpose()?;
    let settings = config::flags_from(path.as_deref().zip(text.as_deref()), env, &known)?;
    let mut out = args[..2].to_vec();
    out.extend(settings);
    out.extend_from_slice(&args[2..]);
    Ok(out)
}

/// A failure is one line on stderr and exit status 1: what went wrong and
/// why (the causes joined), never a backtrace, whatever `RUST_BACKTRACE`.
/// `meshchat client` is the full-screen app when a person sits at it.
fn client_at_terminal(args: &ClientArgs) -> bool {
    use std::io::IsTerminal;
    !args.lines && std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// Commands that take the whole terminal.
fn full_screen(command: &Command) -> bool {
    match command {
        Command::Tui(_) => true,
        Command::Client(args) => client_at_terminal(args),
        _ => false,
    }
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("meshchat: {}", one_line(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// An error and its causes as one line, each cause said once (many of our
/// errors already name their cause in their own words).
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain().map(|c| c.to_string().replace('\n', " ")) {
        if !line.contains(&cause) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&cause);
        }
    }
    line
}

fn run() -> anyhow::Result<()> {
    // Whatever meshchat writes (a node's data, a backup, a session token,
    // keys) is its user's only.
    meshchat::store::private::restrict_umask();
    let cli = Cli::parse_from(with_settings(std::env::args_os().collect())?);
    // The full-screen app owns the terminal: log lines would tear it.
    if !full_screen(&cli.command) {
        meshchat::infra::logs::init(cli.verbose);
    }
    if let Some(ca) = &cli.ca {
        meshchat::infra::tls::trust(ca).with_context(|| format!("--ca {}", ca.display()))?;
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let result = match cli.command {
        Command::Node(args) => runtime.block_on(node::run_node(*args)),
        Command::Certs(args) => ops::certs(args),
        Command::Bench(args) => runtime.block_on(meshchat::tools::bench::run(args)),
        Command::Client(args) => runtime.block_on(async {
            let at_terminal = client_at_terminal(&args);
            let (signin, tls) = args.signin.split()?;
            if at_terminal {
                meshchat::tools::tui::run(signin, vec![args.room], tls, ".".into()).await
            } else {
                meshchat::tools::client::terminal::run(signin, args.room, tls).await
            }
        }),
        Command::Tui(args) => runtime.block_on(async {
            let (signin, tls) = args.signin.split()?;
            meshchat::tools::tui::run(signin, args.rooms, tls, args.downloads).await
        }),
        Command::Invite(args) => runtime.block_on(invite(args)),
        Command::Admin(args) => runtime.block_on(async {
            let (signin, tls) = args.signin.split()?;
            admin::run(signin, tls, args.action).await
        }),
        Command::InviteNode(a) => runtime.block_on(ops::invite_node(a)),
        Command::RemoveNode(a) => runtime.block_on(ops::remove_node(a)),
        Command::Backup(a) => ops::backup(a),
        Command::Restore(a) => ops::restore(a),
        Command::Status(args) => {
            let token = match args.token_file {
                Some(f) => Some(std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?),
                None => args.token,
            };
            let token = token.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
            print!("{}", runtime.block_on(meshchat::tools::status::report(&args.url, token.as_deref()))?);
            Ok(())
        }
        Command::Cluster(args) => {
            let web = args.web.or_else(|| Some(PathBuf::from("dist")).filter(|d| d.join("index.html").exists()));
            let cfg = meshchat::tools::launcher::ClusterConfig {
                nodes: args.nodes,
                host: args.host,
                http_base: args.http_base,
                mesh_base: args.mesh_base,
                data: args.data,
                certs: args.certs,
                web,
                node_args: args.node_args,
            };
            runtime.block_on(meshchat::tools::launcher::run(cfg, wait_for_signal()))
        }
    };
    // The launcher and the terminal client read stdin on a blocking thread
    // that only returns with the next line: dropping the runtime would wait
    // for it, so Ctrl-C would hang until Enter. Everything that must finish
    // (nodes, the store) has finished inside `block_on`.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    result
}

async fn invite(args: InviteArgs) -> anyhow::Result<()> {
    let (signin, tls) = args.signin.split()?;
    let invite = meshchat::tools::client::signin::invite(&signin, &tls).await?;
    let hours = invite.expires.saturating_sub(meshchat::infra::clock::now_ms()) / 3_600_000;
    println!("{}", invite.url);
    eprintln!("single use, expires in {hours} hours; code {}", invite.code);
    Ok(())
}
