//! Reports that travel beside a message through ractor's `metadata` field.
//!
//! ractor gives a receiving actor no way to say *why* it could not take a
//! serialized message: an undecodable call just drops its reply port. So the
//! sender registers a sink here and puts its token in the message's
//! `metadata`; the derive-generated decoder reports failures to that token
//! (through `__private::decode_failed`), and the sender reads the report when
//! it sees the port dropped. Tokens are process-local and never cross the wire.

use std::{
    collections::HashMap,
    sync::{
        Arc, LazyLock, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use tokio::sync::oneshot;

use super::{error::CallError, inbox::Inbox};

const MAGIC: &[u8; 6] = b"rgrpc1";

/// Where a report goes.
#[derive(Debug)]
pub(crate) enum Sink {
    /// One call: the first report ends it.
    Call(oneshot::Sender<CallError>),
    /// A session's casts: failures are counted in `undecodable`, and each
    /// cast taken gives back its charge to `inbox`.
    Casts {
        undecodable: Arc<AtomicU64>,
        inbox: Arc<Inbox>,
    },
}

static SINKS: LazyLock<Mutex<HashMap<u64, Sink>>> = LazyLock::new(Default::default);
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

fn sinks() -> std::sync::MutexGuard<'static, HashMap<u64, Sink>> {
    // A panic while holding this lock cannot leave the map inconsistent
    // (every operation is a single insert or remove), so poison is ignored.
    SINKS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A registered sink; unregisters itself when dropped.
#[derive(Debug)]
pub(crate) struct Registration {
    token: u64,
}

impl Registration {
    /// Registers `sink`.
    pub(crate) fn new(sink: Sink) -> Self {
        let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        sinks().insert(token, sink);
        Self { token }
    }

    /// The metadata that names this sink.
    pub(crate) fn metadata(&self) -> Vec<u8> {
        tagged(MAGIC, self.token)
    }

    /// The metadata of a cast to the local actor `pid` charged `cost` in
    /// this (casts) sink's inbox: the token, then the pid and the cost.
    pub(crate) fn cast_metadata(&self, pid: u64, cost: u32) -> Vec<u8> {
        let mut m = tagged(MAGIC, self.token);
        m.extend_from_slice(&pid.to_be_bytes());
        m.extend_from_slice(&cost.to_be_bytes());
        m
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        sinks().remove(&self.token);
    }
}

/// Metadata that carries `value` under `magic`: the magic's bytes, then the
/// value's eight big-endian bytes. ractor passes it along untouched; it never
/// crosses the wire.
pub(crate) fn tagged(magic: &[u8], value: u64) -> Vec<u8> {
    let mut m = Vec::with_capacity(magic.len() + 8);
    m.extend_from_slice(magic);
    m.extend_from_slice(&value.to_be_bytes());
    m
}

/// The value [`tagged`] put under `magic` in `metadata`, if that is what it
/// holds.
pub(crate) fn tag_of(magic: &[u8], metadata: Option<&[u8]>) -> Option<u64> {
    let rest = metadata?.strip_prefix(magic)?;
    Some(u64::from_be_bytes(rest.try_into().ok()?))
}

/// The token named by `metadata`, if it is one of ours (a cast's carries
/// its pid and cost after it).
pub(crate) fn token_of(metadata: Option<&[u8]>) -> Option<u64> {
    tag_of(MAGIC, metadata).or_else(|| cast_tag(metadata).map(|(token, ..)| token))
}

/// Bytes after the magic in a cast's metadata: token, pid, cost.
const CAST_TAIL: usize = 8 + 8 + 4;

/// The token, pid and cost [`Registration::cast_metadata`] put in a cast's
/// metadata, if that is what it holds.
fn cast_tag(metadata: Option<&[u8]>) -> Option<(u64, u64, u32)> {
    let rest: &[u8; CAST_TAIL] = metadata?.strip_prefix(MAGIC)?.try_into().ok()?;
    let (token, rest) = rest.split_first_chunk::<8>()?;
    let (pid, cost) = rest.split_first_chunk::<8>()?;
    Some((
        u64::from_be_bytes(*token),
        u64::from_be_bytes(*pid),
        u32::from_be_bytes(cost.try_into().ok()?),
    ))
}

/// A local actor took the cast whose metadata is `metadata` (the derive's
/// decoder calls this first): its charge goes back to its session's inbox.
pub(crate) fn taken(metadata: Option<&[u8]>) {
    let Some((token, pid, cost)) = cast_tag(metadata) else {
        return;
    };
    let inbox = match sinks().get(&token) {
        Some(Sink::Casts { inbox, .. }) => inbox.clone(),
        _ => return,
    };
    inbox.taken(pid, cost);
}

/// Delivers the failure `error` builds to the sink named by `metadata`, if
/// any. A call sink is used up by its first report; a counter counts.
pub(crate) fn report(metadata: Option<&[u8]>, error: impl FnOnce() -> CallError) {
    if let Some(token) = token_of(metadata) {
        report_to(token, error);
    }
}

/// [`report`] to a token already read from metadata.
pub(crate) fn report_to(token: u64, error: impl FnOnce() -> CallError) {
    let mut map = sinks();
    match map.get(&token) {
        Some(Sink::Casts { undecodable, .. }) => {
            undecodable.fetch_add(1, Ordering::Relaxed);
        }
        Some(Sink::Call(_)) => {
            if let Some(Sink::Call(tx)) = map.remove(&token) {
                drop(map);
                let _ = tx.send(error());
            }
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_sink_gets_the_first_report_only() {
        let (tx, mut rx) = oneshot::channel();
        let reg = Registration::new(Sink::Call(tx));
        let md = reg.metadata();
        report(Some(&md), || CallError::Dropped("first".into()));
        report(Some(&md), || CallError::Timeout);
        assert_eq!(rx.try_recv(), Ok(CallError::Dropped("first".into())));
    }

    #[test]
    fn a_counter_counts_and_foreign_metadata_is_ignored() {
        let counter = Arc::new(AtomicU64::new(0));
        let reg = Registration::new(Sink::Casts {
            undecodable: counter.clone(),
            inbox: Arc::new(Inbox::new(1 << 20)),
        });
        let md = reg.metadata();
        report(Some(&md), || CallError::Timeout);
        report(Some(&reg.cast_metadata(7, 100)), || CallError::Timeout);
        report(Some(b"something else"), || CallError::Timeout);
        report(None, || CallError::Timeout);
        assert_eq!(counter.load(Ordering::Relaxed), 2);
        drop(reg);
        report(Some(&md), || CallError::Timeout);
        assert_eq!(counter.load(Ordering::Relaxed), 2);
        assert_eq!(token_of(Some(b"rgrpc1short")), None);
    }

    #[tokio::test]
    async fn a_taken_cast_gives_its_charge_back_to_its_sessions_inbox() {
        let inbox = Arc::new(Inbox::new(100));
        let reg = Registration::new(Sink::Casts {
            undecodable: Arc::new(AtomicU64::new(0)),
            inbox: inbox.clone(),
        });
        let cell = crate::test_actor::idle_cell().await;
        // The first cast is not charged; taking it shows the actor reports.
        let first = inbox.charge(7, &cell, 150);
        taken(Some(&reg.cast_metadata(7, first)));
        let charged = inbox.charge(7, &cell, 150);
        assert_eq!((charged, inbox.held()), (150, 150));
        // Foreign or malformed metadata gives nothing back.
        taken(Some(b"rgrpc1"));
        taken(Some(&reg.metadata()));
        taken(None);
        assert_eq!(inbox.held(), 150);
        taken(Some(&reg.cast_metadata(7, 150)));
        assert_eq!(inbox.held(), 0);
        cell.stop(None);
    }
}
