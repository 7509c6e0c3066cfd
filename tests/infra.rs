//! Checks of the test infrastructure itself (`tests/common`): the real brokers answer STOMP,
//! and a missing broker is skipped (or fails the run when brokers are required).

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::RealBroker;

/// Sends a raw STOMP 1.2 CONNECT over a plain `TcpStream` and returns the reply frame (up to
/// its NUL).
fn raw_connect(broker: &RealBroker) -> String {
    let mut stream = TcpStream::connect(broker.addr()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let connect = format!(
        "CONNECT\naccept-version:1.0,1.1,1.2\nhost:{}\nlogin:{}\npasscode:{}\n\n\0",
        broker.vhost, broker.login, broker.passcode
    );
    stream.write_all(connect.as_bytes()).unwrap();
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    while !reply.contains(&0) {
        let n = stream.read(&mut buf).expect("read reply");
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
    }
    let end = reply.iter().position(|&b| b == 0).unwrap_or(reply.len());
    String::from_utf8_lossy(&reply[..end]).into_owned()
}

/// An address nothing listens on: a port the OS just handed out and took back.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn bogus_broker() -> RealBroker {
    RealBroker {
        name: "Bogus",
        port: closed_port(),
        ..common::RABBITMQ
    }
}

#[test]
fn real_brokers_answer_raw_connect() {
    for broker in common::real_brokers() {
        let reply = raw_connect(&broker);
        assert!(
            reply.starts_with("CONNECTED\n"),
            "{} answered {reply:?}",
            broker.name
        );
        let version = reply
            .lines()
            .find_map(|l| l.strip_prefix("version:"))
            .unwrap_or_else(|| panic!("{} sent no version header: {reply:?}", broker.name));
        let version: stompy::Version = version.parse().unwrap();
        assert_eq!(version, stompy::Version::V1_2, "{}", broker.name);
        assert!(broker.versions.contains(&version));
    }
}

#[test]
fn real_brokers_tls_port_accepts_tcp() {
    for broker in common::real_brokers() {
        assert!(
            common::reachable(&broker.tls_addr(), common::PROBE_TIMEOUT),
            "{} TLS port {} not reachable",
            broker.name,
            broker.tls_addr()
        );
    }
    if !common::real_brokers().is_empty() {
        assert!(
            common::ca_file().is_file(),
            "{} missing",
            common::ca_file().display()
        );
    }
}

#[test]
fn unreachable_broker_is_skipped() {
    assert_eq!(common::check_broker(bogus_broker(), false), None);
}

#[test]
#[should_panic(expected = "not reachable")]
fn unreachable_broker_panics_when_required() {
    common::check_broker(bogus_broker(), true);
}

#[test]
fn reachable_broker_is_returned() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let broker = RealBroker {
        name: "Local",
        port: listener.local_addr().unwrap().port(),
        ..common::ACTIVEMQ
    };
    assert_eq!(common::check_broker(broker.clone(), true), Some(broker));
}

#[test]
fn addresses() {
    assert_eq!(common::RABBITMQ.addr(), "127.0.0.1:61613");
    assert_eq!(common::RABBITMQ.tls_addr(), "127.0.0.1:61614");
    assert_eq!(common::ACTIVEMQ.addr(), "127.0.0.1:61623");
    assert_eq!(common::ACTIVEMQ.tls_addr(), "127.0.0.1:61624");
}

#[test]
fn unique_names_differ() {
    let a = common::unique_queue("infra");
    let b = common::unique_queue("infra");
    assert_ne!(a, b);
    assert!(a.starts_with("/queue/stompy-test-infra-"), "{a}");
    assert!(common::unique_topic("t").starts_with("/topic/stompy-test-t-"));
    assert!(common::unique("x").starts_with("stompy-test-x-"));
}

#[test]
fn python_has_stomp_when_found() {
    if let Some(python) = common::python() {
        assert!(common::python_has_stomp(&python));
    }
}
