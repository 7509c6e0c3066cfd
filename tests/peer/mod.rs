//! A scripted STOMP peer over a real socket, for what a broker will not do on demand
//! (malformed frames, silence, a close in the middle of a frame).
#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

use stompy::codec::{Decoder, Item};
use stompy::{Error, Frame, Limits, StompClient, Timeout, Version};

/// One thing the peer does, in order.
#[derive(Debug, Clone)]
pub enum Step {
    /// Read one frame (heart-beats skipped) and record it.
    Read,
    /// Write these bytes.
    Write(Vec<u8>),
    /// Keep the socket open without writing, for this long (the peer still reads).
    Silence(Duration),
    /// Read frames until the client closes the connection.
    ReadUntilClosed,
    /// Close the socket.
    Close,
    /// Write these bytes one at a time (each its own write, Nagle off), pausing between.
    Drip(Vec<u8>, Duration),
    /// Write each piece on its own (Nagle off), pausing between.
    Pieces(Vec<Vec<u8>>, Duration),
    /// Write these bytes every `every` for `total`.
    Repeat {
        bytes: Vec<u8>,
        every: Duration,
        total: Duration,
    },
    /// Abort the connection: close with SO_LINGER 0, so that the client sees a reset.
    Reset,
    /// Hold the socket open for this long without reading or writing, so that the client's
    /// writes back up.
    NeverRead(Duration),
}

/// A CONNECTED frame for `version` with the given heart-beat header.
pub fn connected(version: &str, heart_beat: &str) -> Step {
    Step::Write(
        format!("CONNECTED\nversion:{version}\nheart-beat:{heart_beat}\nserver:peer/1\n\n\0")
            .into_bytes(),
    )
}

/// Writes raw bytes.
pub fn write(bytes: impl AsRef<[u8]>) -> Step {
    Step::Write(bytes.as_ref().to_vec())
}

/// Checks that `err` is a heart-beat timeout.
#[track_caller]
pub fn assert_heart_beat_timeout(err: &Error) {
    assert!(
        matches!(err, Error::Timeout(Timeout::HeartBeat(_))),
        "{err:?}"
    );
}

/// Waits `wait` for the receipt `id` and checks that the wait times out.
#[track_caller]
pub fn assert_no_receipt_within(c: &mut StompClient, id: &str, wait: Duration) {
    let err = c.wait_for_receipt(id, wait).unwrap_err();
    assert!(
        matches!(err, Error::Timeout(Timeout::Receipt(_))),
        "{err:?}"
    );
}

/// A peer accepting one connection and playing `steps` on it.
pub struct Peer {
    pub addr: SocketAddr,
    handle: Option<JoinHandle<(Vec<Frame>, usize)>>,
}

impl Peer {
    #[track_caller]
    pub fn start(steps: Vec<Step>) -> Peer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind peer");
        Peer::on(listener, steps)
    }

    /// Like [`Peer::start`], with a small receive buffer on the accepted socket (so that a
    /// peer that never reads backs the client up after little data).
    #[track_caller]
    pub fn with_small_receive_buffer(steps: Vec<Step>) -> Peer {
        use socket2::{Domain, Socket, Type};
        let sock = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        sock.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        sock.bind(&addr.into()).expect("bind peer");
        sock.listen(1).expect("listen");
        Peer::on(sock.into(), steps)
    }

    fn on(listener: TcpListener, steps: Vec<Step>) -> Peer {
        let addr = listener.local_addr().unwrap();
        let handle = std::thread::spawn(move || {
            let Ok((sock, _)) = listener.accept() else {
                return (Vec::new(), 0);
            };
            play(sock, steps)
        });
        Peer {
            addr,
            handle: Some(handle),
        }
    }

    /// A peer that accepts and answers CONNECT with CONNECTED 1.2 (no heart-beats), then
    /// plays `steps`.
    pub fn connected_then(steps: Vec<Step>) -> Peer {
        Peer::heart_beat_then("0,0", steps)
    }

    /// A peer that accepts and answers CONNECT with CONNECTED 1.2 and this `heart-beat`
    /// header, then plays `steps`.
    pub fn heart_beat_then(heart_beat: &str, steps: Vec<Step>) -> Peer {
        let mut all = vec![Step::Read, connected("1.2", heart_beat)];
        all.extend(steps);
        Peer::start(all)
    }

    /// The frames the peer read (waits for the script to finish).
    pub fn frames(self) -> Vec<Frame> {
        self.finish().0
    }

    /// The frames the peer read and how many heart-beats (EOLs between frames) it saw.
    pub fn finish(mut self) -> (Vec<Frame>, usize) {
        self.handle.take().unwrap().join().expect("peer panicked")
    }
}

fn play(mut sock: TcpStream, steps: Vec<Step>) -> (Vec<Frame>, usize) {
    let mut beats = 0;
    let mut dec = Decoder::new(Version::V1_2, Limits::default());
    let mut seen = Vec::new();
    for step in steps {
        match step {
            Step::Read => match read_frame(&mut sock, &mut dec, &mut beats) {
                Some(f) => seen.push(f),
                None => return (seen, beats),
            },
            Step::Write(b) => {
                if sock.write_all(&b).is_err() {
                    return (seen, beats);
                }
            }
            Step::Silence(d) => {
                sock.set_read_timeout(Some(d)).unwrap();
                let mut buf = [0u8; 4096];
                let until = std::time::Instant::now() + d;
                while std::time::Instant::now() < until {
                    match sock.read(&mut buf) {
                        Ok(0) => return (seen, beats),
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
                sock.set_read_timeout(None).unwrap();
            }
            Step::ReadUntilClosed => {
                while let Some(f) = read_frame(&mut sock, &mut dec, &mut beats) {
                    seen.push(f);
                }
            }
            Step::Close => {
                let _ = sock.shutdown(std::net::Shutdown::Both);
                return (seen, beats);
            }
            Step::Drip(bytes, pause) => {
                let pieces = bytes.iter().map(|&b| vec![b]).collect();
                if !write_pieces(&mut sock, pieces, pause) {
                    return (seen, beats);
                }
            }
            Step::Pieces(pieces, pause) => {
                if !write_pieces(&mut sock, pieces, pause) {
                    return (seen, beats);
                }
            }
            Step::Repeat {
                bytes,
                every,
                total,
            } => {
                let until = std::time::Instant::now() + total;
                while std::time::Instant::now() < until {
                    if sock.write_all(&bytes).is_err() {
                        return (seen, beats);
                    }
                    std::thread::sleep(every);
                }
            }
            Step::NeverRead(d) => std::thread::sleep(d),
            Step::Reset => {
                let _ = socket2::SockRef::from(&sock).set_linger(Some(Duration::ZERO));
                return (seen, beats);
            }
        }
    }
    (seen, beats)
}

/// Writes each piece with its own `write` call; false when the client went away.
fn write_pieces(sock: &mut TcpStream, pieces: Vec<Vec<u8>>, pause: Duration) -> bool {
    sock.set_nodelay(true).unwrap();
    for p in pieces {
        if sock.write_all(&p).is_err() {
            return false;
        }
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
    }
    true
}

fn read_frame(sock: &mut TcpStream, dec: &mut Decoder, beats: &mut usize) -> Option<Frame> {
    loop {
        match dec.decode() {
            Ok(Some(Item::Frame(f))) => return Some(f),
            Ok(Some(Item::HeartBeat)) => *beats += 1,
            Ok(None) => {}
            Err(_) => return None,
        }
        let mut buf = [0u8; 8192];
        match sock.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => dec.feed(&buf[..n]),
        }
    }
}
