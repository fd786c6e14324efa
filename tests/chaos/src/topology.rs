//! Topology changes a fault makes through `rotor admin`, run from the client host:
//! splitting a partition (and moving its new half), draining a node and making it
//! active again.

use anyhow::Context;

use crate::cluster::Cluster;
use crate::netns::Net;

/// Runs `rotor admin --node <node via> ARGS` from the client host (bounded to 20 s);
/// returns what it printed, or why it failed.
pub fn admin(cluster: &Cluster, net: &Net, via: u64, args: &[&str]) -> anyhow::Result<String> {
    let client = net.host("client")?;
    let out = std::process::Command::new("timeout")
        .args(["20", "ip", "netns", "exec", &client.ns])
        .arg(&cluster.spec.rotor_bin)
        .args(["admin", "--node", &cluster.node_grpc(via)])
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .context("cannot run rotor admin")?;
    if !out.status.success() {
        anyhow::bail!(
            "rotor admin {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Splits the first partition of the workload's table that still can be (a soak splits
/// again and again), with `extra` arguments to `rotor admin split`; returns its number.
pub fn split_first(
    cluster: &Cluster,
    net: &Net,
    via: u64,
    extra: &[&str],
) -> anyhow::Result<String> {
    let mut refusals = Vec::new();
    for p in 0..64u32 {
        let p = p.to_string();
        let mut args = vec!["split", crate::workload::TABLE, &p];
        args.extend_from_slice(extra);
        match admin(cluster, net, via, &args) {
            Ok(_) => return Ok(p),
            // Past the table's last partition: nothing more to try.
            Err(e) if e.to_string().contains("has partitions 0 to") => {
                refusals.push(e.to_string());
                break;
            }
            Err(e) => refusals.push(e.to_string()),
        }
    }
    anyhow::bail!("no partition could be split: {}", refusals.join("; "))
}
