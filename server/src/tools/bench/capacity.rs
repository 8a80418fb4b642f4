//! `meshchat bench capacity`: how many people a team chat holds. A
//! workspace shaped like a real one ([`workspace`]), people who write about
//! once a minute, type first, and drop off phones ([`people`]); the ramp
//! adds people until the p99 of every delivery passes the bound or
//! anything is lost. The same people on meshchat (three fresh nodes per
//! step), on a socket.io cluster ([`ws`]) and on Matrix Synapse
//! ([`matrix`]), when they are given.
//!
//! [`workspace`]: super::workspace
//! [`people`]: super::people
//! [`ws`]: super::ws
//! [`matrix`]: super::matrix

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;

use super::load::{Dialect, Target};
use super::people::{Accounting, Crowd, Habits, Window};
use super::workspace::{Kind, Workspace};
use super::{Ctx, cpu_of, matrix, nodes, targets, write_json, ws};
use crate::tools::harness::cpu_time_of;

#[derive(Debug, Args)]
pub struct CapacityArgs {
    /// People at each step of the ramp, in this order.
    #[arg(long, value_delimiter = ',', default_value = "1000,2000,4000,8000")]
    pub people: Vec<usize>,
    /// Synapse's steps, if other than `--people` (it holds far fewer).
    #[arg(long, value_delimiter = ',')]
    pub synapse_people: Option<Vec<usize>>,
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// The p99 of every delivery must stay within this.
    #[arg(long, default_value_t = 100.0)]
    pub bound_ms: f64,
    /// Mean seconds between one person's messages.
    #[arg(long, default_value_t = 60.0)]
    pub gap_s: f64,
    /// The share of people on phones.
    #[arg(long, default_value_t = 0.2)]
    pub phones: f64,
    /// Mean seconds a phone stays connected before its network changes.
    #[arg(long, default_value_t = 180.0)]
    pub phone_online_s: f64,
    #[arg(long, default_value_t = 10)]
    pub warmup_s: u64,
    #[arg(long, default_value_t = 60)]
    pub measure_s: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// socket.io servers (host:port) to measure too ...
    #[arg(long, value_delimiter = ',')]
    pub socketio: Vec<SocketAddr>,
    /// ... and their processes (servers and Redis), for CPU and memory.
    #[arg(long, value_delimiter = ',')]
    pub socketio_pids: Vec<u32>,
    /// A Synapse homeserver's client API (host:port) to measure too ...
    #[arg(long)]
    pub synapse: Option<SocketAddr>,
    /// ... and its process.
    #[arg(long, value_delimiter = ',')]
    pub synapse_pids: Vec<u32>,
    /// Requests at once while making Synapse's accounts and rooms.
    #[arg(long, default_value_t = 8)]
    pub synapse_setup: usize,
    /// Leave meshchat out (to measure only the others).
    #[arg(long)]
    pub skip_meshchat: bool,
}

/// One step of one system's ramp.
#[derive(Debug, Serialize)]
struct Level {
    people: usize,
    rooms: usize,
    /// Seconds to make the accounts and rooms (Synapse) and have everyone in.
    setup_s: f64,
    window: Window,
    accounting: Accounting,
    /// Server CPU over the window per delivery, µs.
    cpu_us_per_delivery: f64,
    /// Server CPU over the window, in cores.
    cores: f64,
    /// The servers' memory with everyone in, and its growth per person.
    memory_mib: f64,
    kib_per_person: f64,
    within: bool,
}

#[derive(Debug, Serialize)]
struct Run {
    system: &'static str,
    levels: Vec<Level>,
    /// The most people held within the bound with nothing lost.
    capacity: Option<usize>,
    /// The most people held within the bound, whatever was lost.
    within_latency: Option<usize>,
}

/// The servers a step runs against, and how to read their costs.
enum System<'a> {
    Meshchat { nodes: Vec<crate::tools::harness::NodeProcess> },
    SocketIo { servers: &'a [SocketAddr], pids: &'a [u32] },
    Synapse { addr: SocketAddr, pids: &'a [u32], prepared: Option<Arc<matrix::Prepared>> },
}

impl System<'_> {
    fn pids(&self) -> Vec<u32> {
        match self {
            System::Meshchat { nodes } => nodes.iter().map(|n| n.pid()).collect(),
            System::SocketIo { pids, .. } | System::Synapse { pids, .. } => pids.to_vec(),
        }
    }

    fn cpu(&self) -> Duration {
        match self {
            System::Meshchat { nodes } => cpu_of(nodes),
            // PostgreSQL's work is in its postmaster's children.
            _ => with_children(&self.pids()).into_iter().filter_map(cpu_time_of).sum(),
        }
    }

    /// Memory, as each process's proportional share (PostgreSQL's shared
    /// buffers are in every backend's resident set).
    fn memory_kib(&self) -> u64 {
        with_children(&self.pids()).into_iter().filter_map(pss_kib_of).sum()
    }
}

/// `roots` and every process descended from them.
fn with_children(roots: &[u32]) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let ppid = stat[stat.rfind(')')? + 2..].split(' ').nth(1)?.parse().ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut all = roots.to_vec();
    let mut i = 0;
    while i < all.len() {
        let p = all[i];
        all.extend(parents.iter().filter(|&&(_, pp)| pp == p).map(|&(c, _)| c));
        i += 1;
    }
    all
}

fn pss_kib_of(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    s.lines().find_map(|l| l.strip_prefix("Pss:")).and_then(|v| v.split_whitespace().next()?.parse().ok())
}

pub(super) async fn run(ctx: &Ctx<'_>, a: CapacityArgs) -> anyhow::Result<()> {
    let habits = Habits {
        gap_s: a.gap_s,
        phones: a.phones,
        phone_online_s: a.phone_online_s,
        away: Duration::from_secs(2),
        typing_lead: Duration::from_secs(2),
    };
    println!(
        "capacity: a message every {} s a person (Poisson), {:.0} % on phones, p99 bound {} ms, people {:?}",
        a.gap_s,
        a.phones * 100.0,
        a.bound_ms,
        a.people
    );
    let mut runs = Vec::new();
    if !a.skip_meshchat {
        runs.push(ramp(ctx, &a, habits, "meshchat").await?);
    }
    if !a.socketio.is_empty() {
        runs.push(ramp(ctx, &a, habits, "socket.io").await?);
    }
    if a.synapse.is_some() {
        runs.push(ramp(ctx, &a, habits, "synapse").await?);
    }
    table(&runs);
    #[derive(Serialize)]
    struct Out<'a> {
        bound_ms: f64,
        gap_s: f64,
        phones: f64,
        runs: &'a [Run],
    }
    write_json(ctx.json, "capacity", &Out { bound_ms: a.bound_ms, gap_s: a.gap_s, phones: a.phones, runs: &runs })
}

async fn ramp(ctx: &Ctx<'_>, a: &CapacityArgs, habits: Habits, system: &'static str) -> anyhow::Result<Run> {
    let mut levels = Vec::new();
    let steps = if system == "synapse" { a.synapse_people.as_ref().unwrap_or(&a.people) } else { &a.people };
    for (step, &people) in steps.iter().enumerate() {
        let workspace = Arc::new(Workspace::new(people, a.seed));
        let shape: Vec<String> = workspace
            .summary()
            .into_iter()
            .map(|(k, n, mean)| format!("{n} {} (mean {mean:.0})", kind_name(k)))
            .collect();
        println!(
            "{system}: {people} people in {}; {:.0} deliveries a message",
            shape.join(", "),
            workspace.deliveries_per_message()
        );
        let level = match level(ctx, a, habits, system, workspace, step).await {
            Ok(l) => l,
            Err(e) => {
                println!("{system}: {people} people: {e:#}");
                break;
            }
        };
        let w = &level.window;
        println!(
            "{system}: {people} people: {:.1} msgs/s, {:.0} deliveries/s, p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms; \
             lost {}, missed while away {}, duplicated {}, errors {}; {:.1} µs CPU per delivery ({:.2} cores); \
             {:.0} MiB, {:.0} KiB per person; {} reconnects",
            w.messages_per_s,
            w.deliveries_per_s,
            w.latency.p50_ms,
            w.latency.p99_ms,
            w.latency.p999_ms,
            level.accounting.lost,
            level.accounting.missed_while_away,
            level.accounting.duplicated,
            level.accounting.errors,
            level.cpu_us_per_delivery,
            level.cores,
            level.memory_mib,
            level.kib_per_person,
            w.reconnects
        );
        if let Some(e) = &level.accounting.first_error {
            println!("{system}: first error: {}", e.chars().take(300).collect::<String>());
        }
        // The ramp goes on while latency holds: a loss is reported, and
        // the steps beyond it still say how far the latency goes.
        let slow = level.window.latency.p99_ms > a.bound_ms;
        levels.push(level);
        if slow {
            break;
        }
    }
    let capacity = levels.iter().take_while(|l| l.within).map(|l| l.people).last();
    let within_latency = levels.iter().filter(|l| l.window.latency.p99_ms <= a.bound_ms).map(|l| l.people).max();
    Ok(Run { system, levels, capacity, within_latency })
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Direct => "direct",
        Kind::Small => "small",
        Kind::Team => "team",
        Kind::Large => "large",
    }
}

/// One step: the system with `workspace`'s people in, measured.
async fn level(
    ctx: &Ctx<'_>,
    a: &CapacityArgs,
    habits: Habits,
    system: &'static str,
    workspace: Arc<Workspace>,
    step: usize,
) -> anyhow::Result<Level> {
    let t0 = Instant::now();
    let prefix: Arc<str> = format!("cap{}s{step}r", a.seed).into();
    let mut sys = match system {
        "meshchat" => {
            let dir = ctx.dir.join(format!("capacity-{step}"));
            System::Meshchat { nodes: nodes::start(&dir, a.nodes, ctx.node_args)? }
        }
        "socket.io" => System::SocketIo { servers: &a.socketio, pids: &a.socketio_pids },
        _ => System::Synapse {
            addr: a.synapse.unwrap_or(([127, 0, 0, 1], 8008).into()),
            pids: &a.synapse_pids,
            prepared: None,
        },
    };
    if let System::Synapse { addr, prepared, .. } = &mut sys {
        *prepared = Some(Arc::new(matrix::prepare(*addr, &workspace, &prefix, a.synapse_setup).await?));
    }
    let base_kib = sys.memory_kib();
    let crowd = gather(ctx, &sys, workspace.clone(), habits, a.seed, prefix).await?;
    let setup_s = t0.elapsed().as_secs_f64();
    crowd.go();
    tokio::time::sleep(Duration::from_secs(a.warmup_s)).await;
    let cpu0 = sys.cpu();
    let window = crowd.window(Duration::from_secs(a.measure_s)).await;
    let cpu = sys.cpu().saturating_sub(cpu0).as_secs_f64();
    let mem = sys.memory_kib();
    let accounting = crowd.finish(Duration::from_secs(5)).await;
    let people = workspace.of.len();
    let delivered = (window.deliveries_per_s * window.seconds).max(1.0);
    // socket.io keeps nothing for a client that was away: only what it lost
    // while connected counts against it.
    let resumes = system != "socket.io";
    let lost = accounting.lost + if resumes { accounting.missed_while_away } else { 0 };
    let within =
        window.latency.p99_ms <= a.bound_ms && lost == 0 && accounting.duplicated == 0 && accounting.errors == 0;
    Ok(Level {
        people,
        rooms: workspace.rooms.len(),
        setup_s,
        cpu_us_per_delivery: cpu * 1e6 / delivered,
        cores: cpu / window.seconds,
        memory_mib: mem as f64 / 1024.0,
        kib_per_person: mem.saturating_sub(base_kib) as f64 / people.max(1) as f64,
        window,
        accounting,
        within,
    })
}

/// Everyone of `workspace` in, on `sys`.
async fn gather(
    ctx: &Ctx<'_>,
    sys: &System<'_>,
    workspace: Arc<Workspace>,
    habits: Habits,
    seed: u64,
    prefix: Arc<str>,
) -> anyhow::Result<Crowd> {
    let sources = ctx.sources.to_vec();
    let ws_people = |dialect: Dialect, targets: Vec<Target>| {
        let (sources, prefix) = (sources.clone(), prefix.clone());
        move |p: super::people::Person| {
            let i = p.idx as usize;
            let link = ws::Link {
                dialect,
                target: targets[i % targets.len()].clone(),
                source: sources[i % sources.len()],
                prefix: prefix.clone(),
            };
            tokio::spawn(ws::person(p, link))
        }
    };
    match sys {
        System::Meshchat { nodes } => {
            Crowd::gather(workspace, habits, seed, ws_people(Dialect::Meshchat, targets(nodes)?)).await
        }
        System::SocketIo { servers, .. } => {
            let targets = servers
                .iter()
                .enumerate()
                .map(|(i, addr)| Target { node: format!("s{}", i + 1), addr: *addr })
                .collect();
            Crowd::gather(workspace, habits, seed, ws_people(Dialect::SocketIo, targets)).await
        }
        System::Synapse { addr, prepared, .. } => {
            let (addr, prepared) = (*addr, prepared.clone().ok_or_else(|| anyhow::anyhow!("not prepared"))?);
            Crowd::gather(workspace, habits, seed, move |p| tokio::spawn(matrix::person(p, addr, prepared.clone())))
                .await
        }
    }
}

fn table(runs: &[Run]) {
    println!(
        "\n| system | people | msgs/s | deliveries/s | p50 / p99 / p99.9 | lost (away) | CPU per delivery | cores | memory per person |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in runs {
        for l in &r.levels {
            let w = &l.window;
            println!(
                "| {} | {} | {:.1} | {:.0} | {:.2} / {:.2} / {:.2} ms | {} ({}) | {:.1} µs | {:.2} | {:.0} KiB |",
                r.system,
                l.people,
                w.messages_per_s,
                w.deliveries_per_s,
                w.latency.p50_ms,
                w.latency.p99_ms,
                w.latency.p999_ms,
                l.accounting.lost,
                l.accounting.missed_while_away,
                l.cpu_us_per_delivery,
                l.cores,
                l.kib_per_person
            );
        }
    }
    let people = |n: Option<usize>| n.map_or("none of the steps".to_owned(), |n| format!("{n} people"));
    for r in runs {
        println!(
            "{}: holds {} within the bound, nothing lost ({} within the bound)",
            r.system,
            people(r.capacity),
            people(r.within_latency)
        );
    }
}
