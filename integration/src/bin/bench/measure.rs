//! The measured loops, written once against [`SinkProtocol`] and used by
//! both systems (and by the in-process ceiling).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use ractor::{ActorRef, RpcReplyPort, rpc::CallResult};

use crate::{Result, child::Figures, msg::SinkProtocol, sink::seq};

/// The timeout of every `Echo` call (issue 5).
pub(crate) const ECHO_TIMEOUT: Duration = Duration::from_secs(5);

/// A latency histogram in nanoseconds, 1 ns to 60 s, 3 significant digits.
pub(crate) fn histogram() -> Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 60_000_000_000, 3)?)
}

/// Records one latency.
pub(crate) fn record(hist: &mut Histogram<u64>, took: Duration) {
    hist.saturating_record(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX));
}

/// A quantile of a nanosecond histogram, in microseconds.
pub(crate) fn quantile_us(hist: &Histogram<u64>, q: f64) -> f64 {
    hist.value_at_quantile(q) as f64 / 1_000.0
}

/// Microseconds since the Unix epoch (exact in an f64 for centuries).
pub(crate) fn unix_micros() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_micros() as f64)
}

/// One call with a timeout; any outcome but a reply is an error.
pub(crate) async fn call<M: SinkProtocol, T: Send + 'static>(
    sink: &ActorRef<M>,
    build: impl FnOnce(RpcReplyPort<T>) -> M,
    timeout: Duration,
) -> Result<T> {
    match sink.call(build, Some(timeout)).await {
        Ok(CallResult::Success(value)) => Ok(value),
        Ok(CallResult::Timeout) => Err(format!("call timed out after {timeout:?}").into()),
        Ok(CallResult::SenderError) => Err("call failed: the reply port was dropped".into()),
        Err(e) => Err(format!("call could not be sent: {e}").into()),
    }
}

/// Casts `count` messages of `size` payload bytes as sender `sender`.
fn cast_all<M: SinkProtocol>(
    sink: &ActorRef<M>,
    count: u64,
    size: usize,
    sender: u64,
) -> Result<()> {
    let payload = vec![0x5a_u8; size];
    for n in 0..count {
        sink.cast(M::data(seq(sender, n), payload.clone()))
            .map_err(|e| format!("cast {n} of {count} failed: {e}"))?;
    }
    Ok(())
}

/// How a burst is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sending {
    /// ractor's `cast`, which never waits.
    Cast,
    /// `ractor_grpc::send`, which waits for room on the session.
    Send,
}

/// Sends `count` messages of `size` payload bytes with `ractor_grpc::send`.
async fn send_all<M: SinkProtocol>(sink: &ActorRef<M>, count: u64, size: usize) -> Result<()> {
    let payload = vec![0x5a_u8; size];
    for n in 0..count {
        ractor_grpc::send(sink, M::data(seq(0, n), payload.clone()))
            .await
            .map_err(|e| format!("send {n} of {count} failed: {e}"))?;
    }
    Ok(())
}

/// Calls `TakeStats` until the sink counted `count` casts of `size` bytes
/// since its last `TakeStats`, every sender's in order (within `timeout`
/// of `started`); returns the payload bytes counted.
async fn confirm_arrived<M: SinkProtocol>(
    sink: &ActorRef<M>,
    count: u64,
    size: usize,
    started: Instant,
    timeout: Duration,
) -> Result<u64> {
    let (mut received, mut bytes, mut out_of_order) = (0, 0, 0);
    while received < count {
        let stats = call(sink, M::take_stats, timeout).await?;
        let [r, b, o] = stats[..] else {
            return Err(format!("TakeStats replied {stats:?}, not three numbers").into());
        };
        received += r;
        bytes += b;
        out_of_order += o;
        if received < count {
            if started.elapsed() > timeout {
                return Err(
                    format!("only {received} of {count} casts arrived within {timeout:?}").into(),
                );
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    if out_of_order != 0 {
        return Err(format!("{out_of_order} of {count} casts arrived out of order").into());
    }
    let expected_bytes = count * size as u64;
    if received != count || bytes != expected_bytes {
        return Err(format!(
            "the sink counted {received} casts and {bytes} payload bytes, expected {count} and {expected_bytes}"
        )
        .into());
    }
    Ok(bytes)
}

/// `cast_throughput`, `send_throughput` and the payload sweep: sends
/// `count` messages, then calls `TakeStats` until the sink confirms every
/// one arrived, in order.
pub(crate) async fn cast_burst<M: SinkProtocol>(
    sink: &ActorRef<M>,
    count: u64,
    size: usize,
    timeout: Duration,
    sending: Sending,
) -> Result<Figures> {
    let started = Instant::now();
    match sending {
        Sending::Cast => cast_all(sink, count, size, 0)?,
        Sending::Send => send_all(sink, count, size).await?,
    }
    let sent = started.elapsed();
    let bytes = confirm_arrived(sink, count, size, started, timeout).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let mut figures = Figures::default();
    figures.set("msgs_per_s", count as f64 / elapsed);
    figures.set("mb_per_s", bytes as f64 / 1e6 / elapsed);
    figures.set("elapsed_s", elapsed);
    figures.set("send_s", sent.as_secs_f64());
    Ok(figures)
}

/// One `fan_in` sender: casts its share as sender `sender`, then waits for
/// an `Echo` behind them (the sink handles one sender's messages in order),
/// and reports wall-clock start and end so the orchestrator can aggregate.
pub(crate) async fn fan_in_sender<M: SinkProtocol>(
    sink: &ActorRef<M>,
    count: u64,
    size: usize,
    sender: u64,
    timeout: Duration,
) -> Result<Figures> {
    let start = unix_micros();
    cast_all(sink, count, size, sender)?;
    let reply = call(sink, |p| M::echo(count, p), timeout).await?;
    let end = unix_micros();
    if reply != count + 1 {
        return Err(format!("Echo({count}) replied {reply}").into());
    }
    let mut figures = Figures::default();
    figures.set("start_unix_us", start);
    figures.set("end_unix_us", end);
    figures.set("msgs", count as f64);
    Ok(figures)
}

/// One `Echo` call whose reply is checked.
async fn echo<M: SinkProtocol>(sink: &ActorRef<M>, x: u64) -> Result<()> {
    let reply = call(sink, |p| M::echo(x, p), ECHO_TIMEOUT).await?;
    if reply == x + 1 {
        Ok(())
    } else {
        Err(format!("Echo({x}) replied {reply}").into())
    }
}

/// `call_latency`: sequential `Echo` calls after a short warm-up.
pub(crate) async fn call_latency<M: SinkProtocol>(
    sink: &ActorRef<M>,
    calls: u64,
    warmup: u64,
) -> Result<Figures> {
    for x in 0..warmup {
        echo(sink, x).await?;
    }
    let mut hist = histogram()?;
    let started = Instant::now();
    for x in 0..calls {
        let sent = Instant::now();
        echo(sink, x).await?;
        record(&mut hist, sent.elapsed());
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut figures = Figures::default();
    figures.set("p50_us", quantile_us(&hist, 0.50));
    figures.set("p90_us", quantile_us(&hist, 0.90));
    figures.set("p99_us", quantile_us(&hist, 0.99));
    figures.set("calls_per_s", calls as f64 / elapsed);
    Ok(figures)
}

/// `call_concurrent`: `concurrency` tasks share `calls` `Echo` calls.
pub(crate) async fn call_concurrent<M: SinkProtocol>(
    sink: &ActorRef<M>,
    calls: u64,
    concurrency: u64,
    warmup: u64,
) -> Result<Figures> {
    for x in 0..warmup {
        echo(sink, x).await?;
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for caller in 0..concurrency {
        let share = share(calls, concurrency, caller);
        let sink = sink.clone();
        tasks.spawn(async move {
            let mut hist = histogram()?;
            for i in 0..share {
                let sent = Instant::now();
                echo(&sink, caller * calls + i).await?;
                record(&mut hist, sent.elapsed());
            }
            Ok::<_, crate::Error>(hist)
        });
    }
    let mut hist = histogram()?;
    while let Some(done) = tasks.join_next().await {
        hist.add(done??)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut figures = Figures::default();
    figures.set("calls_per_s", calls as f64 / elapsed);
    figures.set("p50_us", quantile_us(&hist, 0.50));
    figures.set("p99_us", quantile_us(&hist, 0.99));
    Ok(figures)
}

/// The share of `total` that worker `i` of `n` takes (the first
/// `total % n` take one more).
pub(crate) fn share(total: u64, n: u64, i: u64) -> u64 {
    total / n + u64::from(i < total % n)
}

/// One session's share of the sessions workloads' calls: `count`
/// sequential `Echo` calls; returns each one's latency in microseconds.
pub(crate) async fn call_share<M: SinkProtocol>(
    sink: &ActorRef<M>,
    count: u64,
) -> Result<Vec<f64>> {
    let mut took = Vec::with_capacity(usize::try_from(count).unwrap_or_default());
    for x in 0..count {
        let sent = Instant::now();
        echo(sink, x).await?;
        took.push(sent.elapsed().as_secs_f64() * 1e6);
    }
    Ok(took)
}
