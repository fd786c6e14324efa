//! Test hosts: one network namespace per node, router and client, each with its own
//! address on a private subnet, joined by veth pairs to one bridge, all made and removed
//! here (`ip netns`, `ip link`). Network faults are nftables rules inside the hosts'
//! namespaces (drop to/from addresses, random loss), so nothing outside the namespaces
//! is touched and the root namespace gets no address at all.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::Arc;

use anyhow::{bail, Context};

/// One test host.
#[derive(Debug, Clone)]
pub struct Host {
    /// Short name, e.g. `n1`, `r2`, `client`.
    pub name: String,
    /// The network namespace's name.
    pub ns: String,
    pub addr: String,
}

/// The hosts of one run and their bridge; removed on drop.
pub struct Net {
    prefix: String,
    bridge: String,
    pub hosts: Vec<Host>,
}

/// Runs a command, failing with its output when it fails.
pub fn run(program: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {program} (is it installed?)"))?;
    if !out.status.success() {
        bail!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Says clearly why namespaces cannot be used here (not root, no `ip` or `nft`).
pub fn check_available() -> anyhow::Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the chaos suite needs root: it makes network namespaces, veth pairs and nftables rules");
    }
    run("ip", &["-V"]).context("`ip` (Debian's iproute2) is needed")?;
    run("nft", &["--version"]).context("`nft` (Debian's nftables) is needed")?;
    let probe = format!("rcprobe{}", std::process::id() % 100_000);
    run("ip", &["netns", "add", &probe]).context("cannot create a network namespace")?;
    let nft = run(
        "ip",
        &[
            "netns", "exec", &probe, "nft", "add", "table", "inet", "probe",
        ],
    );
    let _ = run("ip", &["netns", "del", &probe]);
    nft.context("nftables does not work in a network namespace")?;
    Ok(())
}

impl Net {
    /// Makes one host per name on subnet `10.231.<subnet>.0/24`; `addr_of` gives each
    /// name its last address byte.
    pub fn create(prefix: &str, subnet: u8, hosts: &[(&str, u8)]) -> anyhow::Result<Net> {
        remove_leftovers(prefix);
        let bridge = format!("{prefix}br");
        let mut net = Net {
            prefix: prefix.to_owned(),
            bridge: bridge.clone(),
            hosts: Vec::new(),
        };
        run("ip", &["link", "add", &bridge, "type", "bridge"])?;
        run("ip", &["link", "set", &bridge, "up"])?;
        for (name, last) in hosts {
            let ns = format!("{prefix}-{name}");
            let outer = format!("{prefix}{name}");
            let addr = format!("10.231.{subnet}.{last}");
            run("ip", &["netns", "add", &ns])?;
            run(
                "ip",
                &[
                    "link", "add", &outer, "type", "veth", "peer", "name", "eth0", "netns", &ns,
                ],
            )?;
            run("ip", &["link", "set", &outer, "master", &bridge, "up"])?;
            run(
                "ip",
                &[
                    "-n",
                    &ns,
                    "addr",
                    "add",
                    &format!("{addr}/24"),
                    "dev",
                    "eth0",
                ],
            )?;
            run("ip", &["-n", &ns, "link", "set", "eth0", "up"])?;
            run("ip", &["-n", &ns, "link", "set", "lo", "up"])?;
            nft(&ns, "add table inet chaos")?;
            nft(
                &ns,
                "add chain inet chaos output { type filter hook output priority 0; }",
            )?;
            nft(
                &ns,
                "add chain inet chaos input { type filter hook input priority 0; }",
            )?;
            net.hosts.push(Host {
                name: (*name).to_owned(),
                ns,
                addr,
            });
        }
        Ok(net)
    }

    pub fn host(&self, name: &str) -> anyhow::Result<&Host> {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .with_context(|| format!("no test host {name}"))
    }

    /// Drops every packet between `host` and every other host, both ways.
    pub fn isolate(&self, host: &str) -> anyhow::Result<()> {
        let h = self.host(host)?;
        nft(&h.ns, "add rule inet chaos output oifname eth0 drop")?;
        nft(&h.ns, "add rule inet chaos input iifname eth0 drop")
    }

    /// Cuts the hosts into two sides that cannot reach each other; hosts in neither
    /// side (e.g. the client) still reach both.
    pub fn split(&self, side_a: &[&str], side_b: &[&str]) -> anyhow::Result<()> {
        for (mine, theirs) in [(side_a, side_b), (side_b, side_a)] {
            let addrs = theirs
                .iter()
                .map(|n| self.host(n).map(|h| h.addr.clone()))
                .collect::<anyhow::Result<Vec<_>>>()?
                .join(", ");
            for name in mine {
                let ns = &self.host(name)?.ns;
                nft(
                    ns,
                    &format!("add rule inet chaos output ip daddr {{ {addrs} }} drop"),
                )?;
                nft(
                    ns,
                    &format!("add rule inet chaos input ip saddr {{ {addrs} }} drop"),
                )?;
            }
        }
        Ok(())
    }

    /// Drops every packet `from` sends to `to` (the other direction still flows).
    pub fn drop_one_way(&self, from: &str, to: &[&str]) -> anyhow::Result<()> {
        let addrs = to
            .iter()
            .map(|n| self.host(n).map(|h| h.addr.clone()))
            .collect::<anyhow::Result<Vec<_>>>()?
            .join(", ");
        let ns = &self.host(from)?.ns;
        nft(
            ns,
            &format!("add rule inet chaos output ip daddr {{ {addrs} }} drop"),
        )
    }

    /// Drops `percent` of the packets `host` sends, at random.
    pub fn lose(&self, host: &str, percent: u32) -> anyhow::Result<()> {
        let ns = &self.host(host)?.ns;
        nft(
            ns,
            &format!(
                "add rule inet chaos output oifname eth0 numgen random mod 100 < {percent} drop"
            ),
        )
    }

    /// Removes every network fault.
    pub fn heal(&self) -> anyhow::Result<()> {
        for h in &self.hosts {
            nft(&h.ns, "flush table inet chaos")?;
        }
        Ok(())
    }

    /// A handle to enter `host`'s namespace from a thread (see [`NetnsHandle::enter`]).
    pub fn handle(&self, host: &str) -> anyhow::Result<NetnsHandle> {
        let ns = &self.host(host)?.ns;
        let path = format!("/var/run/netns/{ns}");
        let file = File::open(&path).with_context(|| format!("cannot open {path}"))?;
        Ok(NetnsHandle(Arc::new(file)))
    }
}

/// An open network namespace, for moving threads into it.
#[derive(Clone)]
pub struct NetnsHandle(Arc<File>);

impl NetnsHandle {
    /// Moves the calling thread into the namespace: sockets it opens from now on are
    /// the host's.
    pub fn enter(&self) -> std::io::Result<()> {
        // SAFETY: the descriptor is an open namespace file; setns changes only the
        // calling thread's network namespace.
        let rc = unsafe { libc::setns(self.0.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
}

fn nft(ns: &str, rule: &str) -> anyhow::Result<()> {
    let mut args = vec!["netns", "exec", ns, "nft"];
    args.extend(rule.split(' '));
    run("ip", &args).map(|_| ())
}

/// Removes namespaces and links a killed earlier run with this prefix left behind.
fn remove_leftovers(prefix: &str) {
    if let Ok(list) = run("ip", &["netns", "list"]) {
        for line in list.lines() {
            let name = line.split_whitespace().next().unwrap_or("");
            if name.starts_with(&format!("{prefix}-")) {
                let _ = run("ip", &["netns", "del", name]);
            }
        }
    }
    let _ = run("ip", &["link", "del", &format!("{prefix}br")]);
}

impl Drop for Net {
    fn drop(&mut self) {
        for h in &self.hosts {
            let _ = run("ip", &["netns", "del", &h.ns]);
        }
        let _ = run("ip", &["link", "del", &self.bridge]);
        remove_leftovers(&self.prefix);
    }
}
