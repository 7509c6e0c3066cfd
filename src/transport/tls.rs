//! [`TlsConfig`]: which servers to trust, the client certificate, and the name to check.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{self, CryptoProvider};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::error::Error;

/// TLS settings for `stomp+ssl://` and `wss://` addresses: trusted roots, an optional client
/// certificate, and the name the server's certificate must be valid for.
///
/// The default ([`TlsConfig::new`]) trusts the Mozilla roots of `webpki-roots` and checks that
/// the certificate is valid for the host name of the address. A broker with a certificate from
/// a private CA needs that CA:
///
/// ```no_run
/// use stompy::{StompClient, TlsConfig};
/// let client = StompClient::builder()
///     .address("stomp+ssl://127.0.0.1:61614")?
///     .login("guest", "guest")
///     .host("/")
///     .tls(TlsConfig::new().ca_file("/etc/broker/ca.pem")?)
///     .connect()?;
/// # Ok::<(), stompy::Error>(())
/// ```
///
/// Mutual TLS, and a server reached by an address its certificate does not name:
///
/// ```no_run
/// use stompy::TlsConfig;
/// let tls = TlsConfig::new()
///     .ca_file("ca.pem")?
///     .client_cert("client.pem", "client.key")?
///     .server_name("broker.internal");
/// # Ok::<(), stompy::Error>(())
/// ```
///
/// Each setting is used for every TLS address of a client ([`ClientBuilder::tls`]), unless an
/// address carries its own ([`Address::with_tls`]).
///
/// [`ClientBuilder::tls`]: crate::ClientBuilder::tls
/// [`Address::with_tls`]: crate::Address::with_tls
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct TlsConfig {
    roots: Vec<CertificateDer<'static>>,
    webpki_roots: Option<bool>,
    client_auth: Option<ClientAuth>,
    server_name: Option<String>,
    accept_invalid_certs: bool,
}

/// A client certificate chain and its private key.
#[derive(Clone)]
struct ClientAuth {
    chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
}

impl PartialEq for ClientAuth {
    fn eq(&self, other: &Self) -> bool {
        self.chain == other.chain && self.key.secret_der() == other.key.secret_der()
    }
}

impl Eq for ClientAuth {}

impl Hash for ClientAuth {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.chain.hash(state);
        self.key.secret_der().hash(state);
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("extra_roots", &self.roots.len())
            .field("webpki_roots", &self.uses_webpki_roots())
            .field(
                "client_cert",
                &self.client_auth.as_ref().map(|a| a.chain.len()),
            )
            .field("server_name", &self.server_name)
            .field("accept_invalid_certs", &self.accept_invalid_certs)
            .finish()
    }
}

impl TlsConfig {
    /// Trusts the `webpki-roots` (Mozilla) root certificates and checks the host name.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts the CA certificates in the PEM file at `path` (every `CERTIFICATE` section).
    ///
    /// Adding a CA replaces the default `webpki-roots` unless
    /// [`TlsConfig::with_webpki_roots`]`(true)` asks to keep them.
    ///
    /// # Errors
    /// [`Error::Tls`] when the file cannot be read or holds no valid certificate.
    pub fn ca_file(self, path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let pem = read_file(path, "CA file")?;
        self.ca_pem(pem)
            .map_err(|e| Error::Tls(format!("CA file {}: {}", path.display(), strip(e))))
    }

    /// Trusts the CA certificates in `pem` (PEM text with one or more `CERTIFICATE`
    /// sections). As with [`TlsConfig::ca_file`], this replaces the default roots unless
    /// [`TlsConfig::with_webpki_roots`]`(true)` keeps them.
    ///
    /// # Errors
    /// [`Error::Tls`] when `pem` holds no valid certificate.
    pub fn ca_pem(mut self, pem: impl AsRef<[u8]>) -> Result<Self, Error> {
        let certs = parse_certs(pem.as_ref())?;
        let mut check = RootCertStore::empty();
        for cert in &certs {
            check
                .add(cert.clone())
                .map_err(|e| Error::Tls(format!("invalid CA certificate: {e}")))?;
        }
        self.roots.extend(certs);
        Ok(self)
    }

    /// Whether to trust the `webpki-roots` (Mozilla) roots. By default they are trusted when
    /// no CA was added with [`TlsConfig::ca_file`] or [`TlsConfig::ca_pem`], and not when
    /// one was; `true` trusts them besides the added CAs, `false` never.
    pub fn with_webpki_roots(mut self, yes: bool) -> Self {
        self.webpki_roots = Some(yes);
        self
    }

    /// Presents a client certificate (mutual TLS): `cert_path` holds the certificate chain
    /// (leaf first) and `key_path` its private key (PKCS#8, PKCS#1 or SEC1), both PEM.
    ///
    /// # Errors
    /// [`Error::Tls`] when a file cannot be read or holds no certificate or key.
    pub fn client_cert(
        self,
        cert_path: impl AsRef<Path>,
        key_path: impl AsRef<Path>,
    ) -> Result<Self, Error> {
        let cert = read_file(cert_path.as_ref(), "client certificate file")?;
        let key = read_file(key_path.as_ref(), "client key file")?;
        self.client_cert_pem(cert, key)
    }

    /// Presents a client certificate given as PEM text: the chain (leaf first) and its
    /// private key.
    ///
    /// # Errors
    /// [`Error::Tls`] when `cert_pem` holds no certificate or `key_pem` no private key.
    pub fn client_cert_pem(
        mut self,
        cert_pem: impl AsRef<[u8]>,
        key_pem: impl AsRef<[u8]>,
    ) -> Result<Self, Error> {
        let chain = parse_certs(cert_pem.as_ref())?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_ref())
            .map_err(|e| Error::Tls(format!("no usable private key in PEM: {e}")))?;
        self.client_auth = Some(ClientAuth {
            chain,
            key: Arc::new(key),
        });
        Ok(self)
    }

    /// The name sent as SNI and checked against the server's certificate, instead of the
    /// address's host (which may be an IP address). A name that parses as an IP address is
    /// checked against the certificate's IP addresses.
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// **Dangerous**: accepts any server certificate, whoever issued it and whatever name it
    /// is for. The connection is still encrypted, but anyone on the path can read and change
    /// it by presenting their own certificate. For tests only.
    pub fn dangerous_accept_invalid_certs(mut self, yes: bool) -> Self {
        self.accept_invalid_certs = yes;
        self
    }

    fn uses_webpki_roots(&self) -> bool {
        self.webpki_roots.unwrap_or(self.roots.is_empty())
    }

    fn root_store(&self) -> Result<RootCertStore, Error> {
        let mut store = RootCertStore::empty();
        if self.uses_webpki_roots() {
            store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        for cert in &self.roots {
            store
                .add(cert.clone())
                .map_err(|e| Error::Tls(format!("invalid CA certificate: {e}")))?;
        }
        if store.is_empty() {
            return Err(Error::Tls(
                "no trusted root certificates: add a CA or keep the webpki roots".into(),
            ));
        }
        Ok(store)
    }

    /// The rustls configuration these settings describe.
    pub(crate) fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, Error> {
        let provider = Arc::new(crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(format!("tls configuration: {e}")))?;
        let builder = if self.accept_invalid_certs {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
        } else {
            builder.with_root_certificates(self.root_store()?)
        };
        let config = match &self.client_auth {
            Some(auth) => builder
                .with_client_auth_cert(auth.chain.clone(), auth.key.clone_key())
                .map_err(|e| Error::Tls(format!("client certificate: {e}")))?,
            None => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }

    /// The name to send and check for a connection to `host`.
    pub(crate) fn server_name_for(&self, host: &str) -> Result<ServerName<'static>, Error> {
        let name = self.server_name.as_deref().unwrap_or(host);
        ServerName::try_from(name.to_owned())
            .map_err(|_| Error::Tls(format!("invalid server name {name:?}")))
    }
}

pub(crate) fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path)
        .map_err(|e| Error::Tls(format!("cannot read {what} {}: {e}", path.display())))
}

pub(crate) fn parse_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Tls(format!("invalid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(Error::Tls("no CERTIFICATE section in PEM".into()));
    }
    Ok(certs)
}

/// The message of an [`Error::Tls`], without the variant's prefix.
fn strip(e: Error) -> String {
    match e {
        Error::Tls(s) => s,
        other => other.to_string(),
    }
}

/// The verifier behind [`TlsConfig::dangerous_accept_invalid_certs`]: any certificate is
/// accepted, but handshake signatures are still checked against it.
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.0.signature_verification_algorithms;
        crypto::verify_tls12_signature(message, cert, dss, algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.0.signature_verification_algorithms;
        crypto::verify_tls13_signature(message, cert, dss, algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_trusts_webpki_roots_only() {
        let cfg = TlsConfig::new();
        assert!(cfg.uses_webpki_roots());
        assert!(cfg.root_store().unwrap().len() > 50);
        assert!(cfg.client_config().is_ok());
    }

    #[test]
    fn an_added_ca_replaces_webpki_roots_unless_kept() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let pem = params.self_signed(&key).unwrap().pem();
        let pem = pem.as_str();
        let only = TlsConfig::new().ca_pem(pem).unwrap();
        assert_eq!(only.root_store().unwrap().len(), 1);
        let both = only.clone().with_webpki_roots(true);
        let webpki = TlsConfig::new().root_store().unwrap().len();
        assert_eq!(both.root_store().unwrap().len(), webpki + 1);
        assert_ne!(only, both);
        assert_eq!(only, TlsConfig::new().ca_pem(pem).unwrap());
    }

    #[test]
    fn no_roots_at_all_is_an_error() {
        let err = TlsConfig::new().with_webpki_roots(false).client_config();
        assert!(matches!(err, Err(Error::Tls(m)) if m.contains("no trusted root")));
    }

    #[test]
    fn pem_without_certificates_is_refused() {
        let err = TlsConfig::new().ca_pem("hello").unwrap_err();
        assert!(matches!(err, Error::Tls(m) if m.contains("no CERTIFICATE")));
        let err = TlsConfig::new().ca_file("/nonexistent/ca.pem").unwrap_err();
        assert!(matches!(err, Error::Tls(m) if m.contains("/nonexistent/ca.pem")));
    }

    #[test]
    fn server_name_overrides_host() {
        let cfg = TlsConfig::new().server_name("broker.example");
        let name = cfg.server_name_for("127.0.0.1").unwrap();
        assert_eq!(name.to_str(), "broker.example");
        let ip = TlsConfig::new().server_name_for("127.0.0.1").unwrap();
        assert!(matches!(ip, ServerName::IpAddress(_)));
        assert!(TlsConfig::new().server_name_for("bad name!").is_err());
    }

    #[test]
    fn debug_hides_the_key() {
        let s = format!("{:?}", TlsConfig::new().server_name("x"));
        assert!(s.contains("server_name: Some(\"x\")"), "{s}");
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["client".to_owned()]).unwrap();
        let cert = params.self_signed(&key).unwrap().pem();
        let key_pem = key.serialize_pem();
        let cfg = TlsConfig::new().client_cert_pem(cert, &key_pem).unwrap();
        let der = format!("{:?}", &key.serialize_der()[..24]);
        assert!(
            format!("{cfg:?}").contains("client_cert: Some(1)"),
            "{cfg:?}"
        );
        for s in [format!("{cfg:?}"), format!("{cfg:#?}")] {
            assert!(
                !s.contains("PRIVATE") && !s.contains(&der[1..der.len() - 1]),
                "{s}"
            );
            for line in key_pem.lines().filter(|l| !l.starts_with("-----")) {
                assert!(!s.contains(line), "{s}");
            }
        }
    }
}
