//! Certificates for the TLS workloads, and each system's TLS settings made
//! from them.
//!
//! The orchestrator makes a throwaway CA and one certificate per role at run
//! time ([`CertDir`]) in a directory only this user can read, passes its path
//! to the children, and removes it when the run ends: nothing is committed.
//! A child reads its role's files ([`NodeTls`]) and sets up mutual TLS for
//! its system: ractor_grpc's `TlsConfig` with client certificates required,
//! and for ractor_cluster a rustls acceptor that requires and verifies client
//! certificates plus a connector that presents one.
//!
//! The workspace links rustls with both the ring and the aws-lc-rs providers
//! (ractor_cluster pulls in tokio-rustls' default), so rustls cannot pick a
//! process default: the ractor_cluster configs name ring explicitly, the
//! provider ractor_grpc uses, so both systems run the same cipher suites.

use std::{
    fmt, fs,
    os::unix::fs::DirBuilderExt,
    path::Path,
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use integration::pki::Pki;
use rustls::{
    ClientConfig, RootCertStore, ServerConfig,
    crypto::CryptoProvider,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::WebPkiClientVerifier,
};
use tokio_rustls::TlsAcceptor;

use crate::Result;

/// The address every certificate names: nodes listen and dial on loopback.
const HOST: &str = "127.0.0.1";
/// The role of the sink node's certificate.
pub(crate) const SINK: &str = "sink";
/// The role of the driver node's certificate.
pub(crate) const DRIVER: &str = "driver";
/// The file of the CA certificate in a [`CertDir`].
const CA_FILE: &str = "ca.pem";

/// A temporary directory holding a fresh CA and a certificate and key per
/// role (`ca.pem`, `{role}.pem`, `{role}.key`); removed when dropped.
#[derive(Debug)]
pub(crate) struct CertDir {
    /// UTF-8, so it can be passed as an argument.
    path: String,
}

impl CertDir {
    /// Makes the CA and the certificates and writes them to a new directory
    /// (mode 0700) under the system's temporary directory.
    pub(crate) fn create() -> Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir()
            .join(format!("ractor-grpc-bench-{}-{nanos}", std::process::id()))
            .into_os_string()
            .into_string()
            .map_err(|path| format!("{}: not UTF-8", path.display()))?;
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(|e| format!("{path}: {e}"))?;
        // From here on, dropping `dir` removes what was written.
        let dir = Self { path };
        let pki = Pki::new("ractor_grpc bench CA")?;
        dir.write(CA_FILE, pki.ca_pem())?;
        for role in [SINK, DRIVER] {
            let issued = pki.issue(&[HOST])?;
            dir.write(&format!("{role}.pem"), &issued.cert_pem)?;
            dir.write(&format!("{role}.key"), &issued.key_pem)?;
        }
        Ok(dir)
    }

    /// The directory, as the children's `--tls` argument.
    pub(crate) fn arg(&self) -> &str {
        &self.path
    }

    fn write(&self, file: &str, pem: &str) -> Result<()> {
        let path = Path::new(&self.path).join(file);
        fs::write(&path, pem).map_err(|e| format!("{}: {e}", path.display()).into())
    }
}

impl Drop for CertDir {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.path) {
            eprintln!("[bench] could not remove {}: {e}", self.path);
        }
    }
}

/// One node's certificate, key and CA, PEM-encoded, read from a [`CertDir`].
#[derive(Clone)]
pub(crate) struct NodeTls {
    cert: Vec<u8>,
    key: Vec<u8>,
    ca: Vec<u8>,
}

impl fmt::Debug for NodeTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NodeTls(..)")
    }
}

impl NodeTls {
    /// Reads the files of `role` from the directory at `dir`.
    pub(crate) fn load(dir: &Path, role: &str) -> Result<Self> {
        let read = |file: String| {
            let path = dir.join(file);
            fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))
        };
        Ok(Self {
            cert: read(format!("{role}.pem"))?,
            key: read(format!("{role}.key"))?,
            ca: read(CA_FILE.to_owned())?,
        })
    }

    /// ractor_grpc's settings: serve and dial with this certificate, and
    /// require client certificates (mutual TLS).
    pub(crate) fn grpc(&self) -> ractor_grpc::TlsConfig {
        ractor_grpc::TlsConfig::new(&self.cert, &self.key, &self.ca).require_client_cert(true)
    }

    /// ractor_cluster's server side: serves this certificate and requires a
    /// client certificate that chains to the CA.
    pub(crate) fn cluster_acceptor(&self) -> Result<TlsAcceptor> {
        let provider = provider();
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(self.roots()?), provider.clone())
                .build()?;
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.certs()?, self.key()?)?;
        Ok(TlsAcceptor::from(Arc::new(config)))
    }

    /// ractor_cluster's client side: trusts the CA and presents this
    /// certificate.
    pub(crate) fn cluster_client(&self) -> Result<Arc<ClientConfig>> {
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(self.roots()?)
            .with_client_auth_cert(self.certs()?, self.key()?)?;
        Ok(Arc::new(config))
    }

    fn certs(&self) -> Result<Vec<CertificateDer<'static>>> {
        Ok(CertificateDer::pem_slice_iter(&self.cert).collect::<std::result::Result<_, _>>()?)
    }

    fn key(&self) -> Result<PrivateKeyDer<'static>> {
        Ok(PrivateKeyDer::from_pem_slice(&self.key)?)
    }

    fn roots(&self) -> Result<RootCertStore> {
        let mut roots = RootCertStore::empty();
        for ca in CertificateDer::pem_slice_iter(&self.ca) {
            roots.add(ca?)?;
        }
        Ok(roots)
    }
}

/// rustls' ring provider, the one ractor_grpc uses.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
