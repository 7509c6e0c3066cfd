//! The memory that received frames an application keeps hold: a small frame is one allocation
//! of its own size, a large body at most 8 times its size (see `Frame`'s memory notes), never
//! what was received around it; a detached frame holds its own size. Measured as
//! the process's resident memory, in a test binary of its own (one test, so that nothing else
//! allocates meanwhile).

use stompy::codec::{Decoder, Item};
use stompy::{Frame, Limits, Version};

/// Resident memory of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// `n` 100-byte MESSAGEs decoded from 64 KiB reads; every `every`-th is kept (detached or not).
fn keep_some(n: usize, every: usize, detach: bool) -> Vec<Frame> {
    let mut input = Vec::new();
    for i in 0..1000 {
        input.extend_from_slice(
            format!(
                "MESSAGE\nsubscription:0\nmessage-id:m-{i:06}\ndestination:/queue/a\n\
                 content-length:100\n\n"
            )
            .as_bytes(),
        );
        input.extend_from_slice(&[b'x'; 100]);
        input.push(0);
    }
    let mut d = Decoder::new(Version::V1_2, Limits::default());
    let (mut kept, mut seen) = (Vec::new(), 0);
    while seen < n {
        for chunk in input.chunks(64 * 1024) {
            d.feed(chunk);
            while let Some(item) = d.decode().expect("valid input") {
                let Item::Frame(mut f) = item else { continue };
                seen += 1;
                if seen % every == 0 {
                    if detach {
                        f.detach();
                    }
                    kept.push(f);
                }
            }
        }
    }
    kept
}

/// A MESSAGE with `body` bytes of `fill`.
fn message(id: usize, body: usize, fill: u8) -> Vec<u8> {
    let mut f = format!(
        "MESSAGE\nsubscription:0\nmessage-id:m-{id:06}\ndestination:/queue/a\n\
         content-length:{body}\n\n"
    )
    .into_bytes();
    f.resize(f.len() + body, fill);
    f.push(0);
    f
}

/// `rounds` times a MESSAGE with a 12 KiB body and then about 240 KiB of 100-byte ones, read
/// as a socket is (the decoder's reads grow to its largest room); the large ones are kept.
fn keep_large(rounds: usize) -> Vec<Frame> {
    let mut input = Vec::new();
    for r in 0..rounds {
        input.extend(message(r, 12 * 1024, b'L'));
        for i in 0..1300 {
            input.extend(message(i, 100, b'x'));
        }
    }
    let mut d = Decoder::new(Version::V1_2, Limits::default());
    let mut reader = &input[..];
    let mut kept = Vec::new();
    while d.read_from(&mut reader).expect("a slice reads") > 0 {
        while let Some(item) = d.decode().expect("valid input") {
            match item {
                Item::Frame(f) if f.body().len() > 100 => kept.push(f),
                _ => {}
            }
        }
    }
    kept
}

#[test]
fn kept_frames_hold_their_own_size_not_the_stream() {
    // Warm up the allocator and the decoder's buffers.
    drop(keep_some(20_000, 1_000, false));

    // 400 000 frames (about 76 MB) pass; 400 are kept, detached: about their own size.
    let before = rss_kib();
    let detached = keep_some(400_000, 1_000, true);
    let held = rss_kib().saturating_sub(before);
    assert_eq!(detached.len(), 400);
    eprintln!("400 detached frames: {held} KiB");
    assert!(held < 4 * 1024, "400 detached frames hold {held} KiB");

    // The same, not detached: each holds its own size too (a frame used to share a 16 KiB
    // buffer with the frames decoded after it, and keep all of it: about 6 MB here).
    let before = rss_kib();
    let shared = keep_some(400_000, 1_000, false);
    let held = rss_kib().saturating_sub(before);
    eprintln!("400 shared frames: {held} KiB");
    assert_eq!(shared.len(), 400);
    assert!(held < 4 * 1024, "400 kept frames hold {held} KiB");
    assert!(shared.iter().all(|f| f.body() == [b'x'; 100]));
    assert_eq!(detached[7].get("message-id"), shared[7].get("message-id"));

    // 200 frames with 12 KiB bodies kept out of 52 MB: each keeps at most 8 times its body
    // (a body left in a read buffer keeps all of it, up to 256 KiB and more).
    drop(keep_large(10));
    let before = rss_kib();
    let large = keep_large(200);
    let held = rss_kib().saturating_sub(before);
    eprintln!("200 kept 12 KiB frames: {held} KiB");
    assert_eq!(large.len(), 200);
    assert!(large.iter().all(|f| f.body() == [b'L'; 12 * 1024]));
    assert!(
        held < 200 * 8 * 12,
        "200 kept 12 KiB frames hold {held} KiB (bound: 8 times the body each)"
    );
}
