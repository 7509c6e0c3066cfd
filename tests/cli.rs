//! End-to-end tests of the `stompy` binary over real sockets: `send` and `listen` in separate
//! processes, the shell driven by a script on standard input and by a pseudo-terminal, and
//! `stompy broker`.
//!
//! RabbitMQ and ActiveMQ tests are skipped (with a message on stderr) when the broker is not
//! reachable, unless `STOMPY_REQUIRE_BROKERS=1`. The embedded broker is started with
//! `stompy broker --listen 127.0.0.1:0`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::Duration;

use common::{unique_queue, RealBroker};

const BIN: &str = env!("CARGO_BIN_EXE_stompy");

// ---- helpers -----------------------------------------------------------------------------

/// A broker to point the binary at: its connection options.
#[derive(Debug, Clone)]
struct Target {
    name: String,
    args: Vec<String>,
}

impl Target {
    fn real(b: &RealBroker) -> Self {
        Target {
            name: b.name.to_owned(),
            args: [
                "-H",
                b.host,
                "-P",
                &b.port.to_string(),
                "-U",
                b.login,
                "-W",
                b.passcode,
                "--vhost",
                b.vhost,
            ]
            .map(str::to_owned)
            .to_vec(),
        }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(BIN);
        c.args(&self.args).env_remove("STOMP_URL");
        c
    }

    /// Runs `stompy OPTIONS ARGS...` with `stdin` as its input.
    #[track_caller]
    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn stompy");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Like [`Target::run`], and the command must succeed; returns its standard output.
    #[track_caller]
    fn ok(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "{}: stompy {args:?} failed: {}\nstdout: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

/// `stompy broker` on a free port, stopped on drop.
struct EmbeddedBroker {
    child: Child,
    port: u16,
}

impl EmbeddedBroker {
    /// Starts `stompy broker --listen 127.0.0.1:0 EXTRA...`.
    fn start(extra: &[&str]) -> Self {
        Self::start_on("127.0.0.1:0", extra)
    }

    fn start_on(listen: &str, extra: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(["broker", "--listen", listen])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn stompy broker");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        EmbeddedBroker { child, port }
    }

    fn target(&self) -> Target {
        Target {
            name: "embedded".into(),
            args: ["-P", &self.port.to_string(), "-U", "guest", "-W", "guest"]
                .map(str::to_owned)
                .to_vec(),
        }
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child process that is killed if the test ends early.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn with_guest_broker() -> EmbeddedBroker {
    EmbeddedBroker::start(&["--user", "guest:guest"])
}

fn temp_dir(prefix: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("stompy-cli-{prefix}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

// ---- send and listen across processes ----------------------------------------------------

// Every send here asks for receipts: RabbitMQ's RECEIPT of a DISCONNECT does not mean an
// earlier SEND reached its queue, so a later process's message could overtake it; the RECEIPT
// of the SEND itself does.

fn send_then_listen(t: &Target) {
    let q = unique_queue("cli-send");
    t.ok(&["send", &q, "first", "--receipt"], "");
    t.ok(
        &[
            "send",
            &q,
            "again",
            "--count",
            "2",
            "--header",
            "k:v",
            "--receipt",
        ],
        "",
    );
    t.ok(&["send", &q, "--receipt"], "from stdin");
    let out = t.ok(&["listen", &q, "--count", "4"], "");
    assert_eq!(out, "first\nagain\nagain\nfrom stdin\n", "{}", t.name);
    // Nothing is left: an idle timeout ends the listener cleanly.
    assert_eq!(t.ok(&["listen", &q, "--timeout", "0.3"], ""), "");
}

fn listen_formats_and_count_leaves_the_rest(t: &Target) {
    let q = unique_queue("cli-fmt");
    let body = temp_dir("body").join("body.txt");
    std::fs::write(&body, "from a file").unwrap();
    let file = body.to_str().unwrap();
    t.ok(
        &[
            "send",
            &q,
            "--file",
            file,
            "--content-type",
            "text/plain",
            "--header",
            "k:v",
            "--receipt",
        ],
        "",
    );
    t.ok(&["send", &q, "second", "--receipt"], "");
    let json = t.ok(&["listen", &q, "--count", "1", "--format", "json"], "");
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["command"], "MESSAGE");
    assert_eq!(v["body"], "from a file");
    assert_eq!(v["headers"]["k"], "v");
    assert_eq!(v["headers"]["content-type"], "text/plain");
    // --count 1 took one message: the second is still there for the next listener.
    let headers = t.ok(
        &[
            "listen", &q, "--count", "1", "--format", "headers", "--ack", "client",
        ],
        "",
    );
    assert!(headers.starts_with("MESSAGE\n"), "{headers}");
    assert!(headers.contains(&format!("destination:{q}\n")), "{headers}");
    assert!(headers.ends_with("\n\nsecond\n"), "{headers}");
    assert_eq!(t.ok(&["listen", &q, "--timeout", "0.3"], ""), "");
}

#[test]
fn send_then_listen_on_rabbitmq() {
    if let Some(b) = common::rabbitmq() {
        send_then_listen(&Target::real(&b));
        listen_formats_and_count_leaves_the_rest(&Target::real(&b));
    }
}

#[test]
fn send_then_listen_on_activemq() {
    if let Some(b) = common::activemq() {
        send_then_listen(&Target::real(&b));
        listen_formats_and_count_leaves_the_rest(&Target::real(&b));
    }
}

#[test]
fn send_then_listen_on_the_embedded_broker() {
    let broker = with_guest_broker();
    send_then_listen(&broker.target());
    listen_formats_and_count_leaves_the_rest(&broker.target());
}

#[test]
fn every_protocol_version_and_heart_beats() {
    let broker = with_guest_broker();
    for v in ["1.0", "1.1", "1.2"] {
        let mut t = broker.target();
        t.args
            .extend(["-V", v, "--heartbeats", "1000,1000"].map(str::to_owned));
        let q = unique_queue("cli-version");
        t.ok(&["send", &q, &format!("on {v}"), "--receipt"], "");
        let out = t.ok(&["listen", &q, "--count", "1", "--ack", "client"], "");
        assert_eq!(out, format!("on {v}\n"));
        let out = t.ok(&["shell"], "version\n");
        assert!(out.starts_with(&format!("STOMP {v} (server: ")), "{out}");
    }
}

#[test]
fn url_option_and_env_reach_the_broker() {
    let broker = with_guest_broker();
    let url = format!("stomp://guest:guest@127.0.0.1:{}", broker.port);
    let q = unique_queue("cli-url");
    let run = |args: &[&str], env_url: Option<&str>| {
        let mut c = Command::new(BIN);
        c.env_remove("STOMP_URL");
        if let Some(u) = env_url {
            c.env("STOMP_URL", u);
        }
        let out = c.args(args).stdin(Stdio::null()).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["--url", &url, "send", &q, "via url"], None);
    assert_eq!(
        run(&["listen", &q, "--count", "1"], Some(&url)),
        "via url\n"
    );
}

#[cfg(all(feature = "tls", feature = "websocket"))]
#[test]
fn tls_and_websocket_on_rabbitmq() {
    if !common::broker_up("RabbitMQ TLS", 61614, true)
        || !common::broker_up("RabbitMQ WebSocket", 15674, false)
    {
        return;
    }
    let ca = common::ca_file();
    let ca = ca.to_str().unwrap();
    let rabbit = |extra: &[&str]| Target {
        name: format!("RabbitMQ {extra:?}"),
        args: ["-U", "guest", "-W", "guest", "--vhost", "/"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect(),
    };
    let q = unique_queue("cli-tls");
    rabbit(&["--ssl", "-P", "61614", "--ssl-ca", ca])
        .ok(&["send", &q, "over tls", "--receipt"], "");
    let ws = rabbit(&["--url", "ws://127.0.0.1:15674/ws"]);
    assert_eq!(ws.ok(&["listen", &q, "--count", "1"], ""), "over tls\n");
    // Without the CA the broker's certificate is not trusted.
    let untrusted = rabbit(&["--url", "stomp+ssl://127.0.0.1:61614"]).run(&["send", &q, "x"], "");
    assert_one_line_error(&untrusted, "certificate");
}

#[test]
fn failover_list_and_auto_reconnect() {
    let mut broker = with_guest_broker();
    let port = broker.port;
    let closed = "stomp://127.0.0.1:1".to_owned();
    let live = format!("stomp://guest:guest@127.0.0.1:{port}");
    let t = Target {
        name: "failover".into(),
        args: [
            "--url",
            &closed,
            "--url",
            &live,
            "--reconnect-attempts",
            "0",
            "--auto-reconnect",
        ]
        .map(str::to_owned)
        .to_vec(),
    };
    let q = unique_queue("cli-failover");
    t.ok(&["send", &q, "before", "--receipt"], "");
    let mut listener = KillOnDrop(
        t.command()
            .args(["listen", &q, "--count", "2"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut out = BufReader::new(listener.0.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "before\n");
    // The broker goes away and comes back on the same port: the listener reconnects and
    // subscribes again.
    broker.child.kill().unwrap();
    broker.child.wait().unwrap();
    broker = EmbeddedBroker::start_on(&format!("127.0.0.1:{port}"), &["--user", "guest:guest"]);
    t.ok(&["send", &q, "after", "--receipt"], "");
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "after\n");
    assert!(listener.0.wait().unwrap().success());
    drop(broker);
}

// ---- errors ------------------------------------------------------------------------------

#[track_caller]
fn assert_one_line_error(out: &Output, contains: &str) {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("stompy: error: "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(contains), "{err}");
}

#[test]
fn errors_exit_1_with_one_line() {
    let broker = with_guest_broker();
    let refused = Target {
        name: "closed port".into(),
        args: vec!["-P".into(), "1".into()],
    };
    assert_one_line_error(&refused.run(&["send", "/queue/x", "x"], ""), "refused");
    let bad_login = Target {
        name: "bad login".into(),
        args: ["-P", &broker.port.to_string(), "-U", "guest", "-W", "wrong"]
            .map(str::to_owned)
            .to_vec(),
    };
    assert_one_line_error(&bad_login.run(&["listen", "/queue/x"], ""), "login failed");
    let t = broker.target();
    let missing = t.run(&["send", "/queue/x", "--file", "/nonexistent/file"], "");
    assert_one_line_error(&missing, "/nonexistent/file");
    let busy = Command::new(BIN)
        .args(["broker", "--listen", &format!("127.0.0.1:{}", broker.port)])
        .output()
        .unwrap();
    assert_one_line_error(&busy, "cannot listen");
}

#[test]
fn a_bad_header_is_a_usage_error() {
    let out = Command::new(BIN)
        .args(["send", "/queue/x", "b", "--header", "novalue"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "clap's usage errors exit 2");
    assert!(String::from_utf8_lossy(&out.stderr).contains("NAME:VALUE"));
}

// ---- the shell from a script ---------------------------------------------------------------

fn shell_script(t: &Target) {
    let q = unique_queue("cli-shell");
    let script = format!(
        "# a comment, then commands\n\
         subscribe {q}\n\
         send {q} hello world\n\
         wait\n\
         begin\n\
         send {q} in a transaction\n\
         commit\n\
         wait\n\
         begin\n\
         send {q} rolled back\n\
         abort\n\
         send {q} after the abort\n\
         wait\n\
         stats\n\
         quit\n\
         send {q} never sent\n"
    );
    let out = t.ok(&["shell", "--format", "text"], &script);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        !out.contains("stompy>"),
        "no prompt when reading a script: {out}"
    );
    assert_eq!(
        lines[0],
        format!("subscribed to {q} (id {}, ack auto)", sub_id(&out))
    );
    assert_eq!(lines[1], "hello world");
    assert!(lines[2].starts_with("transaction tx-") && lines[2].ends_with(" begun"));
    assert!(lines[3].ends_with(" committed"), "{out}");
    assert_eq!(lines[4], "in a transaction");
    assert!(lines[6].ends_with(" aborted"), "{out}");
    assert_eq!(lines[7], "after the abort");
    assert_eq!(
        lines[8], "sent:        ABORT=1 BEGIN=2 COMMIT=1 SEND=4 SUBSCRIBE=1",
        "{out}"
    );
    assert_eq!(lines[9], "received:    MESSAGE=3");
    assert_eq!(lines[10], "body bytes:  sent=53 received=42");
    assert!(lines[11].starts_with("frame bytes: sent="), "{out}");
    assert_eq!(lines[12], "errors:      0");
    assert_eq!(lines.len(), 13, "{out}");
}

fn sub_id(out: &str) -> &str {
    let start = out.find("(id ").unwrap() + 4;
    let len = out[start..].find(',').unwrap();
    &out[start..start + len]
}

#[test]
fn shell_script_on_rabbitmq() {
    if let Some(b) = common::rabbitmq() {
        shell_script(&Target::real(&b));
    }
}

#[test]
fn shell_script_on_activemq() {
    if let Some(b) = common::activemq() {
        shell_script(&Target::real(&b));
    }
}

#[test]
fn shell_script_on_the_embedded_broker() {
    let broker = with_guest_broker();
    shell_script(&broker.target());
}

#[test]
fn shell_script_errors_are_reported_and_counted() {
    let broker = with_guest_broker();
    let t = broker.target();
    let script = "bogus\nunsubscribe nothing\ncommit\nack no-such-id\nwait 1 0.1\nstats\n";
    let out = t.run(&["shell"], script);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let errors: Vec<&str> = stderr.lines().collect();
    assert_eq!(errors.len(), 6, "{stderr}");
    assert!(errors.iter().all(|l| l.starts_with("stompy: error: ")));
    assert!(errors[0].contains("unknown command \"bogus\""));
    assert!(errors[2].contains("no transaction is open"));
    assert!(errors[3].contains("no-such-id"));
    assert!(errors[5].contains("5 command(s) failed"));
    assert!(stdout.contains("errors:      5"), "{stdout}");
}

#[test]
fn shell_runs_files_and_sends_files() {
    let broker = with_guest_broker();
    let t = broker.target();
    let q = unique_queue("cli-run");
    let dir = temp_dir("run");
    std::fs::write(dir.join("body.txt"), "file body").unwrap();
    let inner = format!(
        "subscribe {q}\nsendfile {q} {}\nwait\nsendrec {q} with receipt\nwait\n",
        dir.join("body.txt").display()
    );
    std::fs::write(dir.join("inner.stompy"), inner).unwrap();
    let script = format!("run {}\nstats\n", dir.join("inner.stompy").display());
    let out = t.ok(&["shell", "--format", "text"], &script);
    assert!(out.contains("\nfile body\n"), "{out}");
    assert!(out.contains("\nreceipt "), "{out}");
    assert!(out.contains("\nwith receipt\n"), "{out}");
    assert!(out.contains("SEND=2 SUBSCRIBE=1"), "{out}");
    // --run FILE does the same without standard input.
    let out = t.ok(
        &[
            "shell",
            "--format",
            "text",
            "-F",
            dir.join("inner.stompy").to_str().unwrap(),
        ],
        "",
    );
    assert!(out.contains("\nfile body\n"), "{out}");
}

// ---- the shell driven line by line: ack and nack by message id ------------------------------

/// A shell with piped standard input, read line by line.
struct PipedShell {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl PipedShell {
    fn start(t: &Target, args: &[&str]) -> Self {
        let mut child = t
            .command()
            .arg("shell")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        PipedShell { child, out }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Reads lines until one starts with `prefix`; returns the rest of that line.
    fn read_until(&mut self, prefix: &str) -> String {
        loop {
            let mut line = String::new();
            assert!(
                self.out.read_line(&mut line).unwrap() > 0,
                "EOF before {prefix:?}"
            );
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.trim_end().to_owned();
            }
        }
    }

    /// Closes standard input; returns the rest of the output, the errors and the exit code.
    fn finish(mut self) -> (String, String, Option<i32>) {
        drop(self.child.stdin.take());
        let mut rest = String::new();
        self.out.read_to_string(&mut rest).unwrap();
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let code = self.child.wait().unwrap().code();
        (rest, err, code)
    }
}

fn ack_and_nack_by_id(t: &Target) {
    let q = unique_queue("cli-ack");
    let mut sh = PipedShell::start(t, &[]);
    sh.send(&format!("subscribe {q} client-individual"));
    sh.read_until("subscribed to");
    sh.send(&format!("send {q} keep"));
    let first = sh.read_until("message-id:");
    sh.send(&format!("ack {first}"));
    sh.send(&format!("ack {first}")); // gone now: an error
    sh.send("begin");
    sh.send(&format!("send {q} two"));
    sh.send("commit");
    let second = sh.read_until("message-id:");
    sh.send(&format!("nack {second}"));
    sh.send("stats");
    let sent = sh.read_until("sent:");
    assert!(
        sent.contains(" ACK=1 ") && sent.contains(" NACK=1 "),
        "{sent}"
    );
    sh.send(&format!("unsubscribe {q}"));
    sh.send("quit");
    let (rest, err, code) = sh.finish();
    assert!(rest.contains("unsubscribed "), "{rest}");
    // A script (standard input is no terminal) with a failed command exits 1.
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(
        err.ends_with("stompy: error: 1 command(s) failed\n"),
        "{err}"
    );
    assert!(
        err.contains(&format!("no un-acknowledged message with id {first:?}")),
        "{err}"
    );
}

#[test]
fn shell_ack_and_nack_by_id_on_the_embedded_broker() {
    let broker = with_guest_broker();
    ack_and_nack_by_id(&broker.target());
}

#[test]
fn shell_ack_and_nack_by_id_on_rabbitmq() {
    if let Some(b) = common::rabbitmq() {
        ack_and_nack_by_id(&Target::real(&b));
    }
}

#[test]
fn shell_prints_messages_while_it_waits_for_a_line() {
    let broker = with_guest_broker();
    let t = broker.target();
    let q = unique_queue("cli-idle");
    let mut sh = PipedShell::start(&t, &["--format", "text"]);
    sh.send(&format!("subscribe {q}"));
    sh.read_until("subscribed to");
    t.ok(&["send", &q, "while idle", "--receipt"], "");
    assert_eq!(sh.read_until("while"), " idle");
    sh.send("quit");
    let (_, err, code) = sh.finish();
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn shell_ends_with_an_error_when_the_broker_goes_away() {
    let mut broker = with_guest_broker();
    let q = unique_queue("cli-lost");
    let mut sh = PipedShell::start(&broker.target(), &[]);
    sh.send(&format!("subscribe {q}"));
    sh.read_until("subscribed to");
    broker.child.kill().unwrap();
    broker.child.wait().unwrap();
    // The shell notices while it waits for the next line, and ends by itself.
    let mut rest = String::new();
    sh.out.read_to_string(&mut rest).unwrap();
    let (_, err, code) = sh.finish();
    assert_eq!(code, Some(1), "{err}");
    assert!(err.starts_with("stompy: error: "), "{err}");
    assert!(
        err.contains("connection") || err.contains("closed"),
        "{err}"
    );
}

// ---- the shell in a pseudo-terminal: prompt, line editing, history --------------------------

#[test]
fn shell_in_a_terminal_has_a_prompt_and_history() {
    use expectrl::{Expect, Session};

    let broker = with_guest_broker();
    let home = temp_dir("home");
    let q = unique_queue("cli-pty");
    let mut cmd = broker.target().command();
    cmd.arg("shell")
        .arg("--format")
        .arg("text")
        .env("HOME", &home);
    let mut p = Session::spawn(cmd).expect("spawn in a pty");
    p.set_expect_timeout(Some(Duration::from_secs(10)));
    p.expect("type help for commands").unwrap();
    p.expect("stompy> ").unwrap();
    p.send_line(format!("subscribe {q}")).unwrap();
    p.expect("subscribed to").unwrap();
    p.expect("stompy> ").unwrap();
    p.send_line(format!("send {q} recalled")).unwrap();
    p.expect("\nrecalled").unwrap();
    p.expect("stompy> ").unwrap();
    // Up arrow brings back the previous command; Enter runs it again.
    p.send("\x1b[A").unwrap();
    p.expect(format!("send {q} recalled")).unwrap();
    p.send("\r").unwrap();
    p.expect("\nrecalled").unwrap();
    p.expect("stompy> ").unwrap();
    p.send_line("stats").unwrap();
    p.expect("SEND=2 SUBSCRIBE=1").unwrap();
    p.expect("stompy> ").unwrap();
    // A message that arrives while the prompt waits is printed at once, above the prompt.
    let t = broker.target();
    t.ok(&["send", &q, "pushed while idle", "--receipt"], "");
    p.expect("pushed while idle").unwrap();
    p.expect("stompy> ").unwrap();
    p.send_line("quit").unwrap();
    p.expect(expectrl::Eof).unwrap();
    let history = std::fs::read_to_string(home.join(".stompy_history")).unwrap();
    let lines: Vec<&str> = history.lines().filter(|l| !l.starts_with('#')).collect();
    let send = format!("send {q} recalled");
    assert!(
        lines.iter().filter(|l| **l == send).count() >= 1,
        "{history}"
    );
    assert!(
        lines.contains(&"stats") && lines.contains(&"quit"),
        "{history}"
    );
}
