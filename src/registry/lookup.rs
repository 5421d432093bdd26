//! Finding a peer's actors by name.

use ractor::{ActorCell, ActorRef};

use crate::node::{NodeServerMessage, NodeStopped};

/// A peer's actor as this node knows it.
#[derive(Debug, Clone)]
pub struct RemoteActorInfo {
    /// The peer's node name.
    pub peer: String,
    /// The actor's local id on the peer.
    pub pid: u64,
    /// The actor's name, if it has one.
    pub name: Option<String>,
    /// The proxy: turn it into `ActorRef<M>` with `ActorRef::from` to cast and call.
    pub cell: ActorCell,
}

/// The actor named `name` on the peer `peer`, if that peer advertises one.
///
/// # Errors
/// [`NodeStopped`] if the node server is not running.
pub async fn where_is(
    node: &ActorRef<NodeServerMessage>,
    peer: &str,
    name: &str,
) -> Result<Option<ActorCell>, NodeStopped> {
    let found = lookup(node, Some(peer.to_owned()), name.to_owned()).await?;
    Ok(found.into_iter().next().map(|a| a.cell))
}

/// Every actor named `name` on any peer, one entry per peer that has one,
/// ordered by peer name.
///
/// # Errors
/// [`NodeStopped`] if the node server is not running.
pub async fn where_is_all(
    node: &ActorRef<NodeServerMessage>,
    name: &str,
) -> Result<Vec<RemoteActorInfo>, NodeStopped> {
    lookup(node, None, name.to_owned()).await
}

async fn lookup(
    node: &ActorRef<NodeServerMessage>,
    peer: Option<String>,
    name: String,
) -> Result<Vec<RemoteActorInfo>, NodeStopped> {
    match node
        .call(
            |reply| NodeServerMessage::WhereIs { peer, name, reply },
            None,
        )
        .await
    {
        Ok(ractor::rpc::CallResult::Success(v)) => Ok(v),
        _ => Err(NodeStopped),
    }
}
