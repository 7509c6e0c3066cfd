//! Brokers that die mid-stream: a publisher with confirmed sends and a consumer with
//! client-individual auto-ACK (taking lent and made frames in turn), both with auto-reconnect
//! and the **default** reconnect policy,
//! move 10 000 messages while the broker is killed (SIGKILL) and started again, or a node of a
//! RabbitMQ cluster dies. Each case prints sent, confirmed, received (distinct), duplicates and
//! lost, and the longest pause the consumer saw; nothing may be lost, and a duplicate is only
//! ever a redelivery or a resend.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::faults;
use stompy::broker::Broker;
use stompy::{AckMode, StompClient};

const TOTAL: usize = 10_000;
/// The fault comes once the consumer has this many.
const FAULT_AT: usize = 3_000;
/// The publisher stays at most this far ahead of the consumer, so that the fault finds both
/// mid-stream.
const AHEAD: usize = 2_000;
/// Longest any one step may take, broker restarts included.
const PATIENCE: Duration = Duration::from_secs(60);

/// One run: where, what to send, and how to break it.
struct Case {
    name: &'static str,
    addresses: Vec<String>,
    queue: String,
    /// Headers on every SEND and SUBSCRIBE (a quorum queue's type).
    headers: Vec<(&'static str, &'static str)>,
}

#[derive(Debug, Default)]
struct Counts {
    sent: usize,
    confirmed: usize,
    received: usize,
    duplicates: usize,
    /// Duplicates the broker flagged `redelivered:true`; the others can only be resends.
    redelivered: usize,
    lost: usize,
    /// The longest the consumer waited for a message, not counting the time the fault took
    /// (a broker's restart): how long the clients took to resume.
    resume: Duration,
    /// Reconnects of (publisher, consumer).
    reconnects: (u64, u64),
}

fn client(addresses: &[String], confirmed: bool) -> StompClient {
    StompClient::builder()
        .addresses(addresses.iter().map(String::as_str))
        .unwrap()
        .auto_reconnect(true)
        .confirmed_sends(confirmed)
        .connect()
        .expect("connect")
}

/// Sets its flag when dropped: at the end of a thread, a panic's unwinding included.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Runs `case`, calling `fault` once the consumer is [`FAULT_AT`] messages in.
fn run(case: Case, fault: impl FnOnce(&str)) -> Counts {
    let Case {
        name,
        addresses,
        queue,
        headers,
    } = case;
    let mut consumer = client(&addresses, false);
    let mut sub = consumer
        .subscription(&queue)
        .ack(AckMode::ClientIndividual)
        .prefetch(200)
        .wait_receipt(Duration::from_secs(30));
    for (k, v) in &headers {
        sub = sub.header(k, v);
    }
    sub.subscribe().expect("subscribe");

    let progress = Arc::new(AtomicUsize::new(0));
    let faulted = Arc::new(AtomicBool::new(false));
    let (received, fault_done) = (progress.clone(), faulted.clone());
    let consumer_stopped = Arc::new(AtomicBool::new(false));
    let stopped = consumer_stopped.clone();
    let consuming = thread::spawn(move || {
        let _stopped = SetOnDrop(consumer_stopped);
        let mut seen = HashSet::new();
        let (mut duplicates, mut redelivered, mut longest) = (0, 0, Duration::ZERO);
        let mut last = Instant::now();
        while seen.len() < TOTAL {
            // Lent frames (`recv_ref`) and made ones (`recv`) in turn: both live through it.
            let got = match seen.len() % 2 {
                0 => consumer
                    .recv_ref_timeout(PATIENCE)
                    .map(|f| f.map(|f| f.to_frame())),
                _ => consumer.recv_timeout(PATIENCE),
            };
            let f = match got {
                Ok(Some(f)) => f,
                other => {
                    let missing: Vec<usize> = (0..TOTAL).filter(|n| !seen.contains(n)).collect();
                    panic!(
                        "consumer stopped after {} ({other:?}); reconnects {}; missing {} from {:?}",
                        seen.len(),
                        consumer.reconnect_count(),
                        missing.len(),
                        &missing[..missing.len().min(20)]
                    );
                }
            };
            longest = longest.max(last.elapsed());
            last = Instant::now();
            let n: usize = f.text().unwrap().parse().unwrap();
            if !seen.insert(n) {
                duplicates += 1;
                redelivered += usize::from(f.is_redelivered());
            }
            received.store(seen.len(), Ordering::SeqCst);
            if seen.len() == FAULT_AT {
                // Holds still while the broker is broken: the next pull finds it so. The fault
                // may take as long as its own limits allow (a kill, then a boot and three ports
                // awaited, each within BOOT_LIMIT): a shorter wait here would stop the consumer
                // while a slow boot is still within bounds.
                faults::poll_until("the fault", 4 * faults::BOOT_LIMIT, || {
                    fault_done.load(Ordering::SeqCst).then_some(())
                });
                last = Instant::now();
            }
        }
        let _ = consumer.recv_timeout(Duration::from_millis(100)); // ACKs the last one
        let _ = consumer.disconnect();
        let again = consumer.reconnect_count();
        (seen.len(), (duplicates, redelivered), longest, again)
    });

    let publish_to = addresses.clone();
    let dest = queue.clone();
    let consumed = progress.clone();
    let publishing = thread::spawn(move || {
        let mut p = client(&publish_to, true);
        for i in 0..TOTAL {
            while i > consumed.load(Ordering::SeqCst) + AHEAD {
                // Confirmations come in meanwhile; an ERROR would mean a refused send.
                if let Err(e) = p.keep_alive() {
                    assert!(e.broker_error().is_none(), "send {i}: {e}");
                }
                // A consumer that stopped (its own panic says why) ends the run: it must not
                // hold the publisher here for ever.
                assert!(
                    !stopped.load(Ordering::SeqCst),
                    "send {i}: the consumer stopped"
                );
                thread::sleep(Duration::from_millis(1));
            }
            let mut m = p
                .message(&dest)
                .body(i.to_string())
                .header("persistent", "true");
            for (k, v) in &headers {
                m = m.header(k, v);
            }
            m.send().unwrap_or_else(|e| panic!("send {i}: {e}"));
        }
        p.wait_for_confirms(PATIENCE).expect("every send confirmed");
        let _ = p.disconnect();
        (TOTAL - p.unconfirmed(), p.reconnect_count())
    });

    faults::poll_until("consumer half-way", PATIENCE, || {
        (progress.load(Ordering::SeqCst) >= FAULT_AT).then_some(())
    });
    fault(&queue);
    faulted.store(true, Ordering::SeqCst);
    let (confirmed, published_again) = publishing.join().expect("publisher");
    let (received, (duplicates, redelivered), longest_pause, consumed_again) =
        consuming.join().expect("consumer");
    let counts = Counts {
        sent: TOTAL,
        confirmed,
        received,
        duplicates,
        redelivered,
        lost: TOTAL - received,
        resume: longest_pause,
        reconnects: (published_again, consumed_again),
    };
    let c = &counts;
    eprintln!(
        "chaos [{name}]: sent {} confirmed {} received {} (distinct) duplicates {} ({} flagged \
         redelivered) lost {}; \
         resumed within {:?}; reconnects: publisher {}, consumer {}",
        c.sent,
        c.confirmed,
        c.received,
        c.duplicates,
        c.redelivered,
        c.lost,
        c.resume,
        c.reconnects.0,
        c.reconnects.1
    );
    counts
}

#[track_caller]
fn assert_nothing_lost(c: &Counts) {
    assert_eq!(
        (c.sent, c.confirmed, c.received, c.lost),
        (TOTAL, TOTAL, TOTAL, 0),
        "{c:?}"
    );
    assert!(c.reconnects.1 > 0, "the fault reached the consumer: {c:?}");
    // A duplicate is a redelivery, which RabbitMQ and the embedded broker flag (RabbitMQ also
    // redelivers after a crash what was ACKed just before it: it writes ACKs lazily), or a
    // resend of a send whose receipt did not come: at most one confirm window per fault.
    // ActiveMQ does not flag what it redelivers after a restart (its redelivery counter is
    // not persisted): those count here too, and stay within the prefetch.
    assert!(c.duplicates - c.redelivered <= 1024, "{c:?}");
}

#[test]
fn rabbitmq_killed_and_started_again_loses_nothing() {
    let Some(rabbit) = common::rabbitmq() else {
        return;
    };
    let _guard = faults::fault_lock();
    let case = Case {
        name: "RabbitMQ SIGKILL + restart",
        addresses: vec![format!("stomp://guest:guest@{}", rabbit.addr())],
        queue: common::unique_queue("chaos-rabbit"),
        headers: vec![],
    };
    let counts = run(case, |_| {
        faults::rabbitmq_kill();
        faults::rabbitmq_start();
    });
    assert_nothing_lost(&counts);
}

#[test]
fn activemq_killed_and_started_again_loses_nothing() {
    let Some(amq) = common::activemq() else {
        return;
    };
    let _guard = faults::fault_lock();
    let case = Case {
        name: "ActiveMQ SIGKILL + restart",
        addresses: vec![format!("stomp://guest:guest@{}", amq.addr())],
        queue: common::unique_queue("chaos-activemq"),
        headers: vec![],
    };
    let counts = run(case, |_| faults::activemq_restart());
    assert_nothing_lost(&counts);
}

#[test]
fn the_embedded_broker_restarted_loses_nothing() {
    let broker = Broker::bind("127.0.0.1:0").unwrap();
    let addr = broker.addr();
    let case = Case {
        name: "embedded broker restart",
        addresses: vec![addr.to_string()],
        queue: "/queue/chaos-embedded".into(),
        headers: vec![],
    };
    let counts = run(case, move |_| {
        let state = broker.shutdown_keep_state();
        let again = Broker::builder().state(state).bind(addr).unwrap();
        std::mem::forget(again); // serves until the test process ends
    });
    assert_nothing_lost(&counts);
}

#[test]
fn a_rabbitmq_cluster_losing_the_queue_leader_loses_nothing() {
    if !faults::cluster_up() {
        return;
    }
    let _guard = faults::fault_lock();
    // Declare the quorum queue, find its leader and put that node first for both clients,
    // so that the leader's death is what both of them live through.
    let queue = common::unique_queue("chaos-quorum");
    let addresses = faults::cluster_addrs().to_vec();
    let mut declare = client(&addresses, false);
    declare
        .subscription(&queue)
        .header("x-queue-type", "quorum")
        .wait_receipt(Duration::from_secs(30))
        .subscribe()
        .expect("declare the quorum queue");
    declare.disconnect().unwrap();
    let leader = faults::cluster_leader(&queue).expect("the quorum queue has a leader");
    let at = faults::CLUSTER_NODES
        .iter()
        .position(|&n| n == leader)
        .unwrap();
    let mut addresses = addresses;
    addresses.rotate_left(at);
    let case = Case {
        name: "RabbitMQ cluster, quorum queue leader SIGKILLed",
        addresses,
        queue,
        headers: vec![("x-queue-type", "quorum")],
    };
    let counts = run(case, |_| faults::cluster_kill(leader));
    faults::cluster_restart(leader);
    assert_nothing_lost(&counts);
    assert!(
        counts.reconnects.0 > 0,
        "the publisher failed over too: {counts:?}"
    );
}
