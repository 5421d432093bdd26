//! `RemoteActor`: the local stand-in for an actor on a peer.
//!
//! A proxy has a remote `ActorId` (`node_id` names the session, `pid` the
//! actor on the peer), so ractor hands it every message already serialized
//! (`handle_serialized`). It forwards casts and calls into the session's
//! stream without decoding them. It lives as long as the peer advertises the
//! actor and the session lasts; when it stops, ractor removes it from every
//! pg group it joined.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, message::SerializedMessage};

use super::{link::SessionLink, room};
use crate::trace;

/// A proxy's message type. Proxies take only serialized messages; nothing
/// sends this type.
#[derive(Debug)]
pub(crate) enum ProxyMsg {}

impl ractor::Message for ProxyMsg {}

/// The proxy actor.
#[derive(Debug)]
pub(crate) struct RemoteActor;

/// What a proxy needs.
#[derive(Debug)]
pub(crate) struct ProxyState {
    pub(crate) link: Arc<SessionLink>,
    pub(crate) pid: u64,
    /// "name@peer" or "pid@peer", for logs.
    pub(crate) label: String,
}

impl Actor for RemoteActor {
    type Msg = ProxyMsg;
    type State = ProxyState;
    type Arguments = ProxyState;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: ProxyState,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(args)
    }

    async fn handle_serialized(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: SerializedMessage,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SerializedMessage::Cast {
                variant,
                args,
                metadata,
            } => {
                let (metadata, traced) = trace::take_record(metadata);
                let reserved = room::reserved(metadata.as_deref());
                state
                    .link
                    .cast(state.pid, &state.label, variant, args, reserved, traced);
            }
            SerializedMessage::Call {
                variant,
                args,
                reply,
                metadata,
            } => {
                state
                    .link
                    .call(state.pid, &state.label, variant, args, reply, metadata);
            }
            // Replies are routed by the session, never through a proxy.
            SerializedMessage::CallReply(..) => {}
        }
        Ok(())
    }
}
