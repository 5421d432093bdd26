//! Runs one long-lived ractor_grpc node: the process to point grpcurl at;
//! and mints the bearer tokens its unary RPCs need.
//!
//! ```text
//! node --name node-a --cookie secret --listen 127.0.0.1:4000 --demo-actors
//! node --name node-b --cookie secret --connect 127.0.0.1:4000
//! node token --cookie secret --name node-a [--scope inspect|all] [--ttl-secs 3600]
//! node inspect 127.0.0.1:4000 groups|peers --cookie secret --name node-a
//! ```
//!
//! Running, it prints `[NAME] listening on ADDR` first on stdout, then one
//! line per session event; logs go to stderr (`RUST_LOG`, default `info`).
//! `node token` prints the token alone on stdout (what it is for goes to
//! stderr), ready for `grpcurl -H "authorization: Bearer $TOKEN"`.
//! `node inspect` asks a running node (plaintext) for its groups or peers and
//! prints one line each, with a token it mints from the cookie and the
//! node's name, or the one `--token` gives.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};
use integration::{BasicActor, demo::DemoActors, inspect};
use ractor::Actor;
use ractor_grpc::{
    ConnectionMode, Cookie, DisconnectReason, HeartbeatConfig, NodeConfig, NodeEventSubscription,
    NodeServer, ReconnectConfig, SessionInfo, TargetInfo, TargetState, TlsConfig, TokenScope,
    pb::{self, cluster_node_client::ClusterNodeClient},
};
use tonic::{
    Request,
    metadata::{Ascii, MetadataValue},
    transport::Endpoint,
};
use tracing_subscriber::EnvFilter;

/// One ractor_grpc node. Without a subcommand, runs it.
#[derive(Debug, Parser)]
#[command(
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Mint a bearer token for a node's unary RPCs (GetNodeInfo, ListPeers,
    /// ...); prints it alone on stdout.
    Token(TokenArgs),
    /// Ask a running node (plaintext) for its groups or peers; prints one
    /// line each.
    Inspect(InspectArgs),
}

/// Where the cluster cookie comes from.
#[derive(Debug, Args)]
struct CookieArgs {
    /// The cluster cookie. Prefer the environment variable or a file: a
    /// command line is visible to other users of the machine.
    #[arg(
        long,
        env = "RACTOR_GRPC_COOKIE",
        hide_env_values = true,
        conflicts_with = "cookie_file"
    )]
    cookie: Option<String>,
    /// Read the cookie from this file (surrounding whitespace is trimmed).
    #[arg(long)]
    cookie_file: Option<PathBuf>,
}

/// Running a node.
#[derive(Debug, Args)]
struct RunArgs {
    /// The node name (unique in the cluster).
    // An Option only so `node token` can leave it out; clap requires it
    // when there is no subcommand.
    #[arg(long, required = true)]
    name: Option<String>,
    #[command(flatten)]
    cookie: CookieArgs,
    /// Where to accept sessions.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The address peers dial this node on (host:port, a DNS name allowed);
    /// by default the listen address.
    #[arg(long, value_name = "HOST:PORT")]
    advertise: Option<String>,
    /// A peer to keep connected (repeatable): dialled at start and again
    /// whenever the session is lost, with backoff. A DNS name that resolves
    /// to several addresses keeps each of them connected.
    #[arg(long = "connect", value_name = "HOST:PORT")]
    connect: Vec<String>,
    /// Dial the peers of peers (full mesh) instead of isolated mode.
    #[arg(long)]
    transitive: bool,
    /// Handshake deadline in milliseconds.
    #[arg(long, default_value_t = 5000)]
    handshake_timeout_ms: u64,
    /// How often to ping each peer, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    heartbeat_interval_ms: u64,
    /// Bytes a session may hold for its peer before casts and calls to the
    /// peer's actors are refused and counted as overflowed (README, "Flow
    /// control"); at least 65536.
    #[arg(long, default_value_t = ractor_grpc::DEFAULT_QUEUE_LIMIT)]
    queue_limit: usize,
    /// Bytes of a peer's casts this node's actors may hold untaken before
    /// the session stops reading until they catch up (README, "Flow
    /// control": bounded memory, at the price of head-of-line blocking);
    /// none if not given; at least 65536.
    #[arg(long)]
    receive_budget: Option<usize>,
    /// How long a peer may stay silent before it is declared down, in
    /// milliseconds (at least 1000, and more than the interval).
    #[arg(long, default_value_t = 10_000)]
    heartbeat_timeout_ms: u64,
    /// Serve and dial over TLS with this certificate chain (PEM); needs
    /// `--tls-key` and `--tls-ca`.
    #[arg(long, value_name = "PEM", requires_all = ["tls_key", "tls_ca"])]
    tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The CA (PEM) that peers' certificates must chain to.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_ca: Option<PathBuf>,
    /// Accept only clients with a certificate from `--tls-ca` (mutual TLS).
    #[arg(long, requires = "tls_cert")]
    require_client_cert: bool,
    /// The name peers' certificates must carry, instead of the host dialled.
    #[arg(long, value_name = "NAME", requires = "tls_cert")]
    tls_server_name: Option<String>,
    /// The first wait before dialling a lost peer again, in milliseconds;
    /// it doubles after each failure.
    #[arg(long, default_value_t = 250)]
    reconnect_initial_ms: u64,
    /// The longest wait between dials of a lost peer, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    reconnect_max_ms: u64,
    /// Do not dial lost peers again; `--connect` then tries once.
    #[arg(long)]
    no_reconnect: bool,
    /// Start an example actor (`MyBasicMessageType`) named `GROUP@NAME` in
    /// this pg group, so peers see a member there (repeatable).
    #[arg(long = "join", value_name = "GROUP")]
    join: Vec<String>,
    /// How long each `--join` actor takes over a `Cast1`, in microseconds
    /// (a slow consumer; 0: no time).
    #[arg(long, default_value_t = 0)]
    cast_delay_us: u64,
    /// Start the demo actors: `pong` (cast `Ping(string,u64)`, call
    /// `Pong(u64)` -> n+1, call `History()`) in pg group `pong`, and `kv`
    /// (cast `Put(string,string)`, call `Get(string)`, call `Dump()`) in pg
    /// group `kv`, for grpcurl and other clients to cast to and call.
    #[arg(long)]
    demo_actors: bool,
    /// Serve the node's metrics for Prometheus (text format, any path) on
    /// this address, e.g. 127.0.0.1:9464.
    #[arg(long, value_name = "HOST:PORT")]
    metrics_addr: Option<std::net::SocketAddr>,
}

/// The TLS settings the flags ask for, if any.
fn tls(args: &RunArgs) -> Result<Option<TlsConfig>, std::io::Error> {
    let (Some(cert), Some(key), Some(ca)) = (&args.tls_cert, &args.tls_key, &args.tls_ca) else {
        return Ok(None);
    };
    let mut tls =
        TlsConfig::from_pem_files(cert, key, ca)?.require_client_cert(args.require_client_cert);
    if let Some(name) = &args.tls_server_name {
        tls = tls.with_server_name(name.clone());
    }
    Ok(Some(tls))
}

/// Minting a token.
#[derive(Debug, Args)]
struct TokenArgs {
    /// The node the token is for (it works on that node only).
    #[arg(long)]
    name: String,
    #[command(flatten)]
    cookie: CookieArgs,
    /// What the token allows: `inspect` (GetNodeInfo, ListPeers, ListActors,
    /// ListGroups) or `all` (every unary RPC).
    #[arg(long, default_value_t = TokenScope::Inspect)]
    scope: TokenScope,
    /// How long the token works, in seconds (1 to 86400).
    #[arg(long, default_value_t = 3600)]
    ttl_secs: u64,
}

/// What `node inspect` lists.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Listing {
    /// One line per pg group: `GROUP: member@node, ...`.
    Groups,
    /// One line per session: `NAME: STATE, DIRECTION, ...`.
    Peers,
    /// One line about the node: `NAME: version V, listening on ADDR, up
    /// MS ms, N peers, N tasks, incarnation N`.
    Info,
}

/// Asking a running node what it knows.
#[derive(Debug, Args)]
struct InspectArgs {
    /// The node's address.
    #[arg(value_name = "HOST:PORT")]
    addr: String,
    /// What to list.
    listing: Listing,
    /// A bearer token for the node (from `node token`); without it one is
    /// minted from the cookie and `--name`.
    #[arg(long, env = "RACTOR_GRPC_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The name of the node asked (a token works on that node only); needed
    /// to mint a token.
    #[arg(long, required_unless_present = "token")]
    name: Option<String>,
    #[command(flatten)]
    cookie: CookieArgs,
    /// How long connecting and the answer may take, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
}

/// Prints session events in plain words.
struct Printer(String);

fn peer(s: &SessionInfo) -> &str {
    s.peer_name.as_deref().unwrap_or("an unnamed peer")
}

impl NodeEventSubscription for Printer {
    fn session_authenticated(&self, s: &SessionInfo) {
        println!("[{}] authenticated with {}", self.0, peer(s));
    }
    fn session_ready(&self, s: &SessionInfo) {
        println!("[{}] ready with {} ({:?})", self.0, peer(s), s.direction);
    }
    fn session_disconnected(&self, s: &SessionInfo, reason: &DisconnectReason) {
        println!("[{}] disconnected from {}: {reason}", self.0, peer(s));
    }
    fn reconnecting(&self, t: &TargetInfo) {
        if let TargetState::Waiting { retry_in } = t.state {
            println!(
                "[{}] will dial {} again in {} ms (failure {}: {})",
                self.0,
                t.addr,
                retry_in.as_millis(),
                t.failures,
                t.last_error.as_deref().unwrap_or("?")
            );
        }
    }
    fn reconnect_abandoned(&self, t: &TargetInfo) {
        println!(
            "[{}] gave up on {}: {}",
            self.0,
            t.addr,
            t.last_error.as_deref().unwrap_or("?")
        );
    }
}

fn cookie(args: &CookieArgs) -> Result<String, String> {
    match (&args.cookie, &args.cookie_file) {
        (Some(c), _) => Ok(c.clone()),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|s| s.trim().to_owned())
            .map_err(|e| format!("cannot read cookie file {}: {e}", path.display())),
        (None, None) => {
            Err("no cookie: pass --cookie, --cookie-file or set RACTOR_GRPC_COOKIE".into())
        }
    }
}

async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Token(args)) => token(&args),
        Some(Command::Inspect(args)) => inspect_node(&args).await,
        None => run(cli.run).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Prints a token for `args.name`: alone on stdout, what it allows on stderr.
fn token(args: &TokenArgs) -> Result<(), Box<dyn std::error::Error>> {
    let cookie = Cookie::from(cookie(&args.cookie)?);
    let ttl = Duration::from_secs(args.ttl_secs);
    let token = ractor_grpc::mint_token(&cookie, &args.name, args.scope, ttl)?;
    eprintln!(
        "[token] for node {}, scope {}, valid {} s",
        args.name, args.scope, args.ttl_secs
    );
    println!("{token}");
    Ok(())
}

/// Prints the node's groups or peers, one line each, or a line about it.
async fn inspect_node(args: &InspectArgs) -> Result<(), Box<dyn std::error::Error>> {
    let token = match (&args.token, &args.name) {
        (Some(token), _) => token.clone(),
        (None, Some(name)) => {
            let cookie = Cookie::from(cookie(&args.cookie)?);
            let ttl = Duration::from_secs(60);
            ractor_grpc::mint_token(&cookie, name, TokenScope::Inspect, ttl)?
        }
        (None, None) => return Err("no token: pass --token, or --name and a cookie".into()),
    };
    let bearer = MetadataValue::try_from(format!("Bearer {token}"))?;
    let timeout = Duration::from_millis(args.timeout_ms);
    let channel = Endpoint::from_shared(format!("http://{}", args.addr))?
        .connect_timeout(timeout)
        .timeout(timeout)
        .connect()
        .await
        .map_err(|e| format!("cannot reach {}: {}", args.addr, with_causes(&e)))?;
    let mut client = ClusterNodeClient::new(channel);
    let lines: Vec<String> = match args.listing {
        Listing::Groups => {
            let asked = authorized(pb::ListGroupsRequest {}, &bearer);
            let groups = client.list_groups(asked).await?;
            groups
                .into_inner()
                .groups
                .iter()
                .map(inspect::group_line)
                .collect()
        }
        Listing::Peers => {
            let asked = authorized(pb::ListPeersRequest {}, &bearer);
            let peers = client.list_peers(asked).await?;
            peers
                .into_inner()
                .peers
                .iter()
                .map(inspect::peer_line)
                .collect()
        }
        Listing::Info => {
            let asked = authorized(pb::GetNodeInfoRequest {}, &bearer);
            let info = client.get_node_info(asked).await?;
            vec![inspect::info_line(&info.into_inner())]
        }
    };
    if lines.is_empty() {
        let none = match args.listing {
            Listing::Groups => "groups",
            Listing::Peers | Listing::Info => "peers",
        };
        eprintln!("[inspect] {} has no {none}", args.addr);
    }
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

/// `error` and its causes, joined with `: ` (tonic's transport error says
/// only "transport error" and keeps what happened in its source).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

/// `message` with an `authorization` header.
fn authorized<T>(message: T, bearer: &MetadataValue<Ascii>) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", bearer.clone());
    request
}

async fn run(args: RunArgs) -> Result<(), Box<dyn std::error::Error>> {
    let name = args.name.clone().ok_or("no node name: pass --name")?;
    let cookie = cookie(&args.cookie)?;
    let mode = if args.transitive {
        ConnectionMode::Transitive
    } else {
        ConnectionMode::Isolated
    };
    let mut config = NodeConfig::new(name.clone(), cookie)
        .with_listen_addr(args.listen)
        .with_mode(mode)
        .with_handshake_timeout(Duration::from_millis(args.handshake_timeout_ms))
        .with_queue_limit(args.queue_limit)
        .with_heartbeat(HeartbeatConfig {
            interval: Duration::from_millis(args.heartbeat_interval_ms),
            timeout: Duration::from_millis(args.heartbeat_timeout_ms),
        })
        .with_reconnect(ReconnectConfig {
            enabled: !args.no_reconnect,
            initial_backoff: Duration::from_millis(args.reconnect_initial_ms),
            max_backoff: Duration::from_millis(args.reconnect_max_ms),
            ..ReconnectConfig::default()
        });
    if let Some(budget) = args.receive_budget {
        config = config.with_receive_budget(budget);
    }
    if let Some(addr) = &args.advertise {
        config = config.with_advertise_addr(addr.clone());
    }
    if let Some(tls) = tls(&args)? {
        config = config.with_tls(tls);
    }
    // Before the node starts, so its first session is counted too.
    if let Some(addr) = args.metrics_addr {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(addr)
            .install()
            .map_err(|e| format!("serving metrics on {addr}: {e}"))?;
    }
    let mut members = Vec::new();
    for group in &args.join {
        let member = format!("{group}@{name}");
        let basic = BasicActor {
            cast_delay: Duration::from_micros(args.cast_delay_us),
            ..BasicActor::default()
        };
        let (actor, _) = Actor::spawn(Some(member.clone()), basic, ()).await?;
        ractor::pg::join(group.clone(), vec![actor.get_cell()]);
        members.push((actor, member, group));
    }
    let demo = if args.demo_actors {
        Some(DemoActors::start(&format!("[{name}]"), "").await?)
    } else {
        None
    };
    let (node, handle) = Actor::spawn(None, NodeServer::new(config), ()).await?;
    ractor_grpc::subscribe(&node, "printer", Printer(name.clone()))?;
    let info = ractor_grpc::node_info(&node).await?;
    println!("[{name}] listening on {}", info.listen_addr);
    if let Some(addr) = args.metrics_addr {
        println!("[{name}] metrics on http://{addr}/metrics");
    }
    for (_, member, group) in &members {
        println!("[{name}] started {member} in pg group {group}");
    }
    if demo.is_some() {
        println!("[{name}] started demo actors pong and kv in pg groups pong and kv");
    }

    for addr in &args.connect {
        if args.no_reconnect {
            match ractor_grpc::connect(&node, addr.clone()).await {
                Ok(s) => println!("[{name}] connected to {} at {addr}", peer(&s)),
                Err(e) => println!("[{name}] could not connect to {addr}: {e}"),
            }
        } else {
            ractor_grpc::keep_connected(&node, addr.clone()).await?;
            println!("[{name}] keeping {addr} connected");
        }
    }

    wait_for_stop_signal().await;
    println!("[{name}] stopping");
    node.stop(None);
    handle.await?;
    for (member, _, _) in members {
        member.stop(None);
    }
    if let Some(demo) = demo {
        demo.stop();
    }
    println!("[{name}] stopped");
    Ok(())
}
