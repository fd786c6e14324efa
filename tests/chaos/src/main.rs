//! `rotor-chaos`: runs Rotor on test hosts (network namespaces) under faults while a
//! workload records a history, then checks it (linearizability, lost writes, counters,
//! availability) and prints a report. Needs root, `ip` and `nft`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use rotor_chaos::checker::{check, CheckOptions};
use rotor_chaos::cluster::ClusterSpec;
use rotor_chaos::history::History;
use rotor_chaos::report::{Report, Suite};
use rotor_chaos::scenario::{self, FaultKind, RunConfig};
use rotor_chaos::workload::WorkloadConfig;

#[derive(Parser)]
#[command(
    name = "rotor-chaos",
    version,
    about = "Break a Rotor cluster on purpose and prove nothing was lost"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// One scenario per fault, each on a fresh cluster: normal load, the fault, heal,
    /// then the check. The short set the test suite runs.
    Scenarios {
        /// Faults to run (default: all).
        #[arg(long, value_enum, value_delimiter = ',')]
        faults: Vec<FaultKind>,
        /// Seconds each fault lasts before it is healed.
        #[arg(long, default_value_t = 5)]
        hold_secs: u64,
        /// Seconds of normal load before the fault.
        #[arg(long, default_value_t = 2)]
        quiet_secs: u64,
        #[command(flatten)]
        common: Common,
    },
    /// A longer run: random faults one after another on one cluster, reproducible from
    /// the seed.
    Soak {
        /// Seconds of faults (about; the last fault is completed).
        #[arg(long, default_value_t = 300)]
        duration: u64,
        /// Faults to choose from (default: all).
        #[arg(long, value_enum, value_delimiter = ',')]
        faults: Vec<FaultKind>,
        #[command(flatten)]
        common: Common,
    },
    /// Checks a history written by an earlier run and prints its report.
    Check {
        /// A `history.jsonl` from a run's output directory.
        history: PathBuf,
        /// Most search steps per key of the linearizability check; a key that needs
        /// more is reported UNKNOWN (a history with many operations of unknown
        /// outcome can need far more than the default).
        #[arg(long, env = "ROTOR_CHAOS_MAX_STEPS", default_value_t = rotor_chaos::linearizable::DEFAULT_MAX_STEPS)]
        max_steps: u64,
        /// Most memory per key for the check's memo of visited states, in MiB.
        #[arg(long, env = "ROTOR_CHAOS_MAX_CACHE_MIB", default_value_t = 1024)]
        max_cache_mib: usize,
    },
}

#[derive(clap::Args)]
struct Common {
    /// Seed of the workload's choices and of the soak's fault schedule.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Storage nodes (3 to 99: each gets an address below the routers').
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(3..=99))]
    nodes: u64,
    /// Routers (clients move to the next when one does not answer).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=99))]
    routers: u64,
    /// Partitions of the workload's table.
    #[arg(long, default_value_t = 4)]
    partitions: u32,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    clients: u32,
    /// Register keys (PutItem, compare-and-set UpdateItem, DeleteItem, GetItem).
    #[arg(long, default_value_t = 6)]
    register_keys: u32,
    /// Counter keys (UpdateItem ADD, GetItem).
    #[arg(long, default_value_t = 2)]
    counter_keys: u32,
    /// Seconds the clients use one set of keys before moving to fresh ones (bounds
    /// each key's history, so that long soaks stay checkable).
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(5..))]
    key_lifetime_secs: u64,
    /// Milliseconds each client waits between requests.
    #[arg(long, default_value_t = 10)]
    pause_ms: u64,
    /// Let the autoscaler split partitions whose load passes this fraction of a
    /// partition's capacity for 10 s (e.g. 0.02: the workload's partitions keep
    /// splitting, and the new halves move, while the faults run). Default: the nodes'
    /// own settings (the workload is too light to split anything).
    #[arg(long)]
    split_load_target: Option<f64>,
    /// Size of each node's disk (a tmpfs), MiB.
    #[arg(long, default_value_t = 256)]
    disk_mib: u64,
    /// Where histories, reports and process logs go (one directory per scenario).
    #[arg(long, default_value = "chaos-out")]
    out: PathBuf,
    /// Also write the combined report as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// The rotor binary (default: `rotor` next to this program).
    #[arg(long, env = "ROTOR_BIN")]
    rotor_bin: Option<PathBuf>,
    /// Third byte of the test subnet 10.231.X.0/24 (change it to run two suites at once).
    #[arg(long, default_value_t = 1)]
    subnet: u8,
}

impl Common {
    fn config(&self) -> anyhow::Result<RunConfig> {
        let rotor_bin = match &self.rotor_bin {
            Some(p) => p.clone(),
            None => std::env::current_exe()?
                .parent()
                .context("no directory for this program")?
                .join("rotor"),
        };
        if !rotor_bin.exists() {
            anyhow::bail!(
                "{} does not exist: build it (`cargo build --workspace`) or pass --rotor-bin",
                rotor_bin.display()
            );
        }
        Ok(RunConfig {
            spec: ClusterSpec {
                nodes: self.nodes,
                routers: self.routers as usize,
                partitions: self.partitions.max(1),
                spare: 0,
                node_args: match self.split_load_target {
                    Some(target) => vec![
                        "--autoscale-target".into(),
                        target.to_string(),
                        "--autoscale-window-secs".into(),
                        "10".into(),
                        "--autoscale-interval-secs".into(),
                        "2".into(),
                    ],
                    None => Vec::new(),
                },
                disk_mib: self.disk_mib.max(64),
                rotor_bin,
            },
            workload: WorkloadConfig {
                clients: self.clients.max(1),
                register_keys: self.register_keys,
                counter_keys: self.counter_keys,
                pause: Duration::from_millis(self.pause_ms),
                request_timeout: Duration::from_secs(5),
                seed: self.seed,
                key_lifetime: Duration::from_secs(self.key_lifetime_secs),
            },
            cooldown: Duration::from_secs(4),
            out_dir: std::path::absolute(&self.out)?,
            prefix: format!("rc{}", self.subnet),
            subnet: self.subnet,
        })
    }
}

/// The faults asked for, or every kind when none was named.
fn or_all(faults: Vec<FaultKind>) -> Vec<FaultKind> {
    if faults.is_empty() {
        FaultKind::all()
    } else {
        faults
    }
}

fn finish(suite: &Suite, json: Option<&PathBuf>) -> anyhow::Result<bool> {
    println!("{}", suite.to_table());
    if let Some(path) = json {
        std::fs::write(path, suite.to_json())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(suite.passed)
}

/// Exit status of a run that could not start here (not root, no `ip` or `nft`): neither
/// a pass nor a failure of Rotor.
const NOT_RUN: i32 = 3;

/// Says why the suite cannot run here and exits with `NOT_RUN` (the JSON report, when
/// asked for, says `"not_run"` with the reason).
fn not_run(reason: &anyhow::Error, json: Option<&PathBuf>) -> ! {
    eprintln!("rotor-chaos: NOT RUN: {reason:#}");
    if let Some(path) = json {
        let body = serde_json::json!({ "not_run": format!("{reason:#}") });
        let _ = std::fs::write(path, body.to_string());
    }
    std::process::exit(NOT_RUN);
}

fn main() {
    let cli = Cli::parse();
    match &cli.command {
        Command::Scenarios { common, .. } | Command::Soak { common, .. } => {
            if let Err(e) = rotor_chaos::netns::check_available() {
                not_run(&e, common.json.as_ref());
            }
        }
        Command::Check { .. } => {}
    }
    let result = match cli.command {
        Command::Check {
            history,
            max_steps,
            max_cache_mib,
        } => History::load(&history)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", history.display()))
            .map(|h| {
                let options = CheckOptions {
                    search: rotor_chaos::linearizable::SearchLimits {
                        max_steps,
                        max_cache_bytes: max_cache_mib.saturating_mul(1 << 20),
                    },
                    ..CheckOptions::default()
                };
                let checked = check(&h, &options);
                let report = Report::new(&history.display().to_string(), &h, &checked);
                println!("{}", report.to_table());
                report.passed
            }),
        Command::Scenarios {
            faults,
            hold_secs,
            quiet_secs,
            common,
        } => (|| {
            let config = common.config()?;
            let faults = or_all(faults);
            let net = scenario::make_net(&config, &faults)?;
            let rt = scenario::client_runtime(&net)?;
            let suite = rt.block_on(scenario::run_scenarios(
                &net,
                &config,
                &faults,
                Duration::from_secs(quiet_secs),
                Duration::from_secs(hold_secs),
            ))?;
            finish(&suite, common.json.as_ref())
        })(),
        Command::Soak {
            duration,
            faults,
            common,
        } => (|| {
            let config = common.config()?;
            let faults = or_all(faults);
            let schedule = scenario::soak_schedule(
                common.seed,
                Duration::from_secs(duration),
                &faults,
                config.spec.nodes,
            );
            let net = scenario::make_net(&config, &[])?;
            let rt = scenario::client_runtime(&net)?;
            let name = format!("soak-seed-{}", common.seed);
            let report = rt.block_on(scenario::run_schedule(&name, &net, &config, &schedule))?;
            finish(&Suite::new(vec![report]), common.json.as_ref())
        })(),
    };
    match result {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("rotor-chaos: violations found (see the report above)");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("rotor-chaos: {e:#}");
            std::process::exit(2);
        }
    }
}
