//! `rotor bench`: a DynamoDB load generator. This file owns the command-line surface
//! ([`BenchArgs`], reusable as `rotor bench`) and the run's sequence: validate, start the
//! `--ceiling` server if asked, create and load the table, measure, report.
//!
//! Requests are DynamoDB JSON (`X-Amz-Target: DynamoDB_20120810.<Op>`), SigV4-signed,
//! over one keep-alive HTTP/1.1 connection per worker with one request in flight each.
//! Bodies come from prebuilt templates with the key formatted in; signing costs one
//! SHA-256 of the payload, one of the canonical request, and one HMAC with a cached key.

pub mod client;
pub mod http;
pub mod keys;
pub mod runner;
pub mod server;
pub mod setup;
pub mod sigv4;
pub mod stats;
pub mod workload;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;

pub use keys::Distribution;
pub use stats::Report;
pub use workload::Workload;

use client::{Client, ClientConfig};
use http::Endpoint;
use keys::KeyChooser;
use runner::{Layout, Plan};
use sigv4::Signer;
use stats::RunInfo;
use workload::Templates;

/// Longest measured phase (and warmup) accepted.
pub const MAX_DURATION_SECS: f64 = 3600.0;
/// Measured phase when neither `--duration` nor `--ops` is given.
pub const DEFAULT_DURATION_SECS: f64 = 10.0;

/// Options of a benchmark run.
#[derive(Args, Clone, Debug)]
pub struct BenchArgs {
    /// DynamoDB endpoint, http:// only (https/TLS is not supported).
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    pub endpoint: String,

    /// Region to sign requests for.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,

    /// Access key id to sign with.
    #[arg(
        long,
        env = "AWS_ACCESS_KEY_ID",
        default_value = "bench",
        hide_env_values = true
    )]
    pub access_key: String,

    /// Secret access key to sign with.
    #[arg(
        long,
        env = "AWS_SECRET_ACCESS_KEY",
        default_value = "bench",
        hide_env_values = true
    )]
    pub secret_key: String,

    /// Table to use.
    #[arg(long, default_value = "bench")]
    pub table: String,

    /// Operation mix. update, ycsb-a/b/f need the items to exist (--load); query needs a
    /// table with range key n (--create-table makes one; use its own --table).
    #[arg(long, value_enum, default_value_t = Workload::Get)]
    pub workload: Workload,

    /// Create the table first (PAY_PER_REQUEST; pk S hash key, plus n N range key for
    /// query). An existing table is kept.
    #[arg(long)]
    pub create_table: bool,

    /// Delete the table if it exists, then create it (implies --create-table).
    #[arg(long)]
    pub recreate: bool,

    /// Global secondary indexes a created table gets (gsi0, gsi1, ...; each keyed like
    /// the table, projecting ALL), so that every write also writes each index.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=20))]
    pub global_indexes: u8,

    /// Query and Scan read this index of the table (IndexName) instead of the table.
    #[arg(long, value_name = "INDEX")]
    pub index: Option<String>,

    /// Number of items (k0..k<N-1>); query uses N/100 partitions of 100 items.
    #[arg(long, default_value_t = 10_000)]
    pub keys: u64,

    /// Size of each item's value attribute, in bytes.
    #[arg(long, default_value_t = 100)]
    pub item_bytes: usize,

    /// How requests spread over the keys.
    #[arg(long, value_enum, default_value_t = Distribution::Uniform)]
    pub distribution: Distribution,

    /// Seconds to measure; with --ops too, whichever ends first. Default 10 s; at most 3600.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,

    /// Operations to measure; with --duration too, whichever ends first (alone: 3600 s at
    /// most).
    #[arg(long, value_name = "N")]
    pub ops: Option<u64>,

    /// Preload --keys items with BatchWriteItem before measuring (query: its partitions).
    #[arg(long)]
    pub load: bool,

    /// Seconds of unmeasured load before measuring.
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub warmup: f64,

    /// Workers, each with its own keep-alive connection and one request in flight.
    #[arg(long, short = 'c', default_value_t = 64)]
    pub concurrency: usize,

    /// Seconds a request may take before it counts as a timeout (and reconnects).
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub timeout: f64,

    /// Write the report as JSON to FILE too.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Bench an in-process trivial HTTP server (200 {} to everything) instead of
    /// --endpoint, to show the generator's own ceiling. --create-table and --load are
    /// skipped.
    #[arg(long)]
    pub ceiling: bool,

    /// Threads generating load, each running its share of the connections on its own
    /// event loop (default: one per core). With --ceiling each also runs a server.
    #[arg(long)]
    pub threads: Option<usize>,

    /// Seed for key and operation choices (default: from the clock).
    #[arg(long)]
    pub seed: Option<u64>,

    /// No progress line on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

impl BenchArgs {
    /// The measured phase's bound in time.
    fn duration(&self) -> anyhow::Result<Duration> {
        let secs = match (self.duration, self.ops) {
            (Some(d), _) => d,
            (None, Some(_)) => MAX_DURATION_SECS,
            (None, None) => DEFAULT_DURATION_SECS,
        };
        if secs.is_nan() || secs <= 0.0 {
            bail!("--duration must be more than 0 seconds");
        }
        if secs > MAX_DURATION_SECS {
            eprintln!("--duration capped at {MAX_DURATION_SECS} s");
        }
        Ok(Duration::from_secs_f64(secs.min(MAX_DURATION_SECS)))
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.concurrency == 0 || self.concurrency > 10_000 {
            bail!("--concurrency must be between 1 and 10000");
        }
        if self.threads.is_some_and(|t| t == 0 || t > 1024) {
            bail!("--threads must be between 1 and 1024");
        }
        if self.keys == 0 {
            bail!("--keys must be at least 1");
        }
        if self.workload == Workload::BatchWrite && self.keys < workload::BATCH {
            bail!(
                "batch-write writes {} distinct keys per request: --keys must be at least {}",
                workload::BATCH,
                workload::BATCH
            );
        }
        if self.item_bytes > 390_000 {
            bail!("--item-bytes must be at most 390000 (DynamoDB items are at most 400 KB)");
        }
        if self.ops == Some(0) {
            bail!("--ops must be at least 1");
        }
        if !(self.warmup >= 0.0 && self.warmup <= MAX_DURATION_SECS) {
            bail!("--warmup must be between 0 and {MAX_DURATION_SECS} seconds");
        }
        if !(self.timeout > 0.0 && self.timeout <= MAX_DURATION_SECS) {
            bail!("--timeout must be more than 0 and at most {MAX_DURATION_SECS} seconds");
        }
        if self.table.is_empty() {
            bail!("--table must not be empty");
        }
        Ok(())
    }
}

/// Runs the benchmark, prints the report to stdout, and writes `--json` if asked.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let json = args.json.clone();
    let report = execute(args).await?;
    print!("{}", report.table());
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report).context("serializing the report")?;
        std::fs::write(&path, text + "\n")
            .with_context(|| format!("cannot write the JSON report to {}", path.display()))?;
    }
    Ok(())
}

/// Runs the benchmark and returns the report without printing it.
pub async fn execute(args: BenchArgs) -> anyhow::Result<Report> {
    args.validate()?;
    let duration = args.duration()?;
    let warmup = Duration::from_secs_f64(args.warmup);

    let endpoint = if args.ceiling {
        if args.create_table || args.recreate || args.load {
            eprintln!("--ceiling: skipping --create-table/--recreate/--load");
        }
        // Placeholder: each bench thread starts its own server and targets it.
        Endpoint::local(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
    } else {
        let ep = Endpoint::resolve(&args.endpoint).await?;
        ep.check().await?;
        ep
    };
    let endpoint_name = if args.ceiling {
        "in-process ceiling server".to_owned()
    } else {
        endpoint.url.clone()
    };
    let endpoint = Arc::new(endpoint);

    let config = ClientConfig {
        endpoint: endpoint.clone(),
        signer: Signer::new(&args.access_key, &args.secret_key, &args.region, "dynamodb"),
        timeout: Duration::from_secs_f64(args.timeout),
    };
    let templates = Arc::new(Templates::new(
        &args.table,
        args.item_bytes,
        args.index.as_deref(),
    ));

    if !args.ceiling {
        if args.create_table || args.recreate {
            let mut client = Client::new(&config);
            setup::create_table(
                &mut client,
                &templates,
                &args.table,
                args.workload.range_key(),
                args.recreate,
                args.global_indexes,
            )
            .await?;
        }
        if args.load {
            setup::load(
                &config,
                templates.clone(),
                args.workload,
                args.keys,
                args.concurrency,
            )
            .await?;
        }
    }

    let plan = Arc::new(Plan {
        workload: args.workload,
        templates: (*templates).clone(),
        chooser: KeyChooser::new(args.distribution, args.workload.key_space(args.keys)),
        keys: args.keys,
    });
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    });
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let layout = Layout {
        config,
        plan,
        concurrency: args.concurrency,
        threads,
        seed,
        ceiling: args.ceiling,
    };
    if !args.quiet {
        eprintln!(
            "rotor bench: {} on {}, {} connections on {} threads, warmup {:.1} s, up to {:.1} s{}",
            args.workload.name(),
            endpoint_name,
            args.concurrency,
            threads.min(args.concurrency),
            warmup.as_secs_f64(),
            duration.as_secs_f64(),
            args.ops.map(|n| format!(" or {n} ops")).unwrap_or_default(),
        );
    }
    let (recorder, elapsed) =
        runner::measure(layout, warmup, duration, args.ops, !args.quiet).await?;

    Ok(Report::new(
        RunInfo {
            workload: args.workload.name().into(),
            endpoint: endpoint_name,
            table: args.table.clone(),
            concurrency: args.concurrency,
            distribution: format!("{:?}", args.distribution).to_lowercase(),
            keys: args.keys,
            item_bytes: args.item_bytes,
        },
        &recorder,
        elapsed,
    ))
}
