//! The real client, over real sockets, against a hostile peer: malformed frames, limits broken
//! on purpose, frames cut or dripped at every point, silence, a peer that never reads.
//!
//! Every case ends in a typed error (the exact variant is asserted) or in the documented clean
//! outcome, never in a panic; where a peer sends far more than the limits allow, the error's
//! size shows the client stopped reading within one read of the limit.
//!
//! Outcomes worth knowing:
//! - fatal (the connection is dropped, `close_reason` says why): every limit, syntax, escape
//!   and UTF-8 error, a cut inside a frame (`Truncated`), a reset, a heart-beat or write timeout;
//! - not fatal (`ProtocolError::Unexpected`, the next frame is delivered): a MESSAGE for an
//!   unknown subscription, a second CONNECTED, a client command from the server, an auto-ACK
//!   that cannot be built because the MESSAGE lacks the header;
//! - ignored: a RECEIPT for an id the client never asked for (it completes no later wait);
//! - delivered as is: a MESSAGE without `subscription`, backslashes from a 1.0 server.

mod peer;

use std::time::{Duration, Instant};

use peer::{assert_heart_beat_timeout, assert_no_receipt_within, connected, write, Peer, Step};
use stompy::{
    ClientBuilder, Command, Error, Frame, Limits, ProtocolError, ReconnectPolicy, StompClient,
    Timeout,
};

/// What the client reads from the socket at most in one go (the decoder's read chunk).
const READ_CHUNK: usize = 64 * 1024;

const MSG: &str = "MESSAGE\ndestination:/queue/a\nmessage-id:1\nsubscription:sub-1\n\nhello\0";

/// Time the peer stays around after its last write, so that the client sees no close.
const LINGER: Duration = Duration::from_secs(3);

fn builder(peer: &Peer) -> ClientBuilder {
    StompClient::builder()
        .address(peer.addr)
        .unwrap()
        .connected_timeout(Duration::from_secs(5))
        .disconnect_timeout(Duration::from_millis(50))
        .reconnect_policy(ReconnectPolicy::once())
}

/// A client subscribed as `sub-1`, with these limits.
fn subscribed_with(peer: &Peer, limits: Limits) -> StompClient {
    let mut c = builder(peer).limits(limits).connect().expect("connect");
    c.subscription("/queue/a").id("sub-1").subscribe().unwrap();
    c
}

fn subscribed(peer: &Peer) -> StompClient {
    subscribed_with(peer, Limits::default())
}

/// A peer that answers CONNECT, reads SUBSCRIBE, writes `bytes` and stays silent.
fn after_subscribe(bytes: impl AsRef<[u8]>) -> Peer {
    Peer::connected_then(vec![Step::Read, write(bytes), Step::Silence(LINGER)])
}

/// Receives once and returns the protocol error, failing on anything else.
#[track_caller]
fn protocol_error(c: &mut StompClient) -> ProtocolError {
    match c.recv() {
        Err(Error::Protocol(p)) => p,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

/// The protocol error a frame sent after SUBSCRIBE gives, and that the connection is gone;
/// `recv_ref` (frames lent from the read buffer) gives the same.
#[track_caller]
fn fatal(bytes: impl AsRef<[u8]>) -> ProtocolError {
    let bytes = bytes.as_ref().to_vec();
    let peer = after_subscribe(&bytes);
    let mut c = subscribed(&peer);
    let p = protocol_error(&mut c);
    assert!(!c.is_connected(), "{p:?} must drop the connection");
    assert!(matches!(c.close_reason(), Some(Error::Protocol(q)) if *q == p));
    let peer = after_subscribe(&bytes);
    let mut c = subscribed(&peer);
    match c.recv_ref() {
        Err(Error::Protocol(lent)) => assert_eq!(lent, p, "recv_ref"),
        other => panic!("recv_ref: expected {p:?}, got {other:?}"),
    }
    assert!(
        !c.is_connected(),
        "{p:?} must drop the connection (recv_ref)"
    );
    p
}

/// A client that expects a heart-beat from the peer every 100 ms and sends none.
fn expecting_heart_beats(peer: &Peer) -> StompClient {
    builder(peer)
        .heart_beat(Duration::ZERO, Duration::from_millis(100))
        .connect()
        .unwrap()
}

/// Sends a message asking for a receipt and checks that a 300 ms wait for it times out, well
/// within a second.
#[track_caller]
fn assert_receipt_wait_times_out(c: &mut StompClient) {
    let r = c.message("/queue/b").receipt().send().unwrap().unwrap();
    let start = Instant::now();
    assert_no_receipt_within(c, &r, Duration::from_millis(300));
    let took = start.elapsed();
    assert!(took < Duration::from_millis(1000), "{took:?}");
}

fn small_limits() -> Limits {
    Limits::default()
        .max_header_line(256)
        .max_headers(8)
        .max_body(1024)
}

// ---- header lines and header counts ------------------------------------------------------

/// Checks that `bytes` after SUBSCRIBE, to a client with [`small_limits`], are refused as a
/// header line too long, with at most one read buffered past the limit.
#[track_caller]
fn header_line_refused_within_one_read(bytes: impl AsRef<[u8]>) {
    let peer = after_subscribe(bytes);
    let mut c = subscribed_with(&peer, small_limits());
    match protocol_error(&mut c) {
        ProtocolError::HeaderLineTooLong { len, max } => {
            assert_eq!(max, 256);
            assert!(len <= max + 2 + READ_CHUNK, "buffered {len}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn oversized_header_line_is_refused_within_one_read_of_the_limit() {
    let big = format!(
        "MESSAGE\nsubscription:sub-1\nx:{}\n\n\0",
        "y".repeat(8 << 20)
    );
    header_line_refused_within_one_read(big);
}

#[test]
fn command_line_that_never_ends_is_refused_within_one_read_of_the_limit() {
    header_line_refused_within_one_read("M".repeat(4 << 20));
}

#[test]
fn header_line_exactly_at_the_limit_is_accepted() {
    let value = "v".repeat(256 - "x:".len());
    let peer = after_subscribe(format!("MESSAGE\nsubscription:sub-1\nx:{value}\n\nok\0"));
    let mut c = subscribed_with(&peer, small_limits());
    let f = c.recv().unwrap().unwrap();
    assert_eq!(f.get("x"), Some(value.as_str()));
}

#[test]
fn too_many_headers_are_refused_at_the_first_one_past_the_limit() {
    let mut frame = String::from("MESSAGE\nsubscription:sub-1\n");
    for i in 0..100_000 {
        frame.push_str(&format!("h{i}:v\n"));
    }
    frame.push_str("\n\0");
    let peer = after_subscribe(frame);
    let mut c = subscribed_with(&peer, small_limits());
    assert_eq!(
        protocol_error(&mut c),
        ProtocolError::TooManyHeaders { count: 9, max: 8 }
    );
}

#[test]
fn header_repeated_500_times_first_one_wins() {
    let mut frame = String::from("MESSAGE\nsubscription:sub-1\ncontent-length:3\n");
    for i in 0..500 {
        frame.push_str(&format!("k:{i}\ncontent-length:{}\n", i + 100));
    }
    frame.push_str("\nabc\0");
    let peer = after_subscribe(frame);
    let limits = Limits::default().max_headers(1100);
    let mut c = subscribed_with(&peer, limits);
    let f = c.recv().unwrap().unwrap();
    assert_eq!(f.get("k"), Some("0"));
    assert_eq!(f.headers().get_all("k").count(), 500);
    assert_eq!(
        f.body(),
        b"abc",
        "the first content-length is the one honoured"
    );
}

// ---- content-length and body size --------------------------------------------------------

#[track_caller]
fn invalid_content_length(value: &str) {
    let frame = format!("MESSAGE\nsubscription:sub-1\ncontent-length:{value}\n\nbody\0");
    assert_eq!(
        fatal(frame),
        ProtocolError::InvalidContentLength(value.to_owned())
    );
}

#[test]
fn content_length_too_long_to_be_a_number_is_invalid() {
    invalid_content_length("184467440737095516160000");
}

#[test]
fn negative_content_length_is_invalid() {
    invalid_content_length("-1");
}

#[test]
fn non_numeric_content_length_is_invalid() {
    invalid_content_length("12abc");
    invalid_content_length("0x10");
}

#[test]
fn empty_content_length_is_invalid() {
    invalid_content_length("");
}

#[test]
fn huge_content_length_is_refused_before_anything_is_allocated() {
    let frame = "MESSAGE\nsubscription:sub-1\ncontent-length:9999999999999999999\n\nbody\0";
    assert_eq!(
        fatal(frame),
        ProtocolError::BodyTooLarge {
            size: 9_999_999_999_999_999_999,
            max: 128 * 1024 * 1024
        }
    );
}

#[test]
fn body_past_the_limit_with_content_length_is_refused_on_the_header() {
    let frame = format!(
        "MESSAGE\nsubscription:sub-1\ncontent-length:{}\n\n{}\0",
        4 << 20,
        "b".repeat(4 << 20)
    );
    let peer = after_subscribe(frame);
    let mut c = subscribed_with(&peer, small_limits());
    assert_eq!(
        protocol_error(&mut c),
        ProtocolError::BodyTooLarge {
            size: 4 << 20,
            max: 1024
        }
    );
}

#[test]
fn body_past_the_limit_without_content_length_is_refused_within_one_read() {
    let frame = format!("MESSAGE\nsubscription:sub-1\n\n{}\0", "b".repeat(8 << 20));
    let peer = after_subscribe(frame);
    let mut c = subscribed_with(&peer, small_limits());
    match protocol_error(&mut c) {
        ProtocolError::BodyTooLarge { size, max } => {
            assert_eq!(max, 1024);
            assert!(size as usize <= max + READ_CHUNK + 1, "buffered {size}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn body_exactly_at_the_limit_is_accepted_with_and_without_content_length() {
    let body = "b".repeat(1024);
    let peer = after_subscribe(format!(
        "MESSAGE\nsubscription:sub-1\ncontent-length:1024\n\n{body}\0\
         MESSAGE\nsubscription:sub-1\n\n{body}\0"
    ));
    let mut c = subscribed_with(&peer, small_limits());
    assert_eq!(c.recv().unwrap().unwrap().body(), body.as_bytes());
    assert_eq!(c.recv().unwrap().unwrap().body(), body.as_bytes());
}

#[test]
fn missing_nul_after_a_content_length_body_is_an_error() {
    let frame = "MESSAGE\nsubscription:sub-1\ncontent-length:3\n\nabcdef\0";
    assert_eq!(fatal(frame), ProtocolError::MissingNul);
}

#[test]
fn nul_bytes_in_a_body_with_content_length_survive() {
    let body = b"\0a\0\0b\0";
    let mut frame = b"MESSAGE\nsubscription:sub-1\ncontent-length:6\n\n".to_vec();
    frame.extend_from_slice(body);
    frame.extend_from_slice(b"\0\n");
    frame.extend_from_slice(MSG.as_bytes());
    let peer = after_subscribe(frame);
    let mut c = subscribed(&peer);
    assert_eq!(c.recv().unwrap().unwrap().body(), body);
    assert_eq!(c.recv().unwrap().unwrap().body(), b"hello");
}

// ---- escapes and encodings ---------------------------------------------------------------

#[test]
fn escaped_cr_is_undefined_in_1_1() {
    let peer = Peer::start(vec![
        Step::Read,
        connected("1.1", "0,0"),
        Step::Read,
        write("MESSAGE\nsubscription:sub-1\nk:a\\rb\n\n\0"),
        Step::Silence(LINGER),
    ]);
    let mut c = subscribed(&peer);
    assert_eq!(c.version(), stompy::Version::V1_1);
    assert_eq!(
        protocol_error(&mut c),
        ProtocolError::InvalidEscape("\\r".into())
    );
}

#[test]
fn escaped_cr_is_defined_in_1_2() {
    let peer = after_subscribe("MESSAGE\nsubscription:sub-1\nk:a\\rb\n\n\0");
    let mut c = subscribed(&peer);
    assert_eq!(c.recv().unwrap().unwrap().get("k"), Some("a\rb"));
}

#[test]
fn escaped_tab_is_undefined() {
    let frame = "MESSAGE\nsubscription:sub-1\nk:a\\tb\n\n\0";
    assert_eq!(fatal(frame), ProtocolError::InvalidEscape("\\t".into()));
}

#[test]
fn trailing_backslash_is_an_undefined_escape() {
    let frame = "MESSAGE\nsubscription:sub-1\nk:ab\\\n\n\0";
    assert_eq!(fatal(frame), ProtocolError::InvalidEscape("\\".into()));
}

#[test]
fn trailing_backslash_in_a_header_name_is_an_undefined_escape() {
    let frame = "MESSAGE\nsubscription:sub-1\nk\\:v\n\n\0";
    assert_eq!(fatal(frame), ProtocolError::InvalidEscape("\\".into()));
}

#[test]
fn invalid_utf8_in_a_header_name_is_an_error() {
    let frame = b"MESSAGE\nsubscription:sub-1\nk\xff\xfe:v\n\n\0";
    assert_eq!(fatal(frame), ProtocolError::InvalidUtf8);
}

#[test]
fn invalid_utf8_in_a_header_value_is_an_error() {
    // An overlong encoding of '/' and a lone continuation byte.
    let frame = b"MESSAGE\nsubscription:sub-1\nk:\xc0\xaf\x80\n\n\0";
    assert_eq!(fatal(frame), ProtocolError::InvalidUtf8);
}

#[test]
fn a_1_0_server_s_backslashes_are_not_unescaped() {
    let peer = Peer::start(vec![
        Step::Read,
        write("CONNECTED\nsession:s-1\n\n\0"),
        Step::Read,
        write("MESSAGE\nsubscription:sub-1\nk:a\\cb\\nc\\td\\\n\n\0"),
        Step::Silence(LINGER),
    ]);
    let mut c = subscribed(&peer);
    assert_eq!(c.version(), stompy::Version::V1_0);
    let f = c.recv().unwrap().unwrap();
    assert_eq!(f.get("k"), Some("a\\cb\\nc\\td\\"));
}

// ---- commands and header syntax ----------------------------------------------------------

#[test]
fn garbage_command_is_an_unknown_command() {
    let frame = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n\n\0";
    assert!(matches!(fatal(frame), ProtocolError::UnknownCommand(_)));
}

#[test]
fn lowercase_command_is_an_unknown_command() {
    let frame = "message\nsubscription:sub-1\n\nhello\0";
    assert_eq!(
        fatal(frame),
        ProtocolError::UnknownCommand("message".into())
    );
}

#[test]
fn header_without_colon_is_malformed() {
    let frame = "MESSAGE\nsubscription:sub-1\nno colon here\n\n\0";
    assert_eq!(
        fatal(frame),
        ProtocolError::MalformedHeader("no colon here".into())
    );
}

#[test]
fn cr_without_lf_between_frames_is_an_unknown_command() {
    let peer = after_subscribe(format!("{MSG}\r{MSG}"));
    let mut c = subscribed(&peer);
    assert_eq!(c.recv().unwrap().unwrap().body(), b"hello");
    match protocol_error(&mut c) {
        ProtocolError::UnknownCommand(line) => assert!(line.starts_with("\rMESSAGE"), "{line:?}"),
        other => panic!("{other:?}"),
    }
    assert!(!c.is_connected());
}

#[test]
fn crlf_between_frames_is_a_heart_beat() {
    let peer = after_subscribe(format!("{MSG}\r\n\r\n{MSG}"));
    let mut c = subscribed(&peer);
    assert_eq!(c.recv().unwrap().unwrap().body(), b"hello");
    assert_eq!(c.recv().unwrap().unwrap().body(), b"hello");
}

// ---- frames the client did not expect ----------------------------------------------------

#[test]
fn message_for_an_unknown_subscription_is_unexpected_and_not_fatal() {
    let peer = after_subscribe(format!("{}{MSG}", MSG.replace("sub-1", "sub-99")));
    let mut c = subscribed(&peer);
    match protocol_error(&mut c) {
        ProtocolError::Unexpected(what) => assert!(what.contains("sub-99"), "{what}"),
        other => panic!("{other:?}"),
    }
    assert!(c.is_connected());
    assert_eq!(c.recv().unwrap().unwrap().body(), b"hello");
}

#[test]
fn receipt_for_an_unknown_id_is_ignored() {
    let peer = Peer::connected_then(vec![
        Step::Read,
        write(format!("RECEIPT\nreceipt-id:never-asked\n\n\0{MSG}")),
        Step::Read,
        Step::Silence(LINGER),
    ]);
    let mut c = subscribed(&peer);
    // Not surfaced to a consumer: the next frame is the MESSAGE behind it.
    assert_eq!(c.recv().unwrap().unwrap().body(), b"hello");
    assert!(c.is_connected());
    // And it does not complete a later wait for a different receipt.
    let r = c.message("/queue/b").receipt().send().unwrap().unwrap();
    assert_no_receipt_within(&mut c, &r, Duration::from_millis(200));
}

#[test]
fn server_sending_client_frames_is_unexpected_and_not_fatal() {
    let mut bytes = String::new();
    for cmd in ["SEND", "SUBSCRIBE", "ACK", "CONNECT", "DISCONNECT"] {
        bytes.push_str(&format!("{cmd}\ndestination:/queue/a\n\nx\0"));
    }
    bytes.push_str(MSG);
    let peer = after_subscribe(bytes);
    let mut c = subscribed(&peer);
    for cmd in ["SEND", "SUBSCRIBE", "ACK", "CONNECT", "DISCONNECT"] {
        match protocol_error(&mut c) {
            ProtocolError::Unexpected(what) => assert!(what.starts_with(cmd), "{what}"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(c.recv().unwrap().unwrap().body(), b"hello");
}

#[test]
fn connected_twice_is_unexpected_and_not_fatal() {
    let peer = after_subscribe(format!("CONNECTED\nversion:1.0\n\n\0{MSG}"));
    let mut c = subscribed(&peer);
    assert!(matches!(
        protocol_error(&mut c),
        ProtocolError::Unexpected(_)
    ));
    assert_eq!(
        c.version(),
        stompy::Version::V1_2,
        "the second one changed nothing"
    );
    assert_eq!(c.recv().unwrap().unwrap().body(), b"hello");
}

#[test]
fn error_mid_stream_is_a_broker_error_and_frames_after_it_still_arrive() {
    let peer = after_subscribe(format!(
        "{MSG}ERROR\nmessage:queue deleted\nreceipt-id:r-7\ncontent-length:7\n\ndetails\0{MSG}"
    ));
    let mut c = subscribed(&peer);
    assert_eq!(c.recv().unwrap().unwrap().body(), b"hello");
    match c.recv() {
        Err(Error::Broker(b)) => {
            assert_eq!(b.message, "queue deleted");
            assert_eq!(b.body, "details");
            assert_eq!(b.receipt_id.as_deref(), Some("r-7"));
        }
        other => panic!("{other:?}"),
    }
    assert!(c.is_connected());
    assert_eq!(c.recv().unwrap().unwrap().body(), b"hello");
}

#[test]
fn error_without_message_header_has_an_empty_message() {
    let peer = Peer::connected_then(vec![
        Step::Read,
        write("ERROR\n\nsomething broke\nsecond line\0"),
        Step::Close,
    ]);
    let mut c = subscribed(&peer);
    match c.recv() {
        Err(Error::Broker(b)) => {
            assert_eq!(b.message, "");
            assert_eq!(b.body, "something broke\nsecond line");
            assert_eq!(b.to_string(), "ERROR frame: something broke");
        }
        other => panic!("{other:?}"),
    }
    // The close after it is clean, with the ERROR as the reason.
    assert!(c.recv().unwrap().is_none());
    assert!(c.close_reason().and_then(Error::broker_error).is_some());
}

// ---- CONNECTED ---------------------------------------------------------------------------

#[track_caller]
fn connect_error(connected_frame: &str) -> Error {
    let peer = Peer::start(vec![
        Step::Read,
        write(connected_frame),
        Step::Silence(LINGER),
    ]);
    builder(&peer)
        .heart_beat(Duration::from_millis(100), Duration::from_millis(100))
        .connect()
        .unwrap_err()
}

#[test]
fn connected_with_a_malformed_heart_beat_is_refused() {
    for hb in ["", "100", "a,b", "-1,5", "1,2,3", "99999999999,0"] {
        let err = connect_error(&format!("CONNECTED\nversion:1.2\nheart-beat:{hb}\n\n\0"));
        match err {
            Error::Protocol(ProtocolError::InvalidHeartBeat(v)) => assert_eq!(v, hb),
            other => panic!("{hb:?}: {other:?}"),
        }
    }
}

#[test]
fn connected_with_an_unsupported_version_is_refused() {
    for version in ["3.0", "1.1,1.2", "", "v1.2"] {
        let err = connect_error(&format!("CONNECTED\nversion:{version}\n\n\0"));
        assert!(
            matches!(&err, Error::Protocol(ProtocolError::UnsupportedVersion(v)) if v == version),
            "{version:?}: {err:?}"
        );
        assert!(err.is_permanent());
    }
}

#[test]
fn connected_with_a_version_the_client_did_not_offer_is_refused() {
    let peer = Peer::start(vec![
        Step::Read,
        write("CONNECTED\nversion:1.2\n\n\0"),
        Step::Silence(LINGER),
    ]);
    let err = builder(&peer)
        .versions([stompy::Version::V1_0])
        .connect()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Protocol(ProtocolError::UnsupportedVersion(v)) if v == "1.2"),
        "{err:?}"
    );
}

#[test]
fn connected_with_the_largest_heart_beat_values_works() {
    let peer = Peer::heart_beat_then(
        "4294967295,4294967295",
        vec![Step::Read, write(MSG), Step::Silence(LINGER)],
    );
    let mut c = builder(&peer)
        .heart_beat(Duration::from_millis(1), Duration::from_millis(1))
        .connect()
        .unwrap();
    let max = Some(Duration::from_millis(u32::MAX.into()));
    assert_eq!(c.heart_beat(), (max, max));
    c.subscription("/queue/a").id("sub-1").subscribe().unwrap();
    assert_eq!(c.recv().unwrap().unwrap().body(), b"hello");
    let err = c.recv_timeout(Duration::from_millis(100)).unwrap_err();
    assert!(matches!(err, Error::Timeout(Timeout::Recv(_))), "{err:?}");
}

#[test]
fn message_before_connected_is_refused() {
    let err = connect_error(MSG);
    assert!(
        matches!(err, Error::Protocol(ProtocolError::Unexpected(_))),
        "{err:?}"
    );
}

#[test]
fn close_before_connected_is_not_connected() {
    let peer = Peer::start(vec![Step::Read, Step::Close]);
    let err = builder(&peer).connect().unwrap_err();
    assert!(matches!(err, Error::NotConnected(_)), "{err:?}");
}

#[test]
fn peer_that_never_answers_connect_times_out_within_the_deadline() {
    let peer = Peer::start(vec![Step::Silence(Duration::from_secs(5))]);
    let start = Instant::now();
    let err = builder(&peer)
        .connected_timeout(Duration::from_millis(300))
        .connect()
        .unwrap_err();
    let took = start.elapsed();
    assert!(
        matches!(err, Error::Timeout(Timeout::Connected(d)) if d == Duration::from_millis(300)),
        "{err:?}"
    );
    assert!(
        took >= Duration::from_millis(290) && took < Duration::from_millis(1500),
        "{took:?}"
    );
}

// ---- heart-beats and silence -------------------------------------------------------------

#[test]
fn heart_beats_only_keep_the_connection_alive_until_recv_timeout() {
    let peer = Peer::heart_beat_then(
        "100,0",
        vec![Step::Repeat {
            bytes: b"\n".to_vec(),
            every: Duration::from_millis(50),
            total: Duration::from_secs(3),
        }],
    );
    let mut c = expecting_heart_beats(&peer);
    let start = Instant::now();
    let err = c.recv_timeout(Duration::from_secs(1)).unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, Error::Timeout(Timeout::Recv(_))), "{err:?}");
    assert!(
        took >= Duration::from_millis(990) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    assert!(c.is_connected());
}

#[test]
fn silence_after_heart_beats_is_a_heart_beat_timeout() {
    let peer = Peer::heart_beat_then(
        "100,0",
        vec![
            Step::Repeat {
                bytes: b"\r\n".to_vec(),
                every: Duration::from_millis(50),
                total: Duration::from_millis(400),
            },
            Step::Silence(LINGER),
        ],
    );
    let mut c = expecting_heart_beats(&peer);
    let start = Instant::now();
    let err = c.recv().unwrap_err();
    let took = start.elapsed();
    assert_heart_beat_timeout(&err);
    // ~400 ms of beats, then 100 ms × 1.5 of silence.
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_millis(1200),
        "{took:?}"
    );
    assert!(!c.is_connected());
}

#[test]
fn peer_that_never_reads_makes_a_send_fail_with_a_write_timeout() {
    let peer = Peer::with_small_receive_buffer(vec![
        Step::Read,
        connected("1.2", "0,0"),
        Step::NeverRead(Duration::from_secs(10)),
    ]);
    let write_timeout = Duration::from_millis(300);
    let mut c = builder(&peer)
        .write_timeout(write_timeout)
        .connect()
        .unwrap();
    let chunk = vec![b'x'; 1 << 20];
    for sent in 0..32 {
        let start = Instant::now();
        match c.send("/queue/a", &chunk) {
            Ok(()) => continue,
            Err(Error::Timeout(Timeout::Write(d))) => {
                assert_eq!(d, write_timeout);
                assert!(start.elapsed() < write_timeout + Duration::from_millis(500));
                assert!(
                    sent >= 4,
                    "fails only past the high-water mark, after {sent} MiB"
                );
                assert!(!c.is_connected());
                return;
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    panic!("32 MiB went into a socket nobody reads");
}

// ---- splits, cuts and volume -------------------------------------------------------------

/// A MESSAGE with escapes, CRLF, a content-length body holding NUL and EOL, and a heart-beat.
fn awkward_frame() -> Vec<u8> {
    let mut f = b"MESSAGE\r\nsubscription:sub-1\r\nmessage-id:m\\c1\r\nk\\\\ey:v\\nal\r\n\
                  content-length:9\r\n\r\n"
        .to_vec();
    f.extend_from_slice(b"a\0b\nc\r\nd\0");
    f.extend_from_slice(b"\0\n");
    f
}

#[track_caller]
fn assert_awkward(f: &stompy::Frame) {
    assert_eq!(f.command(), Command::Message);
    assert_eq!(f.get("message-id"), Some("m:1"));
    assert_eq!(f.get("k\\ey"), Some("v\nal"));
    assert_eq!(f.body(), b"a\0b\nc\r\nd\0");
}

#[test]
fn connection_cut_at_every_byte_of_a_frame_is_truncated_or_clean() {
    let frame = awkward_frame();
    let end_of_frame = frame.len() - 1; // before the trailing heart-beat EOL
    for cut in 0..=frame.len() {
        let peer = Peer::connected_then(vec![
            Step::Read,
            Step::Write(frame[..cut].to_vec()),
            Step::Close,
        ]);
        let mut c = subscribed(&peer);
        match c.recv() {
            Ok(Some(f)) => {
                assert!(cut >= end_of_frame, "frame from {cut} bytes: {f:?}");
                assert_awkward(&f);
                assert!(c.recv().unwrap().is_none(), "cut at {cut}");
            }
            Ok(None) => assert_eq!(cut, 0, "clean close only at a frame boundary"),
            Err(Error::Protocol(ProtocolError::Truncated(n))) => {
                assert!(cut > 0 && cut < end_of_frame, "truncated at {cut}");
                assert!(n <= cut, "{n} bytes buffered of {cut}");
            }
            Err(other) => panic!("cut at {cut}: {other:?}"),
        }
        // The peer closed without DISCONNECT or ERROR: never a clean close.
        assert!(c.close_reason().is_some(), "cut at {cut}");
    }
}

#[test]
fn connection_cut_at_every_byte_of_a_frame_without_content_length_is_truncated_or_clean() {
    let frame = b"MESSAGE\nsubscription:sub-1\nk:v\\n\n\nbody\nwith lines\0".to_vec();
    for cut in 0..=frame.len() {
        let peer = Peer::connected_then(vec![
            Step::Read,
            Step::Write(frame[..cut].to_vec()),
            Step::Close,
        ]);
        let mut c = subscribed(&peer);
        match c.recv() {
            Ok(Some(f)) => {
                assert_eq!(cut, frame.len(), "frame from {cut} bytes: {f:?}");
                assert_eq!(f.body(), b"body\nwith lines");
                assert_eq!(f.get("k"), Some("v\n"));
            }
            Ok(None) => assert_eq!(cut, 0),
            Err(Error::Protocol(ProtocolError::Truncated(_))) => {
                assert!(cut > 0 && cut < frame.len(), "truncated at {cut}")
            }
            Err(other) => panic!("cut at {cut}: {other:?}"),
        }
    }
}

#[test]
fn connection_cut_at_every_byte_of_connected_fails_the_connect() {
    let frame = b"CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\0";
    for cut in 0..frame.len() {
        let peer = Peer::start(vec![
            Step::Read,
            Step::Write(frame[..cut].to_vec()),
            Step::Close,
        ]);
        match builder(&peer).connect() {
            Err(Error::NotConnected(_)) => assert_eq!(cut, 0),
            Err(Error::Protocol(ProtocolError::Truncated(n))) => {
                assert!(cut > 0 && n <= cut, "cut at {cut}")
            }
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
}

#[test]
fn frame_split_across_many_writes_at_awkward_points_decodes() {
    let frame = awkward_frame();
    // Inside the command, between CR and LF, inside an escape, on either side of a colon,
    // inside the content-length value, inside the body, right before the final NUL.
    let text = String::from_utf8_lossy(&frame).into_owned();
    let mut cuts = vec![3, 8];
    cuts.push(text.find("\\c").unwrap() + 1);
    cuts.push(text.find("\\\\").unwrap() + 1);
    cuts.push(text.find("ey:").unwrap() + 2);
    cuts.push(text.find("ey:").unwrap() + 3);
    cuts.push(text.find("length:9").unwrap() + 7);
    let body = text.find("\r\n\r\n").unwrap() + 4;
    cuts.extend([body - 1, body + 1, body + 2, body + 8, body + 9]);
    cuts.sort_unstable();
    let mut pieces = Vec::new();
    let mut at = 0;
    for cut in cuts {
        pieces.push(frame[at..cut].to_vec());
        at = cut;
    }
    pieces.push(frame[at..].to_vec());
    let peer = Peer::connected_then(vec![
        Step::Read,
        Step::Pieces(pieces.clone(), Duration::from_millis(5)),
        Step::Pieces(pieces, Duration::ZERO),
        Step::Close,
    ]);
    let mut c = subscribed(&peer);
    assert_awkward(&c.recv().unwrap().unwrap());
    assert_awkward(&c.recv().unwrap().unwrap());
    assert!(c.recv().unwrap().is_none());
    assert!(matches!(c.close_reason(), Some(Error::ConnectionClosed)));
}

#[test]
fn large_frame_dripped_one_byte_at_a_time_decodes() {
    let body: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    let mut big = format!(
        "MESSAGE\nsubscription:sub-1\nmessage-id:big\ncontent-length:{}\n\n",
        body.len()
    )
    .into_bytes();
    big.extend_from_slice(&body);
    big.push(0);
    let peer = Peer::connected_then(vec![
        Step::Read,
        Step::Drip(awkward_frame(), Duration::from_millis(1)),
        Step::Drip(big, Duration::ZERO),
        Step::Close,
    ]);
    let mut c = subscribed(&peer);
    assert_awkward(&c.recv().unwrap().unwrap());
    let f = c.recv().unwrap().unwrap();
    assert_eq!(f.get("message-id"), Some("big"));
    assert_eq!(f.body(), body.as_slice());
    assert!(c.recv().unwrap().is_none());
}

#[test]
fn ten_thousand_tiny_frames_in_one_write_all_arrive_in_order() {
    let mut bytes = Vec::new();
    for i in 0..10_000 {
        bytes.extend_from_slice(format!("MESSAGE\nsubscription:sub-1\n\n{i}\0").as_bytes());
        if i % 3 == 0 {
            bytes.push(b'\n');
        }
    }
    let peer = Peer::connected_then(vec![Step::Read, Step::Write(bytes), Step::Close]);
    let mut c = subscribed(&peer);
    let mut n = 0;
    for f in &mut c {
        assert_eq!(f.body(), n.to_string().as_bytes());
        n += 1;
    }
    assert_eq!(n, 10_000);
    assert!(matches!(c.close_reason(), Some(Error::ConnectionClosed)));
}

// ---- floods ------------------------------------------------------------------------------

/// Heart-beat EOLs as fast as the socket takes them.
fn eol_flood(total: Duration) -> Step {
    Step::Repeat {
        bytes: vec![b'\n'; 64 * 1024],
        every: Duration::ZERO,
        total,
    }
}

#[test]
fn a_flood_of_heart_beats_does_not_hold_off_recv_timeout() {
    let peer = Peer::connected_then(vec![Step::Read, eol_flood(Duration::from_secs(5))]);
    let mut c = subscribed(&peer);
    let start = Instant::now();
    let err = c.recv_timeout(Duration::from_millis(300)).unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, Error::Timeout(Timeout::Recv(_))), "{err:?}");
    assert!(took < Duration::from_millis(1000), "{took:?}");
}

#[test]
fn a_flood_of_heart_beats_instead_of_connected_times_out() {
    let peer = Peer::start(vec![Step::Read, eol_flood(Duration::from_secs(5))]);
    let start = Instant::now();
    let err = builder(&peer)
        .connected_timeout(Duration::from_millis(300))
        .connect()
        .unwrap_err();
    let took = start.elapsed();
    assert!(
        matches!(err, Error::Timeout(Timeout::Connected(_))),
        "{err:?}"
    );
    assert!(took < Duration::from_millis(1000), "{took:?}");
}

#[test]
fn a_flood_of_unsolicited_receipts_does_not_hold_off_a_receipt_timeout() {
    let mut receipts = Vec::new();
    for i in 0..2000 {
        receipts.extend_from_slice(format!("RECEIPT\nreceipt-id:junk-{i}\n\n\0").as_bytes());
    }
    let peer = Peer::connected_then(vec![
        Step::Read,
        Step::Repeat {
            bytes: receipts,
            every: Duration::ZERO,
            total: Duration::from_secs(5),
        },
    ]);
    let mut c = subscribed(&peer);
    assert_receipt_wait_times_out(&mut c);
}

#[test]
fn an_unsolicited_receipt_does_not_complete_a_later_wait_for_that_id() {
    let peer = Peer::connected_then(vec![
        Step::Read,
        write(format!("RECEIPT\nreceipt-id:r-1\n\n\0{MSG}")),
        Step::Read,
        Step::Silence(LINGER),
    ]);
    let mut c = subscribed(&peer);
    assert_eq!(c.recv().unwrap().unwrap().body(), b"hello");
    c.message("/queue/b").receipt_id("r-1").send().unwrap();
    assert_no_receipt_within(&mut c, "r-1", Duration::from_millis(200));
}

// ---- acknowledgement headers the broker left out -----------------------------------------

/// Subscribes `sub-1` in client-individual mode on a peer that sends `messages` after the
/// SUBSCRIBE, reads `acks` frames and closes; receives every frame with
/// `for frame in &mut client`, and returns the bodies received and the ACKs the peer read.
fn consume_all_then_acks(version: &str, messages: &str, acks: usize) -> (Vec<String>, Vec<Frame>) {
    let mut steps = vec![
        Step::Read,
        connected(version, "0,0"),
        Step::Read,
        write(messages),
    ];
    steps.extend((0..acks).map(|_| Step::Read));
    steps.push(Step::Close);
    let peer = Peer::start(steps);
    let mut c = builder(&peer).connect().unwrap();
    c.subscription("/queue/a")
        .id("sub-1")
        .ack(stompy::AckMode::ClientIndividual)
        .subscribe()
        .unwrap();
    let bodies: Vec<String> = (&mut c).map(|f| f.text().unwrap().into_owned()).collect();
    assert!(
        matches!(c.close_reason(), Some(Error::ConnectionClosed)),
        "the loop ended only when the peer closed: {:?}",
        c.close_reason()
    );
    drop(c);
    let acks = peer.frames().into_iter();
    (
        bodies,
        acks.filter(|f| f.command() == Command::Ack).collect(),
    )
}

#[test]
fn a_1_2_message_without_ack_header_is_acked_by_its_message_id() {
    let (bodies, acks) = consume_all_then_acks(
        "1.2",
        &format!("{MSG}MESSAGE\nsubscription:sub-1\nack:a-2\n\nnext\0"),
        2,
    );
    assert_eq!(bodies, ["hello", "next"]);
    let ids: Vec<_> = acks.iter().map(|f| f.get("id")).collect();
    assert_eq!(ids, [Some("1"), Some("a-2")], "{acks:?}");
}

#[test]
fn a_message_with_no_id_to_ack_is_skipped_and_the_consumer_goes_on() {
    // Neither `ack` nor `message-id`: no ACK can be written for the first; the loop goes on.
    let stray = "MESSAGE\nsubscription:sub-1\n\nstray\0";
    let next = "MESSAGE\nsubscription:sub-1\nmessage-id:m-2\nack:a-2\n\nnext\0";
    let (bodies, acks) = consume_all_then_acks("1.2", &format!("{stray}{next}{MSG}"), 2);
    assert_eq!(bodies, ["stray", "next", "hello"]);
    let ids: Vec<_> = acks.iter().map(|f| f.get("id")).collect();
    assert_eq!(ids, [Some("a-2"), Some("1")], "{acks:?}");
    // STOMP 1.1 needs `message-id`: a MESSAGE without it is skipped the same way.
    let stray = "MESSAGE\nsubscription:sub-1\n\nstray\0";
    let (bodies, acks) = consume_all_then_acks("1.1", &format!("{stray}{MSG}"), 1);
    assert_eq!(bodies, ["stray", "hello"]);
    let ids: Vec<_> = acks.iter().map(|f| f.get("message-id")).collect();
    assert_eq!(ids, [Some("1")], "{acks:?}");
}

#[test]
fn message_without_subscription_header_is_delivered() {
    let peer = after_subscribe("MESSAGE\ndestination:/queue/a\nmessage-id:9\n\nstray\0");
    let mut c = subscribed(&peer);
    let f = c.recv().unwrap().unwrap();
    assert_eq!((f.subscription(), f.body()), (None, &b"stray"[..]));
}

// ---- resets and slow peers -----------------------------------------------------------------

#[test]
fn reset_in_the_middle_of_a_frame_is_an_io_error() {
    let peer = Peer::connected_then(vec![
        Step::Read,
        write("MESSAGE\nsubscription:sub-1\n\nhal"),
        Step::Silence(Duration::from_millis(100)),
        Step::Reset,
    ]);
    let mut c = subscribed(&peer);
    match c.recv() {
        Err(Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
        other => panic!("{other:?}"),
    }
    assert!(!c.is_connected());
}

#[test]
fn silence_in_the_middle_of_a_frame_is_a_heart_beat_timeout() {
    let peer = Peer::heart_beat_then(
        "100,0",
        vec![
            Step::Read,
            write("MESSAGE\nsubscription:sub-1\n\nhal"),
            Step::Silence(LINGER),
        ],
    );
    let mut c = expecting_heart_beats(&peer);
    c.subscription("/queue/a").id("sub-1").subscribe().unwrap();
    let start = Instant::now();
    let err = c.recv().unwrap_err();
    assert_heart_beat_timeout(&err);
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[test]
fn a_frame_trickling_in_faster_than_the_heart_beat_deadline_arrives() {
    let frame = MSG.as_bytes().chunks(12).map(<[u8]>::to_vec).collect();
    let peer = Peer::heart_beat_then(
        "100,0",
        vec![
            Step::Read,
            Step::Pieces(frame, Duration::from_millis(60)),
            Step::Silence(LINGER),
        ],
    );
    let mut c = expecting_heart_beats(&peer);
    c.subscription("/queue/a").id("sub-1").subscribe().unwrap();
    // The frame takes ~480 ms, three times the 150 ms deadline, but bytes keep coming.
    assert_eq!(c.recv().unwrap().unwrap().body(), b"hello");
}

#[test]
fn keep_alive_after_the_broker_went_silent_is_a_heart_beat_timeout_and_drops_the_connection() {
    let peer = Peer::heart_beat_then("100,0", vec![Step::Silence(LINGER)]);
    let mut c = expecting_heart_beats(&peer);
    std::thread::sleep(Duration::from_millis(300)); // long work between pulls
    let err = c.keep_alive().unwrap_err();
    assert_heart_beat_timeout(&err);
    assert!(!c.is_connected());
    assert!(matches!(
        c.close_reason(),
        Some(Error::Timeout(Timeout::HeartBeat(_)))
    ));
    assert!(matches!(c.keep_alive(), Err(Error::NotConnected(_))));
}

#[test]
fn keep_alive_keeps_frames_for_recv_and_reports_an_error_frame() {
    let peer = Peer::connected_then(vec![
        Step::Read,
        write(format!("{MSG}ERROR\nmessage:bye\n\n\0")),
        Step::Close,
    ]);
    let mut c = subscribed(&peer);
    std::thread::sleep(Duration::from_millis(100));
    // Each call takes in at most one frame: the MESSAGE is kept, then the ERROR is reported.
    c.keep_alive().unwrap();
    let err = c.keep_alive().unwrap_err();
    assert_eq!(err.broker_error().map(|b| b.message.as_str()), Some("bye"));
    assert_eq!(c.recv().unwrap().unwrap().body(), b"hello");
    assert!(c.recv().unwrap().is_none());
    assert_eq!(
        c.close_reason()
            .and_then(Error::broker_error)
            .map(|b| b.message.as_str()),
        Some("bye")
    );
}

#[test]
fn heart_beats_go_out_while_the_application_works_through_buffered_frames() {
    let mut burst = String::new();
    for i in 0..20 {
        burst.push_str(&MSG.replace("hello", &i.to_string()));
    }
    let peer = Peer::heart_beat_then(
        "0,100",
        vec![Step::Read, write(burst), Step::ReadUntilClosed],
    );
    let mut c = builder(&peer)
        .heart_beat(Duration::from_millis(100), Duration::ZERO)
        .connect()
        .unwrap();
    c.subscription("/queue/a").id("sub-1").subscribe().unwrap();
    for i in 0..20 {
        let f = c.recv().unwrap().unwrap();
        assert_eq!(f.body(), i.to_string().as_bytes());
        std::thread::sleep(Duration::from_millis(50)); // work on it
    }
    drop(c);
    let (_, beats) = peer.finish();
    assert!(
        beats >= 5,
        "1 s of work with a 100 ms heart-beat: {beats} heart-beats"
    );
}

#[test]
fn a_flood_of_messages_does_not_hold_off_a_receipt_timeout() {
    let peer = Peer::connected_then(vec![
        Step::Read,
        Step::Read,
        Step::Repeat {
            bytes: MSG.repeat(1000).into_bytes(),
            every: Duration::from_millis(1),
            total: Duration::from_secs(3),
        },
    ]);
    let mut c = subscribed(&peer);
    assert_receipt_wait_times_out(&mut c);
    // What came meanwhile is kept, in order.
    assert_eq!(c.recv().unwrap().unwrap().body(), b"hello");
}

#[test]
fn a_body_after_a_refused_head_is_never_decoded_as_a_frame() {
    let smuggled = "MESSAGE\nsubscription:sub-1\n\nsmuggled\0";
    let peer = after_subscribe(format!(
        "MESSAGE\nsubscription:sub-1\ncontent-length:-1\n\n{smuggled}{smuggled}"
    ));
    let mut c = subscribed(&peer);
    std::thread::sleep(Duration::from_millis(100));
    // Seen first by keep_alive, which must not leave the stream half-used.
    let err = c.keep_alive().unwrap_err();
    assert!(
        matches!(err, Error::Protocol(ProtocolError::InvalidContentLength(_))),
        "{err:?}"
    );
    assert!(c.recv().unwrap().is_none(), "no frame after the error");
    assert!(matches!(
        c.close_reason(),
        Some(Error::Protocol(ProtocolError::InvalidContentLength(_)))
    ));
}
