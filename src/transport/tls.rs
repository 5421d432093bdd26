//! TLS and mutual TLS for a node's connections, through tonic's rustls
//! support (no OpenSSL).
//!
//! Owns the one set of PEM material a node serves and dials with, and how it
//! becomes tonic's server and client TLS settings. What a failed TLS
//! handshake looks like to a dialer is [`DialError::Tls`](super::DialError).

use std::{fmt, io, path::Path, sync::Arc, time::Duration};

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// A node's TLS settings: its certificate and key, and the certificate
/// authority (CA) its peers' certificates must chain to.
///
/// One `TlsConfig` serves both ends of every link: the node serves TLS with
/// its certificate, and every session it dials (by [`connect`](crate::connect),
/// [`client_connect`](crate::client_connect) or a transitive introduction)
/// goes over TLS, checks the peer's certificate against the CA and the
/// dialled host name (or [`with_server_name`](Self::with_server_name)), and
/// presents the node's certificate as a client certificate. With
/// [`require_client_cert`](Self::require_client_cert) the server accepts only
/// clients whose certificate chains to the CA (mutual TLS); without it a
/// client certificate is optional, and checked against the CA when one is
/// presented. The cookie handshake still runs inside TLS.
///
/// ```no_run
/// use ractor_grpc::{NodeConfig, TlsConfig};
///
/// # fn main() -> std::io::Result<()> {
/// let tls = TlsConfig::from_pem_files("node.pem", "node.key", "ca.pem")?
///     .require_client_cert(true);
/// let config = NodeConfig::new("node-a", "cookie").with_tls(tls);
/// # let _ = config;
/// # Ok(())
/// # }
/// ```
///
/// [`TlsConfig::client`] makes settings without a certificate, for
/// [`connect_enc`](crate::connect_enc) and
/// [`client_connect_enc`](crate::client_connect_enc) from a node that serves
/// plaintext (as `ractor_cluster::client_connect_enc` does).
#[derive(Clone)]
pub struct TlsConfig {
    /// `None` for dial-only settings.
    identity: Option<Pems>,
    ca_pem: Arc<[u8]>,
    require_client_cert: bool,
    server_name: Option<String>,
}

/// A certificate chain and its private key, PEM-encoded.
#[derive(Clone)]
struct Pems {
    cert: Arc<[u8]>,
    key: Arc<[u8]>,
}

impl TlsConfig {
    /// TLS with this node's certificate chain and private key and the CA
    /// that peers' certificates must chain to, all PEM-encoded.
    pub fn new(
        cert_pem: impl AsRef<[u8]>,
        key_pem: impl AsRef<[u8]>,
        ca_pem: impl AsRef<[u8]>,
    ) -> Self {
        Self {
            identity: Some(Pems {
                cert: cert_pem.as_ref().into(),
                key: key_pem.as_ref().into(),
            }),
            ..Self::client(ca_pem)
        }
    }

    /// Dial-only settings: trust the CA, present no client certificate. A
    /// node cannot serve with these (it has no certificate), and a peer that
    /// requires client certificates refuses them.
    pub fn client(ca_pem: impl AsRef<[u8]>) -> Self {
        Self {
            identity: None,
            ca_pem: ca_pem.as_ref().into(),
            require_client_cert: false,
            server_name: None,
        }
    }

    /// [`TlsConfig::new`] with the PEM read from files.
    ///
    /// # Errors
    /// The file that could not be read, and why.
    pub fn from_pem_files(
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
        ca: impl AsRef<Path>,
    ) -> io::Result<Self> {
        let read = |path: &Path| {
            std::fs::read(path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
        };
        Ok(Self::new(
            read(cert.as_ref())?,
            read(key.as_ref())?,
            read(ca.as_ref())?,
        ))
    }

    /// Whether clients must present a certificate that chains to the CA
    /// (mutual TLS; default `false`). A dialer without one fails its TLS
    /// handshake.
    #[must_use]
    pub fn require_client_cert(mut self, required: bool) -> Self {
        self.require_client_cert = required;
        self
    }

    /// The name every peer's certificate must carry, instead of the host of
    /// the address dialled. Useful when all nodes share one certificate
    /// name (`cluster.internal`) but are dialled by IP address.
    #[must_use]
    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// Whether clients must present a certificate.
    pub fn requires_client_cert(&self) -> bool {
        self.require_client_cert
    }

    /// The name checked on peers' certificates, if set.
    pub fn server_name(&self) -> Option<&str> {
        self.server_name.as_deref()
    }

    /// Whether these settings carry a certificate to serve and to present.
    pub fn has_certificate(&self) -> bool {
        self.identity.is_some()
    }

    fn identity(&self) -> Option<Identity> {
        self.identity
            .as_ref()
            .map(|pems| Identity::from_pem(&*pems.cert, &*pems.key))
    }

    fn ca(&self) -> Certificate {
        Certificate::from_pem(&*self.ca_pem)
    }

    /// tonic's server settings (`None` without a certificate): the TLS
    /// handshake must end within `handshake_timeout`.
    pub(crate) fn server(&self, handshake_timeout: Duration) -> Option<ServerTlsConfig> {
        let identity = self.identity()?;
        ensure_crypto_provider();
        Some(
            ServerTlsConfig::new()
                .identity(identity)
                .client_ca_root(self.ca())
                .client_auth_optional(!self.require_client_cert)
                .timeout(handshake_timeout),
        )
    }

    /// tonic's client settings.
    pub(crate) fn dialer(&self, handshake_timeout: Duration) -> ClientTlsConfig {
        let mut client = ClientTlsConfig::new()
            .ca_certificate(self.ca())
            .assume_http2(true)
            .timeout(handshake_timeout);
        if let Some(identity) = self.identity() {
            client = client.identity(identity);
        }
        match &self.server_name {
            Some(name) => client.domain_name(name.clone()),
            None => client,
        }
    }
}

/// tonic's TLS server takes rustls' process-wide crypto provider, which
/// rustls cannot choose by itself when the process links both ring and
/// aws-lc-rs. If the application installed none, install ring's (the one
/// this crate builds with); an application's own choice stands.
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race to another installer is fine: one is installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key stays out of logs.
        f.debug_struct("TlsConfig")
            .field("certificate", &self.identity.is_some())
            .field("ca_pem", &format_args!("{} bytes", self.ca_pem.len()))
            .field("require_client_cert", &self.require_client_cert)
            .field("server_name", &self.server_name)
            .finish()
    }
}
