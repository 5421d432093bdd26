//! The sink actor: counts what arrives, checks order per sender, answers
//! `Echo` and `TakeStats`.

use std::{collections::HashMap, marker::PhantomData};

use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::msg::{Request, SinkProtocol};

/// The pg group (default scope) the sink joins and drivers look up.
pub(crate) const GROUP: &str = "bench";

/// Sequence numbers carry the sender in their top bits, so fan-in senders
/// (and each phase of one sender) are checked for order independently.
pub(crate) const SENDER_SHIFT: u32 = 48;

/// The sequence number of the `n`-th message (from 0) of `sender`.
pub(crate) fn seq(sender: u64, n: u64) -> u64 {
    (sender << SENDER_SHIFT) | n
}

/// The sink actor for message type `M`.
#[derive(Debug)]
pub(crate) struct Sink<M>(PhantomData<fn() -> M>);

impl<M> Sink<M> {
    /// A sink; spawn it with `Actor::spawn`.
    pub(crate) fn new() -> Self {
        Self(PhantomData)
    }
}

/// Counters since the last `TakeStats`, and the last sequence number seen per
/// sender (kept across `TakeStats`, so a gap is caught wherever it falls).
#[derive(Debug, Default)]
pub(crate) struct SinkState {
    received: u64,
    bytes: u64,
    out_of_order: u64,
    last_seq: HashMap<u64, u64>,
}

impl SinkState {
    fn record(&mut self, seq: u64, len: usize) {
        self.received += 1;
        self.bytes += len as u64;
        let sender = seq >> SENDER_SHIFT;
        let n = seq & ((1 << SENDER_SHIFT) - 1);
        let in_order = match self.last_seq.insert(sender, n) {
            Some(prev) => n == prev + 1,
            None => n == 0,
        };
        if !in_order {
            self.out_of_order += 1;
        }
    }

    fn take(&mut self) -> Vec<u64> {
        let stats = vec![self.received, self.bytes, self.out_of_order];
        self.received = 0;
        self.bytes = 0;
        self.out_of_order = 0;
        stats
    }
}

impl<M: SinkProtocol> Actor for Sink<M> {
    type Msg = M;
    type State = SinkState;
    type Arguments = ();

    async fn pre_start(
        &self,
        _: ActorRef<Self::Msg>,
        (): (),
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(SinkState::default())
    }

    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg.into_request() {
            Request::Data(seq, payload) => state.record(seq, payload.len()),
            Request::Echo(x, reply) => {
                // A dropped caller is the caller's problem, not the sink's.
                let _ = reply.send(x + 1);
            }
            Request::TakeStats(reply) => {
                let _ = reply.send(state.take());
            }
        }
        Ok(())
    }
}
