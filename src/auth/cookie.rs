//! The shared secret and every MAC keyed by it: the handshake proofs and
//! the unary tokens, each under its own label.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Length of a handshake nonce in bytes.
pub(crate) const NONCE_LEN: usize = 32;

/// A handshake nonce: fresh random bytes, never reused.
pub(crate) type Nonce = [u8; NONCE_LEN];

/// The secret every node of a cluster shares. It proves membership in the
/// handshake and never crosses the wire; `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct Cookie(Vec<u8>);

impl Cookie {
    /// Wraps the secret.
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self(secret.into())
    }

    /// Whether the secret is empty (a node refuses to start with one).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Cookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cookie(<redacted>)")
    }
}

impl From<&str> for Cookie {
    fn from(s: &str) -> Self {
        Self::new(s.as_bytes())
    }
}

impl From<String> for Cookie {
    fn from(s: String) -> Self {
        Self::new(s.into_bytes())
    }
}

/// What a MAC keyed by the cookie is for. Each purpose's label opens the
/// MAC'd message and no label is a prefix of another, so a MAC made for one
/// purpose (a dialer's proof, a unary token) never verifies as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Domain {
    /// The dialer's handshake proof.
    DialerProof,
    /// The acceptor's handshake proof.
    AcceptorProof,
    /// A bearer token for the unary RPCs (`token`).
    UnaryToken,
}

impl Domain {
    /// The ASCII label `cluster.proto` documents for this purpose.
    pub(crate) const fn label(self) -> &'static [u8] {
        match self {
            Self::DialerProof => b"ractor_grpc/v1 dialer proof",
            Self::AcceptorProof => b"ractor_grpc/v1 acceptor proof",
            Self::UnaryToken => b"ractor_grpc/v1 unary token",
        }
    }
}

/// Length of every MAC keyed by the cookie (HMAC-SHA256), in bytes.
pub(crate) const MAC_LEN: usize = 32;

/// HMAC-SHA256 keyed by the cookie over one [`Domain`]'s message: the label,
/// then what the caller adds. The one place the cookie is used as a key.
pub(crate) struct CookieMac(Hmac<Sha256>);

impl CookieMac {
    /// Starts the MAC of a `domain` message.
    pub(crate) fn new(cookie: &Cookie, domain: Domain) -> Self {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(cookie.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(domain.label());
        Self(mac)
    }

    /// Adds `lp(field)`: its length as a u32 big-endian, then its bytes.
    pub(crate) fn field(&mut self, field: &[u8]) {
        // Names, scopes and addresses are at most 255 bytes (checked on receipt).
        let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
        self.0.update(&len.to_be_bytes());
        self.0.update(field);
    }

    /// Adds `raw` as it is (fixed-length items: nonces, integers).
    pub(crate) fn raw(&mut self, raw: &[u8]) {
        self.0.update(raw);
    }

    /// The MAC.
    pub(crate) fn finish(self) -> [u8; MAC_LEN] {
        self.0.finalize().into_bytes().into()
    }

    /// Whether `tag` is the MAC, compared in constant time.
    pub(crate) fn verify(self, tag: &[u8]) -> bool {
        // `ct_eq` on slices of different lengths is false without a timing
        // leak of the contents.
        bool::from(self.finish().as_slice().ct_eq(tag))
    }
}

/// Which side of a session a proof speaks for. Covered by the proof, so one
/// side's proof can never be reflected back as the other's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The node that opened the Session stream.
    Dialer,
    /// The node that served it.
    Acceptor,
}

impl Role {
    fn domain(self) -> Domain {
        match self {
            Self::Dialer => Domain::DialerProof,
            Self::Acceptor => Domain::AcceptorProof,
        }
    }
}

/// The transcript both proofs cover; see the top of `cluster.proto`.
///
/// Everything either side said in Hello and Challenge is in it, so a man in
/// the middle who rewrites any field (a version range to force a downgrade,
/// an incarnation to fake a restart, a listen address) breaks both proofs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Transcript<'a> {
    pub(crate) dialer_name: &'a str,
    pub(crate) acceptor_name: &'a str,
    pub(crate) dialer_nonce: &'a [u8],
    pub(crate) acceptor_nonce: &'a [u8],
    /// The range the dialer offered in Hello (min, max).
    pub(crate) dialer_versions: (u32, u32),
    /// The version the acceptor chose in Challenge.
    pub(crate) version: u32,
    pub(crate) dialer_incarnation: u64,
    pub(crate) acceptor_incarnation: u64,
    pub(crate) dialer_listen_addr: &'a str,
    pub(crate) acceptor_listen_addr: &'a str,
}

fn mac(cookie: &Cookie, role: Role, t: &Transcript<'_>) -> CookieMac {
    let mut mac = CookieMac::new(cookie, role.domain());
    mac.field(t.dialer_name.as_bytes());
    mac.field(t.acceptor_name.as_bytes());
    mac.raw(t.dialer_nonce);
    mac.raw(t.acceptor_nonce);
    mac.raw(&t.dialer_versions.0.to_be_bytes());
    mac.raw(&t.dialer_versions.1.to_be_bytes());
    mac.raw(&t.version.to_be_bytes());
    mac.raw(&t.dialer_incarnation.to_be_bytes());
    mac.raw(&t.acceptor_incarnation.to_be_bytes());
    mac.field(t.dialer_listen_addr.as_bytes());
    mac.field(t.acceptor_listen_addr.as_bytes());
    mac
}

/// Computes `role`'s proof over the transcript.
pub(crate) fn prove(cookie: &Cookie, role: Role, t: &Transcript<'_>) -> Vec<u8> {
    mac(cookie, role, t).finish().to_vec()
}

/// Checks `role`'s proof over the transcript in constant time.
pub(crate) fn verify(cookie: &Cookie, role: Role, t: &Transcript<'_>, proof: &[u8]) -> bool {
    mac(cookie, role, t).verify(proof)
}

#[cfg(test)]
mod tests;
