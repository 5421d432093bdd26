//! The issue's example between two OS processes.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::mpsc,
    time::Duration,
};

#[test]
fn the_issue_example_works_between_two_processes() {
    let bin = env!("CARGO_BIN_EXE_example_pair");
    let mut server = Command::new(bin)
        .args(["serve", "--name", "proc-server"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("server starts");
    let stdout = server.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("listening line");
        if let Some(addr) = line.strip_prefix("[proc-server] listening on ") {
            break addr.to_owned();
        }
    };
    let output = Command::new(bin)
        .args(["use", "--name", "proc-client", "--connect", &addr])
        .output()
        .expect("client runs");
    let _ = server.kill();
    let _ = server.wait();
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
}
