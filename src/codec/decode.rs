//! The incremental decoder: bytes in, [`Item`]s out.

use std::io::{self, Read};

use super::escape::unescape_into;
use super::Limits;
use crate::error::ProtocolError;
use crate::frame::{header, Command, Frame, Headers, Version};

/// What the decoder found in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A complete frame.
    Frame(Frame),
    /// An EOL between frames: a heart-beat (brokers also send one after each frame's NUL).
    HeartBeat,
}

#[derive(Debug)]
enum State {
    /// Between frames.
    Idle,
    /// Reading the command and header lines.
    Head {
        command: Option<Command>,
        headers: Headers,
        lines: usize,
    },
    /// Reading a body whose length `content-length` gave; `body` fills up to `len`.
    Sized {
        command: Command,
        headers: Headers,
        body: Vec<u8>,
        len: usize,
    },
    /// Reading a body that ends at the first NUL; `scanned` bytes of it hold no NUL.
    Unsized {
        command: Command,
        headers: Headers,
        scanned: usize,
    },
}

/// An incremental STOMP decoder, fed any split of the input (one byte at a time works).
///
/// It never allocates more than [`Limits`] allow: a line longer than `max_header_line`, more
/// than `max_headers` headers or a body larger than `max_body` is a [`ProtocolError`] as soon as
/// it is seen. After an error the decoder's state is undefined: drop the connection.
#[derive(Debug)]
pub struct Decoder {
    /// Input lives in `buf[pos..end]`; `buf[end..]` is spare room for the next read, kept
    /// (zeroed once) so that reading does not clear 64 KiB each time.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// The last [`Decoder::read_from`] got data but less than it had room for.
    short_read: bool,
    state: State,
    version: Version,
    limits: Limits,
}

const READ_CHUNK: usize = 64 * 1024;

impl Decoder {
    /// A decoder that unescapes headers as `version` defines (CONNECT, STOMP and CONNECTED are
    /// never unescaped). Change it with [`Decoder::set_version`] once negotiated.
    pub fn new(version: Version, limits: Limits) -> Self {
        Decoder {
            buf: Vec::new(),
            pos: 0,
            end: 0,
            short_read: false,
            state: State::Idle,
            version,
            limits,
        }
    }

    /// Sets the protocol version used to unescape headers from now on.
    pub fn set_version(&mut self, version: Version) {
        self.version = version;
    }

    /// The version used to unescape headers.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Appends bytes received from the peer.
    pub fn feed(&mut self, bytes: &[u8]) {
        if let State::Sized { body, len, .. } = &mut self.state {
            if self.pos == self.end {
                // Large bodies go straight to their final home: no second copy.
                let take = bytes.len().min(*len - body.len());
                body.extend_from_slice(&bytes[..take]);
                self.append(&bytes[take..]);
                return;
            }
        }
        self.compact();
        self.append(bytes);
    }

    fn append(&mut self, bytes: &[u8]) {
        self.buf.truncate(self.end);
        self.buf.extend_from_slice(bytes);
        self.end = self.buf.len();
    }

    /// Reads once from `r` straight into the decoder's buffer. Returns what `read` returned:
    /// `Ok(0)` means the peer closed.
    pub fn read_from<R: Read + ?Sized>(&mut self, r: &mut R) -> io::Result<usize> {
        self.compact();
        if self.buf.len() < self.end + READ_CHUNK {
            self.buf.resize(self.end + READ_CHUNK, 0);
        }
        let room = self.buf.len() - self.end;
        let res = r.read(&mut self.buf[self.end..]);
        let n = *res.as_ref().unwrap_or(&0);
        self.end += n;
        self.short_read = n > 0 && n < room;
        res
    }

    /// True when the last [`Decoder::read_from`] returned data but filled less than the room it
    /// offered: on a plain socket, that read emptied the receive queue.
    pub fn last_read_was_short(&self) -> bool {
        self.short_read
    }

    /// Bytes received but not yet returned as items (0 between frames with nothing pending).
    pub fn buffered(&self) -> usize {
        let body = match &self.state {
            State::Sized { body, .. } => body.len(),
            _ => 0,
        };
        self.end - self.pos + body
    }

    /// True when the decoder is between frames (a close now loses nothing).
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Idle)
    }

    fn compact(&mut self) {
        if self.pos == self.end {
            self.pos = 0;
            self.end = 0;
        } else if self.pos > 0 && self.pos >= self.end / 2 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
    }

    /// Returns the next item, or `Ok(None)` when more bytes are needed.
    ///
    /// # Errors
    /// A [`ProtocolError`] when the input is not valid STOMP or breaks a limit. The error is
    /// final: the stream cannot be resynchronised.
    pub fn decode(&mut self) -> Result<Option<Item>, ProtocolError> {
        loop {
            match &mut self.state {
                State::Idle => {
                    let rest = &self.buf[self.pos..self.end];
                    match rest.first() {
                        None => return Ok(None),
                        Some(b'\n') => {
                            self.pos += 1;
                            return Ok(Some(Item::HeartBeat));
                        }
                        Some(b'\r') => match rest.get(1) {
                            None => return Ok(None),
                            Some(b'\n') => {
                                self.pos += 2;
                                return Ok(Some(Item::HeartBeat));
                            }
                            Some(_) => return Err(self.unknown_command_here()),
                        },
                        Some(_) => {
                            self.state = State::Head {
                                command: None,
                                headers: Headers::with_capacity(8, head_size(rest)),
                                lines: 0,
                            };
                        }
                    }
                }
                State::Head { .. } => {
                    if !self.head_line()? {
                        return Ok(None);
                    }
                }
                State::Sized { body, len, .. } => {
                    let want = *len - body.len();
                    let avail = self.end - self.pos;
                    if avail <= want {
                        body.extend_from_slice(&self.buf[self.pos..self.end]);
                        self.pos = self.end;
                        return Ok(None);
                    }
                    body.extend_from_slice(&self.buf[self.pos..self.pos + want]);
                    self.pos += want;
                    if self.buf[self.pos] != 0 {
                        return Err(ProtocolError::MissingNul);
                    }
                    self.pos += 1;
                    let State::Sized {
                        command,
                        headers,
                        body,
                        ..
                    } = std::mem::replace(&mut self.state, State::Idle)
                    else {
                        unreachable!()
                    };
                    return Ok(Some(Item::Frame(Frame::from_parts(command, headers, body))));
                }
                State::Unsized { scanned, .. } => {
                    let rest = &self.buf[self.pos..self.end];
                    let Some(i) = memchr::memchr(0, &rest[*scanned..]).map(|i| i + *scanned) else {
                        *scanned = rest.len();
                        if rest.len() > self.limits.max_body {
                            return Err(ProtocolError::BodyTooLarge {
                                size: rest.len() as u64,
                                max: self.limits.max_body,
                            });
                        }
                        return Ok(None);
                    };
                    if i > self.limits.max_body {
                        return Err(ProtocolError::BodyTooLarge {
                            size: i as u64,
                            max: self.limits.max_body,
                        });
                    }
                    let body = rest[..i].to_vec();
                    self.pos += i + 1;
                    let State::Unsized {
                        command, headers, ..
                    } = std::mem::replace(&mut self.state, State::Idle)
                    else {
                        unreachable!()
                    };
                    return Ok(Some(Item::Frame(Frame::from_parts(command, headers, body))));
                }
            }
        }
    }

    fn unknown_command_here(&self) -> ProtocolError {
        let rest = &self.buf[self.pos..self.end];
        let line = &rest[..rest.len().min(64)];
        let line = line.split(|&b| b == b'\n').next().unwrap_or(line);
        ProtocolError::UnknownCommand(String::from_utf8_lossy(line).into_owned())
    }

    /// Consumes one complete command or header line, if there is one. Returns false when more
    /// bytes are needed.
    fn head_line(&mut self) -> Result<bool, ProtocolError> {
        let rest = &self.buf[self.pos..self.end];
        let max_line = self.limits.max_header_line;
        let Some(nl) = memchr::memchr(b'\n', &rest[..rest.len().min(max_line + 2)]) else {
            if rest.len() > max_line + 1 {
                return Err(ProtocolError::HeaderLineTooLong {
                    len: rest.len(),
                    max: max_line,
                });
            }
            return Ok(false);
        };
        let mut line = &rest[..nl];
        if let [head @ .., b'\r'] = line {
            line = head;
        }
        if line.len() > max_line {
            return Err(ProtocolError::HeaderLineTooLong {
                len: line.len(),
                max: max_line,
            });
        }
        let consumed = nl + 1;
        let State::Head {
            command,
            headers,
            lines,
        } = &mut self.state
        else {
            unreachable!()
        };
        let Some(cmd) = *command else {
            let cmd = Command::from_bytes(line).ok_or_else(|| {
                ProtocolError::UnknownCommand(String::from_utf8_lossy(line).into_owned())
            })?;
            *command = Some(cmd);
            self.pos += consumed;
            return Ok(true);
        };
        if !line.is_empty() {
            *lines += 1;
            if *lines > self.limits.max_headers {
                return Err(ProtocolError::TooManyHeaders {
                    count: *lines,
                    max: self.limits.max_headers,
                });
            }
            let text = std::str::from_utf8(line).map_err(|_| ProtocolError::InvalidUtf8)?;
            let (name, value) = text
                .split_once(':')
                .ok_or_else(|| ProtocolError::MalformedHeader(truncate(text)))?;
            let escaped = !cmd.is_unescaped();
            let version = self.version;
            headers.push_with(|buf| {
                let start = buf.len();
                unescape_into(name, escaped, version, buf)?;
                let name_len = buf.len() - start;
                unescape_into(value, escaped, version, buf)?;
                Ok::<_, ProtocolError>(name_len)
            })?;
            self.pos += consumed;
            return Ok(true);
        }
        // Blank line: the head is complete.
        self.pos += consumed;
        let State::Head {
            command, headers, ..
        } = std::mem::replace(&mut self.state, State::Idle)
        else {
            unreachable!()
        };
        let command = command.expect("command parsed before headers");
        self.state = match headers.get(header::CONTENT_LENGTH) {
            Some(v) => {
                let len = parse_content_length(v)?;
                if len > self.limits.max_body as u64 {
                    return Err(ProtocolError::BodyTooLarge {
                        size: len,
                        max: self.limits.max_body,
                    });
                }
                let len = len as usize;
                State::Sized {
                    command,
                    headers,
                    body: Vec::with_capacity(len),
                    len,
                }
            }
            None => State::Unsized {
                command,
                headers,
                scanned: 0,
            },
        };
        Ok(true)
    }
}

/// Room to reserve for the header text of the frame starting at `rest`: up to its blank line
/// when that is already buffered (one allocation instead of a doubling series), else 256.
fn head_size(rest: &[u8]) -> usize {
    const MAX: usize = 4096;
    let window = &rest[..rest.len().min(MAX)];
    memchr::memmem::find(window, b"\n\n").unwrap_or(256)
}

fn parse_content_length(v: &str) -> Result<u64, ProtocolError> {
    let t = v.trim();
    if t.is_empty() || t.len() > 19 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ProtocolError::InvalidContentLength(truncate(v)));
    }
    t.parse()
        .map_err(|_| ProtocolError::InvalidContentLength(truncate(v)))
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}
