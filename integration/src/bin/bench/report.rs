//! The table: one row per figure, median [min..max] per system, and the
//! ratio ractor_grpc / ractor_cluster.

use std::collections::BTreeMap;

use crate::{child::Figures, node::System, workload::Workload};

/// Every figure of every run, by workload and system (`None`: reference
/// workloads that involve no cluster).
#[derive(Debug, Default)]
pub(crate) struct Results(BTreeMap<(&'static str, Option<&'static str>), Vec<Figures>>);

impl Results {
    /// Adds the figures of one run.
    pub(crate) fn push(&mut self, workload: Workload, system: Option<System>, figures: Figures) {
        self.0
            .entry((workload.name(), system.map(System::flag)))
            .or_default()
            .push(figures);
    }

    /// One figure over all runs.
    fn values(&self, workload: Workload, system: Option<System>, figure: &str) -> Vec<f64> {
        self.0
            .get(&(workload.name(), system.map(System::flag)))
            .map(|runs| {
                runs.iter()
                    .filter_map(|f| f.0.get(figure).copied())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Median, min and max of some values.
#[derive(Debug, Clone, Copy)]
struct Spread {
    median: f64,
    min: f64,
    max: f64,
}

impl Spread {
    fn of(mut values: Vec<f64>) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let median = if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2.0
        };
        Some(Self {
            median,
            min: values[0],
            max: values[n - 1],
        })
    }

    fn cell(self) -> String {
        if self.min == self.max {
            num(self.median)
        } else {
            format!(
                "{} [{}..{}]",
                num(self.median),
                num(self.min),
                num(self.max)
            )
        }
    }
}

/// A number with as many digits as it deserves; thousands grouped.
fn num(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    if x.abs() >= 1000.0 {
        let digits = format!("{:.0}", x.abs());
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        if x < 0.0 {
            grouped.insert(0, '-');
        }
        grouped
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// A ratio, `a / b`; none when either is zero (below what `/proc` resolves).
fn ratio(a: Option<Spread>, b: Option<Spread>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if a.median != 0.0 && b.median != 0.0 => {
            format!("{:.2}x", a.median / b.median)
        }
        _ => "-".to_owned(),
    }
}

/// The figures compared across the two systems: (workload, figure key, label).
const COMPARED: &[(Workload, &str, &str)] = &[
    (
        Workload::CastThroughput,
        "msgs_per_s",
        "cast_throughput msgs/s",
    ),
    (
        Workload::CastThroughput,
        "sender_rss_mib",
        "cast_throughput sender peak RSS MiB",
    ),
    (
        Workload::CastThroughput,
        "receiver_rss_mib",
        "cast_throughput receiver peak RSS MiB",
    ),
    (
        Workload::SendThroughput,
        "msgs_per_s",
        "send_throughput msgs/s (ractor_grpc::send)",
    ),
    (
        Workload::SendThroughput,
        "sender_rss_mib",
        "send_throughput sender peak RSS MiB",
    ),
    (Workload::CallLatency, "p50_us", "call_latency p50 us"),
    (Workload::CallLatency, "p90_us", "call_latency p90 us"),
    (Workload::CallLatency, "p99_us", "call_latency p99 us"),
    (Workload::CallLatency, "calls_per_s", "call_latency calls/s"),
    (
        Workload::CallConcurrent,
        "calls_per_s",
        "call_concurrent (64) calls/s",
    ),
    (
        Workload::CallConcurrent,
        "p50_us",
        "call_concurrent (64) p50 us",
    ),
    (
        Workload::CallConcurrent,
        "p99_us",
        "call_concurrent (64) p99 us",
    ),
    (
        Workload::ConnectTime,
        "connect_ms",
        "connect_time to pg member ms",
    ),
    (Workload::Payload1k, "mb_per_s", "payload 1 KiB MB/s"),
    (Workload::Payload64k, "mb_per_s", "payload 64 KiB MB/s"),
    (Workload::Payload1m, "mb_per_s", "payload 1 MiB MB/s"),
    (
        Workload::Payload1m,
        "sender_rss_mib",
        "payload 1 MiB sender peak RSS MiB",
    ),
    (Workload::FanIn, "msgs_per_s", "fan_in (3 senders) msgs/s"),
    (
        Workload::CastThroughputTls,
        "msgs_per_s",
        "cast_throughput over mTLS msgs/s",
    ),
    (
        Workload::CallLatencyTls,
        "p50_us",
        "call_latency over mTLS p50 us",
    ),
    (
        Workload::CallLatencyTls,
        "p99_us",
        "call_latency over mTLS p99 us",
    ),
    (
        Workload::Advertise1k,
        "ready_ms",
        "advertise 1k: connect to ready ms",
    ),
    (
        Workload::Advertise1k,
        "rss_bytes_per_actor",
        "advertise 1k: receiver RSS bytes per actor",
    ),
    (
        Workload::Advertise1k,
        "bytes_received_per_actor",
        "advertise 1k: bytes received per actor",
    ),
    (
        Workload::Advertise10k,
        "ready_ms",
        "advertise 10k: connect to ready ms",
    ),
    (
        Workload::Advertise10k,
        "rss_bytes_per_actor",
        "advertise 10k: receiver RSS bytes per actor",
    ),
    (
        Workload::Advertise10k,
        "bytes_received_per_actor",
        "advertise 10k: bytes received per actor",
    ),
    (
        Workload::Advertise100k,
        "ready_ms",
        "advertise 100k: connect to ready ms",
    ),
    (
        Workload::Advertise100k,
        "rss_bytes_per_actor",
        "advertise 100k: receiver RSS bytes per actor",
    ),
    (
        Workload::Advertise100k,
        "bytes_received_per_actor",
        "advertise 100k: bytes received per actor",
    ),
    (
        Workload::PgJoin1,
        "first_peer_ms",
        "pg join seen by 1 peer ms",
    ),
    (
        Workload::PgJoin7,
        "first_peer_ms",
        "pg join seen by the first of 7 peers ms",
    ),
    (
        Workload::PgJoin7,
        "last_peer_ms",
        "pg join seen by all 7 peers ms",
    ),
    (
        Workload::Mesh4,
        "mesh_ms",
        "mesh of 4 (transitive): time to full mesh ms",
    ),
    (
        Workload::Mesh4,
        "all_nodes_rss_mib",
        "mesh of 4: peak RSS of all nodes MiB",
    ),
    (
        Workload::Mesh8,
        "mesh_ms",
        "mesh of 8 (transitive): time to full mesh ms",
    ),
    (
        Workload::Mesh8,
        "all_nodes_rss_mib",
        "mesh of 8: peak RSS of all nodes MiB",
    ),
    (
        Workload::Sessions1,
        "msgs_per_s",
        "1 sessions: casts msgs/s",
    ),
    (Workload::Sessions1, "p50_us", "1 sessions: call p50 us"),
    (Workload::Sessions1, "calls_per_s", "1 sessions: calls/s"),
    (
        Workload::Sessions1,
        "receiver_rss_mib",
        "1 sessions: sink peak RSS MiB",
    ),
    (
        Workload::Sessions8,
        "msgs_per_s",
        "8 sessions: casts msgs/s",
    ),
    (Workload::Sessions8, "p50_us", "8 sessions: call p50 us"),
    (Workload::Sessions8, "calls_per_s", "8 sessions: calls/s"),
    (
        Workload::Sessions8,
        "receiver_rss_mib",
        "8 sessions: sink peak RSS MiB",
    ),
    (
        Workload::Sessions64,
        "msgs_per_s",
        "64 sessions: casts msgs/s",
    ),
    (Workload::Sessions64, "p50_us", "64 sessions: call p50 us"),
    (Workload::Sessions64, "calls_per_s", "64 sessions: calls/s"),
    (
        Workload::Sessions64,
        "receiver_rss_mib",
        "64 sessions: sink peak RSS MiB",
    ),
];

/// Workloads whose CPU time gets a row per process.
const CPU: &[Workload] = &[
    Workload::CastThroughput,
    Workload::CallLatency,
    Workload::CallConcurrent,
    Workload::ConnectTime,
    Workload::Payload1k,
    Workload::Payload64k,
    Workload::Payload1m,
    Workload::FanIn,
    Workload::CastThroughputTls,
    Workload::CallLatencyTls,
];

/// For each compared figure both systems have: its label and how many times
/// better ractor_grpc is (median against median; above 1, ractor_grpc is
/// better: a rate higher, a time or a size lower).
pub(crate) fn advantages(results: &Results) -> Vec<(&'static str, f64)> {
    COMPARED
        .iter()
        .filter_map(|&(workload, figure, label)| {
            let median =
                |s| Spread::of(results.values(workload, Some(s), figure)).map(|m| m.median);
            let (grpc, cluster) = (median(System::Grpc)?, median(System::Cluster)?);
            if grpc <= 0.0 || cluster <= 0.0 {
                return None;
            }
            let higher_is_better = figure.contains("per_s");
            Some((
                label,
                if higher_is_better {
                    grpc / cluster
                } else {
                    cluster / grpc
                },
            ))
        })
        .collect()
}

/// Renders the table (Markdown, aligned).
pub(crate) fn table(results: &Results) -> String {
    let grpc = Some(System::Grpc);
    let cluster = Some(System::Cluster);
    let spread = |w, s, f: &str| Spread::of(results.values(w, s, f));
    let cell = |s: Option<Spread>| s.map_or_else(|| "-".to_owned(), Spread::cell);
    let mut rows: Vec<[String; 4]> = Vec::new();
    let mut compare = |label: String, a: Option<Spread>, b: Option<Spread>| {
        rows.push([label, cell(a), cell(b), ratio(a, b)]);
    };
    for &(workload, figure, label) in COMPARED {
        compare(
            label.to_owned(),
            spread(workload, grpc, figure),
            spread(workload, cluster, figure),
        );
    }
    for &workload in CPU {
        for role in ["sender", "receiver"] {
            let figure = format!("{role}_cpu_s");
            compare(
                format!("cpu s {workload} {role}"),
                spread(workload, grpc, &figure),
                spread(workload, cluster, &figure),
            );
        }
    }

    // References, and each system against them.
    let ceiling = spread(Workload::Ceiling, None, "msgs_per_s");
    let floor_p50 = spread(Workload::Floor, None, "p50_us");
    let reference = |label: &str, value: Option<Spread>| {
        [
            label.to_owned(),
            cell(value),
            "(reference)".to_owned(),
            "-".to_owned(),
        ]
    };
    rows.push(reference("ceiling: local ractor cast msgs/s", ceiling));
    rows.push(reference("floor: tonic bidi ping-pong p50 us", floor_p50));
    rows.push(reference(
        "floor: tonic bidi ping-pong p99 us",
        spread(Workload::Floor, None, "p99_us"),
    ));
    let cast = |s| spread(Workload::CastThroughput, s, "msgs_per_s");
    let p50 = |s| spread(Workload::CallLatency, s, "p50_us");
    let cast_tls = |s| spread(Workload::CastThroughputTls, s, "msgs_per_s");
    let p50_tls = |s| spread(Workload::CallLatencyTls, s, "p50_us");
    // Each system against a reference or against itself.
    let mut relative = |label: &str, of: &dyn Fn(Option<System>) -> String| {
        rows.push([label.to_owned(), of(grpc), of(cluster), "-".to_owned()]);
    };
    relative("cast_throughput / ceiling", &|s| ratio(cast(s), ceiling));
    relative("call_latency p50 / floor p50", &|s| {
        ratio(p50(s), floor_p50)
    });
    relative("cast_throughput mTLS / plaintext", &|s| {
        ratio(cast_tls(s), cast(s))
    });
    relative("call_latency p50 mTLS / plaintext", &|s| {
        ratio(p50_tls(s), p50(s))
    });
    // `send` has no ractor_cluster counterpart: its burst against
    // ractor_cluster's plain cast burst.
    let send_rss = spread(Workload::SendThroughput, grpc, "sender_rss_mib");
    let cast_rss = |s| spread(Workload::CastThroughput, s, "sender_rss_mib");
    rows.push([
        "send_throughput sender peak RSS / ractor_cluster cast_throughput's".to_owned(),
        ratio(send_rss, cast_rss(cluster)),
        "-".to_owned(),
        "-".to_owned(),
    ]);
    // Leave out the rows of workloads that did not run.
    rows.retain(|r| r[1] != "-" || (r[2] != "-" && r[2] != "(reference)"));

    let header = [
        "figure".to_owned(),
        "ractor_grpc (median [min..max])".to_owned(),
        "ractor_cluster (median [min..max])".to_owned(),
        "ratio grpc/cluster".to_owned(),
    ];
    let widths: Vec<usize> = (0..4)
        .map(|i| {
            rows.iter()
                .chain(std::iter::once(&header))
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |r: &[String; 4]| {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i == 0 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        format!("| {} |\n", cells.join(" | "))
    };
    let mut out = line(&header);
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i == 0 {
                "-".repeat(*w)
            } else {
                format!("{}:", "-".repeat(w - 1))
            }
        })
        .collect();
    out.push_str(&format!("| {} |\n", rule.join(" | ")));
    for row in &rows {
        out.push_str(&line(row));
    }
    out
}
