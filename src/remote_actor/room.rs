//! [`send`]: a cast that waits for room on the session rather than being
//! refused when the peer falls behind.
//!
//! ractor's `cast` cannot wait, so a proxy refuses a plain cast once its
//! session holds the queue limit. `send` reserves the message's bytes on the
//! session first (its encoded bytes and what it costs in the proxy's
//! mailbox), waiting while the session holds a quarter of its limit or
//! more, then hands the message to the proxy like any cast (so it keeps its
//! place among the sender's other messages), marked in ractor's `metadata`
//! with the bytes it reserved; the proxy queues it in place of the
//! reservation. Sessions are found by the node id of a proxy's `ActorId`,
//! registered here for as long as the session's mirror lives.

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError, Weak},
};

use ractor::{ActorId, ActorRef, Message, message::SerializedMessage};

use super::{link::SessionLink, report};
use crate::{pb, trace, transport::Refused};

const MAGIC: &[u8; 6] = b"rgroom";

/// What a cast costs in a ractor mailbox besides its encoded bytes (the
/// boxed message, its variant string and argument vector, the channel
/// slot), about 160 bytes as measured in the bench's burst. `send` reserves
/// it too for a proxy's mailbox, so what it waits on bounds the sender's
/// backlog in memory, not just in bytes on the wire; a receiving session
/// charges it for a local actor's.
pub(crate) const IN_MAILBOX: usize = 160;

/// Why [`send`] did not hand the message over.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The actor (or its proxy) is not running.
    #[error("the actor is not running")]
    NotRunning,
    /// The session with the actor's node has ended.
    #[error("the session with the actor's node has ended")]
    Disconnected,
    /// The message is larger than the session's max message size.
    #[error("the message is too large: {0}")]
    TooLarge(String),
    /// The message cannot be sent to a remote actor (its type is not a
    /// `RactorClusterMessage`, or the variant is a call).
    #[error("the message cannot be sent to a remote actor as a cast")]
    NotRemotable,
}

static LINKS: LazyLock<Mutex<HashMap<u64, Weak<SessionLink>>>> = LazyLock::new(Default::default);

fn links() -> MutexGuard<'static, HashMap<u64, Weak<SessionLink>>> {
    // Each use is one insert, remove or lookup: a panic cannot leave the map
    // half-changed.
    LINKS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A session's place in the table [`send`] finds sessions in; it leaves the
/// table when dropped.
#[derive(Debug)]
pub(crate) struct Registered {
    node_id: u64,
}

/// Makes the session behind `link` findable by `node_id`, the node id of
/// its proxies' `ActorId`s.
pub(crate) fn register(node_id: u64, link: &Arc<SessionLink>) -> Registered {
    links().insert(node_id, Arc::downgrade(link));
    Registered { node_id }
}

impl Drop for Registered {
    fn drop(&mut self) {
        links().remove(&self.node_id);
    }
}

/// The bytes a cast's `metadata` says were reserved for it, if it came
/// through [`send`].
pub(crate) fn reserved(metadata: Option<&[u8]>) -> Option<usize> {
    usize::try_from(report::tag_of(MAGIC, metadata)?).ok()
}

fn marker(len: usize) -> Vec<u8> {
    report::tagged(MAGIC, len as u64)
}

/// Casts `msg` to `actor`, first waiting while the session with the actor's
/// node holds a quarter of its queue limit or more: backpressure a sender
/// can see. To a local actor it is a plain cast.
///
/// A plain `cast` never waits; once its session holds the queue limit
/// ([`NodeConfig::with_queue_limit`](crate::NodeConfig::with_queue_limit))
/// it is refused and counted (`overflowed` in
/// [`SessionCounters`](crate::SessionCounters)). A message `send` handed
/// over is never refused for room. Messages keep their order with the
/// sender's plain casts to the same actor.
///
/// # Errors
/// [`SendError`]: the actor or its session is gone, the message is too
/// large for the session, or it cannot go to a remote actor.
///
/// # Examples
/// ```no_run
/// # use ractor::ActorRef;
/// # use ractor_grpc::RactorClusterMessage;
/// # #[derive(RactorClusterMessage)]
/// # enum Msg { Data(u64) }
/// # async fn f(actor: ActorRef<Msg>) -> Result<(), ractor_grpc::SendError> {
/// for n in 0..1_000_000 {
///     // Waits while the peer is behind, instead of queueing without end.
///     ractor_grpc::send(&actor, Msg::Data(n)).await?;
/// }
/// # Ok(())
/// # }
/// ```
pub async fn send<M: Message>(actor: &ActorRef<M>, msg: M) -> Result<(), SendError> {
    let ActorId::Remote { node_id, pid } = actor.get_id() else {
        return actor.cast(msg).map_err(|_| SendError::NotRunning);
    };
    let Ok(SerializedMessage::Cast {
        variant,
        args,
        metadata,
    }) = msg.serialize()
    else {
        return Err(SendError::NotRemotable);
    };
    // The caller's trace context, if the serializer noted one.
    let (_, traced) = trace::take_record(metadata);
    let link = links().get(&node_id).and_then(Weak::upgrade);
    let Some(link) = link else {
        return Err(SendError::Disconnected);
    };
    let traceparent = traced.map(|tp| tp.to_string()).unwrap_or_default();
    let len = pb::framed_cast_len(pid, &variant, &args, &traceparent);
    link.reserve(len, IN_MAILBOX)
        .await
        .map_err(|why| match why {
            Refused::TooLarge(_) => SendError::TooLarge(why.to_string()),
            Refused::Closed | Refused::Full { .. } => SendError::Disconnected,
        })?;
    let message = SerializedMessage::Cast {
        variant,
        args,
        metadata: trace::with_record(Some(marker(len + IN_MAILBOX)), traced),
    };
    actor.get_cell().send_serialized(message).map_err(|_| {
        link.release(len + IN_MAILBOX);
        SendError::NotRunning
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_names_its_bytes_and_nothing_else_is_read_as_one() {
        assert_eq!(reserved(Some(&marker(1234))), Some(1234));
        assert_eq!(reserved(None), None);
        assert_eq!(reserved(Some(b"rgroom")), None);
        assert_eq!(reserved(Some(b"rgrpc1\0\0\0\0\0\0\0\x01")), None);
    }
}
