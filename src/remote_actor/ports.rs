//! The bridges between a typed reply port and the byte port a serialized
//! call carries, used by code the derive generates.
//!
//! Neither bridge decides that a call timed out on a timer of its own that
//! races the one that does: on the caller's side [`crate::call`] (or
//! ractor's `call`) owns the timeout and the session link sweeps what is
//! left; on the callee's side the bridge's timer reports `Timeout` to the
//! deliverer before it drops the port, so whichever notices first, the
//! caller hears `Timeout`.

use ractor::RpcReplyPort;
use tokio::sync::oneshot;

use super::{
    error::CallError,
    report::{self, token_of},
};
use crate::{
    reply,
    wire::{Wire, from_bytes, to_bytes},
};

/// Caller side: turns the caller's typed reply port into the byte port
/// ractor's `SerializedMessage::Call` carries. The reply bytes are decoded
/// into `T` and sent on. If the bytes do not decode, or the byte port is
/// dropped (the call failed or was swept after its deadline), the typed port
/// is dropped too, so the caller sees `CallResult::SenderError` at once.
pub fn typed_to_bytes_port<T: Wire + Send + 'static>(
    port: RpcReplyPort<T>,
) -> RpcReplyPort<Vec<u8>> {
    let (tx, rx) = oneshot::channel::<Vec<u8>>();
    let timeout = port.get_timeout();
    tokio::spawn(async move {
        let Ok(bytes) = rx.await else {
            return;
        };
        match from_bytes::<T>(&bytes) {
            Ok(value) => {
                let _ = port.send(value);
            }
            Err(e) => tracing::warn!(
                reply_type = std::any::type_name::<T>(),
                error = %e,
                "dropping a call reply that does not decode"
            ),
        }
    });
    reply::port(tx, timeout)
}

/// Callee side: gives the receiving actor a typed port (with the caller's
/// timeout) whose reply is encoded and sent on `port`. Dropping the typed
/// port drops `port`. When the timeout passes first, the failure is reported
/// as `Timeout` to the sink `metadata` names before `port` is dropped.
pub fn bytes_to_typed_port<T: Wire + Send + 'static>(
    port: RpcReplyPort<Vec<u8>>,
    metadata: Option<&[u8]>,
) -> RpcReplyPort<T> {
    let (tx, rx) = oneshot::channel::<T>();
    let timeout = port.get_timeout();
    let token = token_of(metadata);
    tokio::spawn(async move {
        match reply::within(timeout, rx).await {
            Some(Ok(value)) => {
                let _ = port.send(to_bytes(&value));
            }
            // The actor dropped its port: the deliverer says so.
            Some(Err(_)) => {}
            None => {
                if let Some(token) = token {
                    report::report_to(token, || CallError::Timeout);
                }
            }
        }
    });
    reply::port(tx, timeout)
}

/// Called by generated `deserialize` first, for every cast: the actor is
/// taking it, so its session's receive budget gets its charge back (see
/// [`NodeConfig::with_receive_budget`](crate::NodeConfig::with_receive_budget)).
/// Metadata that is not a delivered cast's is ignored.
pub fn message_taken(metadata: Option<&[u8]>) {
    report::taken(metadata);
}

/// Called by generated `deserialize` when a message does not decode: logs it
/// and reports it to whoever sent it (an error reply for a call, a counted
/// drop for a cast).
pub fn decode_failed(
    metadata: Option<&[u8]>,
    message_type: &'static str,
    variant: &str,
    error: &dyn std::fmt::Display,
) {
    tracing::warn!(message_type, variant, %error, "dropping a remote message that does not decode");
    report::report(metadata, || {
        CallError::Undecodable(format!(
            "{message_type}::{variant} does not decode: {error}"
        ))
    });
}
