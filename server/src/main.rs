//! The `meshchat` binary: one executable for every role.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use meshchat::session::RateConfig;
use meshchat::store::Sync;
use meshchat::{Node, NodeConfig};

#[derive(Parser)]
#[command(name = "meshchat", version, about = "A self-hosted, distributed, real-time web chat")]
struct Cli {
    /// More logging: -v for info, -vv for debug (RUST_LOG overrides).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one node.
    Node(NodeArgs),
}

#[derive(Args)]
struct NodeArgs {
    /// This node's id: 1-32 of a-z, 0-9 and -.
    #[arg(long)]
    id: String,
    /// Where the WebSocket, the API and the web app listen.
    #[arg(long, default_value = "127.0.0.1:8081")]
    http: SocketAddr,
    /// Directory of this node's database.
    #[arg(long)]
    data: PathBuf,
    /// Serve the built web app from this directory.
    #[arg(long)]
    web: Option<PathBuf>,
    /// This node's WebSocket URL as browsers reach it (default: ws://<http>/ws).
    #[arg(long)]
    public_url: Option<String>,
    /// Durability of each commit: full survives power loss, normal a killed process.
    #[arg(long, value_enum, default_value_t = Sync::Full)]
    sync: Sync,
    /// Frames per second a connection may send, sustained.
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
    /// Frames a connection may send in a burst.
    #[arg(long, default_value_t = 200.0)]
    burst: f64,
    /// Frames queued per connection before it counts as too slow and is closed.
    #[arg(long, default_value_t = 1024)]
    queue: usize,
    /// A resume lacking more messages than this gets the latest 50 and gap.
    #[arg(long, default_value_t = 1000)]
    catchup_limit: u64,
    /// Commands queued per room before clients get `unavailable`.
    #[arg(long, default_value_t = 4096)]
    room_mailbox: usize,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    match cli.command {
        Command::Node(args) => runtime.block_on(run_node(args)),
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

async fn run_node(args: NodeArgs) -> anyhow::Result<()> {
    let mut cfg = NodeConfig::new(&args.id, args.http, args.data.clone());
    cfg.web = args.web;
    cfg.public_url = args.public_url;
    cfg.sync = args.sync;
    cfg.session.rate = RateConfig { per_sec: args.rate, burst: args.burst };
    cfg.session.queue = args.queue;
    cfg.room.catchup_limit = args.catchup_limit;
    cfg.room.mailbox = args.room_mailbox.max(1);
    let node = Node::start(cfg).await?;
    println!(
        "meshchat node {} listening on http://{} (WebSocket {}), data in {}",
        args.id,
        node.http_addr(),
        node.public_url(),
        args.data.display()
    );
    wait_for_signal().await;
    eprintln!("meshchat node {}: stopping", args.id);
    node.stop();
    node.wait().await?;
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
