//! One rustls configuration per client: a reconnect over TLS resumes the session (the
//! configuration, with its session store, is the same), `TlsConfig::from_rustls` works end to
//! end, and the crypto provider the application installed and the operating system's roots
//! are used. Against the embedded broker with a CA made in the test, and RabbitMQ
//! (127.0.0.1:61614) for `from_rustls`.
//!
//! Process-wide state (the default crypto provider, `SSL_CERT_FILE`) is set only in a child
//! process running one test ([`in_child`]).

mod common;

use std::ffi::OsString;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, ThreadId};
use std::time::Duration;

use rustls::client::{ClientSessionMemoryCache, ClientSessionStore};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, NamedGroup, RootCertStore};
use stompy::broker::{Broker, BrokerHandle, BrokerTls};
use stompy::{Error, StompClient, TlsConfig};

use common::pki::Pki;
use common::{broker_ca, broker_up, round_trip};

const RABBIT_TLS: u16 = 61614;

/// The environment variable that makes this binary run one test as [`in_child`]'s child.
const CHILD_ENV: &str = "STOMPY_TLS_SESSION_CHILD";

fn tls_broker(pki: &Pki) -> BrokerHandle {
    let tls = BrokerTls::from_pem(&pki.server_cert, &pki.server_key).unwrap();
    Broker::builder()
        .tls(tls)
        .bind("127.0.0.1:0")
        .expect("broker")
}

/// A client of `broker` over TLS with `tls` that reconnects on its own.
fn reconnecting(broker: &BrokerHandle, tls: TlsConfig) -> Result<StompClient, Error> {
    StompClient::builder()
        .address(format!("stomp+ssl://127.0.0.1:{}", broker.addr().port()))?
        .tls(tls)
        .connect_timeout(Duration::from_secs(5))
        .auto_reconnect(true)
        .reconnect_policy(
            stompy::ReconnectPolicy::default()
                .initial(Duration::from_millis(20))
                .attempts(Some(50)),
        )
        .connect()
}

/// Kills the broker's connections and waits until `client` has reconnected.
fn force_reconnect(broker: &BrokerHandle, client: &mut StompClient) {
    let before = client.reconnect_count();
    broker.kill_connections();
    for _ in 0..100 {
        let _ = client.recv_timeout(Duration::from_millis(50));
        if client.reconnect_count() > before && client.is_connected() {
            return;
        }
    }
    panic!("the client did not reconnect");
}

/// A session store that counts the TLS 1.3 tickets it was given and handed back.
#[derive(Debug)]
struct CountingStore {
    inner: ClientSessionMemoryCache,
    stored: AtomicUsize,
    resumed: AtomicUsize,
}

impl CountingStore {
    fn new() -> Arc<CountingStore> {
        Arc::new(CountingStore {
            inner: ClientSessionMemoryCache::new(32),
            stored: AtomicUsize::new(0),
            resumed: AtomicUsize::new(0),
        })
    }
}

impl ClientSessionStore for CountingStore {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        self.inner.set_kx_hint(server_name, group)
    }
    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        self.inner.kx_hint(server_name)
    }
    fn set_tls12_session(
        &self,
        server_name: ServerName<'static>,
        value: rustls::client::Tls12ClientSessionValue,
    ) {
        self.inner.set_tls12_session(server_name, value)
    }
    fn tls12_session(
        &self,
        server_name: &ServerName<'_>,
    ) -> Option<rustls::client::Tls12ClientSessionValue> {
        self.inner.tls12_session(server_name)
    }
    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.inner.remove_tls12_session(server_name)
    }
    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: rustls::client::Tls13ClientSessionValue,
    ) {
        self.stored.fetch_add(1, Ordering::SeqCst);
        self.inner.insert_tls13_ticket(server_name, value)
    }
    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<rustls::client::Tls13ClientSessionValue> {
        let ticket = self.inner.take_tls13_ticket(server_name);
        if ticket.is_some() {
            self.resumed.fetch_add(1, Ordering::SeqCst);
        }
        ticket
    }
}

/// A rustls configuration trusting `roots`, with ring.
fn rustls_config(roots: RootCertStore) -> ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

fn roots_of(pem: &[u8]) -> RootCertStore {
    use rustls::pki_types::pem::PemObject;
    let mut roots = RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    roots
}

#[test]
fn a_reconnect_resumes_the_session_of_a_from_rustls_config() {
    let pki = Pki::new();
    let broker = tls_broker(&pki);
    let store = CountingStore::new();
    let mut config = rustls_config(roots_of(pki.ca_pem().as_bytes()));
    config.resumption = rustls::client::Resumption::store(store.clone());
    let config = Arc::new(config);
    let tls = TlsConfig::from_rustls(config.clone());
    let mut client = reconnecting(&broker, tls.clone()).expect("connect");
    round_trip(&mut client, "tls-session-first", "first");
    assert!(store.stored.load(Ordering::SeqCst) > 0, "no ticket came");
    assert_eq!(store.resumed.load(Ordering::SeqCst), 0);
    for n in 1..=2 {
        force_reconnect(&broker, &mut client);
        round_trip(&mut client, "tls-session-again", "again");
        assert_eq!(
            store.resumed.load(Ordering::SeqCst),
            n,
            "reconnect {n} did not offer the session of the configuration"
        );
    }
    assert!(Arc::ptr_eq(&tls.rustls_config().unwrap(), &config));
    client.disconnect().unwrap();
}

/// What stompy logged, by thread: a test sees the lines of its own client only.
static LOG: Mutex<Vec<(ThreadId, String)>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target().starts_with("stompy")
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let line = record.args().to_string();
            LOG.lock().unwrap().push((thread::current().id(), line));
        }
    }
    fn flush(&self) {}
}

/// The TLS handshake lines this thread's clients logged, from now on.
fn handshakes_logged() -> impl Fn() -> Vec<String> {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        log::set_logger(&Capture).unwrap();
        log::set_max_level(log::LevelFilter::Debug);
    });
    let me = thread::current().id();
    let from = LOG.lock().unwrap().len();
    move || {
        LOG.lock().unwrap()[from..]
            .iter()
            .filter(|(t, line)| *t == me && line.starts_with("tls handshake"))
            .map(|(_, line)| line.clone())
            .collect()
    }
}

#[test]
fn a_tls_config_is_built_once_and_reconnects_resume_its_session() {
    let pki = Pki::new();
    let broker = tls_broker(&pki);
    let tls = pki.trusting();
    let handshakes = handshakes_logged();
    // The client's copy shares the configuration, built on the first connection.
    let mut client = reconnecting(&broker, tls.clone()).expect("connect");
    let config = tls.rustls_config().unwrap();
    round_trip(&mut client, "tls-config-first", "first");
    force_reconnect(&broker, &mut client);
    round_trip(&mut client, "tls-config-again", "again");
    force_reconnect(&broker, &mut client);
    assert!(Arc::ptr_eq(&config, &tls.rustls_config().unwrap()));
    let lines = handshakes();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(lines[0].contains("Full"), "{lines:#?}");
    for line in &lines[1..] {
        assert!(line.contains("Resumed"), "{lines:#?}");
    }
    client.disconnect().unwrap();
}

#[test]
fn from_rustls_against_rabbitmq() {
    if !broker_up("RabbitMQ STOMP+TLS", RABBIT_TLS, true) {
        return;
    }
    let pem = std::fs::read(broker_ca()).unwrap();
    let config = Arc::new(rustls_config(roots_of(&pem)));
    let tls = TlsConfig::from_rustls(config).server_name("localhost");
    for round in 0..2 {
        let mut client = StompClient::builder()
            .address(format!("stomp+ssl://127.0.0.1:{RABBIT_TLS}"))
            .unwrap()
            .login("guest", "guest")
            .host("/")
            .tls(tls.clone())
            .connect()
            .expect("connect");
        round_trip(&mut client, "tls-from-rustls", &format!("round {round}"));
        client.disconnect().unwrap();
    }
    // Its own roots, not stompy's: without the CA the broker is refused.
    let empty = Arc::new(rustls_config(roots_of(&[])));
    let err = StompClient::builder()
        .address(format!("stomp+ssl://127.0.0.1:{RABBIT_TLS}"))
        .unwrap()
        .tls(TlsConfig::from_rustls(empty))
        .connect()
        .unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
}

#[test]
fn from_rustls_with_other_settings_is_refused_when_connecting() {
    let pki = Pki::new();
    let broker = tls_broker(&pki);
    let config = Arc::new(rustls_config(roots_of(pki.ca_pem().as_bytes())));
    let tls = TlsConfig::from_rustls(config).ca_pem(pki.ca_pem()).unwrap();
    let err = reconnecting(&broker, tls).unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    assert!(err.report().to_string().contains("from_rustls"), "{err:?}");
}

/// Runs the test `name` of this binary alone in a child process, with `env`, and checks that
/// it passed. Returns true in that child, where the caller then runs the test's body.
fn in_child(name: &str, env: &[(&str, OsString)]) -> bool {
    if std::env::var(CHILD_ENV).is_ok_and(|v| v == name) {
        return true;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, name)
        .env_remove("SSL_CERT_DIR")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child {name} failed:\n{stdout}\n{stderr}"
    );
    false
}

#[test]
fn the_crypto_provider_the_application_installed_is_used() {
    if !in_child("the_crypto_provider_the_application_installed_is_used", &[]) {
        return;
    }
    // Only ChaCha20-Poly1305, which ring's default would not pick first.
    let mut provider = rustls::crypto::ring::default_provider();
    provider
        .cipher_suites
        .retain(|s| s.suite() == rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256);
    provider.install_default().unwrap();
    let installed = rustls::crypto::CryptoProvider::get_default().unwrap();
    let pki = Pki::new();
    let broker = tls_broker(&pki);
    let tls = pki.trusting();
    let handshakes = handshakes_logged();
    let mut client = reconnecting(&broker, tls.clone()).expect("connect");
    round_trip(&mut client, "tls-provider", "chacha");
    let config = tls.rustls_config().unwrap();
    assert!(Arc::ptr_eq(config.crypto_provider(), installed));
    let lines = handshakes();
    assert!(
        lines.len() == 1 && lines[0].contains("TLS13_CHACHA20_POLY1305_SHA256"),
        "{lines:#?}"
    );
    client.disconnect().unwrap();
}

#[test]
fn the_operating_systems_roots_are_trusted_when_asked() {
    let pki = Pki::new();
    let dir = std::env::temp_dir().join(common::unique("tls-native-roots"));
    let name = "the_operating_systems_roots_are_trusted_when_asked";
    if std::env::var(CHILD_ENV).is_err() {
        // The child reads the broker's certificate from `dir`, and trusts its CA as the
        // operating system's (SSL_CERT_FILE).
        std::fs::create_dir_all(&dir).unwrap();
        for (file, pem) in [
            ("ca.pem", pki.ca_pem()),
            ("server.pem", pki.server_cert.clone()),
            ("server.key", pki.server_key.clone()),
        ] {
            std::fs::write(dir.join(file), pem).unwrap();
        }
        in_child(
            name,
            &[
                ("SSL_CERT_FILE", dir.join("ca.pem").into()),
                ("STOMPY_TLS_SESSION_DIR", dir.clone().into()),
            ],
        );
        std::fs::remove_dir_all(&dir).unwrap();
        return;
    }
    assert!(in_child(name, &[]));
    let dir = std::path::PathBuf::from(std::env::var_os("STOMPY_TLS_SESSION_DIR").unwrap());
    let tls = BrokerTls::from_pem_files(dir.join("server.pem"), dir.join("server.key")).unwrap();
    let broker = Broker::builder()
        .tls(tls)
        .bind("127.0.0.1:0")
        .expect("broker");
    let mut client =
        reconnecting(&broker, TlsConfig::new().with_native_roots(true)).expect("connect");
    round_trip(&mut client, "tls-native-roots", "trusted by the system");
    client.disconnect().unwrap();
    // The Mozilla roots alone do not trust that CA.
    let err = reconnecting(&broker, TlsConfig::new()).unwrap_err();
    assert!(
        err.report().to_string().contains("UnknownIssuer"),
        "{err:?}"
    );
}
