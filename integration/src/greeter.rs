//! The message type of the Python reference node's `greeter` actor
//! (`examples/python/`): the Python side declares the same variants with the
//! same argument and reply types, so Rust code that finds the actor in pg
//! calls it through a typed `ActorRef<GreeterMsg>` like any remote actor.
//! `pg_call` is that Rust code.

use std::collections::BTreeMap;

use ractor::RpcReplyPort;
use ractor_grpc::RactorClusterMessage;

/// The pg group (default scope) the Python `greeter` joins.
pub const GREETER_GROUP: &str = "greeters";

/// What the Python `greeter` actor understands. It is never handled in
/// Rust: only sent.
#[derive(Debug, RactorClusterMessage)]
pub enum GreeterMsg {
    /// Leaves a note (a cast: `string`).
    Note(String),
    /// `"hello NAME"` repeated `times` times, joined with `", "`; an empty
    /// name makes the Python handler raise (the call fails as dropped).
    #[rpc]
    Greet(String, u32, RpcReplyPort<String>),
    /// The sum of the numbers (`list<i64>` -> `i64`).
    #[rpc]
    Sum(Vec<i64>, RpcReplyPort<i64>),
    /// The value of `key` in `table`, if there is one (a struct variant:
    /// `map<string,u64>`, `string` -> `option<u64>`).
    #[rpc]
    Lookup {
        /// Where to look.
        table: BTreeMap<String, u64>,
        /// What to look up.
        key: String,
        /// The answer.
        reply: RpcReplyPort<Option<u64>>,
    },
    /// The notes so far, oldest first.
    #[rpc]
    Notes(RpcReplyPort<Vec<String>>),
}
