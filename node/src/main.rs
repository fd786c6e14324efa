//! The `rotor` binary.

use clap::{Parser, Subcommand};
use rotor_node::dev;

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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Dev(args) => runtime.block_on(dev::run(args)),
    }
}
