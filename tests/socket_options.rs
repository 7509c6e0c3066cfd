//! Socket-level options: IPv6 addresses, a local bind address, TCP keep-alive, failover
//! between real brokers.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use stompy::broker::Broker;
use stompy::{Address, StompClient};

const T: Duration = Duration::from_secs(10);

#[test]
fn ipv6_addresses_connect_in_every_spelling() {
    let broker = Broker::bind("[::1]:0").unwrap();
    let port = broker.addr().port();
    for addr in [format!("[::1]:{port}"), format!("stomp://[::1]:{port}")] {
        let mut c = StompClient::connect(addr.as_str()).unwrap();
        assert_eq!(c.broker_address().unwrap().host, "::1");
        c.subscription("/queue/v6")
            .wait_receipt(T)
            .subscribe()
            .unwrap();
        c.message("/queue/v6")
            .body("over ipv6")
            .send_and_wait(T)
            .unwrap();
        assert_eq!(c.recv_timeout(T).unwrap().unwrap().body(), b"over ipv6");
    }
    let c = StompClient::connect(broker.addr()).unwrap();
    assert!(c.is_connected());
}

#[test]
fn a_local_bind_address_is_used_for_the_connection() {
    // Find a free local port, then ask the client to connect from it.
    let local: SocketAddr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap();
    let seen = std::thread::spawn(move || listener.accept().unwrap().1);
    let _ = StompClient::builder()
        .address(server)
        .unwrap()
        .bind(local)
        .connected_timeout(Duration::from_millis(100))
        .reconnect_policy(stompy::ReconnectPolicy::once())
        .connect();
    assert_eq!(seen.join().unwrap(), local);
}

#[test]
fn tcp_keepalive_is_accepted_and_the_connection_works() {
    let broker = Broker::bind("127.0.0.1:0").unwrap();
    let mut c = StompClient::builder()
        .address(broker.addr())
        .unwrap()
        .tcp_keepalive(Duration::from_secs(30))
        .nodelay(false)
        .connect()
        .unwrap();
    c.message("/queue/ka").body("x").send_and_wait(T).unwrap();
}

#[test]
fn failover_from_a_dead_address_to_rabbitmq_then_activemq() {
    let (Some(rabbit), Some(amq)) = (common::rabbitmq(), common::activemq()) else {
        return;
    };
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let addresses: Vec<Address> = vec![dead.into(), rabbit.addr().parse().unwrap()];
    let mut c = StompClient::builder()
        .addresses(addresses)
        .unwrap()
        .login("guest", "guest")
        .host("/")
        .reconnect_policy(stompy::ReconnectPolicy::once())
        .connect()
        .unwrap();
    assert_eq!(c.broker_address().unwrap().port, rabbit.port);
    assert!(c
        .connected_frame()
        .unwrap()
        .get("server")
        .unwrap()
        .contains("RabbitMQ"));
    c.disconnect().unwrap();
    // ActiveMQ is fine with RabbitMQ's "/" virtual host, so one list can hold both.
    let mut c = StompClient::builder()
        .addresses([dead.to_string(), amq.addr(), rabbit.addr()])
        .unwrap()
        .login("guest", "guest")
        .host("/")
        .connect()
        .unwrap();
    assert_eq!(c.broker_address().unwrap().port, amq.port);
    common::round_trip(&mut c, "failover-amq", "hello");
}
