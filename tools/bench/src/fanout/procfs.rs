//! The server process, seen through Linux's `/proc`: which process listens on
//! a port, its resident memory (`VmRSS`) and its CPU time
//! ([`crate::cpu::process`]).

use std::net::Ipv4Addr;

use anyhow::Context;

/// `VmRSS` of process `pid`, in KiB.
pub fn vm_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_vm_rss_kib(&text).with_context(|| format!("no VmRSS line in {path}"))
}

/// `VmRSS` of this process, in KiB.
pub fn own_vm_rss_kib() -> anyhow::Result<u64> {
    vm_rss_kib(std::process::id())
}

/// The `VmRSS:  1234 kB` line of a `/proc/<pid>/status` text.
pub fn parse_vm_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// The socket inodes of `/proc/net/tcp` (or `tcp6`) lines in state LISTEN
/// (`0A`) on `port`, whatever the local address.
pub fn listening_inodes(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
            let local = f.get(1)?;
            let state = f.get(3)?;
            let inode = f.get(9)?;
            let (_, p) = local.rsplit_once(':')?;
            (*state == "0A" && u16::from_str_radix(p, 16).ok()? == port)
                .then(|| inode.parse().ok())
                .flatten()
        })
        .collect()
}

/// The IPv4 address of a `/proc/net/tcp` `local_address` (`0100007F:1F90`).
pub fn parse_ipv4_hex(local: &str) -> Option<(Ipv4Addr, u16)> {
    let (a, p) = local.split_once(':')?;
    let a = u32::from_str_radix(a, 16).ok()?;
    // The kernel prints the address in host byte order (little-endian here).
    Some((
        Ipv4Addr::from(a.swap_bytes()),
        u16::from_str_radix(p, 16).ok()?,
    ))
}

/// The process holding a socket that listens on TCP `port`, found by the
/// socket's inode in `/proc/net/tcp{,6}` and `/proc/<pid>/fd/*`. `None` when
/// no visible process listens there.
pub fn pid_listening_on(port: u16) -> anyhow::Result<Option<u32>> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(table) {
            inodes.extend(listening_inodes(&text, port));
        }
    }
    if inodes.is_empty() {
        return Ok(None);
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for entry in std::fs::read_dir("/proc").context("reading /proc")? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path())
                && wanted.iter().any(|w| target.as_os_str() == w.as_str())
            {
                return Ok(Some(pid));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_socket_and_rss() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 123456 1 0 100 0 0 10 0\n\
   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 777 1 0 20 4 30 10 -1\n\
   2: 00000000:20FB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 424242 1 0 100 0 0 10 0\n";
        assert_eq!(listening_inodes(table, 8080), vec![123456]);
        assert_eq!(listening_inodes(table, 8443), vec![424242]);
        assert!(listening_inodes(table, 8082).is_empty());
        assert_eq!(
            parse_ipv4_hex("0100007F:1F90"),
            Some((Ipv4Addr::new(127, 0, 0, 1), 8080))
        );
        assert_eq!(
            parse_vm_rss_kib("Name:\tx\nVmPeak:\t  10 kB\nVmRSS:\t   5120 kB\n"),
            Some(5120)
        );
        assert!(own_vm_rss_kib().unwrap() > 0);
    }
}
