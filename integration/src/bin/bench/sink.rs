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

/// The pg groups (default scope) of the advertised actors that are grouped:
/// `adv-0`, `adv-1`, ..., one actor each.
pub(crate) const ADVERT_GROUP_PREFIX: &str = "adv-";

/// One advertised actor in this many joins a pg group of its own.
pub(crate) const GROUPED_ONE_IN: u64 = 100;

/// How many of `n` advertised actors are grouped.
pub(crate) fn grouped_of(n: u64) -> u64 {
    n.div_ceil(GROUPED_ONE_IN)
}

/// An advertised actor that nothing uses: it takes the sink's message type
/// (so both systems advertise it) and ignores what it gets.
#[derive(Debug)]
pub(crate) struct Idle<M>(PhantomData<fn() -> M>);

impl<M> Idle<M> {
    /// An idle actor; spawn it with `Actor::spawn`.
    pub(crate) fn new() -> Self {
        Self(PhantomData)
    }
}

impl<M: SinkProtocol> Actor for Idle<M> {
    type Msg = M;
    type State = ();
    type Arguments = ();

    async fn pre_start(
        &self,
        _: ActorRef<Self::Msg>,
        (): (),
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(())
    }
}

/// Spawns `n` idle actors of message type `M`, one in [`GROUPED_ONE_IN`] in
/// a pg group of its own; returns them (stop them at the end).
pub(crate) async fn spawn_idle<M: SinkProtocol>(
    n: u64,
) -> Result<Vec<ActorRef<M>>, ractor::SpawnErr> {
    let mut actors = Vec::with_capacity(usize::try_from(n).unwrap_or_default());
    for i in 0..n {
        let (actor, _) = Actor::spawn(None, Idle::<M>::new(), ()).await?;
        if i % GROUPED_ONE_IN == 0 {
            ractor::pg::join(
                format!("{ADVERT_GROUP_PREFIX}{}", i / GROUPED_ONE_IN),
                vec![actor.get_cell()],
            );
        }
        actors.push(actor);
    }
    Ok(actors)
}
