//! Dialing a peer: connecting and opening the Session stream.
//!
//! Owns the dialing side's connection setup and its errors; the stream it
//! returns is the session's to drive. Never retries: whether and when to dial
//! again is the node's decision.

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Endpoint;

use super::{
    settings::{Http2, QUEUE_FRAMES},
    stream::{Direction, SessionStream},
    writer::FrameTx,
};
use crate::pb::cluster_node_client::ClusterNodeClient;

/// Why no stream could be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DialError {
    /// The address is not `host:port` or a valid URI.
    #[error("invalid peer address {addr:?}: {detail}")]
    InvalidAddress { addr: String, detail: String },
    /// Nothing answered, or the connection failed before the stream opened.
    #[error("cannot reach {addr}: {detail}")]
    Unreachable { addr: String, detail: String },
    /// The stream did not open within the settings' open timeout.
    #[error("the stream did not open in time")]
    Timeout,
}

/// Turns `host:port` into a URI tonic can dial; full URIs pass through.
fn uri_for(addr: &str) -> String {
    if addr.contains("://") {
        addr.to_owned()
    } else {
        format!("http://{addr}")
    }
}

/// Connects to `addr` and opens a Session stream on a connection of its own.
pub(crate) async fn dial(addr: &str, settings: &Http2) -> Result<SessionStream, DialError> {
    let unreachable = |detail: String| DialError::Unreachable {
        addr: addr.to_owned(),
        detail,
    };
    let endpoint = Endpoint::from_shared(uri_for(addr)).map_err(|e| DialError::InvalidAddress {
        addr: addr.to_owned(),
        detail: e.to_string(),
    })?;
    let channel = settings
        .endpoint(endpoint)
        .connect()
        .await
        .map_err(|e| unreachable(error_chain(&e)))?;
    let mut client = ClusterNodeClient::new(channel.clone())
        .max_decoding_message_size(settings.max_message_size)
        .max_encoding_message_size(settings.max_message_size);
    let (tx, rx) = mpsc::channel(QUEUE_FRAMES);
    let response = tokio::time::timeout(
        settings.open_timeout,
        client.session(ReceiverStream::new(rx)),
    )
    .await
    .map_err(|_| DialError::Timeout)?
    .map_err(|status| unreachable(format!("{:?}: {}", status.code(), status.message())))?;
    Ok(SessionStream {
        direction: Direction::Outbound,
        inbound: response.into_inner(),
        outbound: FrameTx::Dialer(tx),
        remote_addr: addr.strip_prefix("http://").unwrap_or(addr).parse().ok(),
        connection: Some(channel),
    })
}

/// The error and its sources, as one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn settings() -> Http2 {
        Http2 {
            max_message_size: 1024,
            open_timeout: Duration::from_secs(2),
            keepalive_interval: Duration::from_secs(5),
            keepalive_timeout: Duration::from_secs(10),
        }
    }

    #[test]
    fn bare_addresses_get_a_scheme_and_uris_pass_through() {
        assert_eq!(uri_for("127.0.0.1:4000"), "http://127.0.0.1:4000");
        assert_eq!(uri_for("https://h:1"), "https://h:1");
    }

    #[tokio::test]
    async fn a_bad_address_and_a_closed_port_are_told_apart() {
        let err = dial("not a uri at all", &settings()).await.err();
        assert!(
            matches!(err, Some(DialError::InvalidAddress { .. })),
            "{err:?}"
        );
        // Bind and drop a listener to find a port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let err = dial(&format!("127.0.0.1:{port}"), &settings()).await.err();
        assert!(
            matches!(err, Some(DialError::Unreachable { .. })),
            "{err:?}"
        );
    }
}
