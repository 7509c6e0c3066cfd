//! Printing received frames: body only, headers and body, or JSON.

use std::io::{self, Write};

use serde_json::{Map, Value};
use stompy::Frame;

use crate::args::Format;

/// Writes `frame` to `out` in `format`, ending with a newline.
pub(crate) fn write_frame(out: &mut impl Write, frame: &Frame, format: Format) -> io::Result<()> {
    match format {
        Format::Text => {
            out.write_all(frame.body())?;
            if !frame.body().ends_with(b"\n") {
                out.write_all(b"\n")?;
            }
        }
        Format::Headers => {
            writeln!(out, "{}", frame.command())?;
            for (k, v) in frame.headers().iter() {
                writeln!(out, "{k}:{v}")?;
            }
            writeln!(out)?;
            out.write_all(frame.body())?;
            writeln!(out)?;
        }
        Format::Json => {
            serde_json::to_writer(&mut *out, &to_json(frame))?;
            writeln!(out)?;
        }
    }
    Ok(())
}

/// The frame as a JSON object: `command`, `headers` (first value of each name wins, as in
/// STOMP) and `body` (text; bytes that are not UTF-8 are replaced).
pub(crate) fn to_json(frame: &Frame) -> Value {
    let mut headers = Map::new();
    for (k, v) in frame.headers().iter() {
        headers
            .entry(k.to_owned())
            .or_insert_with(|| Value::String(v.to_owned()));
    }
    let mut o = Map::new();
    o.insert("command".into(), frame.command().as_str().into());
    o.insert("headers".into(), Value::Object(headers));
    o.insert(
        "body".into(),
        String::from_utf8_lossy(frame.body()).into_owned().into(),
    );
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stompy::Command;

    fn message() -> Frame {
        Frame::new(Command::Message)
            .with_header("destination", "/queue/a")
            .with_header("k", "1")
            .with_header("k", "2")
            .with_body("hi")
    }

    fn render(format: Format) -> String {
        let mut out = Vec::new();
        write_frame(&mut out, &message(), format).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_is_the_body_on_a_line() {
        assert_eq!(render(Format::Text), "hi\n");
    }

    #[test]
    fn headers_look_like_the_wire() {
        assert_eq!(
            render(Format::Headers),
            "MESSAGE\ndestination:/queue/a\nk:1\nk:2\n\nhi\n"
        );
    }

    #[test]
    fn json_keeps_the_first_repeated_header() {
        let v: Value = serde_json::from_str(&render(Format::Json)).unwrap();
        assert_eq!(v["command"], "MESSAGE");
        assert_eq!(v["headers"]["k"], "1");
        assert_eq!(v["body"], "hi");
    }
}
