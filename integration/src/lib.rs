//! Shared pieces of the scenario binaries: the example message type
//! and an actor that serves it.

use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_grpc::RactorClusterMessage;

/// The message type from the remote-actor issue, exactly as a user writes it.
#[derive(Debug, RactorClusterMessage)]
pub enum MyBasicMessageType {
    /// A cast with two arguments.
    Cast1(String, u64),
    /// A call whose reply is a `Vec<String>` (ractor's own derive cannot do this).
    #[rpc]
    Call1(u8, i64, RpcReplyPort<Vec<String>>),
    /// The casts seen so far, newest last.
    #[rpc]
    Seen(RpcReplyPort<Vec<(String, u64)>>),
}

/// Serves [`MyBasicMessageType`]: remembers casts, answers calls.
#[derive(Debug)]
pub struct ExampleActor;

impl Actor for ExampleActor {
    type Msg = MyBasicMessageType;
    type State = Vec<(String, u64)>;
    type Arguments = ();

    async fn pre_start(
        &self,
        _: ActorRef<Self::Msg>,
        (): (),
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(Vec::new())
    }

    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        msg: Self::Msg,
        seen: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            MyBasicMessageType::Cast1(text, n) => seen.push((text, n)),
            MyBasicMessageType::Call1(a, b, reply) => {
                let _ = reply.send(vec![
                    format!("got {a}"),
                    format!("and {b}"),
                    format!("after {} casts", seen.len()),
                ]);
            }
            MyBasicMessageType::Seen(reply) => {
                let _ = reply.send(seen.clone());
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
