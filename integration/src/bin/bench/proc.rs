//! A child process of the orchestrator: spawned from this same binary with a
//! hidden role, spoken to through stdin/stdout lines, killed when dropped.

use std::{process::Stdio, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    process::{Child, ChildStdin, ChildStdout, Command},
    time::Instant,
};

use crate::{
    Result,
    child::PREFIX,
    procstat::{self, ProcStat},
};

/// How long a child gets to exit after `exit` before it is killed.
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// A running child; dropping it kills the process.
#[derive(Debug)]
pub(crate) struct ChildProc {
    label: String,
    child: Child,
    pid: u32,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl ChildProc {
    /// Runs this binary again with `args`; `label` names it in errors.
    pub(crate) fn spawn(label: impl Into<String>, args: &[&str]) -> Result<Self> {
        let label = label.into();
        let mut child = Command::new(std::env::current_exe()?)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("{label}: could not start: {e}"))?;
        let pid = child.id().ok_or_else(|| format!("{label}: no pid"))?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| format!("{label}: no stdout"))?;
        Ok(Self {
            label,
            child,
            pid,
            stdin,
            stdout: BufReader::new(stdout).lines(),
        })
    }

    /// Waits up to `timeout` for the protocol line `bench:KIND ...` and
    /// returns what follows KIND. A `bench:error` line, another protocol
    /// line, EOF or the timeout is an error.
    pub(crate) async fn expect(&mut self, kind: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let line = match tokio::time::timeout_at(deadline, self.stdout.next_line()).await {
                Err(_) => {
                    return Err(
                        format!("{}: no `{kind}` line within {timeout:?}", self.label).into(),
                    );
                }
                Ok(Err(e)) => return Err(format!("{}: reading stdout: {e}", self.label).into()),
                Ok(Ok(None)) => {
                    let status = tokio::time::timeout(EXIT_TIMEOUT, self.child.wait()).await;
                    let status = match status {
                        Ok(Ok(status)) => status.to_string(),
                        _ => "status unknown".to_owned(),
                    };
                    return Err(format!("{}: exited ({status}) before `{kind}`", self.label).into());
                }
                Ok(Ok(Some(line))) => line,
            };
            let Some(rest) = line.strip_prefix(PREFIX) else {
                continue;
            };
            let (found, detail) = rest.split_once(' ').unwrap_or((rest, ""));
            if found == kind {
                return Ok(detail.to_owned());
            }
            return Err(if found == "error" {
                format!("{}: {detail}", self.label)
            } else {
                format!("{}: expected `{kind}`, got `{found} {detail}`", self.label)
            }
            .into());
        }
    }

    /// Writes one command line to the child's stdin.
    pub(crate) async fn send(&mut self, command: &str) -> Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| format!("{}: stdin closed", self.label))?;
        stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .map_err(|e| format!("{}: writing `{command}`: {e}", self.label))?;
        stdin.flush().await?;
        Ok(())
    }

    /// Peak RSS and CPU time so far.
    pub(crate) fn stat(&self, ticks_per_s: f64) -> Result<ProcStat> {
        procstat::read(self.pid, ticks_per_s).map_err(|e| format!("{}: {e}", self.label).into())
    }

    /// Tells the child to exit and waits for it; a child that does not exit
    /// in time is killed, and a non-zero exit is an error.
    pub(crate) async fn finish(mut self) -> Result<()> {
        // A child that already exited cannot read it; its status says more.
        let _ = self.send("exit").await;
        drop(self.stdin.take());
        match tokio::time::timeout(EXIT_TIMEOUT, self.child.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(format!("{}: exited with {status}", self.label).into()),
            Ok(Err(e)) => Err(format!("{}: waiting: {e}", self.label).into()),
            Err(_) => {
                let _ = self.child.kill().await;
                Err(format!("{}: did not exit within {EXIT_TIMEOUT:?}", self.label).into())
            }
        }
    }
}
