//! Shared pieces of the scenario binaries and of the tests (in this crate
//! and the library's): the example message type, grown with the
//! probes tests need, and the one actor that serves it.

pub mod by_hand;
pub mod greeter;
pub mod pki;

// The node CLI's demo actors and `inspect` tables (and their parsers),
// where the scenario binaries and tests have always found them.
pub use ractor_grpc_node::{demo, inspect};

use std::{sync::Arc, time::Duration};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_grpc::RactorClusterMessage;
use tokio::sync::Notify;

/// The message type from the remote-actor issue (`Cast1`, `Call1`), exactly
/// as a user writes it, with variants tests use to observe and provoke.
#[derive(Debug, RactorClusterMessage)]
pub enum MyBasicMessageType {
    /// A cast with two arguments; the number counts up, so order shows.
    Cast1(String, u64),
    /// A call whose reply is a `Vec<String>` (ractor's own derive cannot do
    /// this): `["got A", "and B", "after N casts"]`.
    #[rpc]
    Call1(u8, i64, RpcReplyPort<Vec<String>>),
    /// The first 16 casts seen, oldest first.
    #[rpc]
    Seen(RpcReplyPort<Vec<(String, u64)>>),
    /// How many `Cast1` arrived, and whether each number was higher than the
    /// one before (none reordered or duplicated).
    #[rpc]
    Stats(RpcReplyPort<(u64, bool)>),
    /// Drops the port without replying.
    #[rpc]
    Ignore(RpcReplyPort<u64>),
    /// Signals [`Probe::slow_started`], sleeps this many ms, then replies
    /// with the same number.
    #[rpc]
    Slow(u64, RpcReplyPort<u64>),
    /// Replies with the timeout its reply port carries, in ms (0: none).
    #[rpc]
    TimeoutSeen(RpcReplyPort<u64>),
    /// Replies with a string of this many bytes.
    #[rpc]
    Big(u64, RpcReplyPort<String>),
}

/// What a [`BasicActor`] lets the code that spawned it observe.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    /// Notified when a `Slow` call starts: the call reached the actor.
    pub slow_started: Arc<Notify>,
}

/// Serves [`MyBasicMessageType`].
#[derive(Debug, Default)]
pub struct BasicActor {
    /// Signals to the spawner.
    pub probe: Probe,
    /// How long each `Cast1` takes to handle (zero: no time): a slow
    /// consumer for the reliability scenarios.
    pub cast_delay: Duration,
}

/// A [`BasicActor`]'s state.
#[derive(Debug)]
pub struct BasicState {
    count: u64,
    in_order: bool,
    last: Option<u64>,
    first: Vec<(String, u64)>,
}

impl Actor for BasicActor {
    type Msg = MyBasicMessageType;
    type State = BasicState;
    type Arguments = ();

    async fn pre_start(
        &self,
        _: ActorRef<Self::Msg>,
        (): (),
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(BasicState {
            count: 0,
            in_order: true,
            last: None,
            first: Vec::new(),
        })
    }

    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        msg: Self::Msg,
        s: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            MyBasicMessageType::Cast1(text, n) => {
                if !self.cast_delay.is_zero() {
                    tokio::time::sleep(self.cast_delay).await;
                }
                s.count += 1;
                // Strictly increasing: no reordering, no duplicate (a gap
                // is a refused cast, which the sender counts).
                if s.last.is_some_and(|l| n <= l) {
                    s.in_order = false;
                }
                s.last = Some(n);
                if s.first.len() < 16 {
                    s.first.push((text, n));
                }
            }
            MyBasicMessageType::Call1(a, b, reply) => {
                let _ = reply.send(vec![
                    format!("got {a}"),
                    format!("and {b}"),
                    format!("after {} casts", s.count),
                ]);
            }
            MyBasicMessageType::Seen(reply) => {
                let _ = reply.send(s.first.clone());
            }
            MyBasicMessageType::Stats(reply) => {
                let _ = reply.send((s.count, s.in_order));
            }
            MyBasicMessageType::Ignore(reply) => drop(reply),
            MyBasicMessageType::Slow(ms, reply) => {
                self.probe.slow_started.notify_one();
                tokio::time::sleep(Duration::from_millis(ms)).await;
                let _ = reply.send(ms);
            }
            MyBasicMessageType::TimeoutSeen(reply) => {
                let ms = reply
                    .get_timeout()
                    .map_or(0, |t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
                let _ = reply.send(ms);
            }
            MyBasicMessageType::Big(n, reply) => {
                let len = usize::try_from(n).unwrap_or(usize::MAX);
                let _ = reply.send("x".repeat(len));
            }
        }
        Ok(())
    }
}

/// The pg scope and group the example actor joins.
pub const EXAMPLE_SCOPE: &str = "example";
/// See [`EXAMPLE_SCOPE`].
pub const EXAMPLE_GROUP: &str = "basic";

/// How long scenario steps wait before giving up.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);
