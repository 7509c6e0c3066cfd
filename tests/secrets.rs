//! No passcode (nor TLS client key) shows in anything the crate formats, logs or returns; the
//! path of a `stomp://` URL is the virtual host.

#[path = "support/shared_writer.rs"]
mod shared_writer;

use std::sync::Mutex;
use std::time::Instant;

use stompy::session::{Session, SessionConfig};
use stompy::{Address, ClientBuilder, Error, StompClient};

const SECRET: &str = "s3cr3t-pass";

/// Panics when `text` holds the secret, as text or as the bytes a `Vec<u8>` shows.
fn assert_hidden(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "{what} shows the passcode: {text}");
    let bytes = format!("{:?}", SECRET.as_bytes());
    let bytes = &bytes[1..bytes.len() - 1];
    assert!(
        !text.contains(bytes),
        "{what} shows the passcode's bytes: {text}"
    );
}

fn debug_forms(x: &impl std::fmt::Debug) -> [String; 2] {
    [format!("{x:?}"), format!("{x:#?}")]
}

#[test]
fn address_debug_hides_the_passcode() {
    let a: Address = format!("stomp://alice:{SECRET}@127.0.0.1:61613/vh")
        .parse()
        .unwrap();
    for s in debug_forms(&a) {
        assert_hidden("Address", &s);
    }
    assert_hidden("Address display", &a.to_string());
    assert!(format!("{a:?}").contains("passcode: Some(\"***\")"));
}

fn secret_config() -> SessionConfig {
    let mut cfg = SessionConfig::default();
    cfg.login = Some("alice".into());
    cfg.passcode = Some(SECRET.into());
    cfg
}

#[test]
fn session_config_debug_hides_the_passcode() {
    let mut cfg = secret_config();
    cfg.headers.push("passcode", SECRET);
    for s in debug_forms(&cfg) {
        assert_hidden("SessionConfig", &s);
    }
    let s = format!("{cfg:?}");
    assert!(s.contains("passcode: Some(\"***\")"), "{s}");
    assert!(s.contains("login: Some(\"alice\")"), "{s}");
}

#[test]
fn session_debug_hides_the_connect_frame() {
    let now = Instant::now();
    let mut session = Session::new(secret_config(), now);
    session.start("/", now).unwrap();
    assert!(String::from_utf8_lossy(session.output()).contains(SECRET));
    for s in debug_forms(&session) {
        assert_hidden("Session", &s);
    }
}

#[test]
fn builder_debug_hides_the_passcode() {
    let from_url = StompClient::builder()
        .address(format!("stomp://alice:{SECRET}@127.0.0.1:61613"))
        .unwrap();
    let from_login = ClientBuilder::new()
        .address("127.0.0.1:61613")
        .unwrap()
        .login("alice", SECRET)
        .header("passcode", SECRET);
    for b in [from_url, from_login] {
        for s in debug_forms(&b) {
            assert_hidden("ClientBuilder", &s);
        }
    }
}

#[cfg(feature = "tls")]
#[test]
fn tls_settings_never_show_the_client_key() {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["client".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let key_pem = key.serialize_pem();
    let tls = stompy::TlsConfig::new()
        .client_cert_pem(cert.pem(), &key_pem)
        .unwrap();
    let a = Address::tcp("127.0.0.1", 61614).with_tls(tls.clone());
    let b = StompClient::builder().tls(tls.clone());
    let der = format!("{:?}", &key.serialize_der()[..24]);
    let der = &der[1..der.len() - 1];
    for s in debug_forms(&tls)
        .into_iter()
        .chain(debug_forms(&a))
        .chain(debug_forms(&b))
    {
        assert!(!s.contains("PRIVATE") && !s.contains(der), "{s}");
        for line in key_pem.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!s.contains(line), "{s}");
        }
    }
}

#[test]
fn an_invalid_address_never_repeats_its_password() {
    for url in [
        format!("stomp://alice:{SECRET}@127.0.0.1:notaport"),
        format!("stomp://alice:{SECRET}@127.0.0.1:61613?x=1"),
        format!("stomp://alice:{SECRET}/x@127.0.0.1:61613"),
        format!("nope://alice:{SECRET}@127.0.0.1:61613"),
    ] {
        let err = url.parse::<Address>().unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{err:?}");
        assert_hidden("the error", &err.to_string());
        assert_hidden("the error's Debug", &format!("{err:?}"));
        assert!(err.to_string().contains("alice:***@"), "{err}");
        let err = StompClient::builder().address(url.as_str()).unwrap_err();
        assert_hidden("the builder's error", &err.to_string());
        let err = StompClient::connect(url.as_str()).unwrap_err();
        assert_hidden("connect's error", &err.to_string());
        assert_hidden("connect's error chain", &err.report().to_string());
    }
}

/// `ClientBuilder` shows the `host` header it will send in its `Debug`.
fn vhost_of(b: &ClientBuilder) -> String {
    let s = format!("{b:?}");
    let s = &s[s.find("SessionConfig").expect("a SessionConfig")..];
    let at = s.find("host: ").expect("a host field");
    s[at..].split(',').next().unwrap().to_owned()
}

#[test]
fn the_path_of_a_url_is_the_virtual_host_unless_host_is_set() {
    let url = "stomp://127.0.0.1:61613/%2Fprod";
    let b = ClientBuilder::new().address(url).unwrap();
    assert_eq!(vhost_of(&b), r#"host: Some("/prod")"#);
    let b = ClientBuilder::new().address(url).unwrap().host("mine");
    assert_eq!(vhost_of(&b), r#"host: Some("mine")"#);
    let b = ClientBuilder::new().host("mine").address(url).unwrap();
    assert_eq!(vhost_of(&b), r#"host: Some("mine")"#);
    let b = ClientBuilder::new().address("127.0.0.1:61613").unwrap();
    assert_eq!(vhost_of(&b), "host: None");
    let b = ClientBuilder::new()
        .addresses([
            "stomp://127.0.0.1:1",
            "stomp://127.0.0.1:2/a",
            "stomp://h/b",
        ])
        .unwrap();
    assert_eq!(vhost_of(&b), r#"host: Some("a")"#);
    // A WebSocket path is no virtual host.
    let b = ClientBuilder::new().address("ws://127.0.0.1:1/ws").unwrap();
    assert_eq!(vhost_of(&b), "host: None");
}

#[cfg(feature = "broker")]
mod live {
    use super::*;
    use shared_writer::Shared;
    use stompy::broker::Broker;
    use stompy::PrintingListener;

    /// Every log line of the test binary.
    static LOG: Mutex<String> = Mutex::new(String::new());

    struct Capture;

    impl log::Log for Capture {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, r: &log::Record<'_>) {
            let line = format!("{} {}\n", r.level(), r.args());
            LOG.lock().unwrap().push_str(&line);
        }
        fn flush(&self) {}
    }

    fn capture_logs() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            log::set_logger(&Capture).unwrap();
            log::set_max_level(log::LevelFilter::Trace);
        });
    }

    /// The passcode `p@ss/s3cr3t-pass`, percent-encoded in the URL.
    const ENCODED: &str = "p%40ss%2Fs3cr3t-pass";

    #[test]
    fn a_url_login_is_decoded_and_never_shown_and_its_path_is_the_vhost() {
        capture_logs();
        let broker = Broker::builder()
            .user("alice", &format!("p@ss/{SECRET}"))
            .bind("127.0.0.1:0")
            .unwrap();
        let port = broker.addr().port();
        let out = Shared::default();
        let url = format!("stomp://alice:{ENCODED}@127.0.0.1:{port}/%2Fvh");
        let builder = StompClient::builder()
            .address(url.as_str())
            .unwrap()
            .listener("print", PrintingListener::to_writer(out.clone()));
        for s in debug_forms(&builder) {
            assert_hidden("ClientBuilder", &s);
        }
        let mut client = builder.connect().expect("the decoded passcode is accepted");
        for s in debug_forms(&client) {
            assert_hidden("StompClient", &s);
        }
        client.send("/queue/secrets", "x").unwrap();
        for s in debug_forms(&client) {
            assert_hidden("StompClient", &s);
        }
        client.disconnect().unwrap();
        for s in debug_forms(&client) {
            assert_hidden("StompClient", &s);
        }
        let printed = out.text();
        assert_hidden("PrintingListener", &printed);
        assert!(!printed.contains(ENCODED), "{printed}");
        assert!(printed.contains("host:/vh"), "{printed}");
        assert!(printed.contains("login:alice"), "{printed}");
        let logged = LOG.lock().unwrap().clone();
        assert_hidden("the log", &logged);
        assert!(!logged.contains(ENCODED), "{logged}");
    }

    #[test]
    fn a_refused_login_from_a_url_never_shows_the_passcode() {
        capture_logs();
        let broker = Broker::builder()
            .user("alice", "other")
            .bind("127.0.0.1:0")
            .unwrap();
        let url = format!("stomp://alice:{SECRET}@{}", broker.addr());
        let out = Shared::default();
        let err = StompClient::builder()
            .address(url.as_str())
            .unwrap()
            .reconnect_policy(stompy::ReconnectPolicy::once())
            .listener("print", PrintingListener::to_writer(out.clone()))
            .connect()
            .unwrap_err();
        assert_hidden("the error", &err.to_string());
        assert_hidden("the error chain", &err.report().to_string());
        assert_hidden("the error's Debug", &format!("{err:?}"));
        assert_hidden("PrintingListener", &out.text());
        assert_hidden("the log", &LOG.lock().unwrap());
    }
}

#[test]
fn a_connect_frame_shows_no_passcode() {
    let f = stompy::Frame::new(stompy::Command::Connect)
        .with_header("login", "alice")
        .with_header("passcode", SECRET);
    assert_hidden("Frame's Debug", &format!("{f:?}"));
    assert_eq!(f.get("passcode"), Some(SECRET), "the value itself is kept");
}
