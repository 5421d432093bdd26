//! The command-line arguments: the settings' flags, made from the settings
//! table by the naming rule, and the arguments of `token` and `inspect`.

use std::path::PathBuf;

use clap::{
    Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches, ValueEnum, builder::ValueParser,
    parser::ValueSource,
};
use ractor_grpc::TokenScope;

use crate::settings::{self, Error, KEYS, Key, Layer, Merged, Shape, Source};

/// The id and flag of the config file argument.
const CONFIG: &str = "config";

/// Setting flags given on the command line or by environment variable,
/// and the config file, for the keys `wanted` accepts.
#[derive(Debug, Clone, Default)]
struct Given {
    config: Option<PathBuf>,
    values: Vec<(&'static str, Vec<String>, Source)>,
}

impl Given {
    /// `cmd` with `--config` and a flag (with its environment variable) for
    /// each setting `wanted` accepts.
    fn augment(cmd: Command, wanted: fn(&str) -> bool) -> Command {
        let config = Arg::new(CONFIG)
            .long(CONFIG)
            .env(settings::env_var(CONFIG))
            .value_name("FILE")
            .value_parser(ValueParser::path_buf())
            .help(
                "Read settings from this TOML file (flat `key = value`, the keys of these flags \
                 in snake_case; durations as strings such as \"5s\"). The environment overrides \
                 it, flags override both",
            );
        let defaults = settings::merge(&[(Source::Default, &Layer::defaults())]).entries();
        KEYS.iter()
            .filter(|k| wanted(k.name))
            .fold(cmd.arg(config), |cmd, key| {
                let default = defaults
                    .iter()
                    .find(|(name, _)| *name == key.name)
                    .and_then(|(_, value)| value.as_ref())
                    .map(|(value, _)| value.as_str());
                cmd.arg(arg(key, default))
            })
    }

    fn read(m: &ArgMatches, wanted: fn(&str) -> bool) -> Self {
        let values = KEYS
            .iter()
            .filter(|k| wanted(k.name))
            .filter_map(|key| {
                let source = match m.value_source(key.name)? {
                    ValueSource::CommandLine => Source::Flag,
                    ValueSource::EnvVariable => Source::Env,
                    // No setting flag has a clap default: defaults come
                    // from the library, in the merge.
                    _ => return None,
                };
                let values = m.get_many::<String>(key.name)?.cloned().collect::<Vec<_>>();
                Some((key.name, values, source))
            })
            .collect();
        Self {
            config: m.get_one::<PathBuf>(CONFIG).cloned(),
            values,
        }
    }

    /// The settings: defaults, then the file, the environment, the flags.
    fn merged(&self) -> Result<Merged, Error> {
        let defaults = Layer::defaults();
        let file = match &self.config {
            Some(path) => Some((Source::File(path.clone()), Layer::from_file(path)?)),
            None => None,
        };
        let mut env = Layer::default();
        let mut flags = Layer::default();
        for (key, values, source) in &self.values {
            let layer = if *source == Source::Env {
                &mut env
            } else {
                &mut flags
            };
            layer.set_text(key, values, source)?;
        }
        let mut layers = vec![(Source::Default, &defaults)];
        if let Some((source, file)) = &file {
            layers.push((source.clone(), file));
        }
        layers.push((Source::Env, &env));
        layers.push((Source::Flag, &flags));
        Ok(settings::merge(&layers))
    }
}

/// The clap argument of setting `key`, by the naming rule; its help says
/// the library's `default` (as TOML), if it has one.
fn arg(key: &Key, default: Option<&str>) -> Arg {
    let mut help = key.help_line();
    if let Some(default) = default.filter(|d| !matches!(*d, "[]" | "false")) {
        help.push_str(&format!(" Default: {}.", default.trim_matches('"')));
    }
    let arg = Arg::new(key.name)
        .long(settings::flag(key.name))
        .env(settings::env_var(key.name))
        .value_name(key.value_name)
        .help(help);
    let arg = if key.name == "cookie" {
        arg.hide_env_values(true)
    } else {
        arg
    };
    match key.shape {
        Shape::One => arg.action(ArgAction::Set),
        Shape::Switch => arg
            .action(ArgAction::Set)
            .num_args(0..=1)
            .default_missing_value("true"),
        Shape::List => arg.action(ArgAction::Append).value_delimiter(','),
    }
}

/// Every setting of a node, as flags with environment variables, and
/// `--config FILE`: what `run` and `config` take.
#[derive(Debug, Clone, Default)]
pub struct RunArgs(Given);

fn every_key(_: &str) -> bool {
    true
}

impl RunArgs {
    /// The settings: defaults, then the file, the environment, the flags.
    ///
    /// # Errors
    /// The file cannot be read or has an unknown key or a bad value, or an
    /// environment variable or flag has a bad value.
    pub fn merged(&self) -> Result<Merged, Error> {
        self.0.merged()
    }
}

impl FromArgMatches for RunArgs {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(Self(Given::read(m, every_key)))
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl Args for RunArgs {
    fn augment_args(cmd: Command) -> Command {
        Given::augment(cmd, every_key)
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

/// The node name and cookie settings (and `--config`), for the commands
/// that need a cookie but run no node: `token` and `inspect`.
#[derive(Debug, Clone, Default)]
pub struct NodeArgs(Given);

fn name_and_cookie(key: &str) -> bool {
    matches!(key, "name" | "cookie" | "cookie_file")
}

impl NodeArgs {
    /// The node name and the cookie, read as `run` reads them.
    ///
    /// # Errors
    /// As [`Merged::name`] and [`Merged::cookie`], or the config file's.
    pub fn name_and_cookie(&self) -> Result<(String, String), Error> {
        let merged = self.0.merged()?;
        Ok((merged.name()?.to_owned(), merged.cookie()?))
    }
}

impl FromArgMatches for NodeArgs {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(Self(Given::read(m, name_and_cookie)))
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl Args for NodeArgs {
    fn augment_args(cmd: Command) -> Command {
        Given::augment(cmd, name_and_cookie)
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

/// Minting a token.
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// The node the token is for (`--name`; it works on that node only),
    /// and the cookie.
    #[command(flatten)]
    pub node: NodeArgs,
    /// What the token allows: `inspect` (GetNodeInfo, ListPeers, ListActors,
    /// ListGroups) or `all` (every unary RPC).
    #[arg(long, default_value_t = TokenScope::Inspect)]
    pub scope: TokenScope,
    /// How long the token works, in seconds (1 to 86400).
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub ttl_secs: u64,
}

/// What `inspect` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Listing {
    /// The node's sessions: one row per peer (ListPeers).
    Peers,
    /// The node's advertised local actors: one row each (ListActors).
    Actors,
    /// The pg groups the node sees, its own and its peers': one row per
    /// member (ListGroups).
    Groups,
    /// The node itself: one row per field (GetNodeInfo).
    Info,
}

/// Asking a running node what it knows.
#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    /// The node's address (plaintext gRPC).
    #[arg(value_name = "HOST:PORT")]
    pub addr: String,
    /// What to list.
    pub listing: Listing,
    /// A bearer token for the node (from `token`); without it one is minted
    /// from the cookie and `--name`, the name of the node asked.
    #[arg(long, env = "RACTOR_GRPC_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The node asked (`--name`) and the cookie, to mint a token.
    #[command(flatten)]
    pub node: NodeArgs,
    /// How long connecting and the answer may take (a duration: 5s, 500ms).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = settings::parse_duration)]
    pub timeout: std::time::Duration,
}
