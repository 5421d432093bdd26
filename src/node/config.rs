//! How a node is set up.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use ractor::{ActorCell, ActorProcessingErr};

use serde::Deserialize;

use crate::{
    auth::Cookie,
    registry::AdvertiseMode,
    transport::{Settings, TlsConfig},
};

/// How a node joins peers into a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionMode {
    /// Sessions exist only where someone asked for them.
    #[default]
    Isolated,
    /// When a peer becomes ready, this node tells it about its other peers
    /// and dials the peers it is told about, so connected nodes form a full
    /// mesh.
    Transitive,
}

/// Settings for detecting a dead or unreachable peer.
///
/// Once a session is authenticated, each side sends a Ping every `interval`
/// and the other answers with a Pong; anything the peer sends shows it is
/// alive. A peer silent for longer than `timeout` (a frozen process, a
/// network partition) is declared down: its session ends with
/// [`DisconnectCause::HeartbeatTimeout`](crate::DisconnectCause::HeartbeatTimeout),
/// its proxies stop and its calls in flight fail. It is noticed within
/// `timeout` plus at most a second. (Sessions with a peer that speaks only
/// protocol version 1 have no Ping.) HTTP/2 keepalive runs on every
/// connection as a second line: it pings a connection silent for `timeout`
/// and drops it when that ping goes unanswered for another `timeout`, so on
/// a session the heartbeat always speaks first.
///
/// `timeout` must be at least 1 s and longer than `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct HeartbeatConfig {
    /// How often to ping the peer.
    #[serde(with = "millis")]
    pub interval: Duration,
    /// How long the peer may stay silent before it is declared down.
    #[serde(with = "millis")]
    pub timeout: Duration,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
        }
    }
}

impl HeartbeatConfig {
    /// How often a session looks at the clock: often enough that a silent
    /// peer is noticed within a quarter of the timeout, and at most a second,
    /// after the timeout.
    pub(crate) fn tick(&self) -> Duration {
        self.interval
            .min(self.timeout / 4)
            .min(Duration::from_secs(1))
    }
}

/// How a node dials its peers again after losing them.
///
/// A node keeps a session with every address it dialled once a session
/// there authenticated ([`connect`](crate::connect),
/// [`client_connect`](crate::client_connect), transitive introductions), and
/// with every address given to [`keep_connected`](crate::keep_connected)
/// from the start. When such a session ends (the peer stopped, froze or was
/// cut off), the node dials again after `initial_backoff`, doubling the wait
/// after each failure up to `max_backoff`, each wait spread at random over
/// its upper half. A permanent refusal (bad cookie, no common protocol
/// version, the node itself) stops the retries. Each new session starts
/// with a full sync, so views converge to what they were before the fault.
///
/// A DNS name given to `keep_connected` is resolved again every
/// `resolve_interval`; every address it resolves to is kept connected (a
/// Kubernetes headless service, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ReconnectConfig {
    /// Whether dialled sessions are kept (default `true`). Addresses given
    /// to `keep_connected` are kept either way.
    pub enabled: bool,
    /// The wait before the first retry.
    #[serde(with = "millis")]
    pub initial_backoff: Duration,
    /// The longest wait between retries.
    #[serde(with = "millis")]
    pub max_backoff: Duration,
    /// How often DNS names are resolved again.
    #[serde(with = "millis")]
    pub resolve_interval: Duration,
}

impl Default for ReconnectConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(10),
            resolve_interval: Duration::from_secs(5),
        }
    }
}

/// Limits on Session streams from strangers: what an unauthenticated
/// client can cost a node.
///
/// A stream counts as unauthenticated from the moment it opens until its
/// cookie handshake succeeds (or it ends, at the latest at the handshake
/// deadline). Over either limit, a new Session stream is refused with
/// RESOURCE_EXHAUSTED before any work is done for it; authenticated
/// sessions are never counted and keep working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct HandshakeLimits {
    /// Session streams still in their handshake at once (default 64).
    pub max_unauthenticated: usize,
    /// New Session streams a second from one IP address, on average
    /// (default 20)...
    pub per_source_per_second: u32,
    /// ...and at once after a quiet spell (default 40).
    pub per_source_burst: u32,
}

impl Default for HandshakeLimits {
    fn default() -> Self {
        Self {
            max_unauthenticated: 64,
            per_source_per_second: 20,
            per_source_burst: 40,
        }
    }
}

/// Default largest Session frame or unary message, in bytes (16 MiB).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 * 1024 * 1024;
/// Default bytes a session may hold for its peer (32 MiB); see
/// [`NodeConfig::with_queue_limit`].
pub const DEFAULT_QUEUE_LIMIT: usize = 32 * 1024 * 1024;
/// Default deadline for a session's handshake and first sync.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time a stopping node gives its sessions and connections to end.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Everything a [`NodeServer`](crate::NodeServer) needs to start.
///
/// Build one with [`NodeConfig::new`] and the `with_*` methods, or
/// deserialize it (durations in milliseconds; `cookie` a string):
///
/// ```
/// use std::time::Duration;
/// use ractor_grpc::{ConnectionMode, NodeConfig};
///
/// let config = NodeConfig::new("node-a", "secret cookie")
///     .with_listen_addr("127.0.0.1:0".parse().unwrap())
///     .with_mode(ConnectionMode::Transitive)
///     .with_handshake_timeout(Duration::from_secs(2));
/// assert_eq!(config.name(), "node-a");
/// ```
#[derive(Debug, Clone, Deserialize)]
pub struct NodeConfig {
    name: String,
    #[serde(deserialize_with = "cookie_from_str")]
    cookie: Cookie,
    #[serde(default = "default_listen")]
    listen_addr: SocketAddr,
    #[serde(default)]
    advertise_addr: Option<String>,
    #[serde(default)]
    mode: ConnectionMode,
    #[serde(default = "default_max_message_size")]
    max_message_size: usize,
    #[serde(default = "default_queue_limit")]
    queue_limit: usize,
    #[serde(default)]
    receive_budget: Option<usize>,
    #[serde(default = "default_handshake_timeout", with = "millis")]
    handshake_timeout: Duration,
    #[serde(default)]
    heartbeat: HeartbeatConfig,
    #[serde(default)]
    reconnect: ReconnectConfig,
    #[serde(default)]
    handshake_limits: HandshakeLimits,
    #[serde(default = "default_shutdown_grace", with = "millis")]
    shutdown_grace: Duration,
    #[serde(default)]
    advertise: AdvertiseMode,
    #[serde(skip)]
    advertise_filter: Option<AdvertiseFilter>,
    #[serde(skip)]
    tls: Option<TlsConfig>,
}

/// A predicate that further limits which local actors are advertised.
#[derive(Clone)]
pub struct AdvertiseFilter(Arc<dyn Fn(&ActorCell) -> bool + Send + Sync>);

impl AdvertiseFilter {
    /// Whether `cell` passes.
    pub fn allows(&self, cell: &ActorCell) -> bool {
        (self.0)(cell)
    }
}

impl std::fmt::Debug for AdvertiseFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdvertiseFilter(..)")
    }
}

impl NodeConfig {
    /// A node called `name` that proves membership with `cookie`, listening
    /// on 127.0.0.1 on a port the OS picks, in isolated mode.
    pub fn new(name: impl Into<String>, cookie: impl Into<Cookie>) -> Self {
        Self {
            name: name.into(),
            cookie: cookie.into(),
            listen_addr: default_listen(),
            advertise_addr: None,
            mode: ConnectionMode::default(),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            queue_limit: DEFAULT_QUEUE_LIMIT,
            receive_budget: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            heartbeat: HeartbeatConfig::default(),
            reconnect: ReconnectConfig::default(),
            handshake_limits: HandshakeLimits::default(),
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            advertise: AdvertiseMode::default(),
            advertise_filter: None,
            tls: None,
        }
    }

    /// Where to accept sessions (default `127.0.0.1:0`). Port 0 picks a free
    /// port; [`node_info`](crate::node_info) reports the bound address.
    #[must_use]
    pub fn with_listen_addr(mut self, addr: SocketAddr) -> Self {
        self.listen_addr = addr;
        self
    }

    /// The address peers dial this node on, `host:port` (a DNS name
    /// allowed), sent in the handshake and in transitive introductions. By
    /// default the bound address; a node bound to `0.0.0.0` or `[::]`
    /// advertises the machine's routable address instead (a transitive node
    /// without one refuses to start). Set it when peers reach this node
    /// through another name or address (a container's, a Kubernetes
    /// service's).
    #[must_use]
    pub fn with_advertise_addr(mut self, addr: impl Into<String>) -> Self {
        self.advertise_addr = Some(addr.into());
        self
    }

    /// The configured advertise address, if any.
    pub fn advertise_addr(&self) -> Option<&str> {
        self.advertise_addr.as_deref()
    }

    /// Isolated (default) or transitive.
    #[must_use]
    pub fn with_mode(mut self, mode: ConnectionMode) -> Self {
        self.mode = mode;
        self
    }

    /// Largest frame or message sent or received, in bytes, on server and
    /// client alike (default 16 MiB). A larger incoming frame ends the session.
    #[must_use]
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Bytes of messages a session may hold for its peer, encoded (default
    /// 32 MiB): the backpressure policy. Once a session holds this much,
    /// casts and calls through its proxies are refused (a call fails with
    /// [`CallError::Overloaded`](crate::CallError::Overloaded), a cast is
    /// logged) and counted as `overflowed` in
    /// [`SessionCounters`](crate::SessionCounters) and ListPeers, never
    /// dropped unseen. [`send`](crate::send) instead waits while a session
    /// holds a quarter of it. A session's memory for queued messages is so
    /// bounded by about this much plus two frames.
    #[must_use]
    pub fn with_queue_limit(mut self, bytes: usize) -> Self {
        self.queue_limit = bytes;
        self
    }

    /// Bytes of a peer's casts a session lets this node's actors hold in
    /// their mailboxes, not yet taken (counted as the payload plus what a
    /// message costs in a mailbox; none by default): the receive side of
    /// the backpressure policy, for nodes that must bound their memory.
    /// Past it the session stops reading until the actors catch up, so a
    /// slow actor makes the peer's queue fill (and its senders wait or be
    /// refused) instead of this node's memory grow.
    ///
    /// The price is head-of-line blocking: while one slow actor holds the
    /// budget, every message from that peer waits, calls to this node's
    /// other actors included (a flooded 450-messages-a-second consumer
    /// made calls to its node's other actors wait up to 4.4 s). Without a
    /// budget the backlog waits in the slow actor's mailbox and the node
    /// keeps answering. The session reads on while this node has calls in
    /// flight on it, so a reply an actor waits for is never held back, and
    /// holding back does not count as the peer's silence. Counted for
    /// actors whose message type derives `RactorClusterMessage` (its
    /// decoder reports each message it takes); what they hold shows as
    /// `inbox_bytes` in ListPeers with or without a budget.
    #[must_use]
    pub fn with_receive_budget(mut self, bytes: usize) -> Self {
        self.receive_budget = Some(bytes);
        self
    }

    /// Deadline for a session's handshake and first sync (default 5 s).
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Liveness settings.
    #[must_use]
    pub fn with_heartbeat(mut self, heartbeat: HeartbeatConfig) -> Self {
        self.heartbeat = heartbeat;
        self
    }

    /// Reconnect settings (default: on, 250 ms doubling to 10 s).
    #[must_use]
    pub fn with_reconnect(mut self, reconnect: ReconnectConfig) -> Self {
        self.reconnect = reconnect;
        self
    }

    /// Limits on strangers' Session streams (default: 64 unauthenticated at
    /// once, 20 a second from one address in bursts of 40).
    #[must_use]
    pub fn with_handshake_limits(mut self, limits: HandshakeLimits) -> Self {
        self.handshake_limits = limits;
        self
    }

    /// How long a stopping node waits for its sessions to say goodbye, and
    /// then for its open connections to finish, before it drops them
    /// (default 2 s each).
    #[must_use]
    pub fn with_shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Serves and dials every session over TLS (see [`TlsConfig`]; mutual
    /// TLS with [`TlsConfig::require_client_cert`]). Without it, links are
    /// plaintext and only the cookie handshake guards them.
    #[must_use]
    pub fn with_tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The TLS settings, if any.
    pub fn tls(&self) -> Option<&TlsConfig> {
        self.tls.as_ref()
    }

    /// Which local actors peers see (default: every remotable actor).
    #[must_use]
    pub fn with_advertise(mut self, mode: AdvertiseMode) -> Self {
        self.advertise = mode;
        self
    }

    /// Advertises only the actors `filter` accepts (on top of the mode).
    /// Useful to keep internal actors private, or to give several nodes in
    /// one process (tests) actors of their own: ractor's registries are
    /// process-wide, so every node in a process sees every local actor.
    #[must_use]
    pub fn with_advertise_filter(
        mut self,
        filter: impl Fn(&ActorCell) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.advertise_filter = Some(AdvertiseFilter(Arc::new(filter)));
        self
    }

    /// Which local actors peers see.
    pub fn advertise(&self) -> AdvertiseMode {
        self.advertise
    }

    /// The extra filter on advertised actors, if any.
    pub fn advertise_filter(&self) -> Option<&AdvertiseFilter> {
        self.advertise_filter.as_ref()
    }

    /// The node name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The configured listen address (port 0 until bound).
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }

    /// The connection mode.
    pub fn mode(&self) -> ConnectionMode {
        self.mode
    }

    /// The largest frame or message, in bytes.
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// The queue limit of each session, in bytes.
    pub fn queue_limit(&self) -> usize {
        self.queue_limit
    }

    /// The receive budget of each session, in bytes, if one is set.
    pub fn receive_budget(&self) -> Option<usize> {
        self.receive_budget
    }

    /// The handshake deadline.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// The liveness settings.
    pub fn heartbeat(&self) -> HeartbeatConfig {
        self.heartbeat
    }

    /// The reconnect settings.
    pub fn reconnect(&self) -> ReconnectConfig {
        self.reconnect
    }

    /// The limits on strangers' Session streams.
    pub fn handshake_limits(&self) -> HandshakeLimits {
        self.handshake_limits
    }

    /// The shutdown grace period.
    pub fn shutdown_grace(&self) -> Duration {
        self.shutdown_grace
    }

    /// A tonic `Server` builder with this node's own HTTP/2 settings
    /// (flow-control windows, frame size, keepalive) and its TLS, for an
    /// application that serves a [mounted](crate::NodeServer::mounted) node:
    /// add the application's layers and services to it, and the node's
    /// [`services`](crate::services). (A plain `Server::builder()` works
    /// too, with hyper's smaller windows and no TLS.)
    ///
    /// # Errors
    /// The TLS certificate or key cannot be used, and why.
    pub fn tonic_server(&self) -> Result<tonic::transport::Server, ActorProcessingErr> {
        Ok(self.transport().server()?)
    }

    pub(crate) fn cookie(&self) -> &Cookie {
        &self.cookie
    }

    /// The HTTP/2 settings of this node's connections, both ways.
    pub(crate) fn transport(&self) -> Settings {
        Settings {
            max_message_size: self.max_message_size,
            open_timeout: self.handshake_timeout,
            // Later than the heartbeat can be (timeout + tick), so a silent
            // peer ends as HeartbeatTimeout, not as a transport error: with
            // the interval here the two raced to the same millisecond.
            keepalive_interval: self.heartbeat.timeout,
            keepalive_timeout: self.heartbeat.timeout,
            tls: self.tls.clone(),
        }
    }

    /// Checks the settings a node cannot run with (a node refuses to start
    /// with them, with this error): a name of 1 to 255 bytes, a cookie,
    /// sizes and durations in range, a heartbeat interval shorter than its
    /// timeout, TLS settings with a certificate.
    ///
    /// # Errors
    /// [`InvalidConfig`] says which rule the settings break.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        self.check().map_err(InvalidConfig)
    }

    fn check(&self) -> Result<(), String> {
        if self.name.is_empty() || self.name.len() > crate::auth::MAX_NAME_LEN {
            return Err("node name must be 1 to 255 bytes".into());
        }
        if self.cookie.is_empty() {
            return Err("cookie must not be empty".into());
        }
        if self.max_message_size < 1024 {
            return Err("max message size must be at least 1024 bytes".into());
        }
        if self.queue_limit < 64 * 1024 {
            return Err("the queue limit must be at least 64 KiB".into());
        }
        if self.receive_budget.is_some_and(|b| b < 64 * 1024) {
            return Err("the receive budget must be at least 64 KiB".into());
        }
        if self.handshake_timeout.is_zero() || self.heartbeat.interval.is_zero() {
            return Err("timeouts and intervals must be above zero".into());
        }
        if self.heartbeat.timeout < Duration::from_secs(1) {
            return Err("the heartbeat timeout must be at least 1 s".into());
        }
        if self.heartbeat.interval >= self.heartbeat.timeout {
            return Err("the heartbeat interval must be shorter than its timeout".into());
        }
        let h = &self.handshake_limits;
        if h.max_unauthenticated == 0 || h.per_source_per_second == 0 || h.per_source_burst == 0 {
            return Err("handshake limits must be above zero".into());
        }
        let r = &self.reconnect;
        if r.initial_backoff.is_zero()
            || r.max_backoff < r.initial_backoff
            || r.resolve_interval.is_zero()
        {
            return Err(
                "reconnect backoffs and the resolve interval must be above zero, the maximum \
                 backoff at least the initial one"
                    .into(),
            );
        }
        if self.tls.as_ref().is_some_and(|tls| !tls.has_certificate()) {
            return Err(
                "a node's TLS settings need a certificate and key to serve with \
                 (TlsConfig::client is for connect_enc)"
                    .into(),
            );
        }
        Ok(())
    }
}

/// Settings a node cannot run with, and which rule they break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidConfig(String);

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn default_max_message_size() -> usize {
    DEFAULT_MAX_MESSAGE_SIZE
}

fn default_queue_limit() -> usize {
    DEFAULT_QUEUE_LIMIT
}

fn default_handshake_timeout() -> Duration {
    DEFAULT_HANDSHAKE_TIMEOUT
}

fn default_shutdown_grace() -> Duration {
    DEFAULT_SHUTDOWN_GRACE
}

fn cookie_from_str<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Cookie, D::Error> {
    String::deserialize(d).map(Cookie::from)
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(interval: u64, timeout: u64) -> NodeConfig {
        NodeConfig::new("a", "cookie").with_heartbeat(HeartbeatConfig {
            interval: Duration::from_millis(interval),
            timeout: Duration::from_millis(timeout),
        })
    }

    #[test]
    fn a_heartbeat_must_time_out_after_a_second_or_more_and_after_its_interval() {
        assert!(with(5_000, 10_000).validate().is_ok());
        assert!(with(250, 1_000).validate().is_ok());
        for (interval, timeout) in [(100, 999), (1_000, 1_000), (2_000, 1_500), (0, 2_000)] {
            let err = with(interval, timeout).validate();
            assert!(err.is_err(), "{interval}/{timeout} ms accepted");
        }
    }

    #[test]
    fn a_queue_limit_under_64_kib_is_refused_and_it_can_be_deserialized() {
        let config = NodeConfig::new("a", "cookie");
        assert_eq!(config.queue_limit(), DEFAULT_QUEUE_LIMIT);
        assert!(
            config
                .clone()
                .with_queue_limit(64 * 1024)
                .validate()
                .is_ok()
        );
        let err = config.with_queue_limit(64 * 1024 - 1).validate();
        assert_eq!(
            err.map_err(|e| e.to_string()),
            Err("the queue limit must be at least 64 KiB".to_owned())
        );
        let parsed: NodeConfig =
            serde_json::from_str(r#"{"name": "a", "cookie": "c", "queue_limit": 1048576}"#)
                .expect("a config");
        assert_eq!(parsed.queue_limit(), 1 << 20);
    }

    #[test]
    fn http2_keepalive_gives_up_only_after_the_heartbeat_would_have() {
        for (interval, timeout) in [(250, 1_000), (5_000, 10_000), (900, 2_000), (100, 60_000)] {
            let config = with(interval, timeout);
            let t = config.transport();
            let keepalive = t.keepalive_interval + t.keepalive_timeout;
            let heartbeat = config.heartbeat.timeout + config.heartbeat.tick();
            assert!(keepalive > heartbeat, "{interval}/{timeout} ms");
        }
    }

    #[test]
    fn a_silent_peer_is_noticed_within_a_second_after_the_timeout() {
        let tick = |interval, timeout| {
            HeartbeatConfig {
                interval: Duration::from_millis(interval),
                timeout: Duration::from_millis(timeout),
            }
            .tick()
        };
        assert_eq!(tick(5_000, 10_000), Duration::from_secs(1));
        assert_eq!(tick(250, 1_000), Duration::from_millis(250));
        assert_eq!(tick(100, 1_000), Duration::from_millis(100));
        assert_eq!(tick(900, 2_000), Duration::from_millis(500));
    }
}
