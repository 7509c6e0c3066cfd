//! [`TlsConfig`]: which servers to trust, the client certificate, and the name to check; or a
//! whole `rustls::ClientConfig`. The rustls configuration is built once and shared by every
//! connection, so that reconnects resume the TLS session.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{self, CryptoProvider};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::error::{Error, ErrorChain};

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
/// The operating system's trust store instead of the Mozilla roots:
/// [`TlsConfig::with_native_roots`]. A `rustls::ClientConfig` of your own (other roots or
/// verifier, ALPN, key logging, a resumption store...): [`TlsConfig::from_rustls`].
///
/// Each setting is used for every TLS address of a client ([`ClientBuilder::tls`]), unless an
/// address carries its own ([`Address::with_tls`]).
///
/// The rustls configuration is built once, on first use ([`TlsConfig::rustls_config`]), and
/// shared by every connection of the client and every clone of the `TlsConfig`: the root
/// store is not rebuilt for each connection, and a reconnect resumes the TLS session (rustls
/// keeps session tickets in the configuration). Each setting method starts a new
/// configuration. It uses the crypto provider the application installed as the process
/// default (`rustls::crypto::CryptoProvider::install_default`), or *ring* when there is none.
///
/// [`ClientBuilder::tls`]: crate::ClientBuilder::tls
/// [`Address::with_tls`]: crate::Address::with_tls
#[derive(Clone, Default)]
pub struct TlsConfig {
    settings: Settings,
    server_name: Option<String>,
    /// A configuration given whole ([`TlsConfig::from_rustls`]).
    custom: Option<Arc<rustls::ClientConfig>>,
    /// The configuration built from `settings` on first use, shared by clones.
    built: Arc<OnceLock<Arc<rustls::ClientConfig>>>,
}

/// What the rustls configuration is built from.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
struct Settings {
    roots: Vec<CertificateDer<'static>>,
    webpki_roots: Option<bool>,
    native_roots: bool,
    client_auth: Option<ClientAuth>,
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

/// Equal settings, or the same [`TlsConfig::from_rustls`] configuration (the same `Arc`).
/// Whether the configuration was built yet does not matter.
impl PartialEq for TlsConfig {
    fn eq(&self, other: &Self) -> bool {
        let same_custom = match (&self.custom, &other.custom) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        same_custom && self.settings == other.settings && self.server_name == other.server_name
    }
}

impl Eq for TlsConfig {}

impl Hash for TlsConfig {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.settings.hash(state);
        self.server_name.hash(state);
        self.custom.as_ref().map(Arc::as_ptr).hash(state);
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.settings;
        f.debug_struct("TlsConfig")
            .field("extra_roots", &s.roots.len())
            .field("webpki_roots", &self.uses_webpki_roots())
            .field("native_roots", &s.native_roots)
            .field(
                "client_cert",
                &s.client_auth.as_ref().map(|a| a.chain.len()),
            )
            .field("server_name", &self.server_name)
            .field("accept_invalid_certs", &s.accept_invalid_certs)
            .field("from_rustls", &self.custom.is_some())
            .finish()
    }
}

impl TlsConfig {
    /// Trusts the `webpki-roots` (Mozilla) root certificates and checks the host name.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `config`, a rustls client configuration of your own, for every connection: its
    /// roots or certificate verifier, client certificate, crypto provider, protocol
    /// versions, ALPN, session store and key log. The name checked is still the address's
    /// host, or [`TlsConfig::server_name`]; no other setting method may be used with it (the
    /// connection fails with [`Error::Tls`] if one was).
    ///
    /// The configuration is used as it is, shared by every connection of the client, so its
    /// session store lets reconnects resume the TLS session.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use stompy::{StompClient, TlsConfig};
    ///
    /// let mut roots = rustls::RootCertStore::empty();
    /// roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    /// let provider = Arc::new(rustls::crypto::ring::default_provider());
    /// let config = rustls::ClientConfig::builder_with_provider(provider)
    ///     .with_protocol_versions(&[&rustls::version::TLS13])
    ///     .expect("TLS 1.3")
    ///     .with_root_certificates(roots)
    ///     .with_no_client_auth();
    /// let client = StompClient::builder()
    ///     .address("stomp+ssl://broker.example.com:61614")?
    ///     .tls(TlsConfig::from_rustls(Arc::new(config)))
    ///     .connect()?;
    /// # Ok::<(), stompy::Error>(())
    /// ```
    pub fn from_rustls(config: Arc<rustls::ClientConfig>) -> Self {
        TlsConfig {
            custom: Some(config),
            ..TlsConfig::default()
        }
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
            .map_err(|e| e.context_prefixed(format_args!("CA file {}", path.display())))
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
                .map_err(|e| Error::tls_caused("invalid CA certificate", e))?;
        }
        self.settings_mut().roots.extend(certs);
        Ok(self)
    }

    /// Whether to trust the `webpki-roots` (Mozilla) roots. By default they are trusted when
    /// no CA was added with [`TlsConfig::ca_file`] or [`TlsConfig::ca_pem`] and
    /// [`TlsConfig::with_native_roots`] was not asked for, and not when one was; `true`
    /// trusts them besides the others, `false` never.
    pub fn with_webpki_roots(mut self, yes: bool) -> Self {
        self.settings_mut().webpki_roots = Some(yes);
        self
    }

    /// Whether to trust the root certificates of the operating system's trust store (with
    /// `rustls-native-certs`: the system's CA bundle on Linux and BSD, or the file and
    /// directories named by `SSL_CERT_FILE` and `SSL_CERT_DIR`; the keychain on macOS; the
    /// certificate store on Windows). They replace the default `webpki-roots` unless
    /// [`TlsConfig::with_webpki_roots`]`(true)` keeps them, and add to the CAs of
    /// [`TlsConfig::ca_file`].
    ///
    /// The store is read when the first connection is made, once: certificates that cannot
    /// be parsed are skipped.
    ///
    /// ```no_run
    /// use stompy::{StompClient, TlsConfig};
    /// let client = StompClient::builder()
    ///     .address("stomp+ssl://broker.internal:61614")?
    ///     .tls(TlsConfig::new().with_native_roots(true))
    ///     .connect()?;
    /// # Ok::<(), stompy::Error>(())
    /// ```
    ///
    /// Connecting fails with [`Error::Tls`] when the store cannot be read and no other root
    /// is trusted.
    pub fn with_native_roots(mut self, yes: bool) -> Self {
        self.settings_mut().native_roots = yes;
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
            .map_err(|e| Error::tls_caused("no usable private key in PEM", e))?;
        self.settings_mut().client_auth = Some(ClientAuth {
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
        self.settings_mut().accept_invalid_certs = yes;
        self
    }

    /// The rustls configuration of every connection: the one given to
    /// [`TlsConfig::from_rustls`], or the one built from the settings. It is built on the
    /// first call (or connection), then the same `Arc` is returned by every call, on this
    /// `TlsConfig` and its clones, until a setting changes.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let tls = stompy::TlsConfig::new();
    /// let config = tls.rustls_config()?;
    /// assert!(Arc::ptr_eq(&config, &tls.clone().rustls_config()?));
    /// # Ok::<(), stompy::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Tls`] when no root certificate is trusted, the operating system's store
    /// cannot be read, the crypto provider supports no safe protocol version, the client
    /// certificate does not fit its key, or settings were added to a
    /// [`TlsConfig::from_rustls`] configuration.
    pub fn rustls_config(&self) -> Result<Arc<rustls::ClientConfig>, Error> {
        if let Some(custom) = &self.custom {
            if self.settings != Settings::default() {
                return Err(Error::tls(
                    "a TlsConfig made with from_rustls takes no setting but server_name",
                ));
            }
            return Ok(custom.clone());
        }
        if let Some(config) = self.built.get() {
            return Ok(config.clone());
        }
        let config = self.build()?;
        Ok(self.built.get_or_init(|| config).clone())
    }

    /// The settings, to change: the configuration built from the old ones is not theirs.
    fn settings_mut(&mut self) -> &mut Settings {
        self.built = Arc::default();
        &mut self.settings
    }

    fn uses_webpki_roots(&self) -> bool {
        let s = &self.settings;
        s.webpki_roots
            .unwrap_or(s.roots.is_empty() && !s.native_roots)
    }

    fn root_store(&self) -> Result<RootCertStore, Error> {
        let mut store = RootCertStore::empty();
        if self.uses_webpki_roots() {
            store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        for cert in &self.settings.roots {
            store
                .add(cert.clone())
                .map_err(|e| Error::tls_caused("invalid CA certificate", e))?;
        }
        if self.settings.native_roots {
            add_native_roots(&mut store)?;
        }
        if store.is_empty() {
            return Err(Error::tls(
                "no trusted root certificates: add a CA or keep the webpki roots",
            ));
        }
        Ok(store)
    }

    /// The rustls configuration the settings describe, built anew.
    fn build(&self) -> Result<Arc<rustls::ClientConfig>, Error> {
        let provider = select_provider(CryptoProvider::get_default());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::tls_caused("unusable crypto provider", e))?;
        let builder = if self.settings.accept_invalid_certs {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
        } else {
            builder.with_root_certificates(self.root_store()?)
        };
        let config = match &self.settings.client_auth {
            Some(auth) => builder
                .with_client_auth_cert(auth.chain.clone(), auth.key.clone_key())
                .map_err(|e| Error::tls_caused("unusable client certificate or key", e))?,
            None => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }

    /// The name to send and check for a connection to `host`.
    pub(crate) fn server_name_for(&self, host: &str) -> Result<ServerName<'static>, Error> {
        let name = self.server_name.as_deref().unwrap_or(host);
        ServerName::try_from(name.to_owned())
            .map_err(|e| Error::tls_caused(format!("invalid server name {name:?}"), e))
    }
}

/// The crypto provider of a new configuration: the process default when the application
/// installed one (`installed`, from [`CryptoProvider::get_default`]), else *ring*.
fn select_provider(installed: Option<&Arc<CryptoProvider>>) -> Arc<CryptoProvider> {
    match installed {
        Some(provider) => provider.clone(),
        None => Arc::new(crypto::ring::default_provider()),
    }
}

/// Adds the operating system's root certificates to `store`. Certificates or parts of the
/// store that cannot be read are skipped (and logged); it is an error only when none could.
fn add_native_roots(store: &mut RootCertStore) -> Result<(), Error> {
    let found = rustls_native_certs::load_native_certs();
    for e in &found.errors {
        log::warn!(
            "operating system's root certificates: {}",
            ErrorChain::new(e)
        );
    }
    if found.certs.is_empty() {
        if let Some(e) = found.errors.into_iter().next() {
            return Err(Error::tls_caused(
                "cannot read the operating system's root certificates",
                e,
            ));
        }
    }
    let (added, ignored) = store.add_parsable_certificates(found.certs);
    log::debug!("operating system's root certificates: {added} trusted, {ignored} unusable");
    Ok(())
}

pub(crate) fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path)
        .map_err(|e| Error::tls_caused(format!("cannot read {what} {}", path.display()), e))
}

pub(crate) fn parse_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::tls_caused("invalid PEM", e))?;
    if certs.is_empty() {
        return Err(Error::tls("no CERTIFICATE section in PEM"));
    }
    Ok(certs)
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
        assert!(cfg.rustls_config().is_ok());
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
        let err = TlsConfig::new().with_webpki_roots(false).rustls_config();
        assert!(matches!(&err, Err(Error::Tls(c)) if c.context().contains("no trusted root")));
    }

    #[test]
    fn pem_without_certificates_is_refused() {
        let err = TlsConfig::new().ca_pem("hello").unwrap_err();
        assert!(matches!(&err, Error::Tls(c) if c.context().contains("no CERTIFICATE")));
        let err = TlsConfig::new().ca_file("/nonexistent/ca.pem").unwrap_err();
        assert!(matches!(&err, Error::Tls(c) if c.context().contains("/nonexistent/ca.pem")));
        let io = std::error::Error::source(&err).and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(io.map(|e| e.kind()), Some(std::io::ErrorKind::NotFound));
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

    /// A self-signed CA certificate, as PEM.
    fn ca_pem() -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn the_rustls_config_is_built_once_and_shared_by_clones() {
        let cfg = TlsConfig::new().ca_pem(ca_pem()).unwrap();
        let before = cfg.clone();
        let first = cfg.rustls_config().unwrap();
        assert!(Arc::ptr_eq(&first, &cfg.rustls_config().unwrap()));
        // A clone made before or after the first build shares it.
        assert!(Arc::ptr_eq(&first, &before.rustls_config().unwrap()));
        assert!(Arc::ptr_eq(&first, &cfg.clone().rustls_config().unwrap()));
        // The server name is not part of it; a setting is.
        let named = cfg.clone().server_name("broker.example");
        assert!(Arc::ptr_eq(&first, &named.rustls_config().unwrap()));
        let changed = cfg.clone().with_webpki_roots(true);
        assert!(!Arc::ptr_eq(&first, &changed.rustls_config().unwrap()));
        assert_eq!(cfg, before, "building does not change equality");
    }

    #[test]
    fn from_rustls_is_used_as_it_is_and_takes_no_other_setting() {
        let own = TlsConfig::new().rustls_config().unwrap();
        let cfg = TlsConfig::from_rustls(own.clone()).server_name("broker.example");
        assert!(Arc::ptr_eq(&own, &cfg.rustls_config().unwrap()));
        assert_eq!(
            cfg,
            TlsConfig::from_rustls(own.clone()).server_name("broker.example")
        );
        assert_ne!(cfg, TlsConfig::new().server_name("broker.example"));
        assert!(format!("{cfg:?}").contains("from_rustls: true"), "{cfg:?}");
        let mixed = TlsConfig::from_rustls(own).with_webpki_roots(false);
        let err = mixed.rustls_config().unwrap_err();
        assert!(err.to_string().contains("from_rustls"), "{err}");
    }

    #[test]
    fn the_installed_default_provider_is_used_else_ring() {
        let installed = Arc::new(crypto::ring::default_provider());
        assert!(Arc::ptr_eq(&select_provider(Some(&installed)), &installed));
        let fallback = select_provider(None);
        let ring = crypto::ring::default_provider();
        assert_eq!(
            format!("{:?}", fallback.cipher_suites),
            format!("{:?}", ring.cipher_suites)
        );
    }

    #[test]
    fn native_roots_replace_webpki_roots_unless_kept() {
        let native = TlsConfig::new().with_native_roots(true);
        assert!(!native.uses_webpki_roots());
        assert!(native.clone().with_webpki_roots(true).uses_webpki_roots());
        assert!(
            format!("{native:?}").contains("native_roots: true"),
            "{native:?}"
        );
    }
}
