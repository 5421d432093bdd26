//! The child side of the orchestrator protocol.
//!
//! A child prints lines starting with [`PREFIX`] on stdout (anything else
//! there is ignored) and takes one-word commands from stdin: `go`,
//! `stats N`, `exit`. Stdin EOF means exit, so a child never outlives an
//! orchestrator that died.

use std::{collections::BTreeMap, fmt::Display};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader, Lines, Stdin};

/// Marks protocol lines on a child's stdout.
pub(crate) const PREFIX: &str = "bench:";

/// Prints one protocol line: `bench:KIND DETAIL`.
pub(crate) fn announce(kind: &str, detail: impl Display) {
    println!("{PREFIX}{kind} {detail}");
}

/// What a driver measured: figure name → value.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Figures(pub(crate) BTreeMap<String, f64>);

impl Figures {
    /// Sets one figure.
    pub(crate) fn set(&mut self, name: &str, value: f64) {
        self.0.insert(name.to_owned(), value);
    }

    /// Prints the `bench:result {json}` line.
    pub(crate) fn announce(&self) -> crate::Result<()> {
        announce("result", serde_json::to_string(self)?);
        Ok(())
    }
}

/// Commands from the orchestrator on stdin.
#[derive(Debug)]
pub(crate) struct Commands(Lines<BufReader<Stdin>>);

impl Commands {
    /// Reads commands from this process's stdin.
    pub(crate) fn stdin() -> Self {
        Self(BufReader::new(tokio::io::stdin()).lines())
    }

    /// The next command, or `None` at EOF (or a broken pipe).
    pub(crate) async fn next(&mut self) -> Option<String> {
        loop {
            match self.0.next_line().await {
                Ok(Some(line)) if line.trim().is_empty() => {}
                Ok(Some(line)) => return Some(line.trim().to_owned()),
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Waits for `go`; any other command or EOF is an error.
    pub(crate) async fn expect_go(&mut self) -> crate::Result<()> {
        match self.next().await.as_deref() {
            Some("go") => Ok(()),
            other => Err(format!("expected `go` on stdin, got {other:?}").into()),
        }
    }

    /// Waits for `exit` or EOF, ignoring anything else.
    pub(crate) async fn until_exit(&mut self) {
        while let Some(cmd) = self.next().await {
            if cmd == "exit" {
                return;
            }
        }
    }
}
