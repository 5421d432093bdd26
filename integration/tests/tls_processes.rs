//! Mutual TLS between two `node` processes configured as an operator
//! would: certificate files named in a config file for one, by flags for
//! the other; a node without a certificate is turned away.

mod common;

use std::{path::PathBuf, time::Duration};

use common::NodeProcess;
use integration::pki::Pki;

const WAIT: Duration = Duration::from_secs(10);

/// A scratch directory for certificate files, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("tls-processes-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temp dir");
        Self(dir)
    }

    /// Writes `text` to `name`; its path as text.
    fn write(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("written");
        path.to_str().expect("UTF-8").to_owned()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn two_processes_speak_mutual_tls_from_files_and_flags() {
    let dir = Dir::new();
    let pki = Pki::new("tls processes CA").expect("a CA");
    let ca = dir.write("ca.pem", pki.ca_pem());
    let issue = |name: &str| {
        let issued = pki.issue(&["127.0.0.1", "localhost"]).expect("issued");
        (
            dir.write(&format!("{name}.pem"), &issued.cert_pem),
            dir.write(&format!("{name}.key"), &issued.key_pem),
        )
    };
    let (a_cert, a_key) = issue("a");
    let (b_cert, b_key) = issue("b");
    // node-a: its TLS settings from a config file.
    let config = dir.write(
        "a.toml",
        &format!(
            "tls_cert = {a_cert:?}\ntls_key = {a_key:?}\ntls_ca = {ca:?}\n\
             require_client_cert = true\n"
        ),
    );
    let a = NodeProcess::start("tls-a", "tls-cookie", &["--config", &config]);
    // node-b: the same by flags.
    let mut b = NodeProcess::start(
        "tls-b",
        "tls-cookie",
        &[
            "--tls-cert",
            &b_cert,
            "--tls-key",
            &b_key,
            "--tls-ca",
            &ca,
            "--connect",
            &a.addr,
        ],
    );
    b.wait_line(WAIT, "ready with tls-a");

    // A node without TLS is told why it cannot get in (and tries again).
    let mut plain = NodeProcess::start("tls-c", "tls-cookie", &["--connect", &a.addr]);
    let line = plain.wait_line(WAIT, "tls-c] will dial");
    assert!(line.contains("TLS"), "{line}");
    b.terminate();
    plain.terminate();
}
