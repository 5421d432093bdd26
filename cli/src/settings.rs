//! A node's settings: one table of keys, each read from a TOML file, the
//! environment and the command line, merged as default < file < env < flag.
//!
//! One naming rule holds for every setting: the file key is `snake_case`,
//! its environment variable is `RACTOR_GRPC_` and the key in upper case, and
//! its flag is the key in kebab case. So `heartbeat_timeout = "10s"` in the
//! file, `RACTOR_GRPC_HEARTBEAT_TIMEOUT=10s` and `--heartbeat-timeout 10s`
//! set the same thing. Durations are text everywhere (`"5s"`, `"250ms"`,
//! `"1m"`); a file key the table does not know is an error that names it.
//!
//! ```
//! use ractor_grpc_node::settings::{merge, Layer, Source};
//! use std::time::Duration;
//!
//! let file: Layer = toml::from_str(r#"
//!     name = "node-a"
//!     heartbeat_interval = "2s"
//! "#).unwrap();
//! let flags = Layer { heartbeat_interval: Some(Duration::from_secs(1)), ..Layer::default() };
//! let merged = merge(&[
//!     (Source::Default, &Layer::defaults()),
//!     (Source::File("node.toml".into()), &file),
//!     (Source::Flag, &flags),
//! ]);
//! let interval = merged.heartbeat_interval.unwrap();
//! assert_eq!(interval.value, Duration::from_secs(1));
//! assert_eq!(interval.source, Source::Flag);
//! assert_eq!(merged.name.unwrap().source, Source::File("node.toml".into()));
//! ```

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use ractor_grpc::{ConnectionMode, NodeConfig, TlsConfig};
use serde::{Deserialize, Deserializer, de::Error as _};

/// A setting that cannot be read or used: one line naming the setting and
/// where its value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

impl Error {
    pub(crate) fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// Where a setting's value came from, lowest precedence first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The library's default.
    Default,
    /// The config file at this path.
    File(PathBuf),
    /// The setting's environment variable.
    Env,
    /// The setting's flag.
    Flag,
}

impl Source {
    /// The source as words for setting `key`: `default`, `file node.toml`,
    /// `env RACTOR_GRPC_NAME` or `flag --name`.
    pub fn describe(&self, key: &str) -> String {
        match self {
            Self::Default => "default".to_owned(),
            Self::File(path) => format!("file {}", path.display()),
            Self::Env => format!("env {}", env_var(key)),
            Self::Flag => format!("flag --{}", flag(key)),
        }
    }

    /// How it ranks: default < file < env < flag.
    fn rank(&self) -> u8 {
        match self {
            Self::Default => 0,
            Self::File(_) => 1,
            Self::Env => 2,
            Self::Flag => 3,
        }
    }
}

/// The environment variable of setting `key`: `RACTOR_GRPC_` and the key
/// in upper case.
pub fn env_var(key: &str) -> String {
    format!("RACTOR_GRPC_{}", key.to_ascii_uppercase())
}

/// The flag of setting `key` without its dashes: the key in kebab case.
pub fn flag(key: &str) -> String {
    key.replace('_', "-")
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// Where it came from.
    pub source: Source,
}

/// How a setting's flag takes values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One value.
    One,
    /// A switch: the flag alone means `true`, or it takes `true`/`false`.
    Switch,
    /// Repeatable; its environment variable is comma-separated.
    List,
}

/// One setting of the table.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// The file key (`snake_case`); the env var and flag follow from it.
    pub name: &'static str,
    /// What its value looks like, for `--help`.
    pub value_name: &'static str,
    /// What it does (the doc comment of its [`Layer`] field).
    pub help: &'static str,
    /// How its flag takes values.
    pub shape: Shape,
}

impl Key {
    /// The help text on one line.
    pub fn help_line(&self) -> String {
        self.help
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A value a setting can hold: read from text (environment, flags) and
/// from the file, and shown as TOML.
trait Setting: Clone + Sized {
    const SHAPE: Shape = Shape::One;
    fn parse(text: &str) -> Result<Self, String>;
    fn show(&self) -> String;
    fn from_file<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>;
    /// From the values clap collected for the flag or the variable.
    fn from_values(values: &[String]) -> Result<Self, String> {
        match values {
            [one] => Self::parse(one),
            _ => Err(format!("expected one value, got {}", values.len())),
        }
    }
}

/// `T::from_file`, as `Some`: serde's `deserialize_with` for every field.
fn from_file<'de, D: Deserializer<'de>, T: Setting>(d: D) -> Result<Option<T>, D::Error> {
    T::from_file(d).map(Some)
}

impl Setting for String {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(text.to_owned())
    }
    fn show(&self) -> String {
        format!("{self:?}")
    }
    fn from_file<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::deserialize(d)
    }
}

impl Setting for PathBuf {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(text.into())
    }
    fn show(&self) -> String {
        format!("{:?}", self.display().to_string())
    }
    fn from_file<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::deserialize(d)
    }
}

impl Setting for SocketAddr {
    fn parse(text: &str) -> Result<Self, String> {
        text.parse()
            .map_err(|_| format!("{text:?} is not an address like \"127.0.0.1:4000\""))
    }
    fn show(&self) -> String {
        format!("\"{self}\"")
    }
    fn from_file<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(D::Error::custom)
    }
}

macro_rules! whole_number {
    ($($ty:ty),*) => {$(
        impl Setting for $ty {
            fn parse(text: &str) -> Result<Self, String> {
                text.trim().parse().map_err(|_| {
                    format!("{text:?} is not a whole number from 0 to {}", <$ty>::MAX)
                })
            }
            fn show(&self) -> String {
                self.to_string()
            }
            fn from_file<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Self::deserialize(d)
            }
        }
    )*};
}
whole_number!(usize, u32);

impl Setting for bool {
    const SHAPE: Shape = Shape::Switch;
    fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(true),
            "false" | "no" | "off" | "0" => Ok(false),
            _ => Err(format!("{text:?} is not true or false")),
        }
    }
    fn show(&self) -> String {
        self.to_string()
    }
    fn from_file<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::deserialize(d)
    }
}

impl Setting for Duration {
    fn parse(text: &str) -> Result<Self, String> {
        parse_duration(text)
    }
    fn show(&self) -> String {
        format!("\"{}\"", humantime::format_duration(*self))
    }
    fn from_file<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d).map_err(|_| {
            D::Error::custom("a duration is a string with a unit, like \"5s\" or \"250ms\"")
        })?;
        parse_duration(&text).map_err(D::Error::custom)
    }
}

/// A duration as people write it: `"5s"`, `"250ms"`, `"1m 30s"`.
///
/// # Errors
/// Text that is not a number with a unit, said in one line.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration like \"5s\" or \"250ms\" ({e})"))
}

impl Setting for ConnectionMode {
    fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "isolated" => Ok(Self::Isolated),
            "transitive" => Ok(Self::Transitive),
            _ => Err(format!("{text:?} is not a mode: isolated or transitive")),
        }
    }
    fn show(&self) -> String {
        match self {
            Self::Isolated => "\"isolated\"",
            Self::Transitive => "\"transitive\"",
        }
        .to_owned()
    }
    fn from_file<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(D::Error::custom)
    }
}

impl Setting for Vec<String> {
    const SHAPE: Shape = Shape::List;
    fn parse(text: &str) -> Result<Self, String> {
        Self::from_values(&[text.to_owned()])
    }
    fn show(&self) -> String {
        let items: Self = self.iter().map(|s| format!("{s:?}")).collect();
        format!("[{}]", items.join(", "))
    }
    fn from_file<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::deserialize(d)
    }
    fn from_values(values: &[String]) -> Result<Self, String> {
        Ok(values
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect())
    }
}

/// Declares every setting once: the [`Layer`] fields, the [`KEYS`] table,
/// [`Merged`] and [`merge`].
macro_rules! settings {
    ($(
        $(#[doc = $doc:literal])*
        $key:ident: $ty:ty, $value_name:literal;
    )*) => {
        /// One layer of settings: what the file, the environment or the
        /// flags say, `None` where they say nothing. The file is a flat
        /// TOML table of these keys; any other key is an error.
        #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct Layer {
            $(
                $(#[doc = $doc])*
                #[serde(default, deserialize_with = "from_file")]
                pub $key: Option<$ty>,
            )*
        }

        /// Every setting, in the order `config` and `--help` show them.
        pub const KEYS: &[Key] = &[$(
            Key {
                name: stringify!($key),
                value_name: $value_name,
                help: concat!($($doc, "\n",)*),
                shape: <$ty as Setting>::SHAPE,
            },
        )*];

        impl Layer {
            /// Sets `key` from the text values of its flag or variable.
            fn set(&mut self, key: &str, values: &[String]) -> Result<(), String> {
                match key {
                    $(stringify!($key) => self.$key = Some(Setting::from_values(values)?),)*
                    _ => return Err("is not a setting".to_owned()),
                }
                Ok(())
            }
        }

        /// Every setting after merging, with where its value came from;
        /// `None` where no layer (not even the defaults) has one.
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct Merged {
            $(
                $(#[doc = $doc])*
                pub $key: Option<Sourced<$ty>>,
            )*
        }

        /// Merges `layers`, each over the ones before it.
        pub fn merge(layers: &[(Source, &Layer)]) -> Merged {
            let mut merged = Merged::default();
            for (source, layer) in layers {
                $(
                    if let Some(value) = &layer.$key {
                        merged.$key = Some(Sourced { value: value.clone(), source: source.clone() });
                    }
                )*
            }
            merged
        }

        impl Merged {
            /// Each setting as `(key, its value as TOML, where it came
            /// from)`, in [`KEYS`] order; the cookie's value is hidden.
            pub fn entries(&self) -> Vec<(&'static str, Option<(String, Source)>)> {
                vec![$(
                    (
                        stringify!($key),
                        self.$key.as_ref().map(|s| {
                            let shown = if stringify!($key) == "cookie" {
                                "\"(hidden)\"".to_owned()
                            } else {
                                s.value.show()
                            };
                            (shown, s.source.clone())
                        }),
                    ),
                )*]
            }
        }
    };
}

settings! {
    /// The node's name, unique in the cluster (for `token`: the node the
    /// token is for; for `inspect`: the node asked).
    name: String, "NAME";
    /// The cluster cookie. Prefer the environment variable or
    /// `cookie_file`: a command line is visible to other users.
    cookie: String, "COOKIE";
    /// Read the cookie from this file (surrounding whitespace trimmed).
    cookie_file: PathBuf, "PATH";
    /// Where to accept sessions.
    listen: SocketAddr, "IP:PORT";
    /// The address peers are told to dial (a DNS name allowed); by default
    /// the listen address, or the machine's routable one when listening on
    /// 0.0.0.0.
    advertise: String, "HOST:PORT";
    /// Peers to keep connected: dialled at start and again, with backoff,
    /// whenever the session is lost (once only with `reconnect` false). A
    /// DNS name keeps every address it resolves to. Repeatable; the env var
    /// is comma-separated.
    connect: Vec<String>, "HOST:PORT";
    /// isolated: sessions only where asked for; transitive: dial the peers
    /// of peers (a full mesh).
    mode: ConnectionMode, "isolated|transitive";
    /// Deadline for a session's handshake and first sync (a duration: 5s,
    /// 250ms, 1m).
    handshake_timeout: Duration, "DURATION";
    /// How often to ping each peer (a duration).
    heartbeat_interval: Duration, "DURATION";
    /// How long a peer may stay silent before it is declared down (a
    /// duration, at least 1s and longer than the interval).
    heartbeat_timeout: Duration, "DURATION";
    /// Bytes a session may hold for its peer before casts and calls to it
    /// are refused and counted as overflowed (at least 65536).
    queue_limit: usize, "BYTES";
    /// Bytes of a peer's casts this node's actors may hold untaken before
    /// the session stops reading (at least 65536); no budget if not set.
    receive_budget: usize, "BYTES";
    /// The largest frame or message sent or received, in bytes (at least
    /// 1024).
    max_message_size: usize, "BYTES";
    /// Dial lost peers again (true/false); with false, each `connect` is
    /// tried once.
    reconnect: bool, "BOOL";
    /// The first wait before dialling a lost peer again (a duration); it
    /// doubles after each failure.
    reconnect_initial: Duration, "DURATION";
    /// The longest wait between dials of a lost peer (a duration).
    reconnect_max: Duration, "DURATION";
    /// How often a DNS name in `connect` is resolved again (a duration).
    resolve_interval: Duration, "DURATION";
    /// Session streams from strangers still in their handshake at once;
    /// more are refused.
    max_unauthenticated: usize, "COUNT";
    /// New Session streams a second from one IP address, on average.
    per_source_per_second: u32, "COUNT";
    /// New Session streams from one IP address at once after a quiet spell.
    per_source_burst: u32, "COUNT";
    /// How long a stopping node waits for its sessions to say goodbye, and
    /// then for its connections to finish (a duration).
    shutdown_grace: Duration, "DURATION";
    /// Serve and dial over TLS with this certificate chain (PEM file);
    /// needs `tls_key` and `tls_ca`.
    tls_cert: PathBuf, "PEM";
    /// The private key of `tls_cert` (PEM file).
    tls_key: PathBuf, "PEM";
    /// The CA peers' certificates must chain to (PEM file).
    tls_ca: PathBuf, "PEM";
    /// Accept only clients with a certificate from `tls_ca` (mutual TLS).
    require_client_cert: bool, "BOOL";
    /// The name peers' certificates must carry, instead of the host dialled.
    tls_server_name: String, "NAME";
    /// Serve the node's metrics for Prometheus (text format, any path) on
    /// this address.
    metrics_addr: SocketAddr, "IP:PORT";
    /// Start the demo actors `pong` and `kv` (in pg groups `pong` and `kv`)
    /// for grpcurl and other clients to cast to and call.
    demo_actors: bool, "BOOL";
    /// Log a line as each span closes, with its fields and how long it was
    /// busy: with `RUST_LOG=ractor_grpc=debug`, each call's span on both
    /// nodes (its `tag`, and the `trace_id` of a trace it continues), so
    /// one call can be followed across the nodes' logs.
    log_spans: bool, "BOOL";
}

impl Layer {
    /// The library's defaults (from [`NodeConfig::new`]), and `false` or
    /// empty for the CLI's own switches and lists.
    pub fn defaults() -> Self {
        let config = NodeConfig::new("", "");
        let heartbeat = config.heartbeat();
        let reconnect = config.reconnect();
        let limits = config.handshake_limits();
        Self {
            listen: Some(config.listen_addr()),
            connect: Some(Vec::new()),
            mode: Some(config.mode()),
            handshake_timeout: Some(config.handshake_timeout()),
            heartbeat_interval: Some(heartbeat.interval),
            heartbeat_timeout: Some(heartbeat.timeout),
            queue_limit: Some(config.queue_limit()),
            receive_budget: config.receive_budget(),
            max_message_size: Some(config.max_message_size()),
            reconnect: Some(reconnect.enabled),
            reconnect_initial: Some(reconnect.initial_backoff),
            reconnect_max: Some(reconnect.max_backoff),
            resolve_interval: Some(reconnect.resolve_interval),
            max_unauthenticated: Some(limits.max_unauthenticated),
            per_source_per_second: Some(limits.per_source_per_second),
            per_source_burst: Some(limits.per_source_burst),
            shutdown_grace: Some(config.shutdown_grace()),
            require_client_cert: Some(false),
            demo_actors: Some(false),
            log_spans: Some(false),
            ..Self::default()
        }
    }

    /// The settings in the TOML file at `path`.
    ///
    /// # Errors
    /// The file cannot be read, or is not a table of known keys with values
    /// of their kind: one line with the path, the line number and what is
    /// wrong (an unknown key by its name).
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error(format!("cannot read config file {}: {e}", path.display())))?;
        Self::from_toml(&text).map_err(|e| Error(format!("config file {}{e}", path.display())))
    }

    /// [`from_file`](Self::from_file) for the file's text; the error starts
    /// with ` line N: ` where the line is known, else with `: `.
    fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| {
            let message = e.message().trim().replace('\n', " ");
            match e.span() {
                Some(span) => {
                    let line = text
                        .get(..span.start)
                        .map_or(0, |t| t.matches('\n').count())
                        + 1;
                    format!(" line {line}: {message}")
                }
                None => format!(": {message}"),
            }
        })
    }

    /// Sets `key` from the values of its flag or environment variable,
    /// which came from `source`.
    ///
    /// # Errors
    /// The values do not parse: one line naming the setting and the source.
    pub fn set_text(&mut self, key: &str, values: &[String], source: &Source) -> Result<(), Error> {
        self.set(key, values)
            .map_err(|e| Error(format!("{key} (from {}): {e}", source.describe(key))))
    }
}

/// What a running node needs beyond its [`NodeConfig`].
#[derive(Debug)]
pub struct RunPlan {
    /// The node's settings.
    pub config: NodeConfig,
    /// Peers to connect to.
    pub connect: Vec<String>,
    /// Whether `connect` keeps them connected (else one dial each).
    pub reconnect: bool,
    /// Where to serve metrics, if anywhere.
    pub metrics_addr: Option<SocketAddr>,
    /// Whether to start the demo actors.
    pub demo_actors: bool,
    /// Whether to log span closes (see [`init_logging`](crate::init_logging)).
    pub log_spans: bool,
}

impl Merged {
    /// The node name.
    ///
    /// # Errors
    /// None is set.
    pub fn name(&self) -> Result<&str, Error> {
        match &self.name {
            Some(name) if !name.value.is_empty() => Ok(&name.value),
            Some(name) => Err(Error(format!(
                "name (from {}) is empty",
                name.source.describe("name")
            ))),
            None => Err(Error::new(
                "no node name: set name in the config file, RACTOR_GRPC_NAME or --name",
            )),
        }
    }

    /// The cookie: `cookie`, or the contents of `cookie_file`, whichever
    /// comes from the higher source.
    ///
    /// # Errors
    /// Neither is set, both are set at the same level, or the file cannot
    /// be read.
    pub fn cookie(&self) -> Result<String, Error> {
        let from_file = |file: &Sourced<PathBuf>| {
            std::fs::read_to_string(&file.value)
                .map(|s| s.trim().to_owned())
                .map_err(|e| {
                    Error(format!(
                        "cookie_file (from {}): cannot read {}: {e}",
                        file.source.describe("cookie_file"),
                        file.value.display()
                    ))
                })
        };
        let cookie = match (&self.cookie, &self.cookie_file) {
            (Some(c), Some(f)) if c.source.rank() == f.source.rank() => {
                return Err(Error(format!(
                    "cookie (from {}) and cookie_file (from {}) are both set: keep one",
                    c.source.describe("cookie"),
                    f.source.describe("cookie_file")
                )));
            }
            (Some(c), Some(f)) if f.source.rank() > c.source.rank() => from_file(f)?,
            (Some(c), _) => c.value.clone(),
            (None, Some(f)) => from_file(f)?,
            (None, None) => {
                return Err(Error::new(
                    "no cookie: set cookie or cookie_file in the config file, \
                     RACTOR_GRPC_COOKIE or RACTOR_GRPC_COOKIE_FILE, or --cookie or --cookie-file",
                ));
            }
        };
        if cookie.is_empty() {
            return Err(Error::new("the cookie is empty"));
        }
        Ok(cookie)
    }

    /// The TLS settings, if `tls_cert` is set.
    ///
    /// # Errors
    /// A TLS setting without the others it needs, or a file that cannot be
    /// read.
    fn tls(&self) -> Result<Option<TlsConfig>, Error> {
        let files = [
            ("tls_cert", self.tls_cert.as_ref()),
            ("tls_key", self.tls_key.as_ref()),
            ("tls_ca", self.tls_ca.as_ref()),
        ];
        let missing: Vec<&str> = files
            .iter()
            .filter(|(_, file)| file.is_none())
            .map(|(key, _)| *key)
            .collect();
        // The first TLS setting given names what it lacks.
        let given = files
            .iter()
            .find_map(|(key, file)| Some((*key, &(*file)?.source)))
            .or_else(|| Some(("tls_server_name", &self.tls_server_name.as_ref()?.source)))
            .or_else(|| {
                let required = self.require_client_cert.as_ref().filter(|r| r.value)?;
                Some(("require_client_cert", &required.source))
            });
        let (Some(cert), Some(key), Some(ca)) = (&self.tls_cert, &self.tls_key, &self.tls_ca)
        else {
            return match given {
                Some((key, source)) => {
                    let list = match missing.split_last() {
                        Some((last, [])) => (*last).to_owned(),
                        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
                        None => String::new(),
                    };
                    Err(Error(format!(
                        "{key} (from {}) also needs {list}",
                        source.describe(key)
                    )))
                }
                None => Ok(None),
            };
        };
        let mut tls = TlsConfig::from_pem_files(&cert.value, &key.value, &ca.value)
            .map_err(|e| Error(format!("TLS files: {e}")))?
            .require_client_cert(self.require_client_cert.as_ref().is_some_and(|r| r.value));
        if let Some(name) = &self.tls_server_name {
            tls = tls.with_server_name(name.value.clone());
        }
        Ok(Some(tls))
    }

    /// The node's settings and what to do once it runs.
    ///
    /// # Errors
    /// No name or cookie, TLS settings that do not go together, or values
    /// the library's rules refuse ([`NodeConfig::validate`]).
    pub fn run_plan(&self) -> Result<RunPlan, Error> {
        let mut config = NodeConfig::new(self.name()?, self.cookie()?);
        if let Some(listen) = &self.listen {
            config = config.with_listen_addr(listen.value);
        }
        if let Some(advertise) = &self.advertise {
            config = config.with_advertise_addr(advertise.value.clone());
        }
        if let Some(mode) = &self.mode {
            config = config.with_mode(mode.value);
        }
        if let Some(timeout) = &self.handshake_timeout {
            config = config.with_handshake_timeout(timeout.value);
        }
        let mut heartbeat = config.heartbeat();
        set(&mut heartbeat.interval, &self.heartbeat_interval);
        set(&mut heartbeat.timeout, &self.heartbeat_timeout);
        config = config.with_heartbeat(heartbeat);
        if let Some(limit) = &self.queue_limit {
            config = config.with_queue_limit(limit.value);
        }
        if let Some(budget) = &self.receive_budget {
            config = config.with_receive_budget(budget.value);
        }
        if let Some(size) = &self.max_message_size {
            config = config.with_max_message_size(size.value);
        }
        let mut reconnect = config.reconnect();
        set(&mut reconnect.enabled, &self.reconnect);
        set(&mut reconnect.initial_backoff, &self.reconnect_initial);
        set(&mut reconnect.max_backoff, &self.reconnect_max);
        set(&mut reconnect.resolve_interval, &self.resolve_interval);
        config = config.with_reconnect(reconnect);
        let mut limits = config.handshake_limits();
        set(&mut limits.max_unauthenticated, &self.max_unauthenticated);
        set(
            &mut limits.per_source_per_second,
            &self.per_source_per_second,
        );
        set(&mut limits.per_source_burst, &self.per_source_burst);
        config = config.with_handshake_limits(limits);
        if let Some(grace) = &self.shutdown_grace {
            config = config.with_shutdown_grace(grace.value);
        }
        if let Some(tls) = self.tls()? {
            config = config.with_tls(tls);
        }
        // The library's own rules, checked here so the error is one line
        // before anything starts rather than a failed start.
        config
            .validate()
            .map_err(|e| Error(format!("the settings cannot run a node: {e}")))?;
        Ok(RunPlan {
            reconnect: config.reconnect().enabled,
            config,
            connect: self
                .connect
                .as_ref()
                .map(|c| c.value.clone())
                .unwrap_or_default(),
            metrics_addr: self.metrics_addr.as_ref().map(|a| a.value),
            demo_actors: self.demo_actors.as_ref().is_some_and(|d| d.value),
            log_spans: self.log_spans.as_ref().is_some_and(|d| d.value),
        })
    }

    /// The effective settings as TOML a config file could hold, each line
    /// followed by where its value came from (`# file PATH`, `# env VAR`,
    /// `# flag --FLAG`, `# default`); settings without a value are
    /// commented out. The cookie's value is never shown.
    pub fn to_annotated_toml(&self) -> String {
        let lines: Vec<(String, String)> = self
            .entries()
            .into_iter()
            .map(|(key, entry)| match entry {
                Some((value, source)) => {
                    let line = if key == "cookie" {
                        format!("# {key} = {value}")
                    } else {
                        format!("{key} = {value}")
                    };
                    (line, source.describe(key))
                }
                None => (format!("# {key}"), "not set".to_owned()),
            })
            .collect();
        let width = lines.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (line, source) in lines {
            out.push_str(&format!("{line:width$}  # {source}\n"));
        }
        out
    }
}

/// Overwrites `slot` with `setting`'s value, if it has one.
fn set<T: Clone>(slot: &mut T, setting: &Option<Sourced<T>>) {
    if let Some(s) = setting {
        *slot = s.value.clone();
    }
}

#[cfg(test)]
mod tests;
