//! Every log line of a session runs inside the session's span, which names
//! the node, the session, the direction and (once proved) the peer and its
//! incarnation; the handshake and the sync are spans of their own under it.
//!
//! One test in this binary: it installs a process-wide subscriber that
//! records every ractor_grpc event with the spans it ran in.

mod common;

use common::{
    WAIT, eventually, peer,
    peer::ready_peer,
    spans::{Recorder, field},
};
use tracing::Level;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sessions_lines_run_in_its_span_with_the_peer_and_its_phases() {
    let recorder = Recorder::install(Level::DEBUG);

    // Two real nodes: node-b dials node-a.
    let mut a = common::start("node-a").await;
    let mut b = common::start("node-b").await;
    ractor_grpc::connect(&b.actor, &a.addr)
        .await
        .expect("node-b connects");

    // Each side's "ready" runs in its session's span, which names both
    // ends, the direction and the peer's incarnation.
    let ready_in_b = || recorder.lines("node-b", "ready");
    assert!(eventually(WAIT, || async { !ready_in_b().is_empty() }).await);
    let b_session = ready_in_b()[0]
        .span("session")
        .cloned()
        .expect("in a session span");
    assert_eq!(field(&b_session, "peer"), "node-a", "{b_session:?}");
    assert_eq!(field(&b_session, "direction"), "Outbound", "{b_session:?}");
    assert!(
        field(&b_session, "incarnation")
            .parse::<u64>()
            .is_ok_and(|i| i != 0),
        "{b_session:?}"
    );
    assert!(
        eventually(WAIT, || async {
            !recorder.lines("node-a", "ready").is_empty()
        })
        .await
    );
    let a_session = recorder.lines("node-a", "ready")[0]
        .span("session")
        .cloned()
        .expect("span");
    assert_eq!(field(&a_session, "peer"), "node-b", "{a_session:?}");
    assert_eq!(field(&a_session, "direction"), "Inbound", "{a_session:?}");
    // "authenticated" too, in the same session.
    let authenticated = recorder.lines("node-a", "authenticated");
    assert!(
        authenticated.iter().any(|l| l
            .span("session")
            .is_some_and(|f| f.get("session") == a_session.get("session"))),
        "{authenticated:?}"
    );
    // The handshake and the sync were spans of their own, closed by now.
    for (node, peer) in [("node-a", "node-b"), ("node-b", "node-a")] {
        let phases = recorder.closed_phases(node, peer);
        assert!(
            phases.contains(&"handshake".to_owned()),
            "{node}: {phases:?}"
        );
        assert!(phases.contains(&"sync".to_owned()), "{node}: {phases:?}");
    }

    // A line the reader task logs (a cast for an actor node-a does not
    // have) runs in the session of the peer that sent it.
    let (mut scripted, _) = ready_peer(&mut a, "scripted-x", vec![]).await;
    scripted
        .send(vec![peer::cast(987_654, "Nope", vec![])])
        .await
        .expect("the cast is sent");
    let dropped = || recorder.lines("node-a", "dropping a cast for an unknown actor");
    assert!(eventually(WAIT, || async { !dropped().is_empty() }).await);
    let span = dropped()[0].span("session").cloned().expect("span");
    assert_eq!(field(&span, "peer"), "scripted-x", "{span:?}");

    // The end is logged in the session's span too.
    b.stop().await;
    let disconnected = || recorder.lines("node-a", "disconnected");
    assert!(
        eventually(WAIT, || async {
            disconnected().iter().any(|l| {
                l.span("session")
                    .is_some_and(|f| field(f, "peer") == "node-b")
            })
        })
        .await,
        "{:?}",
        disconnected()
    );
    scripted.close();
    a.stop().await;
}
