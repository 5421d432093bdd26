//! What a node reports through the `metrics` facade, read in-process with a
//! recorder of its own (the Prometheus scrape across processes is in
//! `integration/tests/metrics.rs`).

mod common;

use std::sync::{Arc, atomic::Ordering};

use common::{WAIT, eventually, pair};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_util::registry::{AtomicStorage, Registry};

/// Keeps every counter and gauge as the node left it, readable at any time
/// (metrics-util's debugging recorder drains them on each read).
#[derive(Clone)]
struct Kept(Arc<Registry<Key, AtomicStorage>>);

impl Recorder for Kept {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.0
            .get_or_create_counter(key, |c| Counter::from_arc(c.clone()))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.0
            .get_or_create_gauge(key, |g| Gauge::from_arc(g.clone()))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.0
            .get_or_create_histogram(key, |h| Histogram::from_arc(h.clone()))
    }
}

impl Kept {
    /// The counter or gauge `name` with exactly these labels, if reported.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let matches = |key: &Key| {
            let mut got: Vec<(&str, &str)> = key.labels().map(|l| (l.key(), l.value())).collect();
            let mut want = labels.to_vec();
            got.sort_unstable();
            want.sort_unstable();
            key.name() == name && got == want
        };
        let counter = self
            .0
            .get_counter_handles()
            .into_iter()
            .find(|(k, _)| matches(k));
        if let Some((_, c)) = counter {
            return Some(c.load(Ordering::SeqCst) as f64);
        }
        let gauge = self
            .0
            .get_gauge_handles()
            .into_iter()
            .find(|(k, _)| matches(k));
        gauge.map(|(_, g)| f64::from_bits(g.load(Ordering::SeqCst)))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_node_counts_its_sessions_closed_and_none_ready() {
    let seen = Kept(Arc::new(Registry::atomic()));
    metrics::set_global_recorder(seen.clone()).expect("the only recorder of this test binary");

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
