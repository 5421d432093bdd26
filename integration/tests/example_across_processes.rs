//! The issue's example between two OS processes, and a call past its
//! timeout seen from outside.

mod common;

use std::process::Command;

use common::NodeProcess;

#[test]
fn the_issue_example_works_between_two_processes() {
    let bin = env!("CARGO_BIN_EXE_example_pair");
    let mut serve = Command::new(bin);
    serve.args(["serve", "--name", "proc-server"]);
    let server = NodeProcess::launch("proc-server", serve);
    let output = Command::new(bin)
        .args(["use", "--name", "proc-client", "--connect", &server.addr])
        .output()
        .expect("client runs");
    drop(server);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "client failed: {text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains(r#"replied ["got 7", "and -3", "after 2 casts"]"#),
        "{text}"
    );
    assert!(
        text.contains(r#"saw casts [("hello", 1), ("world", 2)]"#),
        "{text}"
    );
    // A callee slower than the timeout is a timeout, every time, either way
    // the caller calls.
    let five = "Timeout Timeout Timeout Timeout Timeout";
    assert!(
        text.contains(&format!("ractor_grpc::call {five}; ActorRef::call {five}")),
        "{text}"
    );
}
