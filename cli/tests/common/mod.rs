//! Runs `ractor-grpc-node` processes for the CLI's tests (ported from the
//! integration crate's `tests/common`, trimmed to what these tests need).

#![allow(dead_code, unreachable_pub)]

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

/// The CLI binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_ractor-grpc-node");

/// How long a step may take before a test gives up.
pub const WAIT: Duration = Duration::from_secs(20);

/// The CLI with `args`, in an environment without any `RACTOR_GRPC_*`
/// variable of the test's own, logging warnings only.
pub fn cli(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("RACTOR_GRPC_") {
            command.env_remove(var);
        }
    }
    command.args(args).env("RUST_LOG", "warn");
    command
}

/// Runs `command` to its end (at most [`WAIT`]) and returns what it printed.
pub fn output(mut command: Command) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the CLI starts");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    rx.recv_timeout(WAIT)
        .expect("the CLI ends in time")
        .expect("its output")
}

/// A scratch directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new, empty directory named after `label` and this process.
    pub fn new(label: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("ractor-grpc-node-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temp dir");
        Self(dir)
    }

    /// Writes `text` to `name` in the directory; its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("written");
        path
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `ractor-grpc-node run`; killed when dropped.
pub struct NodeProcess {
    pub name: String,
    pub addr: String,
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl NodeProcess {
    /// Starts `command` (a `run`) and waits for its `listening on` line.
    pub fn start(name: &str, mut command: Command) -> Self {
        command.stderr(Stdio::inherit());
        Self::spawn(name, command)
    }

    /// As [`NodeProcess::start`], its log (stderr) going to the file `log`.
    pub fn start_logging_to(name: &str, mut command: Command, log: &Path) -> Self {
        let file = std::fs::File::create(log).expect("a log file");
        command.stderr(file);
        Self::spawn(name, command)
    }

    fn spawn(name: &str, mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .expect("the node starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut node = Self {
            name: name.to_owned(),
            addr: String::new(),
            child,
            lines,
            seen: Vec::new(),
        };
        let line = node.wait_line("listening on");
        assert!(line.starts_with(&format!("[{name}] ")), "{line}");
        node.addr = line.rsplit(' ').next().expect("an address").to_owned();
        node
    }

    /// Waits (at most [`WAIT`]) for a stdout line containing `needle`.
    pub fn wait_line(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "{}: no line with {needle:?} within {WAIT:?}; its lines so far: {:#?}",
                    self.name, self.seen
                ),
            }
        }
    }

    /// Sends SIGTERM and waits (bounded) for a clean exit.
    pub fn terminate(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "{} exited with {status}", self.name);
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("{} did not stop within {WAIT:?}", self.name);
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (at most [`WAIT`]) until the file at `path` has a line containing
/// every one of `needles`; that line.
pub fn wait_log_line(path: &Path, needles: &[&str]) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| needles.iter().all(|n| l.contains(n))) {
            return line.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no line with {needles:?} in {} within {WAIT:?}:\n{text}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
