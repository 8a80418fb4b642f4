//! `meshchat bench peers`: meshchat beside a socket.io cluster (socket.io 4
//! with its Redis adapter, started by `scripts/bench peers`), loaded by the
//! same clients in the same rooms at the same offered rates, timed by the
//! same clock, and printed side by side.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use super::load::{Accounting, Dialect, Load, LoadConfig, Step, Target};
use super::{Ctx, costed_step, cpu_of, nodes, targets, write_json};

#[derive(Debug, Args)]
pub struct PeersArgs {
    /// The socket.io servers (host:port); as many meshchat nodes are started.
    #[arg(long, value_delimiter = ',', required = true)]
    pub socketio: Vec<SocketAddr>,
    #[arg(long, default_value_t = 600)]
    pub clients: usize,
    #[arg(long, default_value_t = 30)]
    pub room_size: usize,
    /// Offered messages per second: one measured step each, in this order.
    #[arg(long, value_delimiter = ',', default_value = "1000,2000,4000")]
    pub rates: Vec<f64>,
    /// The bound for "the highest rate within": cross-node p99.
    #[arg(long, default_value_t = 50.0)]
    pub bound_ms: f64,
    #[arg(long, default_value_t = 3)]
    pub warmup_s: u64,
    #[arg(long, default_value_t = 10)]
    pub measure_s: u64,
    /// The socket.io side's processes (its servers and Redis), whose CPU
    /// time per delivery is printed beside the meshchat nodes'.
    #[arg(long, value_delimiter = ',')]
    pub socketio_pids: Vec<u32>,
}

/// One system's run.
#[derive(Debug, Serialize)]
struct Run {
    system: &'static str,
    steps: Vec<Step>,
    /// The highest offered rate whose step stayed within the bound.
    best_rate: Option<f64>,
    accounting: Accounting,
}

pub(super) async fn run(ctx: &Ctx<'_>, a: PeersArgs) -> anyhow::Result<()> {
    let sio: Vec<Target> =
        a.socketio.iter().enumerate().map(|(i, addr)| Target { node: format!("s{}", i + 1), addr: *addr }).collect();
    println!(
        "side by side: {} servers each, {} clients, rooms of {}, offered {:?} msgs/s",
        sio.len(),
        a.clients,
        a.room_size,
        a.rates
    );
    let sio_cpu = || a.socketio_pids.iter().filter_map(|p| crate::tools::harness::cpu_time_of(*p)).sum();
    let socketio = measure(ctx, &a, "socket.io", Dialect::SocketIo, &sio, sio_cpu).await?;
    let meshchat = {
        let nodes = nodes::start(ctx.dir, sio.len(), ctx.node_args)?;
        measure(ctx, &a, "meshchat", Dialect::Meshchat, &targets(&nodes)?, || cpu_of(&nodes)).await?
    };
    table(&a, &socketio, &meshchat);
    #[derive(Serialize)]
    struct Out<'a> {
        servers: usize,
        clients: usize,
        room_size: usize,
        bound_ms: f64,
        runs: [&'a Run; 2],
    }
    let out = Out {
        servers: sio.len(),
        clients: a.clients,
        room_size: a.room_size,
        bound_ms: a.bound_ms,
        runs: [&socketio, &meshchat],
    };
    write_json(ctx.json, "peers", &out)
}

async fn measure(
    ctx: &Ctx<'_>,
    a: &PeersArgs,
    system: &'static str,
    dialect: Dialect,
    targets: &[Target],
    servers_cpu: impl Fn() -> Duration,
) -> anyhow::Result<Run> {
    let config = LoadConfig { clients: a.clients, room_size: a.room_size, sources: ctx.sources.to_vec(), dialect };
    println!("{system}: connecting…");
    let load = Load::connect(config, targets).await?;
    let mut steps = Vec::new();
    for &rate in &a.rates {
        let times = (Duration::from_secs(a.warmup_s), Duration::from_secs(a.measure_s));
        let step = costed_step(&load, rate, times, &servers_cpu).await;
        println!(
            "{system}: {rate:.0} msgs/s offered: {:.0} deliveries/s, cross-node p50 {:.2} ms, p99 {:.2} ms, \
             servers {} µs and load generator {} µs of CPU per delivery, errors {}",
            step.deliveries_per_s,
            step.cross_node.p50_ms,
            step.cross_node.p99_ms,
            cpu_us(step.node_cpu_us),
            cpu_us(step.driver_cpu_us),
            step.errors
        );
        steps.push(step);
    }
    let accounting = load.finish(Duration::from_secs(3)).await;
    let best_rate = steps.iter().filter(|s| s.within(a.bound_ms)).map(|s| s.rate_msgs_s).reduce(f64::max);
    Ok(Run { system, steps, best_rate, accounting })
}

fn cpu_us(us: Option<f64>) -> String {
    us.map_or("?".to_owned(), |x| format!("{x:.1}"))
}

fn table(a: &PeersArgs, socketio: &Run, meshchat: &Run) {
    println!(
        "\n| offered msgs/s | socket.io deliveries/s, p50 / p99 | meshchat deliveries/s, p50 / p99 | p99 ratio \
         | server CPU per delivery, socket.io / meshchat |"
    );
    println!("| --- | --- | --- | --- | --- |");
    for (s, m) in socketio.steps.iter().zip(&meshchat.steps) {
        println!(
            "| {:.0} | {:.0}; {:.2} / {:.2} ms | {:.0}; {:.2} / {:.2} ms | {:.2} | {} / {} µs |",
            s.rate_msgs_s,
            s.deliveries_per_s,
            s.cross_node.p50_ms,
            s.cross_node.p99_ms,
            m.deliveries_per_s,
            m.cross_node.p50_ms,
            m.cross_node.p99_ms,
            m.cross_node.p99_ms / s.cross_node.p99_ms,
            cpu_us(s.node_cpu_us),
            cpu_us(m.node_cpu_us)
        );
    }
    let rate = |r: &Run| r.best_rate.map_or("none".to_owned(), |x| format!("{x:.0}"));
    println!(
        "\nhighest offered rate within cross-node p99 <= {} ms: socket.io {}, meshchat {}",
        a.bound_ms,
        rate(socketio),
        rate(meshchat)
    );
    for r in [socketio, meshchat] {
        let c = &r.accounting;
        println!("{}: acked {}, lost {}, duplicated {}, errors {}", r.system, c.acked, c.lost, c.duplicated, c.errors);
    }
}
