//! The outbox: what a session holds for its peer, as encoded bytes.
//!
//! Every envelope a session sends is encoded into the outbox the moment it
//! is sent (as a `Frame` field, see [`pb::encode_envelope`]), so what a fast
//! sender builds up is compact bytes, not boxed messages. The bytes live in
//! segments of whole envelopes (16 KiB, never more than a frame's budget):
//! a backlog grows by new segments, never by moving what is queued, and the
//! writer takes a frame's worth of segments at a time without copying them.
//! An envelope of [`INLINE_MAX`] bytes or more is queued as it is (its
//! payload dominates; copying it early would only cost a copy) and encoded
//! with the frame.
//!
//! Three ways in, one for each kind of sender:
//! - [`Bound::Control`]: the session's own protocol traffic, always taken
//!   (small, and it must never wait: see the link's `send_control`).
//! - [`Bound::Limit`]: a proxy's cast or call, which cannot wait (ractor's
//!   `cast` returns at once). Taken while the outbox holds less than its
//!   `limit`; past it refused ([`Refused::Full`]), and the caller counts it.
//! - [`Bound::Reserved`]: bytes a sender reserved beforehand with
//!   [`Outbox::reserve`], which waits while the outbox holds `soft` bytes or
//!   more. Always taken: the sender already waited for its room.
//!
//! No I/O: the writer and the tests drive it.

use std::{
    collections::VecDeque,
    sync::{Mutex, MutexGuard, PoisonError},
};

use bytes::BytesMut;
use tokio::sync::Notify;

use crate::{counters::Wire, pb};

/// Why an envelope was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The session has ended.
    Closed,
    /// The envelope is larger than the peer accepts (`max_message_size`).
    TooLarge(usize),
    /// The outbox held its limit already (bytes queued, limit).
    Full { queued: usize, limit: usize },
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Closed => f.write_str("the session has ended"),
            Self::TooLarge(n) => write!(
                f,
                "the message is {n} bytes, more than the session's max message size"
            ),
            Self::Full { queued, limit } => write!(
                f,
                "the session already holds {queued} bytes for the peer (its queue limit is \
                 {limit}): the peer takes messages more slowly than they are sent"
            ),
        }
    }
}

/// How an envelope may enter the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bound {
    /// Protocol traffic: always taken while the outbox is open.
    Control,
    /// Taken while the outbox holds less than its limit.
    Limit,
    /// Taken in place of this many reserved bytes.
    Reserved(usize),
}

/// Bytes a new segment is made for (when the frame budget allows).
const SEGMENT: usize = 16 * 1024;

/// Envelopes this large or larger are queued unencoded.
pub(crate) const INLINE_MAX: usize = 1024;

/// Queued envelopes: a segment of encoded ones, or a large one as it is.
#[derive(Debug)]
enum Run {
    Segment(BytesMut),
    Large(pb::Envelope, usize),
}

impl Run {
    fn len(&self) -> usize {
        match self {
            Self::Segment(seg) => seg.len(),
            Self::Large(_, len) => *len,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// Queued envelopes, in order.
    segments: VecDeque<Run>,
    /// Bytes in `segments`.
    queued: usize,
    /// Bytes reserved and not yet pushed.
    reserved: usize,
    closed: bool,
    /// What went into the outbox (envelopes) and out of it (frames, bytes
    /// as framed), since it opened.
    sent: Wire,
}

impl State {
    fn held(&self) -> usize {
        self.queued + self.reserved
    }
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Outbox {
    state: Mutex<State>,
    /// Wakes the writer: bytes arrived, or the outbox closed.
    ready: Notify,
    /// Wakes senders waiting in [`Self::reserve`].
    room: Notify,
    /// [`Self::reserve`] waits while this many bytes are held.
    soft: usize,
    /// [`Bound::Limit`] pushes are refused while this many are held.
    limit: usize,
    /// The largest envelope the peer accepts, framed.
    max_envelope: usize,
    /// The most bytes of envelopes one frame carries (but for an envelope
    /// larger than that, which goes alone).
    frame_budget: usize,
}

impl Outbox {
    /// An open, empty outbox; `soft` is capped at `limit`.
    pub(crate) fn new(soft: usize, limit: usize, max_envelope: usize, frame_budget: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            ready: Notify::new(),
            room: Notify::new(),
            soft: soft.min(limit),
            limit,
            max_envelope,
            frame_budget: frame_budget.max(1),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every critical section is a check and an append or a split, none
        // of which can panic half-way.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `envelope` (encoded, unless large) as `bound` allows.
    pub(crate) fn push(&self, envelope: pb::Envelope, bound: Bound) -> Result<(), Refused> {
        let len = pb::framed_len(&envelope);
        let mut state = self.state();
        if let Bound::Reserved(n) = bound {
            state.reserved = state.reserved.saturating_sub(n);
        }
        if state.closed {
            return Err(Refused::Closed);
        }
        if len > self.max_envelope {
            drop(state);
            if matches!(bound, Bound::Reserved(_)) {
                self.room.notify_waiters();
            }
            return Err(Refused::TooLarge(len));
        }
        if bound == Bound::Limit && state.held() >= self.limit {
            return Err(Refused::Full {
                queued: state.held(),
                limit: self.limit,
            });
        }
        let was_empty = state.queued == 0;
        let fits = |seg: &BytesMut| {
            seg.capacity() - seg.len() >= len && seg.len() + len <= self.frame_budget
        };
        if len >= INLINE_MAX {
            state.segments.push_back(Run::Large(envelope, len));
        } else {
            match state.segments.back_mut() {
                Some(Run::Segment(seg)) if fits(seg) => {
                    pb::encode_envelope(&envelope, seg);
                }
                _ => {
                    let mut seg = BytesMut::with_capacity(len.max(SEGMENT.min(self.frame_budget)));
                    pb::encode_envelope(&envelope, &mut seg);
                    state.segments.push_back(Run::Segment(seg));
                }
            }
        }
        state.queued += len;
        state.sent.envelopes += 1;
        drop(state);
        if was_empty {
            self.ready.notify_one();
        }
        Ok(())
    }

    /// Waits until the outbox holds less than its soft bound, then reserves
    /// `len + extra` bytes for a later [`Bound::Reserved`] push of an
    /// envelope of `len` bytes (or [`Self::release`]); `extra` is what the
    /// envelope costs on its way here. An envelope larger than the peer
    /// accepts is refused at once.
    pub(crate) async fn reserve(&self, len: usize, extra: usize) -> Result<(), Refused> {
        if len > self.max_envelope {
            return Err(Refused::TooLarge(len));
        }
        let n = len + extra;
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let mut state = self.state();
                if state.closed {
                    return Err(Refused::Closed);
                }
                if state.held() < self.soft {
                    state.reserved += n;
                    return Ok(());
                }
            }
            room.await;
        }
    }

    /// Gives back `n` reserved bytes that will not be pushed.
    pub(crate) fn release(&self, n: usize) {
        let mut state = self.state();
        state.reserved = state.reserved.saturating_sub(n);
        drop(state);
        self.room.notify_waiters();
    }

    /// Bytes held: queued and reserved.
    pub(crate) fn held(&self) -> usize {
        self.state().held()
    }

    /// What went in and out so far.
    pub(crate) fn sent(&self) -> Wire {
        self.state().sent
    }

    /// Refuses everything from now on; the writer may still take what is
    /// queued.
    pub(crate) fn close(&self) {
        self.state().closed = true;
        self.ready.notify_one();
        self.room.notify_waiters();
    }

    /// Takes the queued envelopes, at most a frame's budget of them (or the
    /// first alone when it is larger), if any.
    pub(crate) fn try_take(&self) -> Option<Vec<pb::Queued>> {
        let mut state = self.state();
        let mut taken = Vec::new();
        let mut bytes = 0;
        while let Some(front) = state.segments.front() {
            if !taken.is_empty() && bytes + front.len() > self.frame_budget {
                break;
            }
            bytes += front.len();
            match state.segments.pop_front() {
                Some(Run::Segment(seg)) => taken.push(pb::Queued::Encoded(seg.freeze())),
                Some(Run::Large(envelope, _)) => taken.push(pb::Queued::Envelope(envelope)),
                None => {}
            }
        }
        if taken.is_empty() {
            return None;
        }
        state.queued -= bytes;
        state.sent.frames += 1;
        state.sent.bytes += bytes as u64;
        drop(state);
        self.room.notify_waiters();
        Some(taken)
    }

    /// Waits for queued envelopes and takes them as [`Self::try_take`] does;
    /// `None` once the outbox is closed and empty.
    pub(crate) async fn take(&self) -> Option<Vec<pb::Queued>> {
        loop {
            if let Some(bytes) = self.try_take() {
                return Some(bytes);
            }
            if self.state().closed {
                return None;
            }
            self.ready.notified().await;
        }
    }
}

#[cfg(test)]
mod tests;
