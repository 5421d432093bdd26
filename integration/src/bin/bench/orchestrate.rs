//! The orchestrator: runs every selected (workload, system) pair `runs`
//! times, each in fresh child processes, and collects the figures.

use crate::{
    Result,
    child::Figures,
    node::System,
    proc::ChildProc,
    procstat::{self, ProcStat},
    report::Results,
    tls::CertDir,
    workload::{Sizes, Workload},
};

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Runs per (workload, system).
    pub(crate) runs: usize,
    /// Smoke sizes.
    pub(crate) smoke: bool,
    /// Workloads, in order.
    pub(crate) workloads: Vec<Workload>,
    /// Systems under test.
    pub(crate) systems: Vec<System>,
}

/// Runs the plan. Failures are collected, not fatal: the table shows what
/// ran, and the caller exits non-zero if any failed.
pub(crate) async fn run(plan: &Plan) -> (Results, Vec<String>) {
    let sizes = if plan.smoke {
        Sizes::SMOKE
    } else {
        Sizes::FULL
    };
    let ticks = procstat::clock_ticks();
    let mut results = Results::default();
    let mut failures = Vec::new();
    // One CA and set of certificates serves every TLS run; removed on return.
    let mut certs = None;
    if plan.workloads.iter().any(|w| w.over_tls()) {
        match CertDir::create() {
            Ok(dir) => certs = Some(dir),
            Err(e) => {
                eprintln!("[bench] making the TLS certificates: FAILED: {e}");
                failures.push(format!("making the TLS certificates: {e}"));
            }
        }
    }
    for run in 1..=plan.runs {
        for &workload in &plan.workloads {
            let systems: Vec<Option<System>> = if workload.is_reference() {
                vec![None]
            } else {
                plan.systems
                    .iter()
                    .copied()
                    .filter(|s| !workload.grpc_only() || *s == System::Grpc)
                    .map(Some)
                    .collect()
            };
            for system in systems {
                let label = format!(
                    "{} {workload} run {run}/{}",
                    system.map_or("local", System::flag),
                    plan.runs
                );
                eprintln!("[bench] {label} ...");
                let ctx = Ctx {
                    sizes,
                    smoke: plan.smoke,
                    ticks,
                    tls: certs.as_ref().map(CertDir::arg),
                };
                let outcome = match (workload, system) {
                    (Workload::Ceiling, _) => ctx.ceiling().await,
                    (Workload::Floor, _) => ctx.floor().await,
                    (Workload::FanIn, Some(system)) => ctx.fan_in(system).await,
                    (workload, Some(system)) => ctx.pair(system, workload).await,
                    (workload, None) => Err(format!("{workload} needs a system").into()),
                };
                match outcome {
                    Ok(figures) => {
                        eprintln!("[bench] {label}: {}", summary(&figures));
                        results.push(workload, system, figures);
                    }
                    Err(e) => {
                        eprintln!("[bench] {label}: FAILED: {e}");
                        failures.push(format!("{label}: {e}"));
                    }
                }
            }
        }
    }
    (results, failures)
}

/// The figures of one run, short, for the progress line.
fn summary(figures: &Figures) -> String {
    figures
        .0
        .iter()
        .filter(|(name, _)| !name.ends_with("_unix_us"))
        .map(|(name, value)| format!("{name}={value:.2}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Settings shared by every step.
#[derive(Debug, Clone, Copy)]
struct Ctx<'a> {
    sizes: Sizes,
    smoke: bool,
    ticks: f64,
    /// The certificate directory, when a TLS workload is planned.
    tls: Option<&'a str>,
}

impl Ctx<'_> {
    /// Adds `--smoke` when smoke sizes are on.
    fn args<'a>(&self, mut args: Vec<&'a str>) -> Vec<&'a str> {
        if self.smoke {
            args.push("--smoke");
        }
        args
    }

    /// `--tls DIR` for the children of a TLS workload, else nothing.
    fn tls_args(&self, workload: Workload) -> Result<Vec<&str>> {
        if !workload.over_tls() {
            return Ok(Vec::new());
        }
        let dir = self
            .tls
            .ok_or("no TLS certificates: making them failed (see above)")?;
        Ok(vec!["--tls", dir])
    }

    /// Starts the sink node of `system` for `workload`; returns it and its
    /// address.
    async fn sink(&self, system: System, workload: Workload) -> Result<(ChildProc, String)> {
        let advertise = self.sizes.advertised_of(workload).to_string();
        let args = [
            "sink",
            "--system",
            system.flag(),
            "--name",
            "bench-a",
            "--advertise",
            &advertise,
        ];
        let mut sink = ChildProc::spawn(
            format!("{system} sink"),
            &[&args[..], &self.tls_args(workload)?].concat(),
        )?;
        let addr = sink.expect("listening", self.sizes.step_timeout).await?;
        Ok((sink, addr))
    }

    /// A driver of `workload` dialing `addr`, with `extra` arguments: it
    /// runs the workload's plaintext loop, over TLS for a TLS workload.
    fn driver_args<'s>(
        &'s self,
        system: System,
        addr: &'s str,
        workload: Workload,
        extra: &[&'s str],
    ) -> Result<Vec<&'s str>> {
        let mut args = vec![
            "driver",
            "--system",
            system.flag(),
            "--connect",
            addr,
            "--workload",
            workload.plain().name(),
        ];
        args.extend(extra);
        args.extend(self.tls_args(workload)?);
        Ok(self.args(args))
    }

    /// One sink, one driver.
    async fn pair(&self, system: System, workload: Workload) -> Result<Figures> {
        let (sink, addr) = self.sink(system, workload).await?;
        let mut driver = ChildProc::spawn(
            format!("{system} {workload} driver"),
            &self.driver_args(system, &addr, workload, &[])?,
        )?;
        let timeout = self.sizes.step_timeout;
        driver.expect("ready", timeout).await?;
        driver.send("go").await?;
        let mut figures: Figures = serde_json::from_str(&driver.expect("result", timeout).await?)?;
        let sender = driver.stat(self.ticks)?;
        let receiver = sink.stat(self.ticks)?;
        add_proc(&mut figures, "sender", sender);
        add_proc(&mut figures, "receiver", receiver);
        driver.finish().await?;
        sink.finish().await?;
        Ok(figures)
    }

    /// One sink, several drivers casting at once; aggregate msgs/s over the
    /// span from the first sender's start to the last one's end.
    async fn fan_in(&self, system: System) -> Result<Figures> {
        let (mut sink, addr) = self.sink(system, Workload::FanIn).await?;
        let timeout = self.sizes.step_timeout;
        let mut drivers = Vec::new();
        for i in 0..self.sizes.fan_in_senders {
            let name = format!("bench-b{i}");
            let sender = (i + 1).to_string();
            drivers.push(ChildProc::spawn(
                format!("{system} fan_in driver {i}"),
                &self.driver_args(
                    system,
                    &addr,
                    Workload::FanIn,
                    &["--name", &name, "--sender", &sender],
                )?,
            )?);
        }
        for driver in &mut drivers {
            driver.expect("ready", timeout).await?;
        }
        for driver in &mut drivers {
            driver.send("go").await?;
        }
        let (mut start, mut end, mut total) = (f64::INFINITY, 0.0_f64, 0.0);
        for driver in &mut drivers {
            let figures: Figures = serde_json::from_str(&driver.expect("result", timeout).await?)?;
            let get = |name: &str| {
                figures
                    .0
                    .get(name)
                    .copied()
                    .ok_or_else(|| format!("a fan_in driver did not report {name}"))
            };
            start = start.min(get("start_unix_us")?);
            end = end.max(get("end_unix_us")?);
            total += get("msgs")?;
        }
        // The sink's own count: every cast arrived, each sender in order.
        let expected = self.sizes.fan_in_senders * self.sizes.fan_in_casts;
        sink.send(&format!("stats {expected}")).await?;
        let stats: [u64; 3] = serde_json::from_str(&sink.expect("stats", timeout).await?)?;
        let expected_bytes = expected * self.sizes.cast_payload as u64;
        if stats != [expected, expected_bytes, 0] {
            return Err(format!(
                "the sink counted [received, bytes, out of order] = {stats:?}, expected [{expected}, {expected_bytes}, 0]"
            )
            .into());
        }
        let mut figures = Figures::default();
        figures.set("msgs_per_s", total / ((end - start) / 1e6));
        let mut senders = ProcStat {
            peak_rss_mib: 0.0,
            cpu_s: 0.0,
        };
        for driver in &drivers {
            let stat = driver.stat(self.ticks)?;
            senders.peak_rss_mib = senders.peak_rss_mib.max(stat.peak_rss_mib);
            senders.cpu_s += stat.cpu_s;
        }
        add_proc(&mut figures, "sender", senders);
        add_proc(&mut figures, "receiver", sink.stat(self.ticks)?);
        for driver in drivers {
            driver.finish().await?;
        }
        sink.finish().await?;
        Ok(figures)
    }

    /// The in-process ceiling.
    async fn ceiling(&self) -> Result<Figures> {
        let mut local = ChildProc::spawn("local ceiling", &self.args(vec!["local"]))?;
        let timeout = self.sizes.step_timeout;
        local.expect("ready", timeout).await?;
        local.send("go").await?;
        let mut figures: Figures = serde_json::from_str(&local.expect("result", timeout).await?)?;
        add_proc(&mut figures, "sender", local.stat(self.ticks)?);
        local.finish().await?;
        Ok(figures)
    }

    /// The tonic ping-pong floor.
    async fn floor(&self) -> Result<Figures> {
        let timeout = self.sizes.step_timeout;
        let mut server = ChildProc::spawn("floor server", &["floor-server"])?;
        let addr = server.expect("listening", timeout).await?;
        let mut client = ChildProc::spawn(
            "floor client",
            &self.args(vec!["floor-client", "--connect", &addr]),
        )?;
        client.expect("ready", timeout).await?;
        client.send("go").await?;
        let mut figures: Figures = serde_json::from_str(&client.expect("result", timeout).await?)?;
        add_proc(&mut figures, "sender", client.stat(self.ticks)?);
        add_proc(&mut figures, "receiver", server.stat(self.ticks)?);
        client.finish().await?;
        server.finish().await?;
        Ok(figures)
    }
}

/// Adds `{role}_cpu_s` and `{role}_rss_mib`.
fn add_proc(figures: &mut Figures, role: &str, stat: ProcStat) {
    figures.set(&format!("{role}_cpu_s"), stat.cpu_s);
    figures.set(&format!("{role}_rss_mib"), stat.peak_rss_mib);
}
