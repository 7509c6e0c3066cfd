//! A client session and the embedded broker's engine pumped against each other in memory, on
//! a simulated clock: no sockets, no sleeps, minutes of heart-beats in microseconds.

use std::time::{Duration, Instant};

use crate::broker::engine::{Config, Engine, Stored};
use crate::frame::{Command, Frame};
use crate::session::{AckMode, AckToken, Event, Session, SessionConfig, Subscription};

struct Pair {
    engine: Engine,
    now: Instant,
}

struct Client {
    session: Session,
    id: usize,
}

impl Pair {
    fn new(cfg: Config) -> Self {
        Pair {
            engine: Engine::new(cfg, Stored::default()),
            now: Instant::now(),
        }
    }

    /// A connected client offering `heart_beat`.
    fn client(&mut self, heart_beat: (u32, u32)) -> Client {
        let cfg = SessionConfig {
            heart_beat,
            ..SessionConfig::default()
        };
        let mut c = Client {
            session: Session::new(cfg, self.now),
            id: self.engine.open(self.now),
        };
        c.session.start("/", self.now).unwrap();
        assert_eq!(self.events(&mut c), [Event::Connected]);
        c
    }

    /// Moves bytes both ways until neither side has any; returns the client's events.
    fn events(&mut self, c: &mut Client) -> Vec<Event> {
        let mut events = Vec::new();
        loop {
            let out = c.session.output().to_vec();
            c.session.consume_output(out.len());
            let Some(conn) = self.engine.conn_mut(c.id) else {
                return events;
            };
            conn.feed(&out, self.now);
            self.engine.process(c.id, self.now);
            let back = self
                .engine
                .conn_mut(c.id)
                .map(|conn| conn.take_output())
                .unwrap_or_default();
            c.session.feed(&back, self.now);
            while let Some(ev) = c.session.poll_event(self.now).unwrap() {
                if ev != Event::HeartBeat {
                    events.push(ev);
                }
            }
            if out.is_empty() && back.is_empty() {
                return events;
            }
        }
    }

    /// Advances the clock in `step`s for `total`, running both sides' timers.
    fn run_for(
        &mut self,
        total: Duration,
        step: Duration,
        clients: &mut [&mut Client],
    ) -> Vec<usize> {
        let mut dropped = Vec::new();
        let end = self.now + total;
        while self.now < end {
            self.now += step;
            for c in clients.iter_mut() {
                c.session.handle_timeout(self.now).unwrap();
            }
            for id in self.engine.handle_timeout(self.now) {
                self.engine.close(id, self.now); // what the server loop does with them
                dropped.push(id);
            }
            for c in clients.iter_mut() {
                self.events(c);
            }
        }
        dropped
    }
}

fn message(ev: &Event) -> &Frame {
    match ev {
        Event::Frame(f) if f.command() == Command::Message => f,
        other => panic!("expected a MESSAGE, got {other:?}"),
    }
}

#[test]
fn a_message_goes_from_producer_to_consumer_and_an_ack_removes_it() {
    let mut p = Pair::new(Config::default());
    let mut producer = p.client((0, 0));
    let mut consumer = p.client((0, 0));
    let sub = Subscription {
        id: "s".into(),
        destination: "/queue/pair".into(),
        ack: AckMode::ClientIndividual,
        headers: Default::default(),
        auto_ack: true,
    };
    consumer.session.subscribe(sub, None, p.now).unwrap();
    p.events(&mut consumer);
    let send = Frame::new(Command::Send)
        .with_header("destination", "/queue/pair")
        .with_body("hi");
    producer.session.send_frame(&send, p.now).unwrap();
    p.events(&mut producer);
    let got = p.events(&mut consumer);
    let m = message(&got[0]);
    assert_eq!((m.body(), m.get("subscription")), (&b"hi"[..], Some("s")));
    consumer
        .session
        .acknowledge(&AckToken::of(m), Command::Ack, None, p.now)
        .unwrap();
    assert!(p.events(&mut consumer).is_empty());
}

#[test]
fn heart_beats_keep_an_idle_client_for_an_hour_and_a_silent_one_is_dropped() {
    let mut p = Pair::new(Config {
        heart_beat: (1000, 1000),
        ..Config::default()
    });
    let mut alive = p.client((1000, 1000));
    let mut silent = p.client((1000, 1000));
    // An hour of simulated time in 100 ms steps: the live client beats, the broker beats back.
    let dropped = p.run_for(
        Duration::from_secs(3600),
        Duration::from_millis(100),
        &mut [&mut alive],
    );
    assert_eq!(
        dropped,
        [silent.id],
        "only the client that never beat is dropped"
    );
    assert!(p.engine.conn(alive.id).is_some());
    alive.session.handle_timeout(p.now).unwrap();
    // The silent client, for its part, hears nothing more and times out.
    let later = p.now + Duration::from_secs(5);
    assert!(silent.session.handle_timeout(later).is_err());
}
