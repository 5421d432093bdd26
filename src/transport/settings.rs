//! The HTTP/2 settings both ends of a Session stream use.
//!
//! Owns the window, frame and keepalive numbers, so server and dialer can
//! never disagree; the node turns its config into an [`Settings`].

use std::time::Duration;

use tonic::transport::{Endpoint, Server};

use super::{dial::error_chain, tls::TlsConfig};

/// HTTP/2 flow-control window of one stream. tonic's default is 64 KiB,
/// which stalls a session on a window update every 64 KiB of payload.
const STREAM_WINDOW: u32 = 4 * 1024 * 1024;
/// HTTP/2 flow-control window of a whole connection.
const CONNECTION_WINDOW: u32 = 8 * 1024 * 1024;
/// Largest HTTP/2 frame (default 16 KiB): fewer frame headers for big batches.
const MAX_FRAME: u32 = 1024 * 1024;

/// Frames a stream may queue towards tonic before its writer waits. Few:
/// the session's outbox is where a backlog waits, counted and bounded; a
/// frame handed on here is out of its count. While tonic encodes one frame
/// the writer gathers the next.
pub(crate) const QUEUE_FRAMES: usize = 2;

/// How a node's connections are set up, on the server and the dialing side
/// alike.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Largest gRPC message sent or received, in bytes.
    pub(crate) max_message_size: usize,
    /// How long a dial may take to connect and to open the stream.
    pub(crate) open_timeout: Duration,
    /// HTTP/2 keepalive: how often to ping an idle connection...
    pub(crate) keepalive_interval: Duration,
    /// ...and how long a ping may go unanswered before the connection drops.
    pub(crate) keepalive_timeout: Duration,
    /// TLS on every connection, served (given a certificate) and dialled;
    /// `None` for plaintext.
    pub(crate) tls: Option<TlsConfig>,
}

impl Settings {
    /// A server builder with these settings.
    ///
    /// # Errors
    /// The TLS certificate or key cannot be used, and why.
    pub(crate) fn server(&self) -> Result<Server, String> {
        let server = Server::builder()
            .initial_stream_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .max_frame_size(MAX_FRAME)
            .http2_keepalive_interval(Some(self.keepalive_interval))
            .http2_keepalive_timeout(Some(self.keepalive_timeout));
        match self
            .tls
            .as_ref()
            .and_then(|tls| tls.server(self.open_timeout))
        {
            Some(tls) => server.tls_config(tls).map_err(|e| {
                format!(
                    "the node's TLS certificate or key cannot be used: {}",
                    error_chain(&e)
                )
            }),
            None => Ok(server),
        }
    }

    /// `endpoint` with these settings, for dialing.
    pub(crate) fn endpoint(&self, endpoint: Endpoint) -> Endpoint {
        endpoint
            .connect_timeout(self.open_timeout)
            .tcp_nodelay(true)
            .initial_stream_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .max_frame_size(MAX_FRAME)
            .http2_keep_alive_interval(self.keepalive_interval)
            .keep_alive_timeout(self.keepalive_timeout)
            .keep_alive_while_idle(true)
    }
}
