//! A throwaway certificate authority for TLS tests, the `tls` example and
//! the bench: certificates are made at run time, so no private key is ever
//! committed.

use ractor_grpc::TlsConfig;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, date_time_ymd,
};

/// A certificate and its private key, PEM-encoded.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key.
    pub key_pem: String,
}

/// A certificate authority that lives as long as the test.
pub struct Pki {
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pki(..)")
    }
}

/// Why a certificate could not be made.
pub type Error = rcgen::Error;

impl Pki {
    /// A fresh CA called `name`.
    ///
    /// # Errors
    /// Key generation or signing failed.
    pub fn new(name: &str) -> Result<Self, Error> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate()?;
        let ca_pem = params.self_signed(&key)?.pem();
        Ok(Self {
            ca_pem,
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA certificate peers trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A certificate for `names` (DNS names or IP addresses), good for both
    /// serving and dialing, valid from 1975 to 4096.
    ///
    /// # Errors
    /// Key generation or signing failed, or a name is not valid.
    pub fn issue(&self, names: &[&str]) -> Result<Issued, Error> {
        self.sign(names, None)
    }

    /// A certificate for `names` that expired on 2000-01-01.
    ///
    /// # Errors
    /// As [`Pki::issue`].
    pub fn issue_expired(&self, names: &[&str]) -> Result<Issued, Error> {
        self.sign(names, Some((1999, 2000)))
    }

    /// A node's TLS settings: a certificate for `names` and this CA.
    ///
    /// # Errors
    /// As [`Pki::issue`].
    pub fn tls(&self, names: &[&str]) -> Result<TlsConfig, Error> {
        let issued = self.issue(names)?;
        Ok(TlsConfig::new(
            issued.cert_pem,
            issued.key_pem,
            &self.ca_pem,
        ))
    }

    fn sign(&self, names: &[&str], years: Option<(i32, i32)>) -> Result<Issued, Error> {
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())?;
        if let Some(first) = names.first() {
            params.distinguished_name.push(DnType::CommonName, *first);
        }
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        if let Some((from, to)) = years {
            params.not_before = date_time_ymd(from, 1, 1);
            params.not_after = date_time_ymd(to, 1, 1);
        }
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}
