//! Finding a peer's actors by name.
//!
//! The node server holds the directory of its sessions' proxies; these
//! functions send it a [`Lookup`]. They name no node type: a node server's
//! message type accepts a `Lookup` through `From`, which keeps this module
//! below the node in the module order.

use ractor::{ActorCell, ActorRef, Message, RpcReplyPort};

use crate::reply::{NodeStopped, ask};

/// A peer's actor as this node knows it.
#[derive(Debug, Clone)]
pub struct RemoteActorInfo {
    /// The peer's node name.
    pub peer: String,
    /// The actor's local id on the peer.
    pub pid: u64,
    /// The actor's name, if it has one.
    pub name: Option<String>,
    /// Its message type's name, if the peer's type describes itself.
    pub message_type: Option<String>,
    /// The proxy: turn it into `ActorRef<M>` with `ActorRef::from` to cast and call.
    pub cell: ActorCell,
}

/// A name lookup a node server answers: the proxies of peers' actors named
/// `name`, on `peer` only if given, ordered by peer.
#[derive(Debug)]
pub struct Lookup {
    /// Only this peer, or all.
    pub peer: Option<String>,
    /// The actor name.
    pub name: String,
    /// Where the matches go.
    pub reply: RpcReplyPort<Vec<RemoteActorInfo>>,
}

/// The actor named `name` on the peer `peer`, if that peer advertises one.
/// `node` is a [`NodeServer`](crate::NodeServer).
///
/// # Errors
/// [`NodeStopped`] if the node server is not running.
pub async fn where_is<N>(
    node: &ActorRef<N>,
    peer: &str,
    name: &str,
) -> Result<Option<ActorCell>, NodeStopped>
where
    N: Message + From<Lookup>,
{
    let found = lookup(node, Some(peer.to_owned()), name.to_owned()).await?;
    Ok(found.into_iter().next().map(|a| a.cell))
}

/// Every actor named `name` on any peer, one entry per peer that has one,
/// ordered by peer name. `node` is a [`NodeServer`](crate::NodeServer).
///
/// # Errors
/// [`NodeStopped`] if the node server is not running.
pub async fn where_is_all<N>(
    node: &ActorRef<N>,
    name: &str,
) -> Result<Vec<RemoteActorInfo>, NodeStopped>
where
    N: Message + From<Lookup>,
{
    lookup(node, None, name.to_owned()).await
}

async fn lookup<N>(
    node: &ActorRef<N>,
    peer: Option<String>,
    name: String,
) -> Result<Vec<RemoteActorInfo>, NodeStopped>
where
    N: Message + From<Lookup>,
{
    ask(node, |reply| Lookup { peer, name, reply }.into()).await
}
