//! Dialing a peer: connecting and opening the Session stream.
//!
//! Owns the dialing side's connection setup and its errors; the stream it
//! returns is the session's to drive. Never retries: whether and when to dial
//! again is the node's decision.

use std::{error::Error as _, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::mpsc,
};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Endpoint;

use super::{
    settings::{QUEUE_FRAMES, Settings},
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
    /// The TLS handshake failed, or one side spoke TLS and the other did not.
    #[error("TLS with {addr} failed: {detail}")]
    Tls { addr: String, detail: String },
    /// The peer refused a new stream for now (RESOURCE_EXHAUSTED).
    #[error("{addr} refused a new session for now: {detail}")]
    Overloaded { addr: String, detail: String },
    /// The stream did not open within the settings' open timeout.
    #[error("the stream did not open in time")]
    Timeout,
}

/// Turns `host:port` into a URI tonic can dial (`https` with TLS); full
/// URIs pass through.
fn uri_for(addr: &str, tls: bool) -> String {
    if addr.contains("://") {
        addr.to_owned()
    } else if tls {
        format!("https://{addr}")
    } else {
        format!("http://{addr}")
    }
}

/// Connects to `addr` (over TLS when the settings have it) and opens a
/// Session stream on a connection of its own.
pub(crate) async fn dial(addr: &str, settings: &Settings) -> Result<SessionStream, DialError> {
    let tls = settings.tls.as_ref();
    let invalid = |detail: String| DialError::InvalidAddress {
        addr: addr.to_owned(),
        detail,
    };
    let uri = uri_for(addr, tls.is_some());
    let mut endpoint =
        settings.endpoint(Endpoint::from_shared(uri).map_err(|e| invalid(e.to_string()))?);
    if let Some(tls) = tls {
        endpoint = endpoint
            .tls_config(tls.dialer(settings.open_timeout))
            .map_err(|e| invalid(error_chain(&e)))?;
    }
    let channel = match endpoint.connect().await {
        Ok(channel) => channel,
        Err(e) => return Err(classify(addr, &e, None)),
    };
    let mut client = ClusterNodeClient::new(channel.clone())
        .max_decoding_message_size(settings.max_message_size)
        .max_encoding_message_size(settings.max_message_size);
    let (tx, rx) = mpsc::channel(QUEUE_FRAMES);
    let response = match tokio::time::timeout(
        settings.open_timeout,
        client.session(ReceiverStream::new(rx)),
    )
    .await
    {
        Err(_) => return Err(DialError::Timeout),
        Ok(Ok(response)) => response,
        // The peer is busy with strangers, or this address is over its
        // handshake rate: worth another try later.
        Ok(Err(status))
            if status.source().is_none() && status.code() == tonic::Code::ResourceExhausted =>
        {
            return Err(DialError::Overloaded {
                addr: addr.to_owned(),
                detail: status.message().to_owned(),
            });
        }
        // A status the peer sent: it speaks gRPC, but would not open.
        Ok(Err(status)) if status.source().is_none() => {
            return Err(DialError::Unreachable {
                addr: addr.to_owned(),
                detail: format!("{:?}: {}", status.code(), status.message()),
            });
        }
        // The connection broke before the stream opened.
        Ok(Err(status)) => {
            let closed = if tls.is_some() {
                Closed::AfterTlsHandshake
            } else if speaks_tls(addr, settings.open_timeout.min(PROBE_TIMEOUT)).await {
                Closed::PeerSpeaksTls
            } else {
                Closed::Plaintext
            };
            // The transport's error says more than the status wrapping it.
            let cause = status.source().unwrap_or(&status);
            return Err(classify(addr, cause, Some(closed)));
        }
    };
    let bare = addr
        .strip_prefix("http://")
        .or_else(|| addr.strip_prefix("https://"))
        .unwrap_or(addr);
    Ok(SessionStream {
        direction: Direction::Outbound,
        inbound: response.into_inner(),
        outbound: FrameTx::Dialer(tx),
        remote_addr: bare.parse().ok(),
        connection: Some(channel),
        admission: None,
    })
}

/// How long the plaintext dialer's TLS probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// How a connection that opened ended before the Session stream did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closed {
    /// This node dialled with TLS, the handshake passed on this side, and the
    /// peer hung up: with TLS 1.3 that is how a server refuses a client
    /// certificate.
    AfterTlsHandshake,
    /// This node dialled in plaintext and the peer answers in TLS.
    PeerSpeaksTls,
    /// Neither: the peer closed a plaintext connection.
    Plaintext,
}

/// Tells a TLS failure from an unreachable peer: a rustls error anywhere in
/// the chain, or a connection closed before the stream opened, as `closed`
/// says.
fn classify(
    addr: &str,
    e: &(dyn std::error::Error + 'static),
    closed: Option<Closed>,
) -> DialError {
    let addr = addr.to_owned();
    if let Some(tls) = rustls_error(e) {
        return DialError::Tls {
            addr,
            detail: tls.to_string(),
        };
    }
    let chain = error_chain(e);
    match closed {
        Some(Closed::AfterTlsHandshake) => DialError::Tls {
            addr,
            detail: format!(
                "the peer closed the connection right after the TLS handshake: it requires a \
                 client certificate, and this node presents none or one its CA does not trust \
                 ({chain})"
            ),
        },
        Some(Closed::PeerSpeaksTls) => DialError::Tls {
            addr,
            detail: "the peer speaks TLS and this node dialled in plaintext: give the node TLS \
                     settings (NodeConfig::with_tls) or dial with connect_enc"
                .to_owned(),
        },
        Some(Closed::Plaintext) | None => DialError::Unreachable {
            addr,
            detail: chain,
        },
    }
}

/// The rustls error in `e`'s chain, if any (io errors hide theirs from
/// `source()`, so look inside them too).
fn rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(tls) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(tls);
        }
        next = e.source();
    }
    None
}

/// Whether the server at `addr` answers an HTTP/2 preface with a TLS alert
/// record, as a TLS server does when spoken to in plaintext.
async fn speaks_tls(addr: &str, within: Duration) -> bool {
    let probe = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        stream.write_all(HTTP2_PREFACE).await.ok()?;
        let mut head = [0u8; 3];
        stream.read_exact(&mut head).await.ok()?;
        Some(is_tls_alert(&head))
    };
    matches!(tokio::time::timeout(within, probe).await, Ok(Some(true)))
}

const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A TLS record header of an alert (content type 21), version 3.x.
fn is_tls_alert(head: &[u8; 3]) -> bool {
    head[0] == 21 && head[1] == 3
}

/// The error and its sources, as one line (a source whose text its parent
/// already carries is not repeated).
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            max_message_size: 1024,
            open_timeout: Duration::from_secs(2),
            keepalive_interval: Duration::from_secs(5),
            keepalive_timeout: Duration::from_secs(10),
            tls: None,
        }
    }

    #[test]
    fn a_tls_alert_record_is_recognised() {
        // What a rustls server sends to an HTTP/2 preface: decode_error.
        assert!(is_tls_alert(&[21, 3, 3]));
        assert!(!is_tls_alert(&[0, 0, 18])); // an HTTP/2 SETTINGS frame header
        assert!(!is_tls_alert(b"HTT")); // HTTP/1.1
    }

    #[test]
    fn bare_addresses_get_a_scheme_and_uris_pass_through() {
        assert_eq!(uri_for("127.0.0.1:4000", false), "http://127.0.0.1:4000");
        assert_eq!(uri_for("127.0.0.1:4000", true), "https://127.0.0.1:4000");
        assert_eq!(uri_for("https://h:1", false), "https://h:1");
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
