//! Scenario 1 of the reliability suite (RELIABILITY.md): five nodes in
//! transitive mode, separate processes on hosts of their own, converge to
//! one view — every node has a ready session with every other and the same
//! pg groups — within a measured time; and again after one of them is
//! killed and restarted on its address as a new incarnation.

mod common;

use std::time::{Duration, Instant};

use common::{cluster::Cluster, fast_liveness, workers};

const NAMES: [&str; 5] = ["n1", "n2", "n3", "n4", "n5"];
/// How long convergence may take before the test gives up (it reports the
/// time it took; the bound only keeps a broken run from hanging).
const WITHIN: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_transitive_nodes_converge_and_converge_again_after_a_restart() {
    let mut cluster = Cluster::new(&NAMES, "converge-cookie");
    println!("network: {}", cluster.network());
    let mut flags = fast_liveness();
    flags.extend(["--mode", "transitive"]);
    let started = Instant::now();
    cluster.start("n1", &flags);
    let seed = cluster.addr("n1");
    // Each of the others knows only n1; transitive introductions do the rest.
    let mut joining = flags.clone();
    joining.extend(["--connect", seed.as_str()]);
    for name in &NAMES[1..] {
        cluster.start(name, &joining);
    }
    let everyone = workers(&NAMES);
    let first = cluster
        .converge(WITHIN, &everyone)
        .await
        .unwrap_or_else(|e| panic!("the five nodes never agreed: {e}"));
    println!(
        "converged: 5 nodes, 20 ready sessions (10 links), group workers with 5 members, \
         {} ms after the first start ({} ms after the last)",
        started.elapsed().as_millis(),
        first.as_millis()
    );

    // n3 dies and comes back on its address; the others drop it (their
    // groups lose its member) and take the new incarnation back in.
    cluster.crash("n3");
    let without: Vec<&str> = NAMES.iter().copied().filter(|n| *n != "n3").collect();
    let lost = cluster
        .converge(WITHIN, &workers(&without))
        .await
        .unwrap_or_else(|e| panic!("the four survivors never agreed without n3: {e}"));
    let restarted = Instant::now();
    cluster.restart("n3");
    let back = cluster
        .converge(WITHIN, &everyone)
        .await
        .unwrap_or_else(|e| panic!("n3's new incarnation never got back in: {e}"));
    println!(
        "after SIGKILL of n3: survivors agreed in {} ms; after its restart on {}: all five \
         agreed again in {} ms ({} ms from the restart)",
        lost.as_millis(),
        cluster.addr("n3"),
        back.as_millis(),
        restarted.elapsed().as_millis()
    );
}
