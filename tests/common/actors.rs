//! Actors for the remote-actor tests, with the message types users write.
//! The example type and its actor are shared with the integration
//! crate (`integration::MyBasicMessageType`).

use std::collections::HashMap;

pub use integration::{BasicActor, MyBasicMessageType, Probe};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_grpc::RactorClusterMessage;

/// Struct variants, a generic enum, the port in the middle.
#[derive(RactorClusterMessage)]
pub enum Kv<T> {
    Put {
        key: String,
        value: T,
    },
    #[rpc]
    Get {
        key: String,
        reply: RpcReplyPort<Option<T>>,
        note: u8,
    },
    #[rpc]
    Len(RpcReplyPort<usize>),
}

pub struct KvStore;

impl Actor for KvStore {
    type Msg = Kv<Vec<u32>>;
    type State = HashMap<String, Vec<u32>>;
    type Arguments = ();

    async fn pre_start(
        &self,
        _: ActorRef<Self::Msg>,
        (): (),
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(HashMap::new())
    }

    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        msg: Self::Msg,
        map: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            Kv::Put { key, value } => {
                map.insert(key, value);
            }
            Kv::Get {
                key,
                reply,
                note: _,
            } => {
                let _ = reply.send(map.get(&key).cloned());
            }
            Kv::Len(reply) => {
                let _ = reply.send(map.len());
            }
        }
        Ok(())
    }
}

/// A message type no test actor takes: sent to a Basic actor, it does not decode.
#[derive(RactorClusterMessage)]
pub enum Stranger {
    Hello(String),
    #[rpc]
    Ask(RpcReplyPort<u64>),
}

/// Spawns a named [`BasicActor`]; its probe tells when a `Slow` call starts.
pub async fn spawn_basic(name: &str) -> (ActorRef<MyBasicMessageType>, Probe) {
    let actor = BasicActor::default();
    let probe = actor.probe.clone();
    let (actor, _) = Actor::spawn(Some(name.to_owned()), actor, ())
        .await
        .expect("spawn basic");
    (actor, probe)
}
