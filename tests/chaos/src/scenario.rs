//! Scenarios: a cluster on test hosts, the recording workload, faults injected and healed
//! on a schedule, final reads, then the checker and a report.
//!
//! Threads: the runtime's worker threads live in the client host's namespace, so every
//! socket the workload and the probes open is the client's; the thread that drives a
//! scenario (`block_on`) stays in the root namespace to run `ip`, `nft` and processes,
//! and hands network work to the workers with `tokio::spawn`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use crate::checker::{check, CheckOptions};
use crate::cluster::{self, host_plan, Cluster, ClusterSpec};
use crate::history::{FaultWindow, History};
use crate::netns::{self, Net};
use crate::report::{Report, Suite};
use crate::topology;
use crate::workload::{self, Recorder, WorkloadConfig};

/// The faults the suite injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// `kill -9` of a node that leads few partitions, restarted at heal.
    KillNode,
    /// `kill -9` of the node leading the most partitions, restarted at heal.
    KillLeader,
    /// `kill -9` of a router, restarted at heal (clients move to the other router).
    KillRouter,
    /// SIGSTOP of the busiest leader, SIGCONT at heal.
    PauseLeader,
    /// The busiest leader cut off from every host, both ways.
    IsolateLeader,
    /// The cluster cut in two: the busiest leader and router 1 (minority) against the
    /// other nodes and routers (majority); the client reaches both sides.
    SplitCluster,
    /// The busiest leader's packets to the other nodes dropped (theirs still arrive).
    OneWayLeader,
    /// 20% of every node's packets dropped at random.
    PacketLoss,
    /// Every raft RPC delayed 50 ms (Rotor's fault-injection API; the kernel here has
    /// no netem).
    SlowLinks,
    /// The busiest leader drops every raft RPC to one named follower (fault API).
    DropToPeer,
    /// The busiest leader's disk (a tmpfs) filled up, freed at heal.
    DiskFull,
    /// Every node killed with `kill -9` and restarted at once.
    RestartAll,
    /// A partition split by hand (`rotor admin split`, at its size median; the first that
    /// still can be) while the node leading the fewest partitions is down: that replica
    /// must catch up through the split when it restarts at heal.
    SplitWithNodeDown,
    /// The node leading the fewest partitions drained (`rotor admin drain`: its replicas
    /// move to the other nodes), made active again at heal (the ring's partitions move
    /// back onto it, as they would onto a node that joins). Needs 4 nodes.
    DrainNode,
    /// A partition split by hand and its new half placed on the nodes other than the
    /// busiest leader (`rotor admin split --place`): a split, then a move by snapshot
    /// and membership change. Needs 4 nodes.
    SplitAndMove,
    /// A fourth node, not started with the cluster, starts and joins: the ring moves
    /// partitions onto it while the workload runs (it stays at heal). Scenarios only:
    /// it needs a node that has never run.
    JoinNode,
}

impl FaultKind {
    pub fn all() -> Vec<FaultKind> {
        use clap::ValueEnum;
        FaultKind::value_variants().to_vec()
    }

    /// Whether a majority of every partition's replicas stays up and connected while
    /// the fault lasts (only a restart of every node takes them all).
    pub fn leaves_a_majority(self) -> bool {
        !matches!(self, FaultKind::RestartAll)
    }

    /// Nodes the fault needs (a scenario runs on at least that many).
    pub fn min_nodes(self) -> u64 {
        match self {
            FaultKind::DrainNode | FaultKind::SplitAndMove | FaultKind::JoinNode => 4,
            _ => 3,
        }
    }

    /// Nodes of the cluster left unstarted for the fault to add.
    pub fn spare_nodes(self) -> u64 {
        u64::from(self == FaultKind::JoinNode)
    }

    pub fn name(self) -> String {
        use clap::ValueEnum;
        self.to_possible_value()
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default()
    }
}

/// What a heal has to undo.
enum Undo {
    RestartNode(u64),
    RestartRouter(usize),
    Resume(u64),
    Network,
    NodeFaults(Vec<u64>),
    FreeDisk(PathBuf),
    Activate(u64),
    Nothing,
}

/// One step of a schedule: wait, inject, hold, heal.
#[derive(Debug, Clone)]
pub struct Step {
    pub quiet: Duration,
    pub fault: FaultKind,
    pub hold: Duration,
    /// A seeded draw for what the fault picks at random (the partition a split cuts).
    pub pick: u64,
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub spec: ClusterSpec,
    pub workload: WorkloadConfig,
    /// Quiet time after the last heal, before the workload stops.
    pub cooldown: Duration,
    pub out_dir: PathBuf,
    /// Prefix of namespace and link names (short: link names have 15 characters).
    pub prefix: String,
    pub subnet: u8,
}

/// A tokio runtime whose worker threads are in the client host's namespace.
pub fn client_runtime(net: &Net) -> anyhow::Result<tokio::runtime::Runtime> {
    let handle = net.handle("client")?;
    // Check once, here, that entering works (the thread hook cannot report errors).
    std::thread::scope(|s| s.spawn(|| handle.enter()).join())
        .map_err(|_| anyhow::anyhow!("a thread entering the client namespace panicked"))?
        .context("cannot enter the client host's network namespace")?;
    let hook = handle.clone();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            if let Err(e) = hook.enter() {
                eprintln!("rotor-chaos: a runtime thread cannot enter the client namespace: {e}");
                std::process::abort();
            }
        })
        .build()
        .context("cannot build the client runtime")
}

/// Makes the test hosts of a run.
/// (With enough node hosts for every fault in `faults`.)
pub fn make_net(config: &RunConfig, faults: &[FaultKind]) -> anyhow::Result<Net> {
    netns::check_available()?;
    let plan = host_plan(nodes_for(config, faults), config.spec.routers);
    let hosts: Vec<(&str, u8)> = plan.iter().map(|(n, a)| (n.as_str(), *a)).collect();
    Net::create(&config.prefix, config.subnet, &hosts)
}

async fn on_client<F, T>(fut: F) -> anyhow::Result<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    tokio::spawn(fut)
        .await
        .context("a task on the client host failed")
}

fn progress(start: Instant, msg: &str) {
    eprintln!("[{:6.1}s] {msg}", start.elapsed().as_secs_f64());
}

/// Node ids by partitions led, most first (nodes that do not answer last).
async fn leaders_by_load(cluster: &Cluster) -> anyhow::Result<Vec<u64>> {
    let nodes: Vec<(u64, String)> = (1..=cluster.spec.nodes)
        .filter(|id| cluster.nodes[(*id - 1) as usize].is_running())
        .map(|id| (id, cluster.node_grpc(id)))
        .collect();
    let mut counts = on_client(async move { cluster::leaders(&nodes).await }).await?;
    counts.sort_by_key(|(id, n)| (std::cmp::Reverse(n.unwrap_or(0)), *id));
    Ok(counts.into_iter().map(|(id, _)| id).collect())
}

async fn set_node_faults(cluster: &Cluster, id: u64, rules: &str) -> anyhow::Result<()> {
    let addr = cluster.node_http(id);
    let body = rules.to_owned();
    let (status, text) =
        on_client(async move { cluster::http(&addr, "PUT", FAULTS_PATH, &body).await }).await??;
    if status != 200 {
        anyhow::bail!("node {id} refused the fault rules ({status}): {text}");
    }
    Ok(())
}

/// Where routers and nodes take fault-injection rules (`--fault-injection`).
const FAULTS_PATH: &str = "/_rotor/faults";

/// Injects `fault`; returns the target's description and what the heal must undo.
async fn inject(
    fault: FaultKind,
    pick: u64,
    cluster: &mut Cluster,
    net: &Net,
) -> anyhow::Result<(String, Undo)> {
    let by_load = leaders_by_load(cluster).await?;
    let busiest = by_load.first().copied().unwrap_or(1);
    let others: Vec<u64> = (1..=cluster.spec.nodes).filter(|n| *n != busiest).collect();
    let node_name = |id: u64| format!("n{id}");
    Ok(match fault {
        FaultKind::KillNode => {
            let id = by_load.last().copied().unwrap_or(cluster.spec.nodes);
            cluster.node(id)?.kill();
            (node_name(id), Undo::RestartNode(id))
        }
        FaultKind::KillLeader => {
            cluster.node(busiest)?.kill();
            (node_name(busiest), Undo::RestartNode(busiest))
        }
        FaultKind::KillRouter => {
            if let Some(r) = cluster.routers.first_mut() {
                r.kill();
            }
            ("r1".to_owned(), Undo::RestartRouter(0))
        }
        FaultKind::PauseLeader => {
            cluster.node(busiest)?.signal(libc::SIGSTOP);
            (node_name(busiest), Undo::Resume(busiest))
        }
        FaultKind::IsolateLeader => {
            net.isolate(&node_name(busiest))?;
            (node_name(busiest), Undo::Network)
        }
        FaultKind::SplitCluster => {
            let minority = [node_name(busiest), "r1".to_owned()];
            let mut majority: Vec<String> = others.iter().map(|n| node_name(*n)).collect();
            majority.extend((2..=cluster.routers.len()).map(|i| format!("r{i}")));
            let a: Vec<&str> = minority.iter().map(String::as_str).collect();
            let b: Vec<&str> = majority.iter().map(String::as_str).collect();
            net.split(&a, &b)?;
            (format!("{} | {}", a.join(","), b.join(",")), Undo::Network)
        }
        FaultKind::OneWayLeader => {
            let to: Vec<String> = others.iter().map(|n| node_name(*n)).collect();
            let to: Vec<&str> = to.iter().map(String::as_str).collect();
            net.drop_one_way(&node_name(busiest), &to)?;
            (
                format!("{} -> {}", node_name(busiest), to.join(",")),
                Undo::Network,
            )
        }
        FaultKind::PacketLoss => {
            for id in 1..=cluster.spec.nodes {
                net.lose(&node_name(id), 20)?;
            }
            ("all nodes, 20%".to_owned(), Undo::Network)
        }
        FaultKind::SlowLinks => {
            let all: Vec<u64> = (1..=cluster.spec.nodes).collect();
            for id in &all {
                set_node_faults(cluster, *id, r#"{"peers": {"*": {"delay_ms": 50}}}"#).await?;
            }
            ("all raft RPCs +50 ms".to_owned(), Undo::NodeFaults(all))
        }
        FaultKind::DropToPeer => {
            let peer = others.first().copied().unwrap_or(1);
            let rules = format!(r#"{{"peers": {{"{peer}": {{"drop_fraction": 1.0}}}}}}"#);
            set_node_faults(cluster, busiest, &rules).await?;
            (
                format!("{} drops RPCs to {}", node_name(busiest), node_name(peer)),
                Undo::NodeFaults(vec![busiest]),
            )
        }
        FaultKind::DiskFull => {
            let path = cluster.node_data(busiest).join("chaos-fill");
            fill_disk(&path)?;
            (node_name(busiest), Undo::FreeDisk(path))
        }
        FaultKind::RestartAll => {
            for id in 1..=cluster.spec.nodes {
                cluster.node(id)?.kill();
            }
            for id in 1..=cluster.spec.nodes {
                cluster.restart_node(id)?;
            }
            ("all nodes".to_owned(), Undo::Nothing)
        }
        FaultKind::SplitWithNodeDown => {
            let down = by_load.last().copied().unwrap_or(cluster.spec.nodes);
            cluster.node(down)?.kill();
            let via = (1..=cluster.spec.nodes).find(|n| *n != down).unwrap_or(1);
            let p = topology::split_one(cluster, net, via, &[], pick)?;
            (
                format!("partition {p} split, {} down", node_name(down)),
                Undo::RestartNode(down),
            )
        }
        FaultKind::DrainNode => {
            let id = by_load.last().copied().unwrap_or(cluster.spec.nodes);
            topology::admin(cluster, net, busiest, &["drain", &id.to_string()])?;
            (node_name(id), Undo::Activate(id))
        }
        FaultKind::JoinNode => {
            let id = (1..=cluster.spec.nodes)
                .find(|id| !cluster.nodes[(*id - 1) as usize].is_running())
                .context("no node left to join")?;
            cluster.restart_node(id)?;
            (format!("{} joins", node_name(id)), Undo::Nothing)
        }
        FaultKind::SplitAndMove => {
            let place: Vec<String> = others.iter().take(3).map(u64::to_string).collect();
            let place = place.join(",");
            let p = topology::split_one(cluster, net, busiest, &["--place", &place], pick)?;
            (
                format!("partition {p} split, its new half moved to {place}"),
                Undo::Nothing,
            )
        }
    })
}

/// Writes zeros to `path` until the file system is full.
fn fill_disk(path: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let chunk = vec![0u8; 1 << 20];
    loop {
        match file.write(&chunk) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => return Ok(()),
            Err(e) => return Err(e).context("filling the disk"),
        }
    }
}

async fn heal(undo: Undo, cluster: &mut Cluster, net: &Net) -> anyhow::Result<()> {
    match undo {
        Undo::RestartNode(id) => cluster.restart_node(id),
        Undo::RestartRouter(i) => cluster.restart_router(i),
        Undo::Resume(id) => {
            cluster.node(id)?.signal(libc::SIGCONT);
            Ok(())
        }
        Undo::Network => net.heal(),
        Undo::NodeFaults(ids) => {
            for id in ids {
                let addr = cluster.node_http(id);
                on_client(async move { cluster::http(&addr, "DELETE", FAULTS_PATH, "").await })
                    .await??;
            }
            Ok(())
        }
        Undo::FreeDisk(path) => {
            std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))
        }
        Undo::Activate(id) => {
            let via = (1..=cluster.spec.nodes).find(|n| *n != id).unwrap_or(1);
            topology::admin(cluster, net, via, &["activate", &id.to_string()]).map(|_| ())
        }
        Undo::Nothing => Ok(()),
    }
}

/// Writes `rotor admin status` as each live node sees it (for reading after a run);
/// each asked at once and given 3 s, since a paused node never answers.
fn save_status(cluster: &Cluster, net: &Net, path: &std::path::Path) {
    let Ok(client) = net.host("client") else {
        return;
    };
    let asks: Vec<_> = (1..=cluster.spec.nodes)
        .filter_map(|id| {
            std::process::Command::new("timeout")
                .args(["3", "ip", "netns", "exec", &client.ns])
                .arg(&cluster.spec.rotor_bin)
                .args(["admin", "--node", &cluster.node_grpc(id), "status"])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .ok()
                .map(|child| (id, child))
        })
        .collect();
    let mut text = String::new();
    for (id, child) in asks {
        if let Ok(out) = child.wait_with_output() {
            text.push_str(&format!(
                "==== asked node {id}\n{}{}\n",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    let _ = std::fs::write(path, text);
}

/// Runs one schedule on a fresh cluster and checks its history.
pub async fn run_schedule(
    name: &str,
    net: &Net,
    config: &RunConfig,
    schedule: &[Step],
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let dir = config.out_dir.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let mut cluster = Cluster::start(&config.spec, net, &dir)?;
    let routers = cluster.router_addrs();
    let setup = {
        let routers = routers.clone();
        on_client(async move {
            for r in &routers {
                cluster::wait_port(*r, Duration::from_secs(60)).await?;
            }
            workload::create_table(&routers, Duration::from_secs(60)).await
        })
        .await?
    };
    if let Err(e) = setup {
        anyhow::bail!(
            "{name}: the cluster did not start: {e:#}\n{}",
            cluster.log_tails(15)
        );
    }
    progress(started, &format!("{name}: cluster up, workload running"));

    let recorder = Recorder::new(Instant::now());
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for id in 0..config.workload.clients {
        clients.push(tokio::spawn(workload::run_client(
            id,
            config.workload.clone(),
            routers.clone(),
            recorder.clone(),
            stop.clone(),
        )));
    }
    let mut faults = Vec::new();
    let mut failure = None;
    for step in schedule {
        tokio::time::sleep(step.quiet).await;
        let start_ns = recorder.now_ns();
        let (target, undo) = match inject(step.fault, step.pick, &mut cluster, net).await {
            Ok(x) => x,
            Err(e) => {
                failure = Some(e.context(format!("injecting {}", step.fault.name())));
                break;
            }
        };
        progress(
            started,
            &format!(
                "{name}: {} on {target} ({} requests so far)",
                step.fault.name(),
                recorder.len()
            ),
        );
        tokio::time::sleep(step.hold).await;
        save_status(
            &cluster,
            net,
            &dir.join(format!("status-{}-{}.txt", faults.len(), step.fault.name())),
        );
        let healed = heal(undo, &mut cluster, net).await;
        faults.push(FaultWindow {
            kind: step.fault.name(),
            target,
            start_ns,
            end_ns: recorder.now_ns(),
            majority_left: step.fault.leaves_a_majority(),
        });
        progress(started, &format!("{name}: {} healed", step.fault.name()));
        if let Err(e) = healed {
            failure = Some(e.context(format!("healing {}", step.fault.name())));
            break;
        }
    }
    tokio::time::sleep(config.cooldown).await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = c.await;
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let final_reads = {
        let routers = routers.clone();
        let recorder = recorder.clone();
        let wl = config.workload.clone();
        on_client(async move {
            workload::final_reads(&wl, &routers, &recorder, Duration::from_secs(60)).await
        })
        .await?
    };
    if let Err(e) = final_reads {
        anyhow::bail!("{name}: {e:#}\n{}", cluster.log_tails(20));
    }
    drop(cluster);
    let history = History {
        seed: config.workload.seed,
        faults,
        ops: recorder.take(),
    };
    history
        .save(dir.join("history.jsonl"))
        .with_context(|| format!("cannot write the history in {}", dir.display()))?;
    let checked = check(&history, &CheckOptions::default());
    let report = Report::new(name, &history, &checked);
    std::fs::write(dir.join("report.json"), report.to_json())?;
    progress(
        started,
        &format!(
            "{name}: {} requests checked: {}",
            history.ops.len(),
            if report.passed { "passed" } else { "FAILED" }
        ),
    );
    Ok(report)
}

/// Nodes a run of `faults` needs: `--nodes`, or more when a fault needs them.
pub fn nodes_for(config: &RunConfig, faults: &[FaultKind]) -> u64 {
    faults
        .iter()
        .map(|f| f.min_nodes())
        .fold(config.spec.nodes, u64::max)
}

/// One scenario per fault: a fresh cluster (of at least the nodes the fault needs), `quiet` of normal load, the fault for
/// `hold`, healed, then the cooldown.
pub async fn run_scenarios(
    net: &Net,
    config: &RunConfig,
    faults: &[FaultKind],
    quiet: Duration,
    hold: Duration,
) -> anyhow::Result<Suite> {
    let mut suite = Suite::new(Vec::new());
    for fault in faults {
        let step = Step {
            quiet,
            fault: *fault,
            hold,
            pick: config.workload.seed,
        };
        let mut config = config.clone();
        config.spec.nodes = nodes_for(&config, &[*fault]);
        config.spec.spare = fault.spare_nodes();
        let report = run_schedule(&fault.name(), net, &config, &[step]).await?;
        suite.push(report);
    }
    Ok(suite)
}

/// A soak: random faults (reproducible from `seed`) one after another on one cluster
/// for about `duration`; faults that need more nodes than `nodes` are left out.
pub fn soak_schedule(seed: u64, duration: Duration, faults: &[FaultKind], nodes: u64) -> Vec<Step> {
    let faults: Vec<FaultKind> = faults
        .iter()
        .copied()
        .filter(|f| f.min_nodes() <= nodes && f.spare_nodes() == 0)
        .collect();
    let mut rng = rotor_bench::keys::Rng::new(seed);
    let mut steps = Vec::new();
    let mut total = Duration::ZERO;
    while total < duration && !faults.is_empty() {
        let quiet = Duration::from_millis(2000 + rng.below(2000));
        let hold = Duration::from_millis(3000 + rng.below(5000));
        let fault = faults[rng.below(faults.len() as u64) as usize];
        let pick = rng.below(u64::MAX);
        total += quiet + hold;
        steps.push(Step {
            quiet,
            fault,
            hold,
            pick,
        });
    }
    steps
}
