//! Backpressure across processes (README, "Flow control"): a sender floods
//! a consumer whose process is frozen (SIGSTOP), so nothing is read on the
//! other end of the session and the sender's queue fills. What must hold:
//! - plain casts past the queue limit are refused and counted
//!   (`overflowed`), the session never holds more than the limit, and once
//!   the consumer runs again every cast the session took arrives, in order,
//!   none twice. (What the sender's process holds besides is the proxy's
//!   mailbox, which a tight loop of casts outruns at CPU speed whatever the
//!   network does; the test prints it.)
//! - `ractor_grpc::send` waits for room instead: the sender is held back
//!   while the consumer is frozen, nothing is refused, everything arrives in
//!   order, and the sender's memory stays flat.

mod common;

use std::time::Duration;

use common::{FLOOD, cluster::Cluster};
use serde_json::Value;

/// The sender's queue limit: small, so the flood is many times larger.
const QUEUE_LIMIT: u64 = 256 * 1024;
/// Casts in the flood: about 36 bytes each encoded, so some 10 MiB, more
/// than the HTTP/2 windows (4 MiB) and the queue limit together hold.
const CASTS: u64 = 300_000;

struct Run {
    summary: Value,
    network: String,
}

fn field(s: &Value, k: &str) -> u64 {
    s[k].as_u64().unwrap_or_else(|| panic!("no {k}: {s}"))
}

/// Floods a frozen consumer, `--send` or not, and thaws it once `frozen_until`
/// shows in the sender's output. Returns the sender's summary.
fn flood_a_frozen_consumer(send: bool, frozen_until: &str) -> Run {
    let mut cluster = Cluster::new(&["recv", "flood"], "bp-cookie");
    let network = cluster.network();
    println!("network: {network}");
    cluster.start("recv", &["--join", "workers", "--demo-actors"]);
    let recv_addr = cluster.addr("recv");
    let go = tempfile_path(if send { "go-send" } else { "go-cast" });
    let (count, limit) = (CASTS.to_string(), QUEUE_LIMIT.to_string());
    let mut args = vec![
        "--connect",
        recv_addr.as_str(),
        "--target",
        "recv",
        "--count",
        count.as_str(),
        "--queue-limit",
        limit.as_str(),
        "--go-file",
        go.to_str().expect("a UTF-8 path"),
    ];
    if send {
        args.push("--send");
    }
    cluster.start_program("flood", Some(FLOOD), &args);
    cluster
        .node_mut("flood")
        .wait_line(Duration::from_secs(30), "waiting for");
    cluster.node("recv").freeze();
    std::fs::write(&go, b"go").expect("the go file");
    cluster
        .node_mut("flood")
        .wait_line(Duration::from_secs(60), frozen_until);
    cluster.node("recv").thaw();
    let line = cluster
        .node_mut("flood")
        .wait_line(Duration::from_secs(120), "flood-summary ");
    let _ = std::fs::remove_file(&go);
    let summary: Value = serde_json::from_str(
        line.split_once("flood-summary ")
            .map(|(_, json)| json)
            .expect("a summary"),
    )
    .expect("JSON summary");
    println!("{summary}");
    Run { summary, network }
}

fn tempfile_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ractor-grpc-bp-{}-{name}", std::process::id()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_casts_past_the_queue_limit_are_refused_counted_and_the_rest_arrive_in_order() {
    // The sender's proxy has taken every cast from its mailbox (into the
    // session, or refused) while the consumer is still frozen.
    let Run {
        summary: s,
        network,
    } = flood_a_frozen_consumer(false, "the session took");
    assert_eq!(field(&s, "sent"), CASTS, "{s}");
    let taken = field(&s, "session_sent");
    // The session's count of refusals includes the sender's own calls that
    // met the full queue (each failed with CallError::Overloaded).
    let overflowed = field(&s, "overflowed") - field(&s, "calls_overloaded");
    assert!(
        overflowed > 0,
        "a flood larger than the windows and the limit overflows: {s}"
    );
    assert_eq!(
        taken + overflowed,
        CASTS,
        "every cast taken or counted: {s}"
    );
    assert_eq!(
        field(&s, "received"),
        taken,
        "every cast taken arrived: {s}"
    );
    assert_eq!(
        s["in_order"],
        Value::Bool(true),
        "in order, none twice: {s}"
    );
    // The session held the limit at most (a check lets one envelope in when
    // just under it).
    let queued = field(&s, "queued_peak_bytes");
    assert!(queued > 0, "the queue filled: {s}");
    assert!(queued <= QUEUE_LIMIT + 64, "queued {queued} bytes: {s}");
    let grew_kib = field(&s, "rss_peak_kib").saturating_sub(field(&s, "rss_start_kib"));
    println!(
        "[{network}] sender rss grew {grew_kib} KiB (the proxy's mailbox); at most {queued} bytes \
         queued; {taken} casts taken, {overflowed} refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_waits_for_room_while_the_consumer_is_frozen_and_nothing_is_refused() {
    let Run {
        summary: s,
        network,
    } = flood_a_frozen_consumer(true, "send waiting for room");
    assert_eq!(field(&s, "sent"), CASTS, "{s}");
    assert_eq!(field(&s, "overflowed"), 0, "send is never refused: {s}");
    assert_eq!(field(&s, "session_sent"), CASTS, "{s}");
    assert_eq!(field(&s, "received"), CASTS, "everything arrived: {s}");
    assert_eq!(
        s["in_order"],
        Value::Bool(true),
        "in order, none twice: {s}"
    );
    assert!(
        field(&s, "max_send_wait_ms") >= 100,
        "the sender was held back: {s}"
    );
    // Senders wait once a quarter of the limit is held; one more envelope
    // may slip in per waiting sender, and control traffic is not counted out.
    let queued = field(&s, "queued_peak_bytes");
    assert!(
        queued <= QUEUE_LIMIT / 4 + 1024,
        "queued {queued} bytes: {s}"
    );
    // The flood is some 10 MiB encoded and 45 MiB as boxed messages in the
    // proxy's mailbox; a sender that waits holds neither.
    let grew_kib = field(&s, "rss_peak_kib").saturating_sub(field(&s, "rss_start_kib"));
    println!(
        "[{network}] sender rss grew {grew_kib} KiB; at most {queued} bytes queued; longest wait \
         {} ms",
        field(&s, "max_send_wait_ms")
    );
    assert!(
        grew_kib < 8 * 1024,
        "the sender's memory grew {grew_kib} KiB: {s}"
    );
}
