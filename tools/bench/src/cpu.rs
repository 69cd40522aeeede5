//! CPU time of a process or a thread, read from Linux's `/proc`.
//!
//! `utime + stime` of `/proc/<pid>/stat` (fields 14 and 15) count the time a
//! process (every thread, living or ended, but not its children) ran on a CPU,
//! in clock ticks of `sysconf(_SC_CLK_TCK)` (100 per second on Linux, so a
//! resolution of 10 ms). `/proc/thread-self/stat` gives the same for the
//! calling thread alone.

use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, bail};

/// Clock ticks per second when `getconf CLK_TCK` cannot be asked (Linux's `USER_HZ`).
const DEFAULT_CLK_TCK: u64 = 100;

/// The CPU time (user + system) this process has used so far.
pub fn process_self() -> anyhow::Result<Duration> {
    read_stat("/proc/self/stat")
}

/// The CPU time (user + system) the calling thread has used so far.
pub fn thread_self() -> anyhow::Result<Duration> {
    read_stat("/proc/thread-self/stat")
}

/// The CPU time (user + system) process `pid` has used so far.
pub fn process(pid: u32) -> anyhow::Result<Duration> {
    read_stat(&format!("/proc/{pid}/stat"))
}

/// The kernel's clock ticks per second, asked once.
pub fn clock_ticks_per_second() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .filter(|&t: &u64| t > 0)
            .unwrap_or(DEFAULT_CLK_TCK)
    })
}

fn read_stat(path: &str) -> anyhow::Result<Duration> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let ticks = parse_stat_ticks(&text).with_context(|| format!("parsing {path}"))?;
    let per_second = clock_ticks_per_second();
    Ok(Duration::from_nanos(
        ticks.saturating_mul(1_000_000_000) / per_second,
    ))
}

/// `utime + stime`, in clock ticks, from the text of a `stat` file.
pub fn parse_stat_ticks(text: &str) -> anyhow::Result<u64> {
    // The command name (field 2) is in parentheses and may hold spaces or ')':
    // the fields that follow start after the last ')'.
    let Some(close) = text.rfind(')') else {
        bail!("no ')' after the command name");
    };
    let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // fields[0] is field 3 (state): utime (14) is fields[11], stime (15) fields[12].
    let field = |i: usize, name: &str| -> anyhow::Result<u64> {
        fields
            .get(i)
            .with_context(|| format!("{name} missing"))?
            .parse()
            .with_context(|| format!("{name} is not a number"))
    };
    Ok(field(11, "utime")? + field(12, "stime")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_the_command_name() {
        let line = "4242 (lua (x) y) S 1 4242 4242 0 -1 4194560 3084 0 0 0 250 37 0 0 20 0 1 0 \
                    123 45678 901 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(parse_stat_ticks(line).unwrap(), 287);
        assert!(parse_stat_ticks("garbage").is_err());
        assert!(parse_stat_ticks("1 (x) S 1").is_err());
    }

    #[test]
    fn own_cpu_time_is_readable_and_grows() {
        let before = process_self().unwrap();
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(60) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        assert!(process_self().unwrap() > before);
        assert!(thread_self().unwrap() > Duration::ZERO);
        assert!(process(std::process::id()).unwrap() >= before);
    }
}
