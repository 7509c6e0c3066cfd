//! `Frame::text`, `Frame::json` and `Headers`.

use crate::error::Error;
use crate::frame::{Command, Frame, Headers, Version};

fn message(content_type: Option<&str>, body: &[u8]) -> Frame {
    let f = Frame::new(Command::Message).with_body(body);
    match content_type {
        Some(ct) => f.with_header("content-type", ct),
        None => f,
    }
}

#[test]
fn text_charsets() {
    let cases: &[(Option<&str>, &[u8], &str)] = &[
        (None, "caf\u{e9}".as_bytes(), "caf\u{e9}"),
        (Some("text/plain"), b"plain", "plain"),
        (
            Some("text/plain;charset=utf-8"),
            "\u{2713}".as_bytes(),
            "\u{2713}",
        ),
        (Some("text/plain; charset=\"UTF-8\""), b"q", "q"),
        (
            Some("text/plain;charset=ISO-8859-1"),
            b"caf\xe9",
            "caf\u{e9}",
        ),
        (
            Some("text/plain; format=flowed; charset=latin1"),
            b"\xff",
            "\u{ff}",
        ),
        (Some("text/plain;charset=us-ascii"), b"ascii", "ascii"),
    ];
    for &(ct, body, want) in cases {
        assert_eq!(message(ct, body).text().unwrap(), want, "{ct:?}");
    }
}

#[test]
fn text_errors() {
    let cases: &[(Option<&str>, &[u8])] = &[
        (None, b"caf\xe9"),
        (Some("text/plain;charset=utf-8"), b"\xff\xfe"),
        (Some("text/plain;charset=us-ascii"), b"caf\xe9"),
        (Some("text/plain;charset=koi8-r"), b"abc"),
    ];
    for &(ct, body) in cases {
        let f = message(ct, body);
        let res = f.text();
        assert!(matches!(res, Err(Error::Body(_))), "{ct:?} gave {res:?}");
    }
}

#[test]
fn json_body() {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Order {
        id: u32,
        item: String,
    }
    let f = message(None, br#"{"id": 7, "item": "tea"}"#);
    assert_eq!(
        f.json::<Order>().unwrap(),
        Order {
            id: 7,
            item: "tea".into()
        }
    );
    assert!(matches!(f.json::<Vec<u32>>(), Err(Error::Body(_))));
    assert!(matches!(
        message(None, b"{not json").json::<serde_json::Value>(),
        Err(Error::Body(_))
    ));
}

#[test]
fn headers_push_get_get_all() {
    let mut h = Headers::new();
    assert!(h.is_empty());
    h.push("foo", "1");
    h.push("bar", "x");
    h.push("foo", "2");
    assert_eq!(h.get("foo"), Some("1"), "first occurrence wins");
    assert_eq!(h.get("missing"), None);
    assert_eq!(h.get_all("foo").collect::<Vec<_>>(), ["1", "2"]);
    assert!(h.contains("bar") && !h.contains("baz"));
    assert_eq!(h.len(), 3);
    assert_eq!(h.byte_len(), "foo1barxfoo2".len());
    assert_eq!(
        h.iter().collect::<Vec<_>>(),
        [("foo", "1"), ("bar", "x"), ("foo", "2")]
    );
    assert_eq!(
        format!("{h:?}"),
        r#"[("foo", "1"), ("bar", "x"), ("foo", "2")]"#
    );
}

#[test]
fn headers_set_replaces_every_occurrence() {
    let mut h: Headers = [("foo", "1"), ("bar", "x"), ("foo", "2")]
        .into_iter()
        .collect();
    h.set("foo", "3");
    assert_eq!(h.iter().collect::<Vec<_>>(), [("bar", "x"), ("foo", "3")]);
    h.set("foo", "3");
    assert_eq!(h.len(), 2);
    h.set("new", "");
    assert_eq!(h.get("new"), Some(""));
}

#[test]
fn headers_remove() {
    let mut h: Headers = [("foo", "1"), ("bar", "x"), ("foo", "2")]
        .into_iter()
        .collect();
    assert!(h.remove("foo"));
    assert!(!h.remove("foo"));
    assert_eq!(h.iter().collect::<Vec<_>>(), [("bar", "x")]);
    assert!(h.remove("bar"));
    assert!(h.is_empty());
}

#[test]
fn headers_equal_by_content() {
    let mut a = Headers::with_capacity(4, 64);
    a.push("k", "v");
    let mut b = Headers::new();
    b.extend([("k", "v")]);
    assert_eq!(a, b);
}

/// Frames go to other threads (a worker pool): what they share with the decoder must allow it.
#[test]
fn frames_and_headers_are_send_and_sync() {
    fn both<T: Send + Sync + 'static>() {}
    both::<Frame>();
    both::<Headers>();
    both::<crate::Bytes>();
}

/// A received frame outlives the decoder and the buffers it came from, and equals the same
/// frame built by hand.
#[test]
fn a_received_frame_outlives_its_decoder() {
    let mut d = crate::codec::Decoder::new(Version::V1_2, crate::Limits::default());
    d.feed(
        b"MESSAGE\nsubscription:0\nmessage-id:7\ndestination:/queue/a\ncontent-length:2\n\nhi\0",
    );
    let Some(crate::codec::Item::Frame(f)) = d.decode().unwrap() else {
        panic!("a frame")
    };
    drop(d);
    let built = Frame::new(Command::Message)
        .with_header("subscription", "0")
        .with_header("message-id", "7")
        .with_header("destination", "/queue/a")
        .with_header("content-length", "2")
        .with_body("hi");
    assert_eq!(f, built);
    let mut moved = f.clone();
    moved.headers_mut().push("x", "1");
    assert_eq!(moved.get("x"), Some("1"));
    assert_eq!(f.get("x"), None, "the clone's change is its own");
    assert_eq!(f.body_bytes(), &b"hi"[..]);
}

/// A received frame's small body lies in the buffer its head was copied to: every way of reading
/// the frame, changing its headers, detaching or taking it apart keeps the body as it came.
#[test]
fn a_received_body_survives_whatever_is_done_to_its_frame() {
    let received = || {
        let mut d = crate::codec::Decoder::new(Version::V1_2, crate::Limits::default());
        d.feed(b"MESSAGE\nsubscription:0\ndestination:/queue/a\n\nbody one\0");
        d.feed(b"MESSAGE\nsubscription:0\ncontent-length:8\n\nbody two\0");
        let mut frames = Vec::new();
        while let Some(item) = d.decode().unwrap() {
            let crate::codec::Item::Frame(f) = item else {
                panic!("a frame")
            };
            frames.push(f);
        }
        frames
    };
    for (i, f) in received().into_iter().enumerate() {
        let want: &[u8] = [&b"body one"[..], b"body two"][i];
        assert_eq!(f.body(), want);
        assert_eq!(f.as_ref().body(), want);
        assert_eq!(f.body_bytes(), want);
        assert_eq!(f.clone().body(), want);
        assert_eq!(f.clone().into_body(), want);
        assert_eq!(f.clone().into_parts().2, want);
        let mut changed = f.clone();
        changed.headers_mut().push("x", "1");
        changed.headers_mut().remove("subscription");
        assert_eq!((changed.body(), changed.get("x")), (want, Some("1")));
        assert_eq!(f.clone().with_header("y", "2").body(), want);
        let mut detached = f.clone();
        detached.detach();
        assert_eq!(detached, f);
        assert_eq!(detached.body(), want);
        let body = f.body_bytes();
        drop(f);
        assert_eq!(body, want, "the body handle outlives the frame");
    }
}

#[test]
fn commands_parse_from_their_names_only() {
    for &c in Command::ALL {
        let name = c.as_str().as_bytes();
        assert_eq!(Command::from_bytes(name), Some(c));
        for i in 0..name.len() {
            let mut near = name.to_vec();
            near[i] ^= 0x20; // lower case
            assert_eq!(Command::from_bytes(&near), None, "{near:?}");
            let prefix = &name[..i];
            let named = Command::ALL
                .iter()
                .find(|x| x.as_str().as_bytes() == prefix);
            assert_eq!(Command::from_bytes(prefix), named.copied());
        }
        assert_eq!(Command::from_bytes(&[name, b"X"].concat()), None);
    }
}

#[test]
fn same_name_agrees_with_slice_equality() {
    use crate::frame::same_name;
    for n in 0..40usize {
        let a: Vec<u8> = (0..n as u8).map(|i| b'a' + i % 26).collect();
        assert!(same_name(&a, &a.clone()));
        for i in 0..n {
            let mut b = a.clone();
            b[i] ^= 1;
            assert!(!same_name(&a, &b), "{n} {i}");
        }
        assert!(!same_name(&a, &a[..n.saturating_sub(1)]) || n == 0);
    }
}
