//! Decoder cases: each input is checked in every chunking (see `check`).

use super::{check, frame, End, HB};
use crate::codec::Limits;
use crate::error::ProtocolError as E;
use crate::frame::{Command as C, Version};

/// `name: VERSION [, limits]; input => [items], end;` becomes a test that runs `check`.
macro_rules! decode {
    ($($name:ident: $version:ident $(, $limits:expr)?; $input:expr => [$($item:expr),* $(,)?], $end:expr;)*) => {
        $(
            #[test]
            fn $name() {
                #[allow(unused_variables)]
                let limits = Limits::default();
                $(let limits = $limits;)?
                check(Version::$version, limits, $input, &[$($item),*], $end);
            }
        )*
    };
}

fn limits(max_header_line: usize, max_headers: usize, max_body: usize) -> Limits {
    Limits {
        max_header_line,
        max_headers,
        max_body,
    }
}

const RABBITMQ_MESSAGE: &[u8] = b"MESSAGE\n\
    destination:/queue/orders\n\
    message-id:T_sub-0@@session-rL1d6s1kvJzCYGR7mgV1pQ@@1\n\
    subscription:sub-0\n\
    ack:T_sub-0@@session-rL1d6s1kvJzCYGR7mgV1pQ@@1\n\
    redelivered:false\n\
    content-type:text/plain\n\
    content-length:5\n\
    \n\
    hello\0\n";

decode! {
    // Frames and heart-beats.
    minimal_frame: V1_2; b"DISCONNECT\n\n\0" => [frame(C::Disconnect, &[], b"")], End::Idle;
    rabbitmq_message: V1_2; RABBITMQ_MESSAGE => [
        frame(C::Message, &[
            ("destination", "/queue/orders"),
            ("message-id", "T_sub-0@@session-rL1d6s1kvJzCYGR7mgV1pQ@@1"),
            ("subscription", "sub-0"),
            ("ack", "T_sub-0@@session-rL1d6s1kvJzCYGR7mgV1pQ@@1"),
            ("redelivered", "false"),
            ("content-type", "text/plain"),
            ("content-length", "5"),
        ], b"hello"),
        HB,
    ], End::Idle;
    heart_beats_only: V1_2; b"\n\r\n\n" => [HB, HB, HB], End::Idle;
    heart_beats_between_frames: V1_1; b"\n\r\nRECEIPT\nreceipt-id:7\n\n\0\n\r\nRECEIPT\nreceipt-id:8\n\n\0\n" => [
        HB, HB,
        frame(C::Receipt, &[("receipt-id", "7")], b""),
        HB, HB,
        frame(C::Receipt, &[("receipt-id", "8")], b""),
        HB,
    ], End::Idle;
    lone_cr_waits_for_its_lf: V1_2; b"\n\r" => [HB], End::Partial;
    stray_cr_starts_a_command_line: V1_2; b"\rSEND\n\n\0" => [], End::Err(E::UnknownCommand("\rSEND".into()));
    frames_back_to_back: V1_2; b"SEND\ndestination:/a\n\nx\0SEND\ndestination:/b\n\ny\0" => [
        frame(C::Send, &[("destination", "/a")], b"x"),
        frame(C::Send, &[("destination", "/b")], b"y"),
    ], End::Idle;

    // Padding: STOMP 1.0's own examples pad headers; 1.1 and 1.2 forbid trimming.
    padded_headers_trimmed_in_1_0: V1_0; b"SUBSCRIBE\ndestination: /queue/foo\nack:\tclient \n content-length : 2 \n\nab\0" => [
        frame(C::Subscribe, &[("destination", "/queue/foo"), ("ack", "client"), ("content-length", "2")], b"ab"),
    ], End::Idle;
    padded_connect_kept_in_1_0: V1_0; b"CONNECT\nlogin: guest\n\n\0" => [
        frame(C::Connect, &[("login", " guest")], b""),
    ], End::Idle;
    padding_kept_in_1_1: V1_1; b"SEND\ndestination: /q \n\n\0" => [
        frame(C::Send, &[("destination", " /q ")], b""),
    ], End::Idle;

    // Line ends.
    crlf_line_ends_1_2: V1_2; b"SEND\r\ndestination:/q\r\n\r\nbody\0\r\n" => [
        frame(C::Send, &[("destination", "/q")], b"body"), HB,
    ], End::Idle;
    crlf_line_ends_accepted_in_1_0: V1_0; b"SEND\r\ndestination:/q\r\n\r\nbody\0" => [
        frame(C::Send, &[("destination", "/q")], b"body"),
    ], End::Idle;
    mixed_line_ends: V1_2; b"SEND\ndestination:/q\r\nfoo:bar\n\r\n\0" => [
        frame(C::Send, &[("destination", "/q"), ("foo", "bar")], b""),
    ], End::Idle;
    cr_inside_a_value_is_kept: V1_1; b"SEND\nk:a\rb\n\n\0" => [frame(C::Send, &[("k", "a\rb")], b"")], End::Idle;

    // Bodies.
    content_length_with_nul_inside: V1_2; b"MESSAGE\ncontent-length:5\n\na\0b\0c\0" => [
        frame(C::Message, &[("content-length", "5")], b"a\0b\0c"),
    ], End::Idle;
    content_length_zero: V1_2; b"SEND\ncontent-length:0\n\n\0" => [
        frame(C::Send, &[("content-length", "0")], b""),
    ], End::Idle;
    content_length_with_spaces: V1_2; b"SEND\ncontent-length: 2 \n\nab\0" => [
        frame(C::Send, &[("content-length", " 2 ")], b"ab"),
    ], End::Idle;
    nul_terminated_body: V1_1; b"SEND\ndestination:/q\n\nhello\nworld\r\n\0\n" => [
        frame(C::Send, &[("destination", "/q")], b"hello\nworld\r\n"), HB,
    ], End::Idle;
    nul_terminated_body_1_0: V1_0; b"MESSAGE\n\n\xff\xfe binary\0" => [
        frame(C::Message, &[], b"\xff\xfe binary"),
    ], End::Idle;

    // Headers.
    value_keeps_later_colons: V1_2; b"SEND\ndestination:/a:b:c\n\n\0" => [
        frame(C::Send, &[("destination", "/a:b:c")], b""),
    ], End::Idle;
    empty_name_and_value: V1_2; b"SEND\n:\nk:\n\n\0" => [frame(C::Send, &[("", ""), ("k", "")], b"")], End::Idle;
    repeated_headers_are_all_kept: V1_2; b"MESSAGE\nfoo:1\nfoo:2\n\n\0" => [
        frame(C::Message, &[("foo", "1"), ("foo", "2")], b""),
    ], End::Idle;
    repeated_content_length_first_wins: V1_2; b"MESSAGE\ncontent-length:1\ncontent-length:9\n\nx\0" => [
        frame(C::Message, &[("content-length", "1"), ("content-length", "9")], b"x"),
    ], End::Idle;
    utf8_headers: V1_2; "SEND\ndestination:/queue/café\nclé:✓\n\n\0".as_bytes() => [
        frame(C::Send, &[("destination", "/queue/café"), ("clé", "✓")], b""),
    ], End::Idle;

    // Limits: each breach names the size seen and the limit.
    header_line_at_limit: V1_2, limits(8, 10, 10); b"SEND\nabc:efgh\r\n\n\0" => [
        frame(C::Send, &[("abc", "efgh")], b""),
    ], End::Idle;
    header_line_too_long: V1_2, limits(8, 10, 10); b"SEND\nabc:efghi\n\n\0" => [],
        End::Err(E::HeaderLineTooLong { len: 9, max: 8 });
    header_line_too_long_without_eol: V1_2, limits(8, 10, 10); b"SEND\nabcdefghijklmnopqrstuvwxyz" => [],
        End::Err(E::HeaderLineTooLong { len: 9, max: 8 });
    command_line_too_long: V1_2, limits(8, 10, 10); b"DISCONNECT\n\n\0" => [],
        End::Err(E::HeaderLineTooLong { len: 9, max: 8 });
    headers_at_limit: V1_2, limits(100, 2, 10); b"SEND\na:1\nb:2\n\n\0" => [
        frame(C::Send, &[("a", "1"), ("b", "2")], b""),
    ], End::Idle;
    too_many_headers: V1_2, limits(100, 2, 10); b"SEND\na:1\nb:2\nc:3\n\n\0" => [],
        End::Err(E::TooManyHeaders { count: 3, max: 2 });
    sized_body_at_limit: V1_2, limits(100, 10, 4); b"SEND\ncontent-length:4\n\nabcd\0" => [
        frame(C::Send, &[("content-length", "4")], b"abcd"),
    ], End::Idle;
    sized_body_too_large: V1_2, limits(100, 10, 4); b"SEND\ncontent-length:5\n\nabcde\0" => [],
        End::Err(E::BodyTooLarge { size: 5, max: 4 });
    unsized_body_at_limit: V1_2, limits(100, 10, 4); b"SEND\n\nabcd\0" => [frame(C::Send, &[], b"abcd")], End::Idle;
    unsized_body_at_limit_waits: V1_2, limits(100, 10, 4); b"SEND\n\nabcd" => [], End::Partial;
    unsized_body_too_large: V1_2, limits(100, 10, 4); b"SEND\n\nabcdefgh\0" => [],
        End::Err(E::BodyTooLarge { size: 5, max: 4 });
    unsized_body_too_large_without_nul: V1_2, limits(100, 10, 4); b"SEND\n\nabcde" => [],
        End::Err(E::BodyTooLarge { size: 5, max: 4 });
    zero_body_limit: V1_2, limits(100, 10, 0); b"SEND\n\n\0SEND\n\nx\0" => [frame(C::Send, &[], b"")],
        End::Err(E::BodyTooLarge { size: 1, max: 0 });

    // Bad content-length.
    content_length_negative: V1_2; b"SEND\ncontent-length:-1\n\n\0" => [],
        End::Err(E::InvalidContentLength("-1".into()));
    content_length_non_numeric: V1_2; b"SEND\ncontent-length:12abc\n\n\0" => [],
        End::Err(E::InvalidContentLength("12abc".into()));
    content_length_plus_sign: V1_2; b"SEND\ncontent-length:+1\n\nx\0" => [],
        End::Err(E::InvalidContentLength("+1".into()));
    content_length_empty: V1_2; b"SEND\ncontent-length:\n\n\0" => [],
        End::Err(E::InvalidContentLength("".into()));
    content_length_overflows: V1_2; b"SEND\ncontent-length:99999999999999999999999\n\n\0" => [],
        End::Err(E::InvalidContentLength("99999999999999999999999".into()));
    content_length_huge: V1_2; b"SEND\ncontent-length:9999999999999999999\n\n\0" => [],
        End::Err(E::BodyTooLarge { size: 9_999_999_999_999_999_999, max: Limits::default().max_body });
    content_length_is_unescaped_first: V1_2; b"SEND\ncontent-length:1\\c\n\n\0" => [],
        End::Err(E::InvalidContentLength("1:".into()));
    content_length_in_1_0_is_raw: V1_0; b"SEND\ncontent-length:1\\c\n\n\0" => [],
        End::Err(E::InvalidContentLength("1\\c".into()));
    missing_nul_after_sized_body: V1_2; b"SEND\ncontent-length:2\n\nabc\0" => [], End::Err(E::MissingNul);
    eol_instead_of_nul_after_sized_body: V1_2; b"SEND\ncontent-length:2\n\nab\n\0" => [], End::Err(E::MissingNul);

    // Malformed heads.
    garbage_command: V1_2; b"HELLO\n\n\0" => [], End::Err(E::UnknownCommand("HELLO".into()));
    lowercase_command: V1_2; b"send\n\n\0" => [], End::Err(E::UnknownCommand("send".into()));
    command_with_trailing_space: V1_2; b"SEND \n\n\0" => [], End::Err(E::UnknownCommand("SEND ".into()));
    invalid_utf8_command: V1_2; b"\xffSEND\n\n\0" => [], End::Err(E::UnknownCommand("\u{fffd}SEND".into()));
    invalid_utf8_in_value: V1_2; b"SEND\nk:\xff\xfe\n\n\0" => [], End::Err(E::InvalidUtf8);
    invalid_utf8_in_name: V1_2; b"SEND\n\xc3:v\n\n\0" => [], End::Err(E::InvalidUtf8);
    header_without_colon: V1_2; b"SEND\nnocolon\n\n\0" => [], End::Err(E::MalformedHeader("nocolon".into()));
    items_before_an_error_are_kept: V1_2; b"\nSEND\n\n\0BAD\n" => [HB, frame(C::Send, &[], b"")],
        End::Err(E::UnknownCommand("BAD".into()));

    // Heads parsed in one pass once wholly buffered give what line by line gives.
    errors_in_line_order_before_invalid_utf8: V1_2; b"SEND\nnocolon\nk:\xff\n\n\0" => [],
        End::Err(E::MalformedHeader("nocolon".into()));
    invalid_utf8_before_a_malformed_line: V1_2; b"SEND\nk:\xff\nnocolon\n\n\0" => [],
        End::Err(E::InvalidUtf8);
    too_many_headers_before_invalid_utf8: V1_2, limits(100, 1, 10); b"SEND\na:1\nb:\xff\n\n\0" => [],
        End::Err(E::TooManyHeaders { count: 2, max: 1 });
    escaped_and_plain_lines_in_one_head: V1_2; b"MESSAGE\r\na:1\r\nb\\c:x\\ny\r\nc:\\\\\r\n\r\n\0" => [
        frame(C::Message, &[("a", "1"), ("b:", "x\ny"), ("c", "\\")], b""),
    ], End::Idle;
    connected_head_keeps_backslashes: V1_2; b"CONNECTED\nversion:1.2\nserver:a\\b\n\n\0" => [
        frame(C::Connected, &[("version", "1.2"), ("server", "a\\b")], b""),
    ], End::Idle;

    // Truncated input waits for more.
    truncated_command: V1_2; b"MESSA" => [], End::Partial;
    truncated_header: V1_2; b"MESSAGE\ndestination:/q" => [], End::Partial;
    truncated_before_blank_line: V1_2; b"MESSAGE\ndestination:/q\n" => [], End::Partial;
    truncated_unsized_body: V1_2; b"MESSAGE\n\nbody" => [], End::Partial;
    truncated_sized_body: V1_2; b"MESSAGE\ncontent-length:4\n\nbo" => [], End::Partial;
    truncated_before_nul: V1_2; b"MESSAGE\ncontent-length:4\n\nbody" => [], End::Partial;
    truncated_after_frame: V1_2; b"RECEIPT\nreceipt-id:1\n\n\0RECEIPT\nrec" => [
        frame(C::Receipt, &[("receipt-id", "1")], b""),
    ], End::Partial;
}

#[test]
fn every_command_decodes() {
    for &command in C::ALL {
        let input = format!("{command}\nk:v\n\n\0");
        check(
            Version::V1_2,
            Limits::default(),
            input.as_bytes(),
            &[frame(command, &[("k", "v")], b"")],
            End::Idle,
        );
    }
}

#[test]
fn large_sized_body_in_any_chunking() {
    let body: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let mut input = format!("MESSAGE\ncontent-length:{}\n\n", body.len()).into_bytes();
    input.extend_from_slice(&body);
    input.extend_from_slice(b"\0\n");
    let len = body.len().to_string();
    check(
        Version::V1_2,
        Limits::default(),
        &input,
        &[frame(C::Message, &[("content-length", &len)], &body), HB],
        End::Idle,
    );
}

#[test]
fn an_error_is_final_for_the_caller_not_a_panic() {
    let mut d = crate::codec::Decoder::new(Version::V1_2, Limits::default());
    d.feed(b"BAD\n\n\0");
    assert!(d.decode().is_err());
    // Whatever the caller does next must not panic.
    d.feed(b"SEND\n\n\0");
    let _ = d.decode();
}

#[test]
fn buffered_counts_unreturned_bytes() {
    let mut d = crate::codec::Decoder::new(Version::V1_2, Limits::default());
    assert!(d.is_idle());
    let partial = b"SEND\ncontent-length:4\n\nab";
    d.feed(partial);
    assert_eq!(d.decode(), Ok(None));
    assert_eq!(
        d.buffered(),
        partial.len(),
        "the unfinished frame, head included"
    );
    assert!(!d.is_idle());
    d.feed(b"cd\0");
    assert!(matches!(d.decode(), Ok(Some(_))));
    assert_eq!(d.buffered(), 0);
    assert!(d.is_idle());
}

decode! {
    backslash_in_a_body_is_not_an_escape: V1_2; b"SEND\ncontent-length:2\n\n\\t\0SEND\nk:\\\\\n\nx\\\0" => [
        frame(C::Send, &[("content-length", "2")], b"\\t"),
        frame(C::Send, &[("k", "\\")], b"x\\"),
    ], End::Idle;
    escaped_and_plain_frames_alternate: V1_1; b"SEND\na:1\nb\\c:2\n\n\0SEND\na:1\nb:2\n\n\0SEND\nc:\\n\n\n\0" => [
        frame(C::Send, &[("a", "1"), ("b:", "2")], b""),
        frame(C::Send, &[("a", "1"), ("b", "2")], b""),
        frame(C::Send, &[("c", "\n")], b""),
    ], End::Idle;
    heads_of_changing_size: V1_2; b"SEND\n\n\0SEND\na:1\nb:2\nc:3\n\n\0SEND\nd:4\n\n\0" => [
        frame(C::Send, &[], b""),
        frame(C::Send, &[("a", "1"), ("b", "2"), ("c", "3")], b""),
        frame(C::Send, &[("d", "4")], b""),
    ], End::Idle;
}

#[test]
fn version_change_applies_to_the_next_frame() {
    let mut d = crate::codec::Decoder::new(Version::V1_0, Limits::default());
    d.feed(b"CONNECTED\nversion:1.2\n\n\0MESSAGE\nk:a\\cb\n\n\0");
    assert_eq!(
        d.decode(),
        Ok(Some(frame(C::Connected, &[("version", "1.2")], b"")))
    );
    d.set_version(Version::V1_2);
    assert_eq!(d.version(), Version::V1_2);
    assert_eq!(
        d.decode(),
        Ok(Some(frame(C::Message, &[("k", "a:b")], b"")))
    );
}

#[test]
fn a_declared_body_is_not_reserved_before_it_arrives() {
    use crate::codec::{Decoder, Limits};
    use crate::frame::Version;
    let mut d = Decoder::new(Version::V1_2, Limits::default());
    d.feed(b"MESSAGE\ncontent-length:100000000\n\n");
    assert!(d.decode().unwrap().is_none());
    assert!(d.reserved() <= 64 * 1024 + 128 * 1024, "{}", d.reserved());
    // Once the body really comes, the rest is reserved in one step.
    d.feed(&vec![b'x'; 100 * 1024]);
    assert!(d.decode().unwrap().is_none());
    assert!(d.reserved() >= 100_000_000);
}

#[test]
fn heads_longer_than_one_pass_takes_are_read_line_by_line() {
    let names: Vec<String> = (0..40).map(|i| format!("h{i}")).collect();
    let mut input = b"MESSAGE\n".to_vec();
    for name in &names {
        input.extend_from_slice(format!("{name}:v\\c\n").as_bytes());
    }
    input.extend_from_slice(b"content-length:1\n\nx\0");
    let mut headers: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v:")).collect();
    headers.push(("content-length", "1"));
    let item = frame(C::Message, &headers, b"x");
    check(Version::V1_2, Limits::default(), &input, &[item], End::Idle);
    let few = limits(100, 39, 10);
    let end = End::Err(E::TooManyHeaders { count: 40, max: 39 });
    check(Version::V1_2, few, &input, &[], end);
}

/// Heads built from awkward pieces (escapes, CRs, colons, padding, non-UTF-8, lines that cross
/// the 64-byte blocks of the one-pass split, limits that bite) decode the same whole, where the
/// head is split in one pass, as one byte at a time, where it is read line by line.
#[test]
fn one_pass_and_line_by_line_agree_on_generated_heads() {
    let long = "y".repeat(70);
    let pieces: &[&[u8]] = &[
        b"a",
        b"key",
        b":",
        b"::",
        b"\\",
        b"\\n",
        b"\\c",
        b"\\r",
        b"\\t",
        b"\r",
        b" ",
        b"\t",
        "é".as_bytes(),
        b"\xff",
        b"content-length:3",
        b"content-length:x",
        long.as_bytes(),
    ];
    let mut rng = super::Rng(0xC0FFEE);
    let limits = [
        Limits::default(),
        Limits::default().max_header_line(40).max_headers(5),
    ];
    let commands: [&[u8]; 3] = [b"SEND\n", b"MESSAGE\r\n", b"CONNECTED\n"];
    for _ in 0..4000 {
        let mut input = commands[rng.next() as usize % commands.len()].to_vec();
        for _ in 0..rng.next() % 9 {
            for _ in 0..1 + rng.next() % 5 {
                input.extend_from_slice(pieces[rng.next() as usize % pieces.len()]);
            }
            input.extend_from_slice(if rng.next().is_multiple_of(4) {
                b"\r\n"
            } else {
                b"\n"
            });
        }
        input.extend_from_slice(b"\nabc\0\n");
        for version in Version::ALL {
            for limits in limits {
                let whole = super::run(version, limits, [&input[..]]);
                let bytes = super::run(version, limits, input.chunks(1));
                let lent = super::run_ref(version, limits, [&input[..]], super::Lend::Always);
                assert_eq!(
                    whole,
                    lent,
                    "{version} {:?}",
                    String::from_utf8_lossy(&input)
                );
                assert_eq!(
                    whole,
                    bytes,
                    "{version} {:?}",
                    String::from_utf8_lossy(&input)
                );
                for item in &whole.0 {
                    if let super::Item::Frame(f) = item {
                        lookups_agree_with_iteration(f);
                    }
                }
            }
        }
    }
}

/// `get` finds what walking the headers in order finds first, for every name in them, for
/// pieces of those names, and for names across lines.
fn lookups_agree_with_iteration(f: &crate::frame::Frame) {
    let all: Vec<(&str, &str)> = f.headers().iter().collect();
    let first = |name: &str| all.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    let mut names: Vec<String> = Vec::new();
    for (i, (n, v)) in all.iter().enumerate() {
        names.push(n.to_string());
        names.extend(
            (0..n.len())
                .filter(|&k| n.is_char_boundary(k))
                .map(|k| n[k..].to_string()),
        );
        names.extend(
            (0..n.len())
                .filter(|&k| n.is_char_boundary(k))
                .map(|k| n[..k].to_string()),
        );
        if let Some((next, _)) = all.get(i + 1) {
            names.push(format!("{n}:{v}\n{next}"));
            names.push(format!("{v}\n{next}"));
        }
    }
    names.push("absent".into());
    for name in &names {
        assert_eq!(f.get(name), first(name), "{name:?} in {all:?}");
    }
    // Three at once, as the auto-ACK looks them up.
    for three in names.windows(3).step_by(2) {
        let each = f
            .headers()
            .get_bytes_each([&three[0], &three[1], &three[2]]);
        let want = [0, 1, 2].map(|i| first(&three[i]).map(str::as_bytes));
        assert_eq!(each, want, "{three:?} in {all:?}");
    }
}

/// The `subscription` a head indexed in one pass notes on the way is the one a lookup finds:
/// the first, wherever it is (across the 64-byte blocks, after names of the same length, after
/// a line it is a suffix of, with CR LF), and none when there is none.
#[test]
fn the_subscription_noted_in_one_pass_is_the_one_looked_up() {
    use crate::codec::{Decoder, Found};
    let pieces: &[&[u8]] = &[
        b"subscription:s-1",
        b"subscription:",
        b"subscription:s-2\r",
        b"content-type:t",
        b"xsubscription:no",
        b"ack:a",
        b"message-id:m-12345",
        b"content-length:3",
        b"destination:/queue/a-rather-long-name",
    ];
    let mut rng = super::Rng(0x5EED);
    let (mut noted, mut absent) = (0, 0);
    for _ in 0..4000 {
        let mut input = b"MESSAGE\n".to_vec();
        for _ in 0..rng.next() % 8 {
            input.extend_from_slice(pieces[rng.next() as usize % pieces.len()]);
            input.push(b'\n');
        }
        input.extend_from_slice(b"\nabc\0");
        let mut d = Decoder::new(Version::V1_2, Limits::default());
        d.feed(&input);
        let Ok(Some(Found::Frame(_))) = d.find() else {
            continue; // a head that is not a frame: nothing noted
        };
        let looked_up = d.view().get_bytes("subscription");
        if let Some(found) = d.found_subscription() {
            assert_eq!(found, looked_up, "{:?}", String::from_utf8_lossy(&input));
            noted += 1;
            absent += usize::from(found.is_none());
        }
    }
    assert!(
        noted > 3000 && absent > 100,
        "{noted} noted, {absent} without"
    );
}
