//! What each node knows about actors: the local actors it advertises, the
//! proxies of each peer's actors, and lookup of remote actors by name.
//!
//! ractor's own name registry cannot hold remote actors (its `register` is
//! private; upstream issue #93), so remote actors are found here instead:
//! [`where_is`] on one peer, [`where_is_all`] across the cluster.
//!
//! Owns the tables; the node server decides what goes in them and sessions
//! apply their peer's adverts. Below the node: nothing here names a node
//! type.

mod adverts;
mod lookup;
mod mirror;

pub use adverts::AdvertiseMode;
pub(crate) use adverts::{Adverts, local_pid};
pub use lookup::{Lookup, RemoteActorInfo, where_is, where_is_all};
pub(crate) use mirror::{ActorType, AdvertBody, PeerMirror, ProxyChange, end_proxy};
