//! The `rotor` binary.

use clap::{Parser, Subcommand};
use rotor_node::{admin, dev, node_cmd, router_cmd};

/// Rotor: a self-hosted, DynamoDB-compatible database.
///
/// Point any DynamoDB client (boto3, the AWS SDKs, the AWS CLI) at the endpoint it serves.
#[derive(Debug, Parser)]
#[command(name = "rotor", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run Rotor locally: the DynamoDB API on http://localhost:8000, data in ./rotor-data.
    Dev(dev::DevArgs),
    /// Run one storage node of a cluster (gRPC); the first bootstraps, others --join.
    Node(node_cmd::NodeArgs),
    /// Run a stateless router: the DynamoDB API in front of a cluster's nodes.
    Router(router_cmd::RouterArgs),
    /// Inspect a running cluster.
    Admin(admin::AdminArgs),
    /// Load-test any DynamoDB endpoint (Rotor, DynamoDB Local, ...): throughput,
    /// latency percentiles and errors per operation.
    Bench(rotor_bench::BenchArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One readable line (with its causes), not a backtrace.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Dev(args) => runtime.block_on(dev::run(args)),
        Command::Node(args) => runtime.block_on(node_cmd::run(args)),
        Command::Router(args) => runtime.block_on(router_cmd::run(args)),
        Command::Admin(args) => runtime.block_on(admin::run(args)),
        Command::Bench(args) => runtime.block_on(rotor_bench::run(args)),
    }
}
