//! The workloads of issue 5 and their sizes.

use std::{fmt, time::Duration};

/// One measured scenario. Each (system, workload, run) gets fresh processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub(crate) enum Workload {
    /// A burst of small casts, timed until `TakeStats` confirms all arrived.
    CastThroughput,
    /// The same burst sent with `ractor_grpc::send`, which waits for room
    /// on the session (ractor_grpc only).
    SendThroughput,
    /// Sequential `Echo` calls.
    CallLatency,
    /// `Echo` calls from many concurrent callers.
    CallConcurrent,
    /// Connect until the sink is visible in pg.
    ConnectTime,
    /// Casts of 1 KiB payloads.
    #[value(name = "payload_1k")]
    Payload1k,
    /// Casts of 64 KiB payloads.
    #[value(name = "payload_64k")]
    Payload64k,
    /// Casts of 1 MiB payloads.
    #[value(name = "payload_1m")]
    Payload1m,
    /// Several sender processes casting to one sink.
    FanIn,
    /// `CastThroughput` between nodes that serve and dial mutual TLS.
    CastThroughputTls,
    /// `CallLatency` between nodes that serve and dial mutual TLS.
    CallLatencyTls,
    /// The cast burst to a sink in the same process: plain local ractor.
    Ceiling,
    /// Bare tonic ping-pong over one bidi stream.
    Floor,
    /// Connect to a node advertising 1,000 actors (1% in pg groups) until
    /// every grouped one is visible.
    #[value(name = "advertise_1k")]
    Advertise1k,
    /// The same with 10,000 actors.
    #[value(name = "advertise_10k")]
    Advertise10k,
    /// The same with 100,000 actors.
    #[value(name = "advertise_100k")]
    Advertise100k,
    /// A pg join on one node until 1 connected peer sees it.
    #[value(name = "pg_join_1")]
    PgJoin1,
    /// A pg join on one node until all 7 connected peers see it.
    #[value(name = "pg_join_7")]
    PgJoin7,
    /// 4 processes meet through one in transitive mode.
    #[value(name = "mesh_4")]
    Mesh4,
    /// 8 processes meet through one in transitive mode.
    #[value(name = "mesh_8")]
    Mesh8,
    /// Casts and calls over 1 session to the sink.
    #[value(name = "sessions_1")]
    Sessions1,
    /// Casts and calls shared over 8 sessions to the sink.
    #[value(name = "sessions_8")]
    Sessions8,
    /// Casts and calls shared over 64 sessions to the sink.
    #[value(name = "sessions_64")]
    Sessions64,
}

impl Workload {
    /// Every workload, in the order they run and print.
    pub(crate) const ALL: [Self; 23] = [
        Self::CastThroughput,
        Self::SendThroughput,
        Self::CallLatency,
        Self::CallConcurrent,
        Self::ConnectTime,
        Self::Payload1k,
        Self::Payload64k,
        Self::Payload1m,
        Self::FanIn,
        Self::CastThroughputTls,
        Self::CallLatencyTls,
        Self::Ceiling,
        Self::Floor,
        Self::Advertise1k,
        Self::Advertise10k,
        Self::Advertise100k,
        Self::PgJoin1,
        Self::PgJoin7,
        Self::Mesh4,
        Self::Mesh8,
        Self::Sessions1,
        Self::Sessions8,
        Self::Sessions64,
    ];

    /// The name used in flags, `--only` and progress lines.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::CastThroughput => "cast_throughput",
            Self::SendThroughput => "send_throughput",
            Self::CallLatency => "call_latency",
            Self::CallConcurrent => "call_concurrent",
            Self::ConnectTime => "connect_time",
            Self::Payload1k => "payload_1k",
            Self::Payload64k => "payload_64k",
            Self::Payload1m => "payload_1m",
            Self::FanIn => "fan_in",
            Self::CastThroughputTls => "cast_throughput_tls",
            Self::CallLatencyTls => "call_latency_tls",
            Self::Ceiling => "ceiling",
            Self::Floor => "floor",
            Self::Advertise1k => "advertise_1k",
            Self::Advertise10k => "advertise_10k",
            Self::Advertise100k => "advertise_100k",
            Self::PgJoin1 => "pg_join_1",
            Self::PgJoin7 => "pg_join_7",
            Self::Mesh4 => "mesh_4",
            Self::Mesh8 => "mesh_8",
            Self::Sessions1 => "sessions_1",
            Self::Sessions8 => "sessions_8",
            Self::Sessions64 => "sessions_64",
        }
    }

    /// The peers a pg join must reach (the pg_join workloads).
    pub(crate) fn join_peers(self) -> Option<usize> {
        match self {
            Self::PgJoin1 => Some(1),
            Self::PgJoin7 => Some(7),
            _ => None,
        }
    }

    /// The nodes of a mesh workload.
    pub(crate) fn mesh_nodes(self) -> Option<usize> {
        match self {
            Self::Mesh4 => Some(4),
            Self::Mesh8 => Some(8),
            _ => None,
        }
    }

    /// The sessions to the sink of a sessions workload.
    pub(crate) fn sessions(self) -> Option<usize> {
        match self {
            Self::Sessions1 => Some(1),
            Self::Sessions8 => Some(8),
            Self::Sessions64 => Some(64),
            _ => None,
        }
    }

    /// Runs once per run whatever `--system` says (no cluster involved).
    pub(crate) fn is_reference(self) -> bool {
        matches!(self, Self::Ceiling | Self::Floor)
    }

    /// Runs for ractor_grpc only (ractor_cluster has no counterpart).
    pub(crate) fn grpc_only(self) -> bool {
        self == Self::SendThroughput
    }

    /// Whether the nodes serve and dial mutual TLS.
    pub(crate) fn over_tls(self) -> bool {
        matches!(self, Self::CastThroughputTls | Self::CallLatencyTls)
    }

    /// What the driver runs: a TLS workload's plaintext counterpart (the
    /// same loop; only the nodes' settings differ), otherwise itself.
    pub(crate) fn plain(self) -> Self {
        match self {
            Self::CastThroughputTls => Self::CastThroughput,
            Self::CallLatencyTls => Self::CallLatency,
            other => other,
        }
    }

    /// Parses one `--only` entry; `payload` names the three payload sizes,
    /// `tls` the TLS workloads, `advertise` the three advertise sizes,
    /// `pg_join`, `mesh` and `sessions` theirs, `scale` all of those.
    pub(crate) fn parse_many(name: &str) -> Option<Vec<Self>> {
        match name {
            "payload" => return Some(vec![Self::Payload1k, Self::Payload64k, Self::Payload1m]),
            "tls" => return Some(vec![Self::CastThroughputTls, Self::CallLatencyTls]),
            "advertise" => {
                return Some(vec![
                    Self::Advertise1k,
                    Self::Advertise10k,
                    Self::Advertise100k,
                ]);
            }
            "pg_join" => return Some(vec![Self::PgJoin1, Self::PgJoin7]),
            "mesh" => return Some(vec![Self::Mesh4, Self::Mesh8]),
            "sessions" => return Some(vec![Self::Sessions1, Self::Sessions8, Self::Sessions64]),
            "scale" => {
                let mut all = Self::parse_many("advertise")?;
                for family in ["pg_join", "mesh", "sessions"] {
                    all.extend(Self::parse_many(family)?);
                }
                return Some(all);
            }
            _ => {}
        }
        Self::ALL
            .into_iter()
            .find(|w| w.name() == name)
            .map(|w| vec![w])
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How much work each workload does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    /// Casts in `cast_throughput` and `ceiling`.
    pub(crate) casts: u64,
    /// Bytes of each `cast_throughput` payload.
    pub(crate) cast_payload: usize,
    /// Sequential calls in `call_latency`, and round trips in `floor`.
    pub(crate) calls: u64,
    /// Unmeasured calls before `call_latency`, `call_concurrent` and `floor`.
    pub(crate) warmup_calls: u64,
    /// Calls in all in `call_concurrent`.
    pub(crate) concurrent_calls: u64,
    /// Concurrent callers in `call_concurrent`.
    pub(crate) concurrency: u64,
    /// Connects per `connect_time` run.
    pub(crate) connect_samples: usize,
    /// Casts of the 1 KiB, 64 KiB and 1 MiB payloads.
    pub(crate) payload_counts: [u64; 3],
    /// Sender processes in `fan_in`.
    pub(crate) fan_in_senders: u64,
    /// Casts per sender in `fan_in`.
    pub(crate) fan_in_casts: u64,
    /// Actors the sink advertises in `advertise_1k`, `_10k` and `_100k`.
    pub(crate) advertised: [u64; 3],
    /// Joins timed in each pg_join run.
    pub(crate) joins: u64,
    /// Casts, then calls, shared over the sessions of a sessions workload.
    pub(crate) session_casts: u64,
    /// See `session_casts`.
    pub(crate) session_calls: u64,
    /// Longest a child may take for one step before it is killed.
    pub(crate) step_timeout: Duration,
}

impl Sizes {
    /// The sizes of issue 5 (payload and fan-in counts chosen so each run
    /// takes about 0.5-2 s here).
    pub(crate) const FULL: Self = Self {
        casts: 200_000,
        cast_payload: 32,
        calls: 20_000,
        warmup_calls: 200,
        concurrent_calls: 20_000,
        concurrency: 64,
        connect_samples: 5,
        payload_counts: [200_000, 5_000, 500],
        fan_in_senders: 3,
        fan_in_casts: 100_000,
        advertised: [1_000, 10_000, 100_000],
        joins: 30,
        session_casts: 200_000,
        session_calls: 20_000,
        step_timeout: Duration::from_secs(180),
    };

    /// Tiny sizes for CI: everything runs, nothing is measured seriously.
    pub(crate) const SMOKE: Self = Self {
        casts: 2_000,
        cast_payload: 32,
        calls: 200,
        warmup_calls: 20,
        concurrent_calls: 640,
        concurrency: 64,
        connect_samples: 5,
        payload_counts: [200, 20, 4],
        fan_in_senders: 3,
        fan_in_casts: 1_000,
        advertised: [100, 300, 1_000],
        joins: 3,
        session_casts: 2_000,
        session_calls: 640,
        step_timeout: Duration::from_secs(60),
    };

    /// How many actors the sink advertises in `workload` (0 but for the
    /// advertise workloads).
    pub(crate) fn advertised_of(&self, workload: Workload) -> u64 {
        match workload {
            Workload::Advertise1k => self.advertised[0],
            Workload::Advertise10k => self.advertised[1],
            Workload::Advertise100k => self.advertised[2],
            _ => 0,
        }
    }

    /// (casts, payload bytes) of a cast workload.
    pub(crate) fn casts_of(&self, workload: Workload) -> Option<(u64, usize)> {
        match workload {
            Workload::CastThroughput | Workload::SendThroughput | Workload::Ceiling => {
                Some((self.casts, self.cast_payload))
            }
            Workload::Payload1k => Some((self.payload_counts[0], 1 << 10)),
            Workload::Payload64k => Some((self.payload_counts[1], 64 << 10)),
            Workload::Payload1m => Some((self.payload_counts[2], 1 << 20)),
            Workload::FanIn => Some((self.fan_in_casts, self.cast_payload)),
            _ => None,
        }
    }
}
