//! Bearer tokens for the unary RPCs: short-lived, derived from the cookie,
//! so whoever holds the cookie can let `grpcurl` (or any gRPC client) ask a
//! node questions without the cookie itself crossing the wire.
//!
//! A token is five dot-separated pieces, each in `[A-Za-z0-9_-]`, so it is
//! safe as an HTTP header value (`authorization: Bearer <token>`):
//!
//! ```text
//! rgt1.<name>.<scope>.<expiry>.<mac>
//! ```
//!
//! - `rgt1`: the format version.
//! - `<name>`: the name of the node the token is for (UTF-8, 1 to 255
//!   bytes), base64url without padding (RFC 4648 §5).
//! - `<scope>`: `inspect` or `all` (see [`TokenScope`]).
//! - `<expiry>`: when the token stops working, in unix seconds, decimal.
//! - `<mac>`: HMAC-SHA256 keyed by the cookie over
//!   `"ractor_grpc/v1 unary token" || lp(name) || lp(scope) || u64be(expiry)`
//!   (`lp(s)` is `u32be(byte length of s) || s`), base64url without padding.
//!
//! The label differs from the handshake proofs' labels, so a token's MAC is
//! never a valid proof and the reverse. A node accepts a token only if the
//! MAC verifies (compared in constant time), the name is its own, the expiry
//! is in the future and at most [`MAX_TOKEN_TTL`] away (plus a little clock
//! skew), and the scope covers the RPC. `proto/ractor_grpc/v1/cluster.proto`
//! says the same next to the unary RPCs, for clients in other languages.

use std::{
    fmt,
    str::FromStr,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};

use super::{
    cookie::{CookieMac, Domain, MAC_LEN},
    handshake::MAX_NAME_LEN,
};
use crate::auth::Cookie;

/// The first piece of every token: the format version.
const VERSION: &str = "rgt1";

/// The longest lifetime a token may have: a node refuses one that expires
/// further ahead (beyond a few minutes of clock skew), so a leaked token is
/// worth little.
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// How far the minting machine's clock may run ahead of the node's.
const CLOCK_SKEW: u64 = 5 * 60;

/// The longest token, in bytes: more than any well-formed token (about 420
/// bytes with a 255-byte name), so a longer one is refused unread.
pub(crate) const MAX_TOKEN_LEN: usize = 512;

/// The longest `authorization` value read: `Bearer `, a space or two, a token.
const MAX_AUTHORIZATION_LEN: usize = MAX_TOKEN_LEN + 16;

/// What a token lets its bearer do on the node it was minted for.
///
/// | RPC of `ractor_grpc.v1.ClusterNode`            | scope needed |
/// |-----------------------------------------------|--------------|
/// | `GetNodeInfo`, `ListPeers`, `ListActors`, `ListGroups`, `DescribeActor` | `inspect` |
/// | any other unary RPC (the coming `Cast`, `Call`) | `all`        |
/// | `Session` (has its own cookie handshake)       | none         |
///
/// `all` covers `inspect`. A verified client certificate (mutual TLS)
/// counts as `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenScope {
    /// The read-only introspection RPCs.
    Inspect,
    /// Every unary RPC, those that act on the node's actors included.
    All,
}

impl TokenScope {
    /// The scope's name in a token: `inspect` or `all`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Inspect => "inspect",
            Self::All => "all",
        }
    }

    /// Whether a token of this scope may call an RPC that needs `needed`.
    pub fn allows(self, needed: Self) -> bool {
        self == Self::All || self == needed
    }
}

impl fmt::Display for TokenScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TokenScope {
    type Err = UnknownTokenScope;

    /// Reads `inspect` or `all`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "inspect" => Ok(Self::Inspect),
            "all" => Ok(Self::All),
            _ => Err(UnknownTokenScope(s.to_owned())),
        }
    }
}

/// A scope name other than `inspect` and `all`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown token scope {0:?}: expected inspect or all")]
pub struct UnknownTokenScope(String);

/// Why [`mint_token`] made no token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MintError {
    /// The cookie is empty; no node runs with one.
    #[error("the cookie is empty")]
    EmptyCookie,
    /// The node name is empty or longer than 255 bytes; no node has it.
    #[error("a node name is 1 to 255 bytes, this one is {0}")]
    NodeName(usize),
    /// The lifetime is under one second or over [`MAX_TOKEN_TTL`].
    #[error("a token lives 1 s to {max} s, not {0:?}", max = MAX_TOKEN_TTL.as_secs())]
    Ttl(Duration),
    /// The system clock reads a time before 1970.
    #[error("the system clock is before 1970")]
    Clock,
}

/// Mints a bearer token for the unary RPCs of node `node`, valid for `ttl`
/// (whole seconds, at most [`MAX_TOKEN_TTL`]) from now.
///
/// Present it as `authorization: Bearer <token>` metadata. A token reads
/// `rgt1.<base64url name>.<scope>.<expiry in unix seconds>.<base64url MAC>`,
/// the MAC an HMAC-SHA256 keyed by the cookie; the exact recipe is next to
/// the unary RPCs in `proto/ractor_grpc/v1/cluster.proto`, so a program in
/// any language that holds the cookie can mint the same token. The `node`
/// binary's `node token --name NODE` prints one.
///
/// # Errors
///
/// [`MintError`] if the cookie is empty, the name is not a possible node
/// name, `ttl` is out of range, or the clock reads before 1970.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use ractor_grpc::{Cookie, TokenScope, mint_token};
///
/// let cookie = Cookie::from("secret");
/// let token = mint_token(&cookie, "node-a", TokenScope::Inspect, Duration::from_secs(3600))?;
/// assert!(token.starts_with("rgt1.bm9kZS1h.inspect."));
/// // grpcurl -H "authorization: Bearer $token" ...
/// # Ok::<(), ractor_grpc::MintError>(())
/// ```
pub fn mint_token(
    cookie: &Cookie,
    node: &str,
    scope: TokenScope,
    ttl: Duration,
) -> Result<String, MintError> {
    if cookie.is_empty() {
        return Err(MintError::EmptyCookie);
    }
    if node.is_empty() || node.len() > MAX_NAME_LEN {
        return Err(MintError::NodeName(node.len()));
    }
    if ttl < Duration::from_secs(1) || ttl > MAX_TOKEN_TTL {
        return Err(MintError::Ttl(ttl));
    }
    let now = unix_now().ok_or(MintError::Clock)?;
    Ok(encode(
        cookie,
        node,
        scope,
        now.saturating_add(ttl.as_secs()),
    ))
}

/// The token for `node` and `scope` that expires at `expiry` (unix seconds).
pub(crate) fn encode(cookie: &Cookie, node: &str, scope: TokenScope, expiry: u64) -> String {
    let mac = mac(cookie, node.as_bytes(), scope, expiry).finish();
    format!(
        "{VERSION}.{}.{scope}.{expiry}.{}",
        URL_SAFE_NO_PAD.encode(node),
        URL_SAFE_NO_PAD.encode(mac)
    )
}

fn mac(cookie: &Cookie, node: &[u8], scope: TokenScope, expiry: u64) -> CookieMac {
    let mut mac = CookieMac::new(cookie, Domain::UnaryToken);
    mac.field(node);
    mac.field(scope.as_str().as_bytes());
    mac.raw(&expiry.to_be_bytes());
    mac
}

/// Seconds since 1970 by the system clock; `None` before 1970.
pub(crate) fn unix_now() -> Option<u64> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// Why a request's `authorization` metadata does not authenticate it. The
/// messages go back to the caller, so each says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TokenError {
    /// No `authorization` metadata.
    #[error(
        "missing authorization metadata: send 'authorization: Bearer <token>' (mint one with `node token`) or connect with a client certificate"
    )]
    Missing,
    /// The metadata is longer than any token: refused unread.
    #[error("authorization metadata is {0} bytes, longer than any token ({MAX_TOKEN_LEN})")]
    TooLong(usize),
    /// The metadata is not `Bearer <token>`.
    #[error("authorization metadata is not 'Bearer <token>'")]
    NotBearer,
    /// The token is not five well-formed pieces.
    #[error(
        "malformed token: {0} (a token is rgt1.<base64url name>.<scope>.<expiry>.<base64url mac>)"
    )]
    Malformed(String),
    /// A token format this node does not read.
    #[error("token format {0:?} is not supported: this node reads {VERSION} tokens")]
    Version(String),
    /// The MAC does not verify with this node's cookie.
    #[error("token signature does not verify (wrong cookie?)")]
    Forged,
    /// A genuine token for another node of the cluster.
    #[error("token was minted for node {minted_for:?}, this is node {this:?}")]
    OtherNode {
        /// The name in the token.
        minted_for: String,
        /// This node's name.
        this: String,
    },
    /// A genuine token past its expiry.
    #[error("token expired at {} ({} s ago): mint a new one", utc(*.at), .now.saturating_sub(*.at))]
    Expired {
        /// The token's expiry, unix seconds.
        at: u64,
        /// The node's clock, unix seconds.
        now: u64,
    },
    /// A genuine token that expires too far ahead to be short-lived.
    #[error(
        "token expires at {}, more than {} s from now: mint one with a shorter lifetime",
        utc(*.0),
        MAX_TOKEN_TTL.as_secs()
    )]
    TooLongLived(u64),
}

/// Checks the bearer tokens presented to one node.
#[derive(Debug, Clone)]
pub(crate) struct TokenVerifier {
    node: String,
    cookie: Cookie,
}

impl TokenVerifier {
    /// Checks tokens for the node `node` that runs with `cookie`.
    pub(crate) fn new(node: impl Into<String>, cookie: Cookie) -> Self {
        Self {
            node: node.into(),
            cookie,
        }
    }

    /// The scope that the `authorization` metadata `header` grants on this
    /// node when the clock reads `now` (unix seconds).
    pub(crate) fn authorize(
        &self,
        header: Option<&[u8]>,
        now: u64,
    ) -> Result<TokenScope, TokenError> {
        let header = header.ok_or(TokenError::Missing)?;
        self.verify(bearer(header)?, now)
    }

    /// The scope `token` grants on this node when the clock reads `now`.
    pub(crate) fn verify(&self, token: &str, now: u64) -> Result<TokenScope, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLong(token.len()));
        }
        let malformed = |what: String| TokenError::Malformed(what);
        let pieces: Vec<&str> = token.split('.').collect();
        let [version, name, scope, expiry, tag] = pieces[..] else {
            return Err(malformed(format!(
                "{} dot-separated pieces, not 5",
                pieces.len()
            )));
        };
        if version != VERSION {
            return Err(TokenError::Version(version.to_owned()));
        }
        let name = URL_SAFE_NO_PAD
            .decode(name)
            .map_err(|_| malformed("the node name is not base64url without padding".into()))?;
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err(malformed(format!(
                "the node name is {} bytes, not 1 to {MAX_NAME_LEN}",
                name.len()
            )));
        }
        let name =
            String::from_utf8(name).map_err(|_| malformed("the node name is not UTF-8".into()))?;
        let scope: TokenScope = scope.parse().map_err(|e| malformed(format!("{e}")))?;
        if expiry.is_empty() || !expiry.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed(format!(
                "the expiry {expiry:?} is not unix seconds"
            )));
        }
        let expiry: u64 = expiry
            .parse()
            .map_err(|_| malformed(format!("the expiry {expiry:?} is out of range")))?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| malformed("the MAC is not base64url without padding".into()))?;
        if tag.len() != MAC_LEN {
            return Err(malformed(format!(
                "the MAC is {} bytes, not {MAC_LEN}",
                tag.len()
            )));
        }
        // Nothing in the token is believed before its MAC verifies.
        if !mac(&self.cookie, name.as_bytes(), scope, expiry).verify(&tag) {
            return Err(TokenError::Forged);
        }
        if name != self.node {
            return Err(TokenError::OtherNode {
                minted_for: name,
                this: self.node.clone(),
            });
        }
        if now >= expiry {
            return Err(TokenError::Expired { at: expiry, now });
        }
        if expiry - now > MAX_TOKEN_TTL.as_secs() + CLOCK_SKEW {
            return Err(TokenError::TooLongLived(expiry));
        }
        Ok(scope)
    }
}

/// The token in an `authorization` value `Bearer <token>` (the scheme's
/// case does not matter, RFC 7235), refusing an overlong value unread.
fn bearer(header: &[u8]) -> Result<&str, TokenError> {
    if header.len() > MAX_AUTHORIZATION_LEN {
        return Err(TokenError::TooLong(header.len()));
    }
    let text = std::str::from_utf8(header).map_err(|_| TokenError::NotBearer)?;
    let (scheme, token) = text.split_once(' ').ok_or(TokenError::NotBearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(TokenError::NotBearer);
    }
    Ok(token.trim_matches(' '))
}

/// `secs` after 1970 as `YYYY-MM-DDTHH:MM:SSZ` (UTC), for messages.
fn utc(secs: u64) -> String {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's `civil_from_days`, for days since 1970-01-01 (never
    // negative here, so all of it stays unsigned).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let (h, m, s) = (rem / 3_600, rem % 3_600 / 60, rem % 60);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

#[cfg(test)]
mod tests;
