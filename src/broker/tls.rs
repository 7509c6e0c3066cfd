//! [`BrokerTls`]: the broker's certificate and key, and the CA its clients' certificates must
//! come from when it requires them.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::crypto::ring;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::Error;
use crate::transport::tls::{parse_certs, read_file};

/// TLS settings for the broker's TLS listeners ([`BrokerBuilder::tls`]): its certificate
/// chain and private key, and optionally the CA that must have signed every client's
/// certificate (mutual TLS).
///
/// ```
/// # fn main() -> Result<(), stompy::Error> {
/// # let key = rcgen::KeyPair::generate().unwrap();
/// # let cert = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap()
/// #     .self_signed(&key).unwrap();
/// # let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
/// use stompy::broker::{Broker, BrokerTls};
/// let broker = Broker::builder()
///     .tls(BrokerTls::from_pem(cert_pem, key_pem)?)
///     .bind("127.0.0.1:0")?; // speaks STOMP over TLS
/// println!("stomp+ssl://{}", broker.addr());
/// # Ok(()) }
/// ```
///
/// The settings are checked when made: a missing key, a key that does not fit the
/// certificate, or PEM without a certificate is an [`Error::Tls`] here, not at connect time.
///
/// [`BrokerBuilder::tls`]: super::BrokerBuilder::tls
#[derive(Clone)]
pub struct BrokerTls {
    chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
    client_ca: Option<Vec<CertificateDer<'static>>>,
    config: Arc<ServerConfig>,
}

impl fmt::Debug for BrokerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerTls")
            .field("chain", &self.chain.len())
            .field("client_ca", &self.client_ca.as_ref().map(Vec::len))
            .finish_non_exhaustive()
    }
}

impl BrokerTls {
    /// The broker's certificate chain (leaf first) and its private key (PKCS#8, PKCS#1 or
    /// SEC1), both PEM text.
    ///
    /// # Errors
    /// [`Error::Tls`] when `cert_pem` holds no certificate, `key_pem` no private key, or the
    /// key does not belong to the certificate.
    pub fn from_pem(cert_pem: impl AsRef<[u8]>, key_pem: impl AsRef<[u8]>) -> Result<Self, Error> {
        let chain = parse_certs(cert_pem.as_ref())?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_ref())
            .map_err(|e| Error::tls_caused("no usable private key in PEM", e))?;
        let key = Arc::new(key);
        let config = server_config(&chain, &key, None)?;
        Ok(BrokerTls {
            chain,
            key,
            client_ca: None,
            config,
        })
    }

    /// As [`BrokerTls::from_pem`], reading the PEM files at `cert_path` and `key_path`.
    ///
    /// # Errors
    /// [`Error::Tls`] when a file cannot be read, or as [`BrokerTls::from_pem`].
    pub fn from_pem_files(
        cert_path: impl AsRef<Path>,
        key_path: impl AsRef<Path>,
    ) -> Result<Self, Error> {
        let cert = read_file(cert_path.as_ref(), "certificate file")?;
        let key = read_file(key_path.as_ref(), "key file")?;
        Self::from_pem(cert, key)
    }

    /// Requires mutual TLS: every client must present a certificate signed by a CA in
    /// `ca_pem` (PEM text with one or more `CERTIFICATE` sections). A client without one, or
    /// with one from another CA, fails the handshake and is disconnected.
    ///
    /// # Errors
    /// [`Error::Tls`] when `ca_pem` holds no valid CA certificate.
    pub fn require_client_cert(mut self, ca_pem: impl AsRef<[u8]>) -> Result<Self, Error> {
        let roots = parse_certs(ca_pem.as_ref())?;
        self.config = server_config(&self.chain, &self.key, Some(&roots))?;
        self.client_ca = Some(roots);
        Ok(self)
    }

    /// As [`BrokerTls::require_client_cert`], reading the CA from the PEM file at `path`.
    ///
    /// # Errors
    /// [`Error::Tls`] when the file cannot be read, or as [`BrokerTls::require_client_cert`].
    pub fn require_client_cert_file(self, path: impl AsRef<Path>) -> Result<Self, Error> {
        let pem = read_file(path.as_ref(), "client CA file")?;
        self.require_client_cert(pem)
    }

    /// Whether clients must present a certificate.
    pub fn requires_client_cert(&self) -> bool {
        self.client_ca.is_some()
    }

    /// The rustls configuration of every TLS connection the broker accepts.
    pub(crate) fn config(&self) -> Arc<ServerConfig> {
        self.config.clone()
    }
}

/// A server configuration with `chain` and `key`, verifying clients against `client_ca`.
fn server_config(
    chain: &[CertificateDer<'static>],
    key: &PrivateKeyDer<'static>,
    client_ca: Option<&[CertificateDer<'static>]>,
) -> Result<Arc<ServerConfig>, Error> {
    let provider = Arc::new(ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::tls_caused("tls configuration", e))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(cas) => {
            let mut roots = RootCertStore::empty();
            for ca in cas {
                roots
                    .add(ca.clone())
                    .map_err(|e| Error::tls_caused("invalid client CA certificate", e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                .build()
                .map_err(|e| Error::tls_caused("client CA", e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(chain.to_vec(), key.clone_key())
        .map_err(|e| Error::tls_caused("certificate and key", e))?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
    }

    #[test]
    fn a_certificate_and_its_key_make_a_config() {
        let (cert, key) = self_signed();
        let tls = BrokerTls::from_pem(&cert, &key).unwrap();
        assert!(!tls.requires_client_cert());
        let mutual = tls.require_client_cert(&cert).unwrap();
        assert!(mutual.requires_client_cert());
        assert!(format!("{mutual:?}").contains("client_ca: Some(1)"));
    }

    #[test]
    fn bad_pem_is_a_tls_error() {
        let (cert, key) = self_signed();
        let no_cert = BrokerTls::from_pem("hello", &key).unwrap_err();
        assert!(matches!(&no_cert, Error::Tls(c) if c.context().contains("no CERTIFICATE")));
        let no_key = BrokerTls::from_pem(&cert, &cert).unwrap_err();
        assert!(matches!(&no_key, Error::Tls(c) if c.context().contains("private key")));
        let (_, other_key) = self_signed();
        let mismatch = BrokerTls::from_pem(&cert, other_key).unwrap_err();
        assert!(matches!(mismatch, Error::Tls(_)), "{mismatch:?}");
        let no_ca = BrokerTls::from_pem(&cert, &key)
            .unwrap()
            .require_client_cert("nothing")
            .unwrap_err();
        assert!(matches!(no_ca, Error::Tls(_)));
        let no_file = BrokerTls::from_pem_files("/nonexistent/c.pem", "/nonexistent/k.pem");
        assert!(
            matches!(&no_file, Err(Error::Tls(c)) if c.context().contains("/nonexistent/c.pem"))
        );
    }
}
