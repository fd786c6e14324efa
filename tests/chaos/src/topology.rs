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

/// Splits a partition of the workload's table that still can be (a soak splits again
/// and again), chosen by `pick` (a seeded draw: the same schedule splits the same
/// partitions), with `extra` arguments to `rotor admin split`; returns its number.
pub fn split_one(
    cluster: &Cluster,
    net: &Net,
    via: u64,
    extra: &[&str],
    pick: u64,
) -> anyhow::Result<String> {
    let mut refusals = Vec::new();
    // How many partitions there may be, until a refusal says how many there are.
    let mut count = 64u32;
    let mut tried = std::collections::BTreeSet::new();
    for _ in 0..128 {
        let untried: Vec<u32> = (0..count).filter(|p| !tried.contains(p)).collect();
        if untried.is_empty() {
            break;
        }
        let p = untried[(pick % untried.len() as u64) as usize];
        tried.insert(p);
        let p_text = p.to_string();
        let mut args = vec!["split", crate::workload::TABLE, &p_text];
        args.extend_from_slice(extra);
        match admin(cluster, net, via, &args) {
            Ok(_) => return Ok(p_text),
            Err(e) => match last_partition(&e.to_string()) {
                // Past the table's last partition: draw among those it has.
                Some(last) => count = last + 1,
                None => refusals.push(e.to_string()),
            },
        }
    }
    anyhow::bail!("no partition could be split: {}", refusals.join("; "))
}

/// The table's last partition, from `rotor admin split`'s refusal of one past it.
fn last_partition(refusal: &str) -> Option<u32> {
    let rest = refusal.split("has partitions 0 to ").nth(1)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}
