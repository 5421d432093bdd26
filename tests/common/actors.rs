//! Actors for the remote-actor tests, with the message types users write.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_grpc::RactorClusterMessage;

/// The example from the issue, as a user writes it.
#[derive(RactorClusterMessage)]
pub enum MyBasicMessageType {
    Cast1(String, u64),
    #[rpc]
    Call1(u8, i64, RpcReplyPort<Vec<String>>),
    /// How many Cast1 arrived, and whether their numbers came in order.
    #[rpc]
    Stats(RpcReplyPort<(u64, bool)>),
    /// Drops the port without replying.
    #[rpc]
    Ignore(RpcReplyPort<u64>),
    /// Sleeps, then replies.
    #[rpc]
    Slow(u64, RpcReplyPort<u64>),
    /// Replies with the timeout its reply port carries, in ms (0: none).
    #[rpc]
    TimeoutSeen(RpcReplyPort<u64>),
}

/// What the basic actor saw.
#[derive(Debug, Default)]
pub struct Seen {
    pub casts: Vec<(String, u64)>,
}

pub struct Basic {
    pub seen: Arc<Mutex<Seen>>,
}

impl Actor for Basic {
    type Msg = MyBasicMessageType;
    type State = (u64, bool, Option<u64>);
    type Arguments = ();

    async fn pre_start(
        &self,
        _: ActorRef<Self::Msg>,
        (): (),
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok((0, true, None))
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        (count, in_order, last): &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            MyBasicMessageType::Cast1(text, n) => {
                *count += 1;
                if last.is_some_and(|l| n != l + 1) {
                    *in_order = false;
                }
                *last = Some(n);
                if let Ok(mut seen) = self.seen.lock()
                    && seen.casts.len() < 16
                {
                    seen.casts.push((text, n));
                }
            }
            MyBasicMessageType::Call1(a, b, reply) => {
                let _ = reply.send(vec![format!("a={a}"), format!("b={b}"), "done".to_owned()]);
            }
            MyBasicMessageType::Stats(reply) => {
                let _ = reply.send((*count, *in_order));
            }
            MyBasicMessageType::Ignore(reply) => drop(reply),
            MyBasicMessageType::TimeoutSeen(reply) => {
                let ms = reply
                    .get_timeout()
                    .map_or(0, |t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
                let _ = reply.send(ms);
            }
            MyBasicMessageType::Slow(ms, reply) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                let _ = reply.send(ms);
            }
        }
        Ok(())
    }
}

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

/// Spawns a named Basic actor.
pub async fn spawn_basic(name: &str) -> (ActorRef<MyBasicMessageType>, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (actor, _) = Actor::spawn(Some(name.to_owned()), Basic { seen: seen.clone() }, ())
        .await
        .expect("spawn basic");
    (actor, seen)
}
