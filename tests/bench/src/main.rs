//! The `rotor-bench` command: parses [`rotor_bench::BenchArgs`] and runs the benchmark.

use std::process::ExitCode;

use clap::Parser;

/// DynamoDB load generator: SigV4-signed requests over keep-alive HTTP/1.1 connections;
/// prints throughput, latency percentiles and errors per operation.
#[derive(Parser)]
#[command(name = "rotor-bench", version)]
struct Cli {
    #[command(flatten)]
    args: rotor_bench::BenchArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match rotor_bench::run(cli.args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rotor-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
