//! `rotor admin`: look at a running cluster (nodes, tables, partitions, leaders).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use rotor_model::cluster::{
    partition_group, ClusterMap, MetaCommand, MetaOutcome, MetaReply, NodeState, META_GROUP,
};
use rotor_proto::v1::cluster_client::ClusterClient;
use rotor_proto::v1::{GroupStatus, PartitionLoadView, StatusReply, StatusRequest, WatchRequest};
use tonic::transport::Endpoint;

#[derive(Debug, Clone, clap::Args)]
pub struct AdminArgs {
    /// Any node of the cluster (host:port of its gRPC server).
    #[arg(long, env = "ROTOR_NODE", default_value = "127.0.0.1:7101")]
    pub node: String,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum AdminCommand {
    /// Nodes, the metadata group, and every partition with its replicas, leader, token
    /// range and load, then the autoscaler's latest splits and moves.
    Status,
    /// Move every partition off a node (before removing it); watch with `status`.
    Drain {
        /// Id of the node to empty.
        node: u64,
    },
    /// Return a drained node to service: it takes replicas again, and the partitions
    /// the ring places on it move back.
    Activate {
        /// Id of the node.
        node: u64,
    },
    /// Split one partition by hand: the tokens from `--at` on become a new partition on
    /// the same replicas (the autoscaler moves it later, as it does its own splits).
    Split {
        /// The table's name.
        table: String,
        /// The partition to cut (its number in `rotor admin status`).
        partition: u32,
        /// The first token of the new partition (default: where half of the
        /// partition's bytes lie below; the middle of its tokens when it holds too few
        /// items to halve).
        #[arg(long)]
        at: Option<u64>,
        /// Then move the new partition to these nodes (comma-separated ids; default: it
        /// stays on the partition's replicas until the autoscaler moves it).
        #[arg(long, value_delimiter = ',')]
        place: Option<Vec<u64>>,
    },
}

async fn client(addr: &str) -> anyhow::Result<ClusterClient<tonic::transport::Channel>> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .connect()
        .await
        .with_context(|| format!("cannot reach node {addr} (is it running? see --node)"))?;
    Ok(ClusterClient::new(channel))
}

/// The cluster map as node `addr` has it.
pub async fn fetch_map(addr: &str) -> anyhow::Result<ClusterMap> {
    let mut stream = client(addr)
        .await?
        .watch_map(WatchRequest { after_epoch: 0 })
        .await?
        .into_inner();
    let update = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .context("the node sent no cluster map within 5 s (has the cluster formed?)")?
        .context("the node closed the map stream")??;
    let map = update
        .map
        .ok_or(rotor_proto::WireError::Missing("MapUpdate.map"))?;
    Ok(ClusterMap::try_from(map)?)
}

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    match args.command {
        AdminCommand::Status => {
            let map = fetch_map(&args.node).await?;
            let mut statuses = HashMap::new();
            for (id, node) in &map.nodes {
                let status = async {
                    anyhow::Ok(
                        client(&node.addr)
                            .await?
                            .status(StatusRequest {})
                            .await?
                            .into_inner(),
                    )
                }
                .await;
                statuses.insert(*id, status.map_err(|e| format!("{e:#}")));
            }
            print!("{}", render_status(&map, &statuses));
            Ok(())
        }
        AdminCommand::Drain { node } => {
            let epoch = drain(&args.node, node).await?;
            println!(
                "node {node} is draining (map epoch {epoch}); its partitions are moving. Follow with `rotor admin status`."
            );
            Ok(())
        }
        AdminCommand::Activate { node } => {
            let epoch = activate(&args.node, node).await?;
            println!(
                "node {node} is active again (map epoch {epoch}); partitions the ring places on it are moving back. Follow with `rotor admin status`."
            );
            Ok(())
        }
        AdminCommand::Split {
            table,
            partition,
            at,
            place,
        } => {
            let child = split(&args.node, &table, partition, at, place).await?;
            println!(
                "partition {partition} of {table} is splitting: its upper tokens become partition {child}. Follow with `rotor admin status`."
            );
            Ok(())
        }
    }
}

/// Marks node `node` draining (through node `addr`); returns the map's epoch.
pub async fn drain(addr: &str, node: u64) -> anyhow::Result<u64> {
    let reply = client(addr)
        .await?
        .drain(rotor_proto::v1::DrainRequest { node_id: node })
        .await
        .map_err(|s| anyhow::anyhow!("drain refused: {}", s.message()))?;
    Ok(reply.into_inner().epoch)
}

/// Marks node `node` active again (through node `addr`); returns the map's epoch.
pub async fn activate(addr: &str, node: u64) -> anyhow::Result<u64> {
    let command = MetaCommand::SetNodeState {
        id: node,
        state: NodeState::Active,
    };
    let outcome = propose(addr, &command).await?;
    match outcome.reply {
        MetaReply::Done => Ok(outcome.epoch),
        MetaReply::UnknownNode(id) => {
            anyhow::bail!("there is no node {id} in the cluster (see `rotor admin status`)")
        }
        other => anyhow::bail!("activating node {node} was refused: {other:?}"),
    }
}

/// Applies a metadata change through node `addr` (which forwards it to the leader).
/// While the metadata group has no reachable leader (an election after its leader
/// died), retries for up to 20 s.
pub async fn propose(addr: &str, command: &MetaCommand) -> anyhow::Result<MetaOutcome> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let command = Some(rotor_proto::v1::MetaCommand::from(command));
    loop {
        let reply = client(addr)
            .await?
            .propose(rotor_proto::v1::ProposeRequest {
                command: command.clone(),
            })
            .await;
        match reply {
            Ok(reply) => {
                let outcome = reply
                    .into_inner()
                    .outcome
                    .ok_or(rotor_proto::WireError::Missing("ProposeReply.outcome"))?;
                return Ok(MetaOutcome::try_from(outcome)?);
            }
            Err(s)
                if s.code() == tonic::Code::Unavailable
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(s) => anyhow::bail!("the metadata change was refused: {}", s.message()),
        }
    }
}

/// Splits partition `partition` of `table` at `at` (default: its size median, asked of
/// a replica that answers, or the middle of its tokens), then moves the new half to
/// `place` when given; returns the new partition's number.
pub async fn split(
    addr: &str,
    table: &str,
    partition: u32,
    at: Option<u64>,
    place: Option<Vec<u64>>,
) -> anyhow::Result<u32> {
    let map = fetch_map(addr).await?;
    let entry = map
        .tables
        .get(table)
        .with_context(|| format!("no table {table:?} in the cluster map"))?;
    let info = entry.partitions.get(partition as usize).with_context(|| {
        format!(
            "table {table} has partitions 0 to {}, not {partition}",
            entry.partitions.len().saturating_sub(1)
        )
    })?;
    let at = match at {
        Some(at) => at,
        None => {
            // Any replica that answers (one may be down).
            let mut last_error = anyhow::anyhow!("the partition has no replica with an address");
            let mut found = None;
            for addr in info.replicas.iter().filter_map(|r| map.node_addr(*r)) {
                let asked = async {
                    anyhow::Ok(
                        client(addr)
                            .await?
                            .split_point(rotor_proto::v1::SplitPointRequest {
                                table_id: entry.def.id,
                                partition,
                            })
                            .await
                            .map_err(|s| anyhow::anyhow!("no split point: {}", s.message()))?
                            .into_inner(),
                    )
                }
                .await;
                match asked {
                    Ok(reply) => {
                        found = Some(reply);
                        break;
                    }
                    Err(e) => last_error = e.context(format!("asking {addr}")),
                }
            }
            let reply = found.ok_or(last_error)?;
            if reply.found {
                reply.token
            } else {
                // Too few items to halve by size: halve its tokens instead.
                let range = entry.def.partition_tokens(partition).with_context(|| {
                    format!("partition {partition} of {table} has no token range")
                })?;
                let end = range.end.unwrap_or(u64::MAX);
                let middle = range.start + (end - range.start) / 2;
                anyhow::ensure!(
                    range.splits_at(middle),
                    "partition {partition} of {table} spans too few tokens to split"
                );
                middle
            }
        }
    };
    let child = entry.partitions.len() as u32;
    let outcome = propose(
        addr,
        &MetaCommand::SplitPartition {
            table_id: entry.def.id,
            partition,
            at,
            child,
            place,
        },
    )
    .await?;
    match outcome.reply {
        MetaReply::Done => Ok(child),
        other => anyhow::bail!("the split was refused: {other:?}"),
    }
}

/// The status report: one line per node, the metadata group, one line per partition.
/// One table's capacity settings, as `rotor admin status` lists them.
fn table_capacity_line(def: &rotor_model::table::TableDef) -> String {
    use rotor_model::table::{BillingMode, CapacityDimension};
    let (mode, capacity) = match def.billing_mode {
        BillingMode::Provisioned => (
            "provisioned",
            format!("{} {}", def.read_capacity_units, def.write_capacity_units),
        ),
        BillingMode::PayPerRequest => {
            let most = |m: Option<u64>| m.map_or("-".to_owned(), |m| m.to_string());
            (
                "on-demand",
                format!(
                    "max {} {}",
                    most(def.max_read_request_units),
                    most(def.max_write_request_units)
                ),
            )
        }
    };
    let warm = def.warm_throughput();
    let mut warm_text = format!("{} {}", warm.read, warm.write);
    if def.warm_partitions_missing() > 0 {
        if let Some(asked) = def.warm_requested {
            let _ = write!(warm_text, " (to {} {})", asked.read, asked.write);
        }
    }
    let scaling: Vec<String> = [CapacityDimension::Read, CapacityDimension::Write]
        .into_iter()
        .filter_map(|dim| {
            let s = def.scaling(dim)?;
            let what = match dim {
                CapacityDimension::Read => "read",
                CapacityDimension::Write => "write",
            };
            let target = s.policy.as_ref().map_or("no policy".to_owned(), |p| {
                format!("target {:.0}%", p.target_percent)
            });
            let off = if s.disabled { ", off" } else { "" };
            Some(format!(
                "{what} {}..{} {target}{off}",
                s.min_units, s.max_units
            ))
        })
        .collect();
    let scaling = if scaling.is_empty() {
        "-".to_owned()
    } else {
        scaling.join("; ")
    };
    format!(
        "{:<24} {mode:<16} {capacity:<26} {warm_text:<30} {scaling}",
        def.name
    )
}

pub fn render_status(
    map: &ClusterMap,
    statuses: &HashMap<u64, Result<StatusReply, String>>,
) -> String {
    let mut out = String::new();
    let groups: HashMap<(u64, u64), &GroupStatus> = statuses
        .iter()
        .filter_map(|(node, s)| s.as_ref().ok().map(|s| (*node, s)))
        .flat_map(|(node, s)| s.groups.iter().map(move |g| ((node, g.group), g)))
        .collect();
    let _ = writeln!(
        out,
        "cluster map epoch {}, {} nodes, {} tables",
        map.epoch,
        map.nodes.len(),
        map.tables.len()
    );
    let _ = writeln!(
        out,
        "\n{:<6} {:<22} {:<9} {:<8} {:<8} STATUS",
        "NODE", "ADDRESS", "STATE", "GROUPS", "LEADS"
    );
    for (id, node) in &map.nodes {
        let state = match node.state {
            NodeState::Active => "active",
            NodeState::Draining => "draining",
        };
        match statuses.get(id) {
            Some(Ok(s)) => {
                let leads = s
                    .groups
                    .iter()
                    .filter(|g| g.has_leader && g.leader == *id)
                    .count();
                let _ = writeln!(
                    out,
                    "{id:<6} {:<22} {state:<9} {:<8} {leads:<8} up (map epoch {})",
                    node.addr,
                    s.groups.len(),
                    s.map_epoch
                );
            }
            Some(Err(e)) => {
                let _ = writeln!(
                    out,
                    "{id:<6} {:<22} {state:<9} {:<8} {:<8} DOWN: {e}",
                    node.addr, "-", "-"
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "{id:<6} {:<22} {state:<9} {:<8} {:<8} unknown",
                    node.addr, "-", "-"
                );
            }
        }
    }
    let leader_of = |group: u64, replicas: &[u64]| -> (String, u64) {
        for r in replicas {
            if let Some(g) = groups.get(&(*r, group)) {
                if g.has_leader {
                    return (g.leader.to_string(), g.term);
                }
            }
        }
        ("none".into(), 0)
    };
    let meta_voters: Vec<u64> = map
        .nodes
        .keys()
        .filter_map(|n| groups.get(&(*n, META_GROUP)))
        .next()
        .map(|g| g.voters.clone())
        .unwrap_or_default();
    let (meta_leader, meta_term) =
        leader_of(META_GROUP, &map.nodes.keys().copied().collect::<Vec<_>>());
    let _ = writeln!(
        out,
        "\nmetadata group: leader {meta_leader} (term {meta_term}), voters {meta_voters:?}"
    );
    if !map.tables.is_empty() {
        let _ = writeln!(
            out,
            "\n{:<24} {:<16} {:<26} {:<30} AUTO SCALING",
            "TABLE", "MODE", "CAPACITY (RCU WCU)", "WARM THROUGHPUT (RCU WCU)"
        );
    }
    for entry in map.tables.values() {
        let _ = writeln!(out, "{}", table_capacity_line(&entry.def));
    }
    let autoscaler = statuses
        .values()
        .filter_map(|s| s.as_ref().ok())
        .find(|s| !s.loads.is_empty() || !s.autoscaler_events.is_empty());
    let loads: HashMap<(u32, u32), &PartitionLoadView> = autoscaler
        .map(|s| {
            s.loads
                .iter()
                .map(|l| ((l.table_id, l.partition), l))
                .collect()
        })
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "\n{:<24} {:<10} {:<12} {:<7} {:<6} {:<41} {:<24} APPLIED INDEX PER REPLICA",
        "TABLE", "PARTITION", "REPLICAS", "LEADER", "TERM", "TOKENS", "LOAD (RCU/s WCU/s UTIL)"
    );
    for entry in map.tables.values() {
        // In token order, so the ranges read as the table's layout.
        for span in entry.def.spans().iter() {
            let p = span.partition as usize;
            let Some(info) = entry.partitions.get(p) else {
                continue;
            };
            let group = partition_group(entry.def.id, p as u32);
            let (leader, term) = leader_of(group, &info.replicas);
            let applied: Vec<String> = info
                .replicas
                .iter()
                .map(|r| match groups.get(&(*r, group)) {
                    Some(g) => format!("{r}:{}", g.applied_index),
                    None => format!("{r}:-"),
                })
                .collect();
            let replicas: Vec<String> = info.replicas.iter().map(u64::to_string).collect();
            let tokens = match entry.def.partition_tokens(p as u32) {
                Some(r) => format!(
                    "{:#018x}..{}",
                    r.start,
                    r.end.map_or("end".to_owned(), |e| format!("{e:#018x}"))
                ),
                None => "-".into(),
            };
            let load = match loads.get(&(entry.def.id, p as u32)) {
                Some(l) => format!(
                    "{:.0} {:.0} {:.0}%{}",
                    l.read_units_per_sec,
                    l.write_units_per_sec,
                    l.utilisation * 100.0,
                    if l.above_target_secs > 0.0 {
                        format!(" hot {:.0}s", l.above_target_secs)
                    } else {
                        String::new()
                    }
                ),
                None => "-".into(),
            };
            let mut notes = String::new();
            if let Some(parent) = info.split_from {
                let _ = write!(notes, " split from {parent}");
            }
            if let Some(pinned) = &info.pinned {
                if pinned != &info.replicas {
                    let _ = write!(notes, " moving to {pinned:?}");
                }
            }
            let changing = info.replicas.iter().any(|r| {
                groups
                    .get(&(*r, group))
                    .is_some_and(|g| g.role == "leader" && !g.membership_settled)
            });
            if changing {
                let _ = write!(notes, " voters changing");
            }
            // The leader's changes not yet in every index.
            let index_lag = info.replicas.iter().find_map(|r| {
                groups
                    .get(&(*r, group))
                    .filter(|g| g.role == "leader")?
                    .index_lag
            });
            if let Some(lag) = index_lag {
                let _ = write!(notes, " index lag {lag}");
            }
            let _ = writeln!(
                out,
                "{:<24} {p:<10} {:<12} {leader:<7} {term:<6} {tokens:<41} {load:<24} {}{notes}",
                entry.def.name,
                replicas.join(","),
                applied.join(" ")
            );
        }
    }
    if let Some(s) = autoscaler {
        if !s.autoscaler_events.is_empty() {
            let _ = writeln!(out, "\nautoscaler (on node {}), latest last:", s.node_id);
            for e in &s.autoscaler_events {
                let _ = writeln!(out, "  {e}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rotor_model::table::{
        BillingMode, CapacityScaling, TableDef, TargetTracking, UnitsPerSecond,
    };

    #[test]
    fn a_tables_capacity_line_says_its_mode_limits_warm_throughput_and_scaling() {
        let mut def = TableDef {
            billing_mode: BillingMode::Provisioned,
            read_capacity_units: 5,
            write_capacity_units: 10,
            partition_count: 4,
            ..TableDef::keyed_by_pk("songs")
        };
        def.write_scaling = Some(CapacityScaling {
            min_units: 10,
            max_units: 200,
            policy: Some(TargetTracking {
                name: "p".into(),
                target_percent: 50.0,
                scale_in_cooldown_secs: 0,
                scale_out_cooldown_secs: 0,
                disable_scale_in: false,
                created_at: 0.0,
            }),
            disabled: false,
            created_at: 0.0,
        });
        def.warm_requested = Some(UnitsPerSecond {
            read: 0,
            write: 6000,
        });
        let line = table_capacity_line(&def);
        assert!(line.starts_with("songs "), "{line}");
        assert!(line.contains("provisioned"), "{line}");
        assert!(line.contains("5 10"), "{line}");
        // Four partitions of 3,000 and 1,000, on the way to 6,000 write units.
        assert!(line.contains("12000 4000 (to 0 6000)"), "{line}");
        assert!(line.contains("write 10..200 target 50%"), "{line}");
        let on_demand = table_capacity_line(&TableDef {
            max_write_request_units: Some(50),
            partition_count: 1,
            ..TableDef::keyed_by_pk("free")
        });
        assert!(
            on_demand.contains("on-demand") && on_demand.contains("max - 50"),
            "{on_demand}"
        );
    }
}
