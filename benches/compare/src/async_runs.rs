//! The same workloads with async-stomp on a current-thread tokio runtime (so all of its work
//! runs on the measured thread).

use std::time::{Duration, Instant};

use async_stomp::client::{ClientTransport, Connector, Subscriber};
use async_stomp::{AckMode, FromServer, Message, ToServer};
use futures::{SinkExt, StreamExt};

use crate::util::{body, report_latency, Meter};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn connect(addr: &str) -> ClientTransport {
    Connector::builder()
        .server(addr.to_owned())
        .virtualhost("/")
        .login("guest".into())
        .passcode("guest".into())
        .connect()
        .await
        .unwrap()
}

fn send_msg(dest: &str, b: &[u8]) -> Message<ToServer> {
    ToServer::Send {
        destination: dest.into(),
        transaction: None,
        headers: None,
        body: Some(b.to_vec()),
    }
    .into()
}

pub fn firehose(addr: &str, ack: bool, secs: Duration, workload: &str) {
    rt().block_on(async {
        let mut c = connect(addr).await;
        let mode = if ack {
            AckMode::ClientIndividual
        } else {
            AckMode::Auto
        };
        c.send(
            Subscriber::builder()
                .destination("/queue/f")
                .id("0")
                .ack(mode)
                .subscribe(),
        )
        .await
        .unwrap();
        let m = Meter::start();
        let mut msgs = 0u64;
        loop {
            let msg = c.next().await.unwrap().unwrap();
            if let FromServer::Message { ack: id, .. } = msg.content {
                msgs += 1;
                if ack {
                    let a = ToServer::Ack {
                        id: id.unwrap(),
                        transaction: None,
                    };
                    c.send(a.into()).await.unwrap();
                }
            }
            if msgs.is_multiple_of(1024) && m.elapsed() >= secs {
                break;
            }
        }
        m.report(workload, "async-stomp", msgs);
    });
}

async fn disconnect(c: &mut ClientTransport) {
    c.send(
        ToServer::Disconnect {
            receipt: Some("bye".into()),
        }
        .into(),
    )
    .await
    .unwrap();
    while let Some(m) = c.next().await {
        if let FromServer::Receipt { .. } = m.unwrap().content {
            break;
        }
    }
}

pub fn publish(addr: &str, secs: Duration, workload: &str) {
    rt().block_on(async {
        let mut c = connect(addr).await;
        let b = body();
        let m = Meter::start();
        let mut msgs = 0u64;
        loop {
            // `feed` queues without flushing: the codec's buffer is written when it fills.
            c.feed(send_msg("/queue/sink", &b)).await.unwrap();
            msgs += 1;
            if msgs.is_multiple_of(1024) && m.elapsed() >= secs {
                break;
            }
        }
        disconnect(&mut c).await;
        m.report(workload, "async-stomp", msgs);
    });
}

pub fn broker_roundtrip(addr: &str, dest: &str, n: u64, workload: &str) {
    rt().block_on(async {
        let mut c = connect(addr).await;
        let b = body();
        let m = Meter::start();
        for _ in 0..n {
            c.feed(send_msg(dest, &b)).await.unwrap();
        }
        let mut last = send_msg(dest, b"");
        last.extra_headers
            .push((b"receipt".to_vec(), b"sent".to_vec()));
        c.send(last).await.unwrap();
        loop {
            if let FromServer::Receipt { .. } = c.next().await.unwrap().unwrap().content {
                break;
            }
        }
        c.send(Subscriber::builder().destination(dest).id("0").subscribe())
            .await
            .unwrap();
        let mut got = 0;
        while got < n {
            if let FromServer::Message { body, .. } = c.next().await.unwrap().unwrap().content {
                if body.is_some_and(|b| !b.is_empty()) {
                    got += 1;
                }
            }
        }
        m.report(workload, "async-stomp", n);
    });
}

pub fn request_reply(addr: &str, dest: &str, n: usize, workload: &str) {
    rt().block_on(async {
        let mut c = connect(addr).await;
        let mut sub = Subscriber::builder().destination(dest).id("0").subscribe();
        sub.extra_headers
            .push((b"receipt".to_vec(), b"sub".to_vec()));
        c.send(sub).await.unwrap();
        loop {
            if let FromServer::Receipt { .. } = c.next().await.unwrap().unwrap().content {
                break;
            }
        }
        let b = body();
        let mut samples = Vec::with_capacity(n);
        for i in 0..n + n / 10 {
            let t = Instant::now();
            c.send(send_msg(dest, &b)).await.unwrap();
            loop {
                if let FromServer::Message { .. } = c.next().await.unwrap().unwrap().content {
                    break;
                }
            }
            if i >= n / 10 {
                samples.push(t.elapsed().as_secs_f64() * 1e6);
            }
        }
        report_latency(workload, "async-stomp", samples);
    });
}
