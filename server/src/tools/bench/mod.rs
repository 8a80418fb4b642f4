//! `meshchat bench`: the load generator and its scenarios.
//!
//! Each scenario starts its own fresh nodes (real processes of this binary,
//! in a temporary directory), drives them, prints a table and writes JSON.
//!
//! - [`load`]: lean open-loop clients that time every delivery.
//! - [`nodes`]: spawning the mesh under test.
//! - [`stats`]: the latency histogram.
//! - `failover`: kill -9 under load, with the native client library.
//! - `peers`: the same load on a socket.io cluster and on meshchat ([`socketio`]).
//! - `capacity`: people in a team's workspace ([`workspace`], [`people`]),
//!   over WebSockets ([`ws`]) or Matrix's client API ([`matrix`]).

mod capacity;
mod failover;
pub mod load;
mod matrix;
pub mod nodes;
mod peers;
mod people;
mod rooms;
mod socketio;
pub mod stats;
mod workspace;
mod ws;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde::Serialize;

use load::{Dialect, Load, LoadConfig, Step, Target};

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub scenario: Scenario,
    /// Where to write the results as JSON.
    #[arg(long, global = true)]
    pub json: Option<PathBuf>,
    /// Local addresses clients connect from, round-robin (all of 127/8 is local).
    #[arg(long, global = true, value_delimiter = ',', default_value = "127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4")]
    pub sources: Vec<IpAddr>,
    /// Extra flags for every node, as one string (e.g. "--sync normal").
    #[arg(long, global = true, default_value = "", allow_hyphen_values = true)]
    pub node_args: String,
}

#[derive(Debug, Subcommand)]
pub enum Scenario {
    /// Rooms of M clients over the mesh; raise the rate until cross-node p99 breaks the bound.
    Fanout(FanoutArgs),
    /// A light, steady load: end-to-end latency, same-node and cross-node.
    Latency(LatencyArgs),
    /// Memory per idle WebSocket on one node.
    Idle(IdleArgs),
    /// kill -9 one node under load: time until displaced clients are back and caught up.
    Failover(failover::FailoverArgs),
    /// Meshchat beside a running socket.io cluster, the same load on both (scripts/bench peers).
    Peers(peers::PeersArgs),
    /// People in a team's workspace, ramped until p99 passes the bound:
    /// meshchat, and socket.io and Synapse when given (scripts/bench capacity).
    Capacity(capacity::CapacityArgs),
}

#[derive(Debug, Args)]
pub struct FanoutArgs {
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    #[arg(long, default_value_t = 3000)]
    pub clients: usize,
    #[arg(long, default_value_t = 30)]
    pub room_size: usize,
    /// First step, in deliveries per second.
    #[arg(long, default_value_t = 30_000.0)]
    pub start: f64,
    #[arg(long, default_value_t = 30_000.0)]
    pub step: f64,
    #[arg(long, default_value_t = 300_000.0)]
    pub max: f64,
    /// Cross-node p99 above this ends the ramp.
    #[arg(long, default_value_t = 50.0)]
    pub bound_ms: f64,
    #[arg(long, default_value_t = 3)]
    pub warmup_s: u64,
    #[arg(long, default_value_t = 8)]
    pub measure_s: u64,
    /// Rooms that hold a message and stay quiet, made before the load.
    #[arg(long, default_value_t = 0)]
    pub idle_rooms: usize,
}

#[derive(Debug, Args)]
pub struct LatencyArgs {
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    #[arg(long, default_value_t = 300)]
    pub clients: usize,
    #[arg(long, default_value_t = 30)]
    pub room_size: usize,
    #[arg(long, default_value_t = 1000.0)]
    pub deliveries: f64,
    #[arg(long, default_value_t = 20)]
    pub measure_s: u64,
}

#[derive(Debug, Args)]
pub struct IdleArgs {
    #[arg(long, default_value_t = 15_000)]
    pub connections: usize,
    /// Connections per room.
    #[arg(long, default_value_t = 150)]
    pub room_size: usize,
}

#[derive(Debug, Serialize)]
struct Machine {
    cpus: usize,
    memory_gib: f64,
    kernel: String,
}

fn machine() -> Machine {
    let mem_kib: f64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().find_map(|l| l.strip_prefix("MemTotal:")).and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0.0);
    Machine {
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_gib: (mem_kib / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned(),
    }
}

fn targets(nodes: &[crate::tools::harness::NodeProcess]) -> anyhow::Result<Vec<Target>> {
    nodes
        .iter()
        .map(|n| Ok(Target { node: n.id().to_owned(), addr: n.http.parse::<SocketAddr>().context("node address")? }))
        .collect()
}

/// CPU time the nodes have used so far, together.
fn cpu_of(nodes: &[crate::tools::harness::NodeProcess]) -> Duration {
    nodes.iter().filter_map(|n| n.cpu_time()).sum()
}

/// One step of `load`, with the CPU time per delivery of the servers
/// (`servers_cpu`: their total so far) and of this load generator.
async fn costed_step(
    load: &Load,
    rate: f64,
    (warmup, measure): (Duration, Duration),
    servers_cpu: impl Fn() -> Duration,
) -> Step {
    let before = (servers_cpu(), own_cpu(), load.delivered());
    let mut step = load.step(rate, warmup, measure).await;
    let n = load.delivered().saturating_sub(before.2).max(1) as f64;
    step.node_cpu_us = Some(servers_cpu().saturating_sub(before.0).as_secs_f64() * 1e6 / n);
    step.driver_cpu_us = Some(own_cpu().saturating_sub(before.1).as_secs_f64() * 1e6 / n);
    step
}

/// CPU time this process (the load generator) has used so far.
fn own_cpu() -> Duration {
    crate::tools::harness::cpu_time_of(std::process::id()).unwrap_or_default()
}

fn print_header() {
    println!(
        "{:>10} {:>13} | {:>8} {:>8} {:>8} | {:>8} {:>8} {:>8} | {:>6} | {:>9} {:>9}",
        "msgs/s",
        "deliveries/s",
        "same p50",
        "p99",
        "p99.9",
        "cross p50",
        "p99",
        "p99.9",
        "errors",
        "node µs/d",
        "load µs/d"
    );
}

fn print_step(s: &Step) {
    let us = |x: Option<f64>| x.map_or("-".to_owned(), |v| format!("{v:.1}"));
    println!(
        "{:>10.0} {:>13.0} | {:>8.2} {:>8.2} {:>8.2} | {:>9.2} {:>8.2} {:>8.2} | {:>6} | {:>9} {:>9}",
        s.rate_msgs_s,
        s.deliveries_per_s,
        s.same_node.p50_ms,
        s.same_node.p99_ms,
        s.same_node.p999_ms,
        s.cross_node.p50_ms,
        s.cross_node.p99_ms,
        s.cross_node.p999_ms,
        s.errors,
        us(s.node_cpu_us),
        us(s.driver_cpu_us)
    );
}

/// Writes a scenario's result, headed by its name and the machine it ran on.
fn write_json(path: &Option<PathBuf>, scenario: &'static str, result: &impl Serialize) -> anyhow::Result<()> {
    #[derive(Serialize)]
    struct Report<'a, T> {
        scenario: &'static str,
        machine: Machine,
        #[serde(flatten)]
        result: &'a T,
    }
    if let Some(p) = path {
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let report = Report { scenario, machine: machine(), result };
        std::fs::write(p, serde_json::to_string_pretty(&report)?)?;
        println!("wrote {}", p.display());
    }
    Ok(())
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    let mut node_args: Vec<&str> = NODE_ARGS.to_vec();
    node_args.extend(args.node_args.split_whitespace());
    let ctx = Ctx { dir: &dir, sources: &args.sources, json: &args.json, node_args: &node_args };
    let result = match args.scenario {
        Scenario::Fanout(a) => fanout(&ctx, a).await,
        Scenario::Latency(a) => latency(&ctx, a).await,
        Scenario::Idle(a) => idle(&ctx, a).await,
        Scenario::Failover(a) => failover::run(&ctx, a).await,
        Scenario::Peers(a) => peers::run(&ctx, a).await,
        Scenario::Capacity(a) => capacity::run(&ctx, a).await,
    };
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// What every scenario is given.
pub(crate) struct Ctx<'a> {
    dir: &'a std::path::Path,
    sources: &'a [IpAddr],
    json: &'a Option<PathBuf>,
    node_args: &'a [&'a str],
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("meshchat-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Node flags for benchmarks: the defaults, but a connection that bursts its
/// join and first sends is not rate-limited by accident.
/// The load generator's clients open their burst at once, and come from a
/// few local addresses: per-address limits are lifted (a node's limits are
/// measured in `tests/hostile.rs`, not here).
const NODE_ARGS: &[&str] = &[
    // Guests (name-only hello): the clients measure chat, not sign-in.
    "--guests",
    "--burst",
    "1000",
    "--max-connections",
    "100000",
    "--max-connections-per-ip",
    "100000",
    "--rooms-per-hour",
    "1000000",
    // `fanout --idle-rooms` fills rooms over HTTP from one address.
    "--http-rate",
    "1000000",
    "--http-burst",
    "1000000",
];

async fn fanout(ctx: &Ctx<'_>, a: FanoutArgs) -> anyhow::Result<()> {
    let nodes = nodes::start(ctx.dir, a.nodes, ctx.node_args)?;
    if a.idle_rooms > 0 {
        let took = rooms::fill(&nodes, a.idle_rooms).await?;
        println!("{} idle rooms on every node after {:.1} s", a.idle_rooms, took.as_secs_f64());
    }
    let config = LoadConfig {
        clients: a.clients,
        room_size: a.room_size,
        sources: ctx.sources.to_vec(),
        dialect: Dialect::Meshchat,
    };
    println!("fan-out: {} nodes, {} clients, rooms of {}; connecting…", a.nodes, a.clients, a.room_size);
    let load = Load::connect(config, &targets(&nodes)?).await?;
    let fanout = (a.room_size - 1) as f64;
    let mut steps: Vec<Step> = Vec::new();
    let mut deliveries = a.start;
    print_header();
    while deliveries <= a.max {
        let times = (Duration::from_secs(a.warmup_s), Duration::from_secs(a.measure_s));
        let step = costed_step(&load, deliveries / fanout, times, || cpu_of(&nodes)).await;
        print_step(&step);
        let broke = !step.within(a.bound_ms);
        steps.push(step);
        if broke {
            break;
        }
        deliveries += a.step;
    }
    let accounting = load.finish(Duration::from_secs(5)).await;
    let best = steps
        .iter()
        .filter(|s| s.within(a.bound_ms))
        .max_by(|x, y| x.deliveries_per_s.total_cmp(&y.deliveries_per_s))
        .cloned();
    match &best {
        Some(b) => {
            println!("\nbest within cross-node p99 <= {} ms: {:.0} deliveries/s", a.bound_ms, b.deliveries_per_s)
        }
        None => println!("\nno step stayed within cross-node p99 <= {} ms", a.bound_ms),
    }
    println!(
        "acked {}, lost {}, duplicated {}, errors {}",
        accounting.acked, accounting.lost, accounting.duplicated, accounting.errors
    );
    #[derive(Serialize)]
    struct Out<'a> {
        nodes: usize,
        clients: usize,
        room_size: usize,
        bound_ms: f64,
        steps: &'a [Step],
        best: Option<Step>,
        accounting: load::Accounting,
    }
    let out = Out {
        nodes: a.nodes,
        clients: a.clients,
        room_size: a.room_size,
        bound_ms: a.bound_ms,
        steps: &steps,
        best,
        accounting,
    };
    write_json(ctx.json, "fanout", &out)
}

async fn latency(ctx: &Ctx<'_>, a: LatencyArgs) -> anyhow::Result<()> {
    let nodes = nodes::start(ctx.dir, a.nodes, ctx.node_args)?;
    let config = LoadConfig {
        clients: a.clients,
        room_size: a.room_size,
        sources: ctx.sources.to_vec(),
        dialect: Dialect::Meshchat,
    };
    let load = Load::connect(config, &targets(&nodes)?).await?;
    let rate = a.deliveries / (a.room_size - 1) as f64;
    let step = load.step(rate, Duration::from_secs(3), Duration::from_secs(a.measure_s)).await;
    print_header();
    print_step(&step);
    let accounting = load.finish(Duration::from_secs(3)).await;
    println!(
        "acked {}, lost {}, duplicated {}, errors {}",
        accounting.acked, accounting.lost, accounting.duplicated, accounting.errors
    );
    #[derive(Serialize)]
    struct Out {
        nodes: usize,
        clients: usize,
        room_size: usize,
        step: Step,
        accounting: load::Accounting,
    }
    write_json(
        ctx.json,
        "latency",
        &Out { nodes: a.nodes, clients: a.clients, room_size: a.room_size, step, accounting },
    )
}

async fn idle(ctx: &Ctx<'_>, a: IdleArgs) -> anyhow::Result<()> {
    let nodes = nodes::start(ctx.dir, 1, ctx.node_args)?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = nodes[0].rss_kib().context("no RSS")?;
    let config = LoadConfig {
        clients: a.connections,
        room_size: a.room_size,
        sources: ctx.sources.to_vec(),
        dialect: Dialect::Meshchat,
    };
    println!("idle: opening {} WebSockets to one node…", a.connections);
    let load = Load::connect(config, &targets(&nodes)?).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = nodes[0].rss_kib().context("no RSS")?;
    let per = (after.saturating_sub(before)) as f64 / a.connections as f64;
    println!(
        "node RSS {before} KiB before, {after} KiB with {} idle connections (each said hello and joined a room): {per:.2} KiB per connection",
        a.connections
    );
    load.finish(Duration::from_millis(100)).await;
    #[derive(Serialize)]
    struct Out {
        connections: usize,
        rss_before_kib: u64,
        rss_after_kib: u64,
        kib_per_connection: f64,
    }
    write_json(
        ctx.json,
        "idle",
        &Out { connections: a.connections, rss_before_kib: before, rss_after_kib: after, kib_per_connection: per },
    )
}
