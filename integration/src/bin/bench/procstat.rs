//! Peak RSS and CPU time of a child, from `/proc`.

use std::process::Command;

use crate::Result;

/// What `/proc` says about one process.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProcStat {
    /// Peak resident set size (VmHWM), MiB.
    pub(crate) peak_rss_mib: f64,
    /// User plus system CPU time, seconds.
    pub(crate) cpu_s: f64,
}

/// Clock ticks per second for `/proc/<pid>/stat`, from `getconf CLK_TCK`
/// (100 on Linux if that fails).
pub(crate) fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse::<f64>().ok())
        .filter(|ticks| *ticks > 0.0)
        .unwrap_or(100.0)
}

/// A `kB` field of `/proc/<proc>/status` (`proc` a pid or `self`), KiB.
fn status_kib(proc: &str, field: &str) -> Result<f64> {
    let path = format!("/proc/{proc}/status");
    std::fs::read_to_string(&path)?
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no {field} in {path}").into())
}

/// Reads VmHWM and utime + stime of `pid`.
pub(crate) fn read(pid: u32, ticks_per_s: f64) -> Result<ProcStat> {
    let hwm_kib = status_kib(&pid.to_string(), "VmHWM")?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold
    // spaces: state is field 3, utime 14 and stime 15.
    let after_comm = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("unreadable /proc/{pid}/stat"))?;
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let tick = |i: usize| -> Result<f64> {
        Ok(fields
            .get(i)
            .ok_or_else(|| format!("short /proc/{pid}/stat"))?
            .parse::<f64>()?)
    };
    Ok(ProcStat {
        peak_rss_mib: hwm_kib / 1024.0,
        cpu_s: (tick(11)? + tick(12)?) / ticks_per_s,
    })
}

/// This process's resident set size now (VmRSS), KiB.
pub(crate) fn own_rss_kib() -> Result<f64> {
    status_kib("self", "VmRSS")
}

/// Bytes received so far on the established TCP connections to `addr`'s
/// port, as the kernel counts them (`ss -ti`, `bytes_received`).
pub(crate) fn tcp_bytes_received(addr: &str) -> Result<f64> {
    let port = addr
        .rsplit_once(':')
        .map(|(_, port)| port)
        .ok_or_else(|| format!("no port in {addr:?}"))?;
    let out = Command::new("ss")
        .args(["-tinH", "state", "established"])
        .arg(format!("( dport = :{port} )"))
        .output()?;
    if !out.status.success() {
        return Err(format!("ss failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let text = String::from_utf8(out.stdout)?;
    let counts: Vec<f64> = text
        .split_whitespace()
        .filter_map(|word| word.strip_prefix("bytes_received:"))
        .filter_map(|n| n.parse().ok())
        .collect();
    if counts.is_empty() {
        return Err(format!("ss shows no connection to port {port}").into());
    }
    Ok(counts.iter().sum())
}
