//! Broker addresses: `host:port`, `[v6]:port`, or URLs (`stomp://`, `stomp+ssl://`, `ws://`,
//! `wss://`) parsed by the `url` crate, with optional percent-encoded `user:pass@`, and a path:
//! the WebSocket path, or the virtual host of the other schemes.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use url::{Host, Url};

use crate::error::Error;

/// How bytes reach a broker.
///
/// | scheme | URL | default port | feature |
/// |---|---|---|---|
/// | [`Scheme::Tcp`] | `stomp://`, `tcp://`, or none | 61613 | |
/// | [`Scheme::Tls`] | `stomp+ssl://`, `stomp+tls://`, `stomps://`, `ssl://`, `tls://` | 61614 | `tls` |
/// | [`Scheme::Ws`] | `ws://host:port/path` | 15674 | `websocket` |
/// | [`Scheme::Wss`] | `wss://host:port/path` | 15673 | `websocket` and `tls` |
///
/// TLS schemes always run TLS, with the address's, the client's or the default
/// [`TlsConfig`](crate::TlsConfig): a failed handshake fails the attempt, never falls back
/// to plain TCP. WebSocket schemes offer the subprotocols `v10.stomp`, `v11.stomp` and
/// `v12.stomp`, send STOMP bytes in binary messages, and read text and binary messages alike.
/// A text message must be valid UTF-8, so a broker that sends frames as text (RabbitMQ's
/// default, `web_stomp.ws_frame = text`) can only carry UTF-8 bodies; set it to `binary` for
/// arbitrary bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// Plain TCP (`stomp://`, or no scheme).
    Tcp,
    /// TLS over TCP (`stomp+ssl://`, `stomps://`, `ssl://`, `tls://`).
    Tls,
    /// WebSocket (`ws://`).
    Ws,
    /// WebSocket over TLS (`wss://`).
    Wss,
}

impl Scheme {
    /// True for the schemes that run TLS.
    pub fn is_tls(self) -> bool {
        matches!(self, Scheme::Tls | Scheme::Wss)
    }

    /// True for the WebSocket schemes.
    pub fn is_websocket(self) -> bool {
        matches!(self, Scheme::Ws | Scheme::Wss)
    }
}

/// One broker address of a failover list.
///
/// ```
/// use stompy::{Address, Scheme};
/// let a: Address = "127.0.0.1:61613".parse()?;
/// assert_eq!((a.host.as_str(), a.port, a.scheme), ("127.0.0.1", 61613, Scheme::Tcp));
/// let a: Address = "wss://guest:secret@[::1]:15673/ws".parse()?;
/// assert_eq!((a.host.as_str(), a.port, a.path.as_str()), ("::1", 15673, "/ws"));
/// assert_eq!(a.login.as_deref(), Some("guest"));
/// let a: Address = "stomp://guest:p%40ss@broker:61613/%2F".parse()?;
/// assert_eq!((a.passcode.as_deref(), a.vhost.as_deref()), (Some("p@ss"), Some("/")));
/// assert!(!format!("{a:?}").contains("p@ss"));
/// # Ok::<(), stompy::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Address {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Transport.
    pub scheme: Scheme,
    /// WebSocket path (`/ws` by default for WebSocket schemes, empty otherwise).
    pub path: String,
    /// Virtual host: the percent-decoded path of a URL of a non-WebSocket scheme
    /// (`stomp://host/vhost`; `stomp://host/%2F` for `/`). The client sends it as the `host`
    /// header unless [`ClientBuilder::host`](crate::ClientBuilder::host) sets one.
    pub vhost: Option<String>,
    /// Login given in the URL (percent-decoded).
    pub login: Option<String>,
    /// Passcode given in the URL (percent-decoded). Never shown by `Debug`, `Display` or an
    /// error.
    pub passcode: Option<String>,
    /// TLS settings for this address only, instead of the client's
    /// ([`ClientBuilder::tls`](crate::ClientBuilder::tls)) or the defaults. Set it with
    /// [`Address::with_tls`]. Connecting fails (rather than going out in the clear) when this
    /// is set on an address whose scheme does not use TLS.
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::transport::TlsConfig>,
}

impl Address {
    /// A plain TCP address.
    pub fn tcp(host: impl Into<String>, port: u16) -> Self {
        Address {
            host: host.into(),
            port,
            scheme: Scheme::Tcp,
            path: String::new(),
            vhost: None,
            login: None,
            passcode: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// The TLS settings of this address only, if [`Address::with_tls`] gave it some.
    #[cfg(feature = "tls")]
    pub fn tls(&self) -> Option<&crate::transport::TlsConfig> {
        self.tls.as_ref()
    }

    /// Uses TLS with `tls` for this address, whatever the client's settings. A plain scheme
    /// is upgraded: `stomp://` becomes `stomp+ssl://` and `ws://` becomes `wss://`.
    ///
    /// ```
    /// use stompy::{Address, Scheme, TlsConfig};
    /// let a = Address::tcp("127.0.0.1", 61614)
    ///     .with_tls(TlsConfig::new().server_name("localhost"));
    /// assert_eq!(a.scheme, Scheme::Tls);
    /// let a: Address = "ws://127.0.0.1:15673/ws".parse()?;
    /// assert_eq!(a.with_tls(TlsConfig::new()).scheme, Scheme::Wss);
    /// # Ok::<(), stompy::Error>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn with_tls(mut self, tls: crate::transport::TlsConfig) -> Self {
        self.scheme = match self.scheme {
            Scheme::Tcp | Scheme::Tls => Scheme::Tls,
            Scheme::Ws | Scheme::Wss => Scheme::Wss,
        };
        self.tls = Some(tls);
        self
    }

    /// `host:port` as a socket address string (IPv6 in brackets).
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Address {
    /// The URL without user name and password: `stomp://host:port`, then the WebSocket path
    /// or the percent-encoded virtual host.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Tcp => "stomp",
            Scheme::Tls => "stomp+ssl",
            Scheme::Ws => "ws",
            Scheme::Wss => "wss",
        };
        write!(f, "{scheme}://{}{}", self.host_port(), self.path)?;
        match &self.vhost {
            Some(vhost) if !self.scheme.is_websocket() => write!(f, "/{}", encode(vhost)),
            _ => Ok(()),
        }
    }
}

/// By hand, so that the passcode never shows.
impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Address {
            host,
            port,
            scheme,
            path,
            vhost,
            login,
            passcode,
            #[cfg(feature = "tls")]
            tls,
        } = self;
        let mut d = f.debug_struct("Address");
        d.field("host", host)
            .field("port", port)
            .field("scheme", scheme)
            .field("path", path)
            .field("vhost", vhost)
            .field("login", login)
            .field("passcode", &passcode.as_ref().map(|_| "***"));
        #[cfg(feature = "tls")]
        d.field("tls", tls);
        d.finish()
    }
}

/// The scheme names [`Address`] understands, for error messages.
const SCHEMES: &str = "stomp, tcp, stomp+ssl, stomp+tls, stomps, ssl, tls, ws, wss";

impl Scheme {
    fn from_name(name: &str) -> Option<Scheme> {
        Some(match name.to_ascii_lowercase().as_str() {
            "stomp" | "tcp" => Scheme::Tcp,
            "stomp+ssl" | "stomp+tls" | "stomps" | "ssl" | "tls" => Scheme::Tls,
            "ws" => Scheme::Ws,
            "wss" => Scheme::Wss,
            _ => return None,
        })
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Tcp => 61613,
            Scheme::Tls => 61614,
            Scheme::Ws => 15674,
            Scheme::Wss => 15673,
        }
    }
}

impl FromStr for Address {
    type Err = Error;

    /// Parses `host`, `host:port`, `[v6]:port`, a bare IP address, or a URL (parsed by the
    /// `url` crate): `scheme://[user[:password]@]host[:port][/path]`, user and password
    /// percent-decoded. The path is the WebSocket path for `ws://` and `wss://`, and the
    /// percent-decoded virtual host for the other schemes. Query strings, fragments, unknown
    /// schemes, a missing host and a port out of range are refused; no error repeats the
    /// password.
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad =
            |why: &str| Error::invalid(format!("invalid broker address {:?}: {why}", redact(s)));
        if let Ok(sock) = s.parse::<SocketAddr>() {
            return Ok(sock.into());
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Address::tcp(ip.to_string(), Scheme::Tcp.default_port()));
        }
        // The URL parser drops tabs and newlines anywhere, which would hide typos.
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("spaces and control characters are not allowed"));
        }
        let (scheme, rest) = match s.split_once("://") {
            None => (Scheme::Tcp, s),
            Some((name, rest)) => match Scheme::from_name(name) {
                Some(scheme) => (scheme, rest),
                None => return Err(bad(&format!("unknown scheme (known: {SCHEMES})"))),
            },
        };
        // The authority ends at the first '/', '?' or '#': an '@' after it means one of
        // those in the user name or password, which would otherwise turn it into a host.
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        if rest[end..].contains('@') {
            return Err(bad(
                "'@' after the host: percent-encode '/', '?' and '#' in a user name or \
                 password (%2F, %3F, %23), and '@' in a path (%40)",
            ));
        }
        // Every scheme is parsed as the same non-special URL, so that an explicit port is
        // kept even when it is HTTP's default for ws:// (80) or wss:// (443).
        let url = Url::parse(&format!("stomp://{rest}")).map_err(|e| bad(&url_error(e)))?;
        if url.query().is_some() {
            return Err(bad("query strings ('?') are not supported"));
        }
        if url.fragment().is_some() {
            return Err(bad("fragments ('#') are not supported"));
        }
        let host = match url.host() {
            None => return Err(bad("no host")),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => ip.to_string(),
            // A non-special URL keeps its host opaque: decode it and parse it as a domain
            // (IDNA, lower case, IPv4 forms) the way http:// URLs are.
            Some(Host::Domain(d)) => {
                let d = decode(d).ok_or_else(|| bad("host is not UTF-8 once decoded"))?;
                match Host::parse(&d).map_err(|e| bad(&format!("bad host: {e}")))? {
                    Host::Domain(d) => d,
                    Host::Ipv4(ip) => ip.to_string(),
                    Host::Ipv6(ip) => ip.to_string(),
                }
            }
        };
        let port = url.port().unwrap_or(scheme.default_port());
        let not_utf8 = |what: &str| bad(&format!("{what} is not UTF-8 once percent-decoded"));
        let user = decode(url.username()).ok_or_else(|| not_utf8("user name"))?;
        let passcode = match url.password() {
            Some(p) => Some(decode(p).ok_or_else(|| not_utf8("password"))?),
            None => None,
        };
        let login = (!user.is_empty() || passcode.is_some()).then_some(user);
        let (path, vhost) = if scheme.is_websocket() {
            match url.path() {
                "" => ("/ws".to_owned(), None),
                p => (p.to_owned(), None),
            }
        } else {
            let p = url.path();
            match p.strip_prefix('/').unwrap_or(p) {
                "" => (String::new(), None),
                v if v.contains('/') => {
                    return Err(bad("write a '/' in the virtual host as %2F"));
                }
                v => (
                    String::new(),
                    Some(decode(v).ok_or_else(|| not_utf8("virtual host"))?),
                ),
            }
        };
        Ok(Address {
            host,
            port,
            scheme,
            path,
            vhost,
            login,
            passcode,
            #[cfg(feature = "tls")]
            tls: None,
        })
    }
}

/// Why the URL parser refused an address, in words.
fn url_error(e: url::ParseError) -> String {
    match e {
        url::ParseError::EmptyHost => "no host".to_owned(),
        url::ParseError::InvalidPort => "bad port (not a number from 0 to 65535)".to_owned(),
        e => e.to_string(),
    }
}

/// `s` for an error message: the password of a `user:password@` replaced by `***`. Works on
/// strings that do not parse: everything between the first ':' after the scheme and the last
/// '@' counts as the password.
fn redact(s: &str) -> String {
    let start = match s.find("://") {
        Some(i)
            if s[..i]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            i + 3
        }
        _ => 0,
    };
    let rest = &s[start..];
    match rest
        .rfind('@')
        .and_then(|at| Some((rest[..at].split_once(':')?.0, at)))
    {
        Some((user, at)) => format!("{}{user}:***{}", &s[..start], &rest[at..]),
        None => s.to_owned(),
    }
}

/// Percent-decodes `s` (a '%' without two hex digits after it stays); `None` when the bytes
/// are not UTF-8.
fn decode(s: &str) -> Option<String> {
    let hex = |b: Option<&u8>| b.and_then(|&b| (b as char).to_digit(16));
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let (Some(hi), Some(lo)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes every byte of `s` but the unreserved characters of RFC 3986.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl TryFrom<&str> for Address {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self, Error> {
        s.parse()
    }
}

impl TryFrom<String> for Address {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        s.parse()
    }
}

impl TryFrom<&String> for Address {
    type Error = Error;
    fn try_from(s: &String) -> Result<Self, Error> {
        s.parse()
    }
}

impl From<SocketAddr> for Address {
    fn from(a: SocketAddr) -> Self {
        Address::tcp(a.ip().to_string(), a.port())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t-pass";

    fn parse(s: &str) -> Address {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    /// The message of the error `s` gives, checked to be an [`Error::Invalid`] free of the
    /// secret.
    fn refused(s: &str) -> String {
        match s.parse::<Address>() {
            Err(Error::Invalid(m)) => {
                assert!(!m.contains(SECRET), "{m}");
                m
            }
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn plain_forms_work_as_before() {
        let a = parse("127.0.0.1:61613");
        assert_eq!(
            (a.host.as_str(), a.port, a.scheme),
            ("127.0.0.1", 61613, Scheme::Tcp)
        );
        assert_eq!((a.path.as_str(), a.vhost, a.login), ("", None, None));
        let a = parse("localhost:1234");
        assert_eq!((a.host.as_str(), a.port), ("localhost", 1234));
        let a = parse("localhost");
        assert_eq!((a.host.as_str(), a.port), ("localhost", 61613));
        let a = parse("[::1]:61613");
        assert_eq!((a.host.as_str(), a.port), ("::1", 61613));
        assert_eq!(a.host_port(), "[::1]:61613");
        let a = parse("[::1]");
        assert_eq!((a.host.as_str(), a.port), ("::1", 61613));
        let a = parse("::1");
        assert_eq!((a.host.as_str(), a.port), ("::1", 61613));
        let a = parse("guest:guest@127.0.0.1:61613");
        assert_eq!(a.login.as_deref(), Some("guest"));
        assert_eq!(a.passcode.as_deref(), Some("guest"));
        for sock in ["127.0.0.1:5", "[::1]:5", "[fe80::1]:61613"] {
            let sock: SocketAddr = sock.parse().unwrap();
            assert_eq!(parse(&sock.to_string()), Address::from(sock));
            assert_eq!(
                Address::try_from(sock.to_string()).unwrap(),
                Address::from(sock)
            );
        }
    }

    #[test]
    fn schemes_and_default_ports() {
        let cases = [
            ("stomp://h", Scheme::Tcp, 61613),
            ("tcp://h", Scheme::Tcp, 61613),
            ("STOMP://h", Scheme::Tcp, 61613),
            ("stomp+ssl://h", Scheme::Tls, 61614),
            ("stomp+tls://h", Scheme::Tls, 61614),
            ("stomps://h", Scheme::Tls, 61614),
            ("ssl://h", Scheme::Tls, 61614),
            ("tls://h", Scheme::Tls, 61614),
            ("ws://h", Scheme::Ws, 15674),
            ("wss://h", Scheme::Wss, 15673),
        ];
        for (s, scheme, port) in cases {
            let a = parse(s);
            assert_eq!(
                (a.host.as_str(), a.scheme, a.port),
                ("h", scheme, port),
                "{s}"
            );
        }
        // An explicit port is kept, even HTTP's default for ws:// and wss://.
        assert_eq!(parse("ws://h:80/ws").port, 80);
        assert_eq!(parse("wss://h:443/ws").port, 443);
        assert_eq!(parse("stomp://h:0").port, 0);
        assert_eq!(parse("stomp://h:65535").port, 65535);
    }

    #[test]
    fn url_hosts() {
        let a = parse("stomp://[::1]:61613");
        assert_eq!((a.host.as_str(), a.port), ("::1", 61613));
        let a = parse("wss://u:p@[2001:db8::1]:15673/ws");
        assert_eq!(
            (a.host.as_str(), a.port, a.path.as_str()),
            ("2001:db8::1", 15673, "/ws")
        );
        assert_eq!(parse("stomp://Broker.Example:1").host, "broker.example");
        assert_eq!(parse("stomp://br%C3%B6ker:1").host, "xn--brker-kua");
        assert_eq!(parse("stomp://bröker:1").host, "xn--brker-kua");
        assert_eq!(parse("stomp://127.0.0.1").host, "127.0.0.1");
    }

    #[test]
    fn user_and_password_are_percent_decoded() {
        let a = parse("stomp://alice:p%40ss@127.0.0.1:61613");
        assert_eq!(a.login.as_deref(), Some("alice"));
        assert_eq!(a.passcode.as_deref(), Some("p@ss"));
        let a = parse("stomp://al%3Aice:a%2Fb%3Fc%23d%25e@h");
        assert_eq!(a.login.as_deref(), Some("al:ice"));
        assert_eq!(a.passcode.as_deref(), Some("a/b?c#d%e"));
        // An unencoded '@' in the password: the last one ends the user info.
        let a = parse("stomp://alice:p@ss@h:1");
        assert_eq!(
            (a.passcode.as_deref(), a.host.as_str()),
            (Some("p@ss"), "h")
        );
        let a = parse("stomp://alice@h");
        assert_eq!((a.login.as_deref(), a.passcode), (Some("alice"), None));
        let a = parse("stomp://:pw@h");
        assert_eq!(
            (a.login.as_deref(), a.passcode.as_deref()),
            (Some(""), Some("pw"))
        );
        let a = parse("stomp://%C3%A9:%C3%A9@h");
        assert_eq!(
            (a.login.as_deref(), a.passcode.as_deref()),
            (Some("é"), Some("é"))
        );
        let m = refused("stomp://alice:%FF@h");
        assert!(m.contains("password is not UTF-8"), "{m}");
    }

    #[test]
    fn the_path_of_a_stomp_url_is_the_virtual_host() {
        assert_eq!(parse("stomp://h:61613/%2F").vhost.as_deref(), Some("/"));
        assert_eq!(parse("stomp://h/vhost1").vhost.as_deref(), Some("vhost1"));
        assert_eq!(parse("stomp+ssl://h/a%20b").vhost.as_deref(), Some("a b"));
        assert_eq!(
            parse("ssl://u:p@h:1/%2Fprod").vhost.as_deref(),
            Some("/prod")
        );
        assert_eq!(parse("tcp://h/v%40x").vhost.as_deref(), Some("v@x"));
        assert_eq!(parse("h:1/v").vhost.as_deref(), Some("v"));
        for s in ["stomp://h", "stomp://h/", "stomp://h:1/", "h:1"] {
            let a = parse(s);
            assert_eq!((a.vhost, a.path.as_str()), (None, ""), "{s}");
        }
        let m = refused("stomp://h/a/b");
        assert!(m.contains("%2F"), "{m}");
    }

    #[test]
    fn the_path_of_a_websocket_url_stays_the_websocket_path() {
        let a = parse("ws://h:15674/stomp/ws");
        assert_eq!((a.path.as_str(), a.vhost), ("/stomp/ws", None));
        assert_eq!(parse("wss://h").path, "/ws");
        assert_eq!(parse("ws://h/").path, "/");
        assert_eq!(parse("ws://h/%2F").path, "/%2F");
    }

    #[test]
    fn what_is_not_understood_is_refused() {
        let cases = [
            ("http://h:1", "unknown scheme"),
            ("u:a://b@h", "unknown scheme"),
            ("stomp://h:1?x=1", "query"),
            ("stomp://h?", "query"),
            ("ws://h/ws?token=1", "query"),
            ("stomp://h#frag", "fragment"),
            ("stomp://", "no host"),
            ("stomp:///vhost", "no host"),
            ("stomp://:61613", "no host"),
            ("stomp://alice:pw@", "no host"),
            ("stomp://h:65536", "bad port"),
            ("stomp://h:99999999", "bad port"),
            ("stomp://h:-1", "bad port"),
            ("h:notaport", "bad port"),
            ("stomp://[::1:61613", "IPv6"),
            ("stomp://h :1", "spaces"),
            ("stomp://h:616\n13", "control"),
            ("stomp://alice:p/ss@h", "percent-encode"),
            ("stomp://alice:/ss@h", "percent-encode"),
            ("stomp://a b", "spaces"),
        ];
        for (s, why) in cases {
            let m = refused(s);
            assert!(
                m.contains("invalid broker address") && m.contains(why),
                "{s}: {m}"
            );
        }
    }

    #[test]
    fn errors_never_repeat_the_password() {
        for s in [
            "stomp://alice:s3cr3t-pass@127.0.0.1:notaport",
            "stomp://alice:s3cr3t-pass@127.0.0.1:70000",
            "stomp://alice:s3cr3t-pass@127.0.0.1:1?q",
            "stomp://alice:s3cr3t-pass@127.0.0.1:1#f",
            "stomp://alice:s3cr3t-pass@",
            "stomp://alice:s3cr3t-pass@h/a/b",
            "stomp://alice:s3cr3t-pass/x@h",
            "stomp://alice:s3cr3t/pass@h:1",
            "stomp://alice:s3cr3t?pass@h:1",
            "stomp://alice:s3cr3t#pass@h:1",
            "stomp://alice:s3cr3t-pass@h :1",
            "gopher://alice:s3cr3t-pass@h:1",
            "alice:s3cr3t-pass@h:bad",
            "alice:s3cr3t-pass://x@h",
        ] {
            let m = refused(s);
            assert!(!m.contains("s3cr3t") && !m.contains("pass@"), "{s}: {m}");
            assert!(m.contains("alice:***@"), "{s}: {m}");
        }
    }

    #[test]
    fn debug_and_display_hide_the_passcode() {
        let a = parse("stomp://alice:s3cr3t-pass@h:1/vh");
        for s in [format!("{a:?}"), format!("{a:#?}"), a.to_string()] {
            assert!(!s.contains(SECRET), "{s}");
        }
        let debug = format!("{a:?}");
        assert!(debug.contains("passcode: Some(\"***\")"), "{debug}");
        assert!(debug.contains("login: Some(\"alice\")"), "{debug}");
        let none = format!("{:?}", parse("stomp://h"));
        assert!(none.contains("passcode: None"), "{none}");
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "stomp://h:1",
            "stomp+ssl://[::1]:61614",
            "ws://h:80/ws",
            "wss://h:15673/a/b",
            "stomp://h:61613/%2F",
            "stomp://h:61613/a%20b%2Fc",
        ] {
            let a = parse(s);
            assert_eq!(a.to_string(), s);
            assert_eq!(parse(&a.to_string()), a);
        }
        assert_eq!(parse("stomp://u:p@h/v").to_string(), "stomp://h:61613/v");
    }

    #[test]
    fn decode_and_encode() {
        assert_eq!(decode("a%2Fb%zz%4").as_deref(), Some("a/b%zz%4"));
        assert_eq!(decode("%e2%82%ac").as_deref(), Some("€"));
        assert_eq!(decode("%FF"), None);
        assert_eq!(encode("/a b-._~€"), "%2Fa%20b-._~%E2%82%AC");
        assert_eq!(decode(&encode("x/y:z@w")).as_deref(), Some("x/y:z@w"));
    }
}
