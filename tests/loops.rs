//! Callbacks where `?` works, graceful stops that ACK what was handled, ACKs by token and with
//! a receipt: against the embedded broker, counting what is redelivered.

use std::ops::ControlFlow;
use std::time::Duration;

use stompy::broker::{Broker, BrokerHandle};
use stompy::{AckMode, AckToken, Error, StompClient};

const T: Duration = Duration::from_secs(10);

/// A client subscribed (client-individual, auto-ACK as given) to a queue holding `bodies`.
fn consumer(broker: &BrokerHandle, q: &str, bodies: &[&str], auto_ack: bool) -> StompClient {
    let mut c = StompClient::connect(broker.addr()).unwrap();
    for b in bodies {
        c.send(q, b).unwrap();
    }
    c.subscription(q)
        .ack(AckMode::ClientIndividual)
        .auto_ack(auto_ack)
        .wait_receipt(T)
        .subscribe()
        .unwrap();
    c
}

/// Everything still in `q` (redelivered or never delivered), as a new consumer sees it.
fn left_in(broker: &BrokerHandle, q: &str) -> Vec<String> {
    let mut c = consumer(broker, q, &[], true);
    let mut left = Vec::new();
    while let Ok(Some(f)) = c.recv_timeout(Duration::from_millis(300)) {
        left.push(f.text().unwrap().into_owned());
    }
    left
}

#[test]
fn an_error_in_a_callback_stops_the_loop_comes_back_and_leaves_the_message_unacked() {
    let broker = Broker::bind("127.0.0.1:0").unwrap();
    let q = "/queue/try-loop";
    let mut c = consumer(&broker, q, &["1", "2", "oops", "4"], true);
    let mut sum = 0;
    let err = c
        .try_loop_with(|_, frame| {
            let n: u32 = frame
                .text()?
                .parse()
                .map_err(|_| Error::Invalid(format!("not a number: {:?}", frame.text())))?;
            sum += n;
            Ok::<ControlFlow<()>, Error>(ControlFlow::Continue(()))
        })
        .unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");
    assert_eq!(sum, 3);
    drop(c);
    assert_eq!(
        left_in(&broker, q),
        ["oops", "4"],
        "1 and 2 were ACKed, oops was not"
    );
}

#[test]
fn a_transaction_loop_sends_inside_the_transaction() {
    let broker = Broker::bind("127.0.0.1:0").unwrap();
    let (input, output) = ("/queue/tx-in", "/queue/tx-out");
    let mut c = consumer(&broker, input, &["a", "b"], true);
    for commit in [false, true] {
        let mut tx = c.transaction().unwrap();
        let got = tx
            .loop_with(|tx, frame| {
                tx.send(output, frame.body())?;
                Ok::<_, Error>(ControlFlow::Break(frame.text()?.into_owned()))
            })
            .unwrap();
        if commit {
            assert_eq!(got.as_deref(), Some("b"));
            tx.commit().unwrap();
        } else {
            assert_eq!(got.as_deref(), Some("a"));
            tx.abort().unwrap();
            assert!(
                left_in(&broker, output).is_empty(),
                "the abort took the forward back"
            );
        }
    }
    assert_eq!(left_in(&broker, output), ["b"]);
    drop(c);
    // The ACK of "a" was aborted with its forward: it comes again; "b" was consumed.
    assert_eq!(left_in(&broker, input), ["a"]);
}

#[test]
fn break_then_disconnect_acks_the_last_message_and_drop_does_not() {
    let broker = Broker::bind("127.0.0.1:0").unwrap();
    for graceful in [true, false] {
        let q = if graceful {
            "/queue/graceful"
        } else {
            "/queue/dropped"
        };
        let mut c = consumer(&broker, q, &["1", "2", "3"], true);
        let mut handled = Vec::new();
        for frame in &mut c {
            handled.push(frame.text().unwrap().into_owned());
            if handled.len() == 2 {
                break;
            }
        }
        if graceful {
            c.disconnect().unwrap();
            assert_eq!(
                left_in(&broker, q),
                ["3"],
                "the two handled are not redelivered"
            );
        } else {
            drop(c);
            assert_eq!(
                left_in(&broker, q),
                ["2", "3"],
                "a dropped client ACKs nothing more"
            );
        }
    }
}

#[test]
fn acks_by_token_and_with_a_receipt() {
    let broker = Broker::bind("127.0.0.1:0").unwrap();
    let q = "/queue/tokens";
    let mut c = consumer(&broker, q, &["1", "2", "3"], false);
    let tokens: Vec<AckToken> = (0..3)
        .map(|_| AckToken::of(&c.recv_timeout(T).unwrap().unwrap()))
        .collect();
    c.ack_token(&tokens[0]).unwrap();
    c.ack_and_wait(&tokens[2], T).unwrap();
    c.nack_and_wait(&tokens[1], T).unwrap();
    let again = c.recv_timeout(T).unwrap().unwrap();
    assert_eq!((again.body(), again.is_redelivered()), (&b"2"[..], true));
    c.ack(&again).unwrap();
    drop(c);
    assert!(left_in(&broker, q).is_empty());
}

/// `recv_ref` in every situation `recv` meets: frames held during a receipt wait come out first
/// and in order, a listener hears of each frame (then every frame takes the full round), a
/// timeout leaves the client usable, and every message is auto-ACKed once the application
/// comes back.
#[test]
fn recv_ref_lends_held_heard_and_timed_frames_and_auto_acks_them() {
    for heard in [false, true] {
        let broker = Broker::bind("127.0.0.1:0").unwrap();
        let q = "/queue/lent";
        let stats = stompy::StatsListener::new();
        let mut b = StompClient::builder().address(broker.addr()).unwrap();
        if heard {
            b = b.listener("stats", stats.clone());
        }
        let mut c = b.connect().unwrap();
        c.subscription(q)
            .ack(AckMode::ClientIndividual)
            .wait_receipt(T)
            .subscribe()
            .unwrap();
        for n in 0..5 {
            c.send(q, n.to_string()).unwrap();
        }
        // A wait for a receipt holds what arrives meanwhile.
        c.message("/queue/elsewhere")
            .body("x")
            .send_and_wait(T)
            .unwrap();
        let mut got = Vec::new();
        while got.len() < 5 {
            let f = c.recv_ref_timeout(T).unwrap().expect("open");
            got.push(f.text().unwrap().into_owned());
        }
        assert_eq!(got, ["0", "1", "2", "3", "4"], "heard: {heard}");
        let err = c.recv_ref_timeout(Duration::from_millis(200)).unwrap_err();
        assert!(matches!(err, Error::Timeout(_)), "{err:?}");
        assert!(c.is_connected());
        if heard {
            assert_eq!(stats.stats().received(stompy::Command::Message), 5);
        }
        c.disconnect().unwrap();
        assert!(
            left_in(&broker, q).is_empty(),
            "every message was ACKed (heard: {heard})"
        );
    }
}
