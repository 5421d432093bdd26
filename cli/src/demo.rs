//! The actors `run --demo-actors` starts, so grpcurl and the Python
//! reference node have something to cast to and call without writing Rust:
//!
//! - `pong` ([`PongMsg`], the ping_pong example's actor): `Ping(string, u64)`
//!   is a cast it records, `Pong(u64)` a call that answers `n + 1`,
//!   `History()` a call that answers what it recorded.
//! - `kv` ([`KvMsg`]): a small string map: `Put(key, value)` is a cast,
//!   `Get(key)` answers `option<string>`, `Dump()` the whole map.
//!
//! Each joins the pg group (default scope) of its own name, so with demo
//! actors on several nodes the group `pong` has a member on each; their
//! names are `pong` and `kv` unless a suffix is given (one process per node
//! keeps them unique).

use std::collections::BTreeMap;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_grpc::RactorClusterMessage;

/// The pg group (default scope) `pong` joins.
pub const PONG_GROUP: &str = "pong";
/// The pg group (default scope) `kv` joins.
pub const KV_GROUP: &str = "kv";

/// What `pong` understands.
#[derive(Debug, RactorClusterMessage)]
pub enum PongMsg {
    /// Fire and forget: who pinged, and a number.
    Ping(String, u64),
    /// Answers `n + 1`.
    #[rpc]
    Pong(u64, RpcReplyPort<u64>),
    /// Answers the pings seen so far, oldest first, as "ping N from WHO".
    #[rpc]
    History(RpcReplyPort<Vec<String>>),
}

/// The `pong` actor; prints each message it handles, prefixed with `label`.
#[derive(Debug)]
pub struct Pong {
    /// Printed before each line, e.g. `[node-a]`.
    pub label: String,
}

impl Actor for Pong {
    type Msg = PongMsg;
    type State = Vec<String>;
    type Arguments = ();

    async fn pre_start(
        &self,
        _: ActorRef<PongMsg>,
        (): (),
    ) -> Result<Vec<String>, ActorProcessingErr> {
        Ok(Vec::new())
    }

    async fn handle(
        &self,
        _: ActorRef<PongMsg>,
        msg: PongMsg,
        history: &mut Vec<String>,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            PongMsg::Ping(from, n) => {
                println!("{} pong got Ping({from:?}, {n})", self.label);
                // A bounded history: a long-running node must not grow
                // without end.
                if history.len() == 1000 {
                    history.remove(0);
                }
                history.push(format!("ping {n} from {from}"));
            }
            PongMsg::Pong(n, reply) => {
                println!(
                    "{} pong got Pong({n}); replying {}",
                    self.label,
                    n.wrapping_add(1)
                );
                let _ = reply.send(n.wrapping_add(1));
            }
            PongMsg::History(reply) => {
                let _ = reply.send(history.clone());
            }
        }
        Ok(())
    }
}

/// What `kv` understands.
#[derive(Debug, RactorClusterMessage)]
pub enum KvMsg {
    /// Sets `key` to `value`.
    Put(String, String),
    /// Answers the value of `key`, if set.
    #[rpc]
    Get(String, RpcReplyPort<Option<String>>),
    /// Answers every entry, in key order.
    #[rpc]
    Dump(RpcReplyPort<BTreeMap<String, String>>),
}

/// The `kv` actor; prints each change, prefixed with `label`.
#[derive(Debug)]
pub struct Kv {
    /// Printed before each line.
    pub label: String,
}

/// How many keys `kv` holds at most; a `Put` of a new key beyond it is
/// refused (printed, not stored).
pub const KV_MAX_KEYS: usize = 10_000;

impl Actor for Kv {
    type Msg = KvMsg;
    type State = BTreeMap<String, String>;
    type Arguments = ();

    async fn pre_start(
        &self,
        _: ActorRef<KvMsg>,
        (): (),
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(BTreeMap::new())
    }

    async fn handle(
        &self,
        _: ActorRef<KvMsg>,
        msg: KvMsg,
        map: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            KvMsg::Put(key, value) => {
                if map.len() >= KV_MAX_KEYS && !map.contains_key(&key) {
                    println!(
                        "{} kv is full ({KV_MAX_KEYS} keys): not storing {key:?}",
                        self.label
                    );
                } else {
                    println!("{} kv set {key:?} = {value:?}", self.label);
                    map.insert(key, value);
                }
            }
            KvMsg::Get(key, reply) => {
                let _ = reply.send(map.get(&key).cloned());
            }
            KvMsg::Dump(reply) => {
                let _ = reply.send(map.clone());
            }
        }
        Ok(())
    }
}

/// The running demo actors.
#[derive(Debug)]
pub struct DemoActors {
    /// `pong`.
    pub pong: ActorRef<PongMsg>,
    /// `kv`.
    pub kv: ActorRef<KvMsg>,
}

impl DemoActors {
    /// Starts `pong` and `kv` (named `pong{suffix}`, `kv{suffix}`) in the
    /// groups [`PONG_GROUP`] and [`KV_GROUP`]; `label` prefixes what they
    /// print.
    ///
    /// # Errors
    /// If an actor cannot start (a name already taken).
    pub async fn start(label: &str, suffix: &str) -> Result<Self, ractor::SpawnErr> {
        let (pong, _) = Actor::spawn(
            Some(format!("pong{suffix}")),
            Pong {
                label: label.to_owned(),
            },
            (),
        )
        .await?;
        let (kv, _) = Actor::spawn(
            Some(format!("kv{suffix}")),
            Kv {
                label: label.to_owned(),
            },
            (),
        )
        .await?;
        ractor::pg::join(PONG_GROUP.to_owned(), vec![pong.get_cell()]);
        ractor::pg::join(KV_GROUP.to_owned(), vec![kv.get_cell()]);
        Ok(Self { pong, kv })
    }

    /// Stops both.
    pub fn stop(&self) {
        self.pong.stop(None);
        self.kv.stop(None);
    }
}
