//! The shared secret and the HMAC proofs over it.

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
    fn label(self) -> &'static [u8] {
        match self {
            Self::Dialer => b"ractor_grpc/v1 dialer proof",
            Self::Acceptor => b"ractor_grpc/v1 acceptor proof",
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

fn mac(cookie: &Cookie, role: Role, t: &Transcript<'_>) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(cookie.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    let with_len = |mac: &mut Hmac<Sha256>, field: &str| {
        // Names and addresses are at most 255 bytes (checked on receipt).
        mac.update(&u32::try_from(field.len()).unwrap_or(u32::MAX).to_be_bytes());
        mac.update(field.as_bytes());
    };
    mac.update(role.label());
    with_len(&mut mac, t.dialer_name);
    with_len(&mut mac, t.acceptor_name);
    mac.update(t.dialer_nonce);
    mac.update(t.acceptor_nonce);
    mac.update(&t.dialer_versions.0.to_be_bytes());
    mac.update(&t.dialer_versions.1.to_be_bytes());
    mac.update(&t.version.to_be_bytes());
    mac.update(&t.dialer_incarnation.to_be_bytes());
    mac.update(&t.acceptor_incarnation.to_be_bytes());
    with_len(&mut mac, t.dialer_listen_addr);
    with_len(&mut mac, t.acceptor_listen_addr);
    mac
}

/// Computes `role`'s proof over the transcript.
pub(crate) fn prove(cookie: &Cookie, role: Role, t: &Transcript<'_>) -> Vec<u8> {
    mac(cookie, role, t).finalize().into_bytes().to_vec()
}

/// Checks `role`'s proof over the transcript in constant time.
pub(crate) fn verify(cookie: &Cookie, role: Role, t: &Transcript<'_>, proof: &[u8]) -> bool {
    let expected = mac(cookie, role, t).finalize().into_bytes();
    // `ct_eq` on slices of different lengths is false without a timing leak
    // of the contents.
    bool::from(expected.as_slice().ct_eq(proof))
}
