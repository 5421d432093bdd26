//! The orchestrator: runs every selected (workload, system) pair `runs`
//! times, each in fresh child processes, and collects the figures.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::{
    Result,
    child::Figures,
    node::{Mode, System},
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
    let progress = progress_bar(plan);
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
                progress.set_message(label.clone());
                progress.suspend(|| eprintln!("[bench] {label} ..."));
                let ctx = Ctx {
                    sizes,
                    smoke: plan.smoke,
                    ticks,
                    tls: certs.as_ref().map(CertDir::arg),
                };
                let outcome = match (workload, system) {
                    (Workload::Ceiling, _) => ctx.ceiling().await,
                    (Workload::Floor, _) => ctx.floor().await,
                    (Workload::FanIn, Some(system)) => ctx.fan_in(system, Workload::FanIn).await,
                    (workload, Some(system)) => {
                        let w = workload;
                        match (w.join_peers(), w.mesh_nodes(), w.sessions()) {
                            (Some(peers), _, _) => ctx.pg_join(system, peers).await,
                            (_, Some(nodes), _) => ctx.mesh(system, nodes).await,
                            (_, _, Some(_)) => ctx.fan_in(system, workload).await,
                            _ => ctx.pair(system, workload).await,
                        }
                    }
                    (workload, None) => Err(format!("{workload} needs a system").into()),
                };
                progress.inc(1);
                match outcome {
                    Ok(figures) => {
                        progress.suspend(|| eprintln!("[bench] {label}: {}", summary(&figures)));
                        results.push(workload, system, figures);
                    }
                    Err(e) => {
                        progress.suspend(|| eprintln!("[bench] {label}: FAILED: {e}"));
                        failures.push(format!("{label}: {e}"));
                    }
                }
            }
        }
    }
    progress.finish_and_clear();
    (results, failures)
}

/// A bar counting the plan's steps on stderr (drawn only on a terminal; the
/// step lines are printed either way).
fn progress_bar(plan: &Plan) -> ProgressBar {
    let per_run: usize = plan
        .workloads
        .iter()
        .map(|w| {
            if w.is_reference() {
                1
            } else {
                plan.systems
                    .iter()
                    .filter(|s| !w.grpc_only() || **s == System::Grpc)
                    .count()
            }
        })
        .sum();
    let bar = ProgressBar::with_draw_target(
        Some((per_run * plan.runs) as u64),
        ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = ProgressStyle::with_template(
        "[bench] {bar:30} {pos}/{len} steps, {elapsed} (eta {eta}) {msg}",
    ) {
        bar.set_style(style);
    }
    bar
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

    /// One sink, several drivers casting at once (`fan_in`, and the first
    /// half of the sessions workloads); aggregate msgs/s over the span from
    /// the first sender's start to the last one's end. A sessions workload
    /// then has each driver make its share of sequential calls, together.
    async fn fan_in(&self, system: System, workload: Workload) -> Result<Figures> {
        let sessions = workload.sessions();
        let senders = sessions.map_or(self.sizes.fan_in_senders, |n| n as u64);
        let (mut sink, addr) = self.sink(system, workload).await?;
        let timeout = self.sizes.step_timeout;
        let mut drivers = Vec::new();
        for i in 0..senders {
            let name = format!("bench-b{i}");
            let sender = (i + 1).to_string();
            drivers.push(ChildProc::spawn(
                format!("{system} {workload} driver {i}"),
                &self.driver_args(
                    system,
                    &addr,
                    workload,
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
        let mut casts = Span::default();
        for driver in &mut drivers {
            casts.add(&serde_json::from_str(
                &driver.expect("result", timeout).await?,
            )?)?;
        }
        // The sink's own count: every cast arrived, each sender in order.
        let expected = match sessions {
            Some(_) => self.sizes.session_casts,
            None => self.sizes.fan_in_senders * self.sizes.fan_in_casts,
        };
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
        figures.set("msgs_per_s", casts.rate());
        if sessions.is_some() {
            for driver in &mut drivers {
                driver.send("calls").await?;
            }
            let mut calls = Span::default();
            let mut hist = crate::measure::histogram()?;
            for driver in &mut drivers {
                let took: Vec<f64> =
                    serde_json::from_str(&driver.expect("latencies", timeout).await?)?;
                for us in took {
                    hist.saturating_record((us * 1e3) as u64);
                }
                calls.add(&serde_json::from_str(
                    &driver.expect("result", timeout).await?,
                )?)?;
            }
            figures.set("calls_per_s", calls.rate());
            figures.set("p50_us", crate::measure::quantile_us(&hist, 0.50));
            figures.set("p99_us", crate::measure::quantile_us(&hist, 0.99));
        }
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

    /// A `peer` child (see [`crate::scale`]) named `name`; returns it once
    /// it listens, and its address.
    async fn peer(&self, system: System, name: &str, mode: Mode) -> Result<(ChildProc, String)> {
        let mut args = vec!["peer", "--system", system.flag(), "--name", name];
        if mode == Mode::Transitive {
            args.push("--transitive");
        }
        let mut peer = ChildProc::spawn(format!("{system} {name}"), &self.args(args))?;
        let addr = peer.expect("listening", self.sizes.step_timeout).await?;
        Ok((peer, addr))
    }

    /// `pg_join_N`: `peers` processes connect to one node; each of
    /// `sizes.joins` pg joins there is timed until the first and the last
    /// peer saw it.
    async fn pg_join(&self, system: System, peers: usize) -> Result<Figures> {
        let timeout = self.sizes.step_timeout;
        let (mut joiner, addr) = self.peer(system, "bench-j", Mode::Isolated).await?;
        let mut watchers = Vec::with_capacity(peers);
        for i in 0..peers {
            let (mut watcher, _) = self
                .peer(system, &format!("bench-w{i}"), Mode::Isolated)
                .await?;
            watcher.send(&format!("connect {addr}")).await?;
            watcher.expect("connected", timeout).await?;
            watchers.push(watcher);
        }
        let (mut first, mut last) = (Vec::new(), Vec::new());
        for k in 0..self.sizes.joins {
            joiner.send(&format!("join {k}")).await?;
            let joined: f64 = joiner.expect("joined", timeout).await?.parse()?;
            for watcher in &mut watchers {
                watcher.send(&format!("seen {k}")).await?;
            }
            let mut took = Vec::with_capacity(peers);
            for watcher in &mut watchers {
                let seen: f64 = watcher.expect("seen", timeout).await?.parse()?;
                took.push((seen - joined) / 1e3);
            }
            first.push(took.iter().copied().fold(f64::INFINITY, f64::min));
            last.push(took.iter().copied().fold(0.0, f64::max));
        }
        let mut figures = Figures::default();
        figures.set("first_peer_ms", median(&mut first)?);
        figures.set("last_peer_ms", median(&mut last)?);
        figures.set("last_peer_ms_max", last.iter().copied().fold(0.0, f64::max));
        add_proc(&mut figures, "joiner", joiner.stat(self.ticks)?);
        for watcher in watchers {
            watcher.finish().await?;
        }
        joiner.finish().await?;
        Ok(figures)
    }

    /// `mesh_N`: `nodes` processes in transitive mode; all but the first
    /// dial the first at once. Time from the first dial to the last node
    /// seeing every other's member, and the peak RSS of all summed.
    async fn mesh(&self, system: System, nodes: usize) -> Result<Figures> {
        let timeout = self.sizes.step_timeout;
        let mut peers = Vec::with_capacity(nodes);
        let mut seed = String::new();
        for i in 0..nodes {
            let (peer, addr) = self
                .peer(system, &format!("bench-m{i}"), Mode::Transitive)
                .await?;
            if i == 0 {
                seed = addr;
            }
            peers.push(peer);
        }
        for (i, peer) in peers.iter_mut().enumerate() {
            let command = if i == 0 {
                format!("mesh {nodes}")
            } else {
                format!("mesh {nodes} {seed}")
            };
            peer.send(&command).await?;
        }
        let (mut start, mut end) = (f64::INFINITY, 0.0_f64);
        for peer in &mut peers {
            let [from, to]: [f64; 2] =
                serde_json::from_str(&peer.expect("meshed", timeout).await?)?;
            start = start.min(from);
            end = end.max(to);
        }
        let mut figures = Figures::default();
        figures.set("mesh_ms", (end - start) / 1e3);
        let mut total = ProcStat {
            peak_rss_mib: 0.0,
            cpu_s: 0.0,
        };
        for peer in &peers {
            let stat = peer.stat(self.ticks)?;
            total.peak_rss_mib += stat.peak_rss_mib;
            total.cpu_s += stat.cpu_s;
        }
        add_proc(&mut figures, "all_nodes", total);
        for peer in peers {
            peer.finish().await?;
        }
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

/// Several drivers' spans of work: the first start, the last end and the
/// sum of what they did (each reports `start_unix_us`, `end_unix_us` and
/// `msgs` or `calls`).
#[derive(Debug)]
struct Span {
    start: f64,
    end: f64,
    total: f64,
}

impl Default for Span {
    fn default() -> Self {
        Self {
            start: f64::INFINITY,
            end: 0.0,
            total: 0.0,
        }
    }
}

impl Span {
    fn add(&mut self, figures: &Figures) -> Result<()> {
        let get = |name: &str| {
            figures
                .0
                .get(name)
                .copied()
                .ok_or_else(|| format!("a driver did not report {name}"))
        };
        self.start = self.start.min(get("start_unix_us")?);
        self.end = self.end.max(get("end_unix_us")?);
        self.total += figures
            .0
            .get("msgs")
            .or_else(|| figures.0.get("calls"))
            .copied()
            .ok_or("a driver reported neither msgs nor calls")?;
        Ok(())
    }

    /// What was done per second over the whole span.
    fn rate(&self) -> f64 {
        self.total / ((self.end - self.start) / 1e6)
    }
}

/// The median of some values (sorted in place); none is an error.
fn median(values: &mut [f64]) -> Result<f64> {
    values.sort_by(f64::total_cmp);
    values
        .get(values.len() / 2)
        .copied()
        .ok_or_else(|| "no values to take the median of".into())
}

/// Adds `{role}_cpu_s` and `{role}_rss_mib`.
fn add_proc(figures: &mut Figures, role: &str, stat: ProcStat) {
    figures.set(&format!("{role}_cpu_s"), stat.cpu_s);
    figures.set(&format!("{role}_rss_mib"), stat.peak_rss_mib);
}
