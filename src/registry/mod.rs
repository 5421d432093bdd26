//! What each node has: the local actors it advertises, the proxies of each
//! peer's actors, and lookup of remote actors by name.
//!
//! ractor's own name registry cannot hold remote actors (its `register` is
//! private; upstream issue #93), so remote actors are found here instead:
//! [`where_is`] on one peer, [`where_is_all`] across the cluster.

pub(crate) mod adverts;
mod lookup;
pub(crate) mod mirror;

pub use adverts::AdvertiseMode;
pub use lookup::{RemoteActorInfo, where_is, where_is_all};
