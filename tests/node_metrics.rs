//! What a node reports through the `metrics` facade, read in-process with a
//! debugging recorder (the Prometheus scrape across processes is in
//! `integration/tests/metrics.rs`).

mod common;

use std::{collections::HashMap, sync::Mutex};

use common::{WAIT, eventually, pair};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

/// A metric's name and its sorted labels.
type Series = (String, Vec<(String, String)>);

/// What the recorder has seen. A debugging snapshot drains counters, so
/// they are summed here across snapshots; gauges keep their last value.
struct Seen {
    snapshotter: Snapshotter,
    values: Mutex<HashMap<Series, f64>>,
}

impl Seen {
    /// The value of metric `name` with exactly these labels, if reported.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut values = self.values.lock().expect("values");
        for (key, _, _, value) in self.snapshotter.snapshot().into_vec() {
            let key = key.key();
            let mut labels: Vec<(String, String)> = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            labels.sort_unstable();
            let entry = values.entry((key.name().to_owned(), labels)).or_default();
            match value {
                DebugValue::Counter(n) => *entry += n as f64,
                DebugValue::Gauge(g) => *entry = g.into_inner(),
                DebugValue::Histogram(h) => *entry += h.len() as f64,
            }
        }
        let mut want: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        want.sort_unstable();
        values.get(&(name.to_owned(), want)).copied()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_node_counts_its_sessions_closed_and_none_ready() {
    let recorder = DebuggingRecorder::new();
    let seen = Seen {
        snapshotter: recorder.snapshotter(),
        values: Mutex::default(),
    };
    recorder
        .install()
        .expect("the only recorder of this test binary");

    let (mut a, mut b) = pair().await;
    let ready_a = [("node", "node-a"), ("state", "ready")];
    let counted = eventually(WAIT, || async {
        seen.value("ractor_grpc_sessions", &ready_a) == Some(1.0)
    })
    .await;
    assert!(counted, "node-a never reported its ready session");

    a.stop().await;
    // Reported by the time the node has stopped.
    assert_eq!(seen.value("ractor_grpc_sessions", &ready_a), Some(0.0));
    let closed_a = [("node", "node-a"), ("cause", "stopped"), ("side", "local")];
    assert_eq!(
        seen.value("ractor_grpc_sessions_closed_total", &closed_a),
        Some(1.0)
    );
    // The other side saw the peer stop.
    let closed_b = [("node", "node-b"), ("cause", "stopped"), ("side", "peer")];
    let seen = eventually(WAIT, || async {
        seen.value("ractor_grpc_sessions_closed_total", &closed_b) == Some(1.0)
    })
    .await;
    assert!(seen, "node-b never counted the session node-a closed");
    b.stop().await;
}
