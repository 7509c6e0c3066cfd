//! The broker's data directory ([`BrokerBuilder::data_dir`](super::BrokerBuilder::data_dir)):
//! persistent queue messages (`persistent:true`) kept in a [redb] database file, so that they
//! survive a crash.
//!
//! - [`Store`] is the file: one table from a sequence number (the order messages entered their
//!   queues) to the encoded message, read once at start and then only written.
//! - [`Durable`] is what the engine talks to: [`Durable::put`] when a persistent message enters
//!   its queue, [`Durable::remove`] when it is consumed (ACKed, or delivered in auto mode), and
//!   [`Durable::commit`] once per turn of the event loop, which writes the turn's changes in
//!   one transaction with one `fsync` (group commit). A message put and removed in the same
//!   turn never reaches the file.
//!
//! Why redb: pure Rust (no C toolchain, one dependency: libc), ACID with crash-safe commits,
//! one `fsync` per durable commit, a stable file format, and well kept. A copy-on-write B-tree
//! suits a queue's pattern (append at one end, remove at the other) without compaction.
//!
//! redb's commits are atomic and checksummed: after a crash, even one that tore the last
//! commit's writes, the file opens at the last complete commit (redb repairs it on open), and a
//! file grown but not yet written at its end (whole pages) opens as well. What redb cannot
//! repair (a file cut short, a length that is no whole number of pages, a damaged header) is
//! an error naming the file; a panic inside redb on a damaged file is caught and reported the
//! same way. The tests below damage files in these ways.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use super::engine::Stored;
use super::queue::{is_topic, Message, Pending};
use crate::frame::Headers;

/// The database file in the data directory.
pub(crate) const FILE: &str = "stompy.redb";

/// Sequence number → encoded message ([`encode`]).
const MESSAGES: TableDefinition<u64, &[u8]> = TableDefinition::new("messages");
/// `"id"` → the store's random id (16 bytes), which tells a same-process hand-over
/// ([`recover`]) that its messages are this store's.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// redb's page cache (its default is 1 GiB): the broker keeps the messages in memory itself
/// and reads the file only at start; writes touch the ends of one B-tree.
const CACHE_BYTES: usize = 64 << 20;

/// The first byte of an encoded message.
const FORMAT: u8 = 1;

/// A failure of the store, as text for the log, an ERROR frame or the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoreError(String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

fn db_err(e: impl Into<redb::Error>) -> StoreError {
    StoreError(e.into().to_string())
}

/// Opens (or creates) the database file at `path`, repairing it after a crash.
fn create(path: &Path) -> Result<Database, StoreError> {
    Database::builder()
        .set_cache_size(CACHE_BYTES)
        .create(path)
        .map_err(|e| open_error(path, e.into()))
}

/// What failed opening the file at `path`, for the user.
fn open_error(path: &Path, e: redb::Error) -> StoreError {
    let path = path.display();
    StoreError(match e {
        redb::Error::DatabaseAlreadyOpen => format!("{path} is in use by another broker"),
        e @ redb::Error::Corrupted(_) => format!(
            "{path}: {e} (damaged beyond repair: move the file away to start with an empty store)"
        ),
        e => format!("{path}: {e}"),
    })
}

/// Runs `f`, turning a panic (redb on a damaged file) into an error.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let text = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        Err(StoreError(format!("{what} failed: {text}")))
    })
}

/// True for a message the sender asked to keep across restarts (`persistent:true`).
pub(crate) fn is_persistent(headers: &Headers) -> bool {
    headers
        .get("persistent")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The database file of a data directory.
#[derive(Debug)]
pub(crate) struct Store {
    /// `None` after a failed commit: redb refuses writes until the file is opened again,
    /// which the next write does.
    db: Option<Database>,
    path: PathBuf,
    id: u128,
}

/// A store just opened, with what it holds.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) store: Store,
    /// The messages, by sequence number (oldest first).
    pub(crate) messages: Vec<(u64, Message)>,
    /// Records that could not be decoded, skipped.
    pub(crate) skipped: usize,
}

impl Store {
    /// Opens (creating it if needed) the store in `dir`, repairing it after a crash, and reads
    /// every message it holds.
    ///
    /// # Errors
    /// The directory or file cannot be created or opened, another broker has it open, or the
    /// file is damaged beyond what redb repairs.
    pub(crate) fn open(dir: &Path) -> Result<Opened, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError(format!("{}: {e}", dir.display())))?;
        let path = dir.join(FILE);
        guarded("opening the store", || Self::open_file(path))
    }

    fn open_file(path: PathBuf) -> Result<Opened, StoreError> {
        let db = create(&path)?;
        let id = Self::init(&db)?;
        let mut messages = Vec::new();
        let mut skipped = 0;
        let read = db.begin_read().map_err(db_err)?;
        let table = read.open_table(MESSAGES).map_err(db_err)?;
        for entry in table.iter().map_err(db_err)? {
            let (seq, bytes) = entry.map_err(db_err)?;
            match decode(bytes.value()) {
                Some(msg) => messages.push((seq.value(), msg)),
                None => {
                    log::warn!(
                        "broker store {}: skipped undecodable message {}",
                        path.display(),
                        seq.value()
                    );
                    skipped += 1;
                }
            }
        }
        drop(table);
        drop(read);
        Ok(Opened {
            store: Store {
                db: Some(db),
                path,
                id,
            },
            messages,
            skipped,
        })
    }

    /// Makes the tables, and the store's id when it has none; returns the id.
    fn init(db: &Database) -> Result<u128, StoreError> {
        let read = db.begin_read().map_err(db_err)?;
        if let Ok(meta) = read.open_table(META) {
            let id = meta.get("id").map_err(db_err)?;
            let bytes = id.and_then(|g| <[u8; 16]>::try_from(g.value()).ok());
            if let (Some(bytes), Ok(_)) = (bytes, read.open_table(MESSAGES)) {
                return Ok(u128::from_le_bytes(bytes));
            }
        }
        drop(read);
        let id = uuid::Uuid::new_v4().as_u128();
        let txn = db.begin_write().map_err(db_err)?;
        {
            txn.open_table(MESSAGES).map_err(db_err)?;
            let mut meta = txn.open_table(META).map_err(db_err)?;
            meta.insert("id", &id.to_le_bytes()[..]).map_err(db_err)?;
        }
        txn.commit().map_err(db_err)?;
        Ok(id)
    }

    /// Writes `puts` and removes `removes` in one durable transaction: once this returns `Ok`,
    /// the changes survive a crash.
    fn write<'a>(
        &mut self,
        puts: impl Iterator<Item = (u64, &'a Message)>,
        removes: &[u64],
    ) -> Result<(), StoreError> {
        let db = match self.db.take() {
            Some(db) => db,
            None => {
                let db = guarded("reopening the store", || create(&self.path))?;
                log::info!("broker store {}: reopened", self.path.display());
                db
            }
        };
        let written = guarded("writing the store", || {
            let mut txn = db.begin_write().map_err(db_err)?;
            txn.set_durability(Durability::Immediate).map_err(db_err)?;
            {
                let mut table = txn.open_table(MESSAGES).map_err(db_err)?;
                for seq in removes {
                    table.remove(seq).map_err(db_err)?;
                }
                let mut buf = Vec::new();
                for (seq, msg) in puts {
                    buf.clear();
                    encode(msg, &mut buf);
                    table.insert(seq, buf.as_slice()).map_err(db_err)?;
                }
            }
            txn.commit().map_err(db_err)
        });
        if written.is_ok() {
            self.db = Some(db);
        }
        written
    }

    /// Test aid: the state after a failed commit.
    #[cfg(test)]
    fn close(&mut self) {
        self.db = None;
    }

    /// Where the file is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// The engine's side of the store: the changes of the current turn, until
/// [`Durable::commit`] writes them.
#[derive(Debug)]
pub(crate) struct Durable {
    store: Store,
    puts: BTreeMap<u64, Arc<Message>>,
    removes: Vec<u64>,
    next_seq: u64,
    /// Counts every put and remove, so that a caller can tell whether a frame changed
    /// anything ([`Durable::changes`]).
    changes: u64,
    /// Connections whose output waits for this turn's commit.
    pub(crate) held: Vec<usize>,
    /// Test aid: the next commit fails with this.
    #[cfg(test)]
    pub(crate) fail_next: Option<String>,
}

impl Durable {
    /// The engine's side of `store`, whose highest sequence number is below `next_seq`.
    pub(crate) fn new(store: Store, next_seq: u64) -> Self {
        Durable {
            store,
            puts: BTreeMap::new(),
            removes: Vec::new(),
            next_seq: next_seq.max(1),
            changes: 0,
            held: Vec::new(),
            #[cfg(test)]
            fail_next: None,
        }
    }

    /// The store's id.
    pub(crate) fn id(&self) -> u128 {
        self.store.id
    }

    /// The sequence number for the next message that enters a queue: its place in the store.
    pub(crate) fn next_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Keeps `msg` (which has its sequence number in `msg.durable`) from the next commit on.
    pub(crate) fn put(&mut self, msg: Arc<Message>) {
        if let Some(seq) = msg.durable {
            self.puts.insert(seq, msg);
            self.changes += 1;
        }
    }

    /// Forgets the message `seq` from the next commit on (it was consumed).
    pub(crate) fn remove(&mut self, seq: u64) {
        if self.puts.remove(&seq).is_none() {
            self.removes.push(seq);
        }
        self.changes += 1;
    }

    /// How many puts and removes there were so far.
    pub(crate) fn changes(&self) -> u64 {
        self.changes
    }

    /// True when a commit has something to do.
    pub(crate) fn is_dirty(&self) -> bool {
        !self.puts.is_empty() || !self.removes.is_empty() || !self.held.is_empty()
    }

    /// Writes the puts and removes since the last commit in one durable transaction (nothing
    /// when there are none). Either way they are forgotten: a failed commit is not retried
    /// (its senders get an ERROR instead of their receipts); the next commit opens the file
    /// again (redb refuses writes after a failed commit until then) and goes on.
    ///
    /// # Errors
    /// The write or its `fsync` failed.
    pub(crate) fn commit(&mut self) -> Result<(), StoreError> {
        if self.puts.is_empty() && self.removes.is_empty() {
            return Ok(());
        }
        #[cfg(test)]
        if let Some(e) = self.fail_next.take() {
            self.puts.clear();
            self.removes.clear();
            return Err(StoreError(e));
        }
        let puts = self.puts.iter().map(|(&seq, m)| (seq, &**m));
        let result = self.store.write(puts, &self.removes);
        self.puts.clear();
        self.removes.clear();
        result
    }

    /// The store's file.
    pub(crate) fn path(&self) -> &Path {
        self.store.path()
    }
}

/// Opens the store in `dir` and puts together what the broker starts with: the messages of
/// `state` (a hand-over from [`BrokerHandle::shutdown_keep_state`](super::BrokerHandle)) and
/// those of the store.
///
/// - `state` that came from this store (directly, or through brokers without a data
///   directory): `state` says which messages exist, in queue order, with their redelivered
///   flags. Its messages that the store holds are kept as they are; its persistent queue
///   messages that the store lacks (sent to a broker without a data directory) are written;
///   store records it lacks were consumed after the hand-over and are removed.
/// - Otherwise the store's messages come first, flagged redelivered (they may have been
///   delivered before a crash), oldest first per queue; then `state`'s, whose persistent
///   queue messages are written to the store.
///
/// What is written or removed is committed before the broker starts.
///
/// # Errors
/// As [`Store::open`], or that commit failed.
pub(crate) fn recover(dir: &Path, state: Stored) -> Result<(Stored, Durable), StoreError> {
    let opened = Store::open(dir)?;
    let next_seq = opened.messages.last().map_or(1, |(seq, _)| seq + 1);
    let mut durable = Durable::new(opened.store, next_seq);
    let mut next_msg = state.next_msg;
    let mut queues: HashMap<Arc<str>, VecDeque<Pending>> = HashMap::new();
    let count = opened.messages.len();
    let mut on_disk = HashSet::new();
    if state.store_id == Some(durable.id()) {
        on_disk.extend(opened.messages.iter().map(|(seq, _)| *seq));
    } else {
        for (seq, mut msg) in opened.messages {
            next_msg = next_msg.max(msg.id + 1);
            msg.durable = Some(seq);
            push(&mut queues, msg, true);
        }
    }
    for (name, q) in state.queues {
        for p in q {
            next_msg = next_msg.max(p.msg.id + 1);
            let stored = p.msg.durable.filter(|seq| on_disk.remove(seq));
            let persistent = !is_topic(&name) && is_persistent(&p.msg.headers);
            let msg = match (stored, persistent) {
                (Some(_), _) => p.msg,
                (None, true) => {
                    let mut m = unshare(p.msg);
                    m.durable = Some(durable.next_seq());
                    let msg = Arc::new(m);
                    durable.put(msg.clone());
                    msg
                }
                (None, false) if p.msg.durable.is_none() => p.msg,
                (None, false) => {
                    let mut m = unshare(p.msg);
                    m.durable = None; // another store's number
                    Arc::new(m)
                }
            };
            queues.entry(name.clone()).or_default().push_back(Pending {
                msg,
                redelivered: p.redelivered,
            });
        }
    }
    for seq in on_disk {
        durable.remove(seq);
    }
    durable.commit()?;
    if count > 0 || opened.skipped > 0 {
        log::info!(
            "broker store {}: recovered {count} persistent messages, skipped {}",
            durable.path().display(),
            opened.skipped
        );
    }
    let stored = Stored {
        queues: queues.into_iter().collect(),
        next_msg,
        store_id: Some(durable.id()),
    };
    Ok((stored, durable))
}

fn push(queues: &mut HashMap<Arc<str>, VecDeque<Pending>>, msg: Message, redelivered: bool) {
    let q = queues.entry(msg.destination.clone()).or_default();
    q.push_back(Pending {
        msg: Arc::new(msg),
        redelivered,
    });
}

/// The message itself, copied when it is shared.
fn unshare(msg: Arc<Message>) -> Message {
    Arc::try_unwrap(msg).unwrap_or_else(|m| Message {
        id: m.id,
        destination: m.destination.clone(),
        headers: m.headers.clone(),
        body: m.body.clone(),
        durable: m.durable,
    })
}

/// Appends `msg` as a record: the format byte, its id, destination, headers and body.
fn encode(msg: &Message, out: &mut Vec<u8>) {
    fn bytes(out: &mut Vec<u8>, b: &[u8]) {
        out.extend_from_slice(&(b.len() as u32).to_le_bytes());
        out.extend_from_slice(b);
    }
    out.reserve(32 + msg.destination.len() + msg.headers.byte_len() + msg.body.len());
    out.push(FORMAT);
    out.extend_from_slice(&msg.id.to_le_bytes());
    bytes(out, msg.destination.as_bytes());
    out.extend_from_slice(&(msg.headers.len() as u32).to_le_bytes());
    for (name, value) in msg.headers.iter() {
        bytes(out, name.as_bytes());
        bytes(out, value.as_bytes());
    }
    out.extend_from_slice(&msg.body);
}

/// The message of a record written by [`encode`]; `None` when it is not one.
fn decode(mut b: &[u8]) -> Option<Message> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (head, rest) = b.split_at_checked(n)?;
        *b = rest;
        Some(head)
    }
    fn u32_at(b: &mut &[u8]) -> Option<usize> {
        Some(u32::from_le_bytes(take(b, 4)?.try_into().ok()?) as usize)
    }
    fn text<'a>(b: &mut &'a [u8]) -> Option<&'a str> {
        let n = u32_at(b)?;
        std::str::from_utf8(take(b, n)?).ok()
    }
    if take(&mut b, 1)? != [FORMAT] {
        return None;
    }
    let id = u64::from_le_bytes(take(&mut b, 8)?.try_into().ok()?);
    let destination: Arc<str> = Arc::from(text(&mut b)?);
    let n = u32_at(&mut b)?;
    let mut headers = Headers::with_capacity(n.min(1024), 0);
    for _ in 0..n {
        let name = text(&mut b)?;
        let value = text(&mut b)?;
        headers.push(name, value);
    }
    Some(Message {
        id,
        destination,
        headers,
        body: b.to_vec(),
        durable: None,
    })
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, SeekFrom, Write};

    use super::*;

    /// A fresh directory under the target's temporary directory.
    pub(crate) fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "stompy-store-{name}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn message(id: u64, dest: &str, body: &str) -> Message {
        let mut headers = Headers::new();
        headers.push("destination", dest);
        headers.push("persistent", "true");
        headers.push("x-note", "a:b\nc");
        Message {
            id,
            destination: Arc::from(dest),
            headers,
            body: body.as_bytes().to_vec(),
            durable: None,
        }
    }

    /// Puts `bodies` on `/queue/a`, one commit each.
    fn fill(d: &mut Durable, bodies: &[&str]) {
        for (i, body) in bodies.iter().enumerate() {
            let mut m = message(i as u64 + 100, "/queue/a", body);
            m.durable = Some(d.next_seq());
            d.put(Arc::new(m));
            d.commit().unwrap();
        }
    }

    fn bodies(opened: &Opened) -> Vec<String> {
        let text = |(_, m): &(u64, Message)| String::from_utf8_lossy(&m.body).into_owned();
        opened.messages.iter().map(text).collect()
    }

    fn reopen(dir: &Path) -> Result<Opened, StoreError> {
        Store::open(dir)
    }

    #[test]
    fn records_round_trip() {
        let m = message(7, "/queue/x", "body\0with nul");
        let mut buf = Vec::new();
        encode(&m, &mut buf);
        let back = decode(&buf).unwrap();
        assert_eq!(back.id, 7);
        assert_eq!(&*back.destination, "/queue/x");
        assert_eq!(back.body, m.body);
        let headers: Vec<_> = back.headers.iter().collect();
        assert_eq!(headers, m.headers.iter().collect::<Vec<_>>());
        for cut in 0..buf.len() - m.body.len() {
            assert!(decode(&buf[..cut]).is_none(), "cut at {cut}");
        }
        assert!(decode(&[9, 0, 0]).is_none());
    }

    #[test]
    fn persistent_header() {
        let mut h = Headers::new();
        assert!(!is_persistent(&h));
        h.push("persistent", "TRUE");
        assert!(is_persistent(&h));
        let mut h = Headers::new();
        h.push("persistent", "false");
        assert!(!is_persistent(&h));
    }

    #[test]
    fn messages_survive_reopening_in_order_and_removes_stick() {
        let dir = temp_dir("reopen");
        let mut opened = Store::open(&dir).unwrap();
        assert!(opened.messages.is_empty());
        let id = opened.store.id;
        let mut d = Durable::new(opened.store, 1);
        fill(&mut d, &["a", "b", "c", "d"]);
        d.remove(2);
        assert!(d.is_dirty());
        d.commit().unwrap();
        assert!(!d.is_dirty());
        // A put removed in the same turn never reaches the file.
        let mut m = message(1, "/queue/a", "gone");
        m.durable = Some(d.next_seq());
        d.put(Arc::new(m));
        d.remove(5);
        assert!(!d.is_dirty());
        drop(d);
        opened = reopen(&dir).unwrap();
        assert_eq!(opened.store.id, id, "the id is kept");
        assert_eq!(bodies(&opened), ["a", "c", "d"]);
        let seqs: Vec<u64> = opened.messages.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, [1, 3, 4]);
        assert_eq!(opened.messages[0].1.id, 100);
        drop(opened);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_commit_reopens_the_file_for_the_next() {
        let dir = temp_dir("reopen-after-failure");
        let opened = Store::open(&dir).unwrap();
        let mut d = Durable::new(opened.store, 1);
        fill(&mut d, &["a"]);
        d.store.close();
        fill(&mut d, &["b"]);
        drop(d);
        assert_eq!(bodies(&Store::open(&dir).unwrap()), ["a", "b"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_second_broker_on_the_same_directory_is_refused() {
        let dir = temp_dir("twice");
        let first = Store::open(&dir).unwrap();
        let e = Store::open(&dir).unwrap_err();
        assert!(e.to_string().contains("in use"), "{e}");
        drop(first);
        Store::open(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn recover_merges_a_handed_over_state() {
        let dir = temp_dir("recover");
        let (stored, mut d) = recover(&dir, Stored::default()).unwrap();
        assert!(stored.queues.is_empty());
        fill(&mut d, &["one", "two"]);
        let id = d.id();
        drop(d);
        // State from elsewhere: its persistent message is written to this store.
        let foreign = Stored {
            queues: vec![(
                Arc::from("/queue/b"),
                VecDeque::from([
                    Pending {
                        msg: Arc::new(message(900, "/queue/b", "three")),
                        redelivered: false,
                    },
                    Pending {
                        msg: Arc::new(Message {
                            headers: Headers::new(),
                            ..message(901, "/queue/b", "transient")
                        }),
                        redelivered: false,
                    },
                ]),
            )],
            next_msg: 5,
            store_id: None,
        };
        let (stored, d) = recover(&dir, foreign).unwrap();
        assert_eq!(stored.next_msg, 902);
        assert_eq!(stored.store_id, Some(id));
        let q = |s: &Stored, name: &str| -> Vec<String> {
            let q = s.queues.iter().find(|(n, _)| &**n == name).unwrap();
            q.1.iter()
                .map(|p| String::from_utf8_lossy(&p.msg.body).into_owned())
                .collect()
        };
        assert_eq!(q(&stored, "/queue/a"), ["one", "two"]);
        assert_eq!(q(&stored, "/queue/b"), ["three", "transient"]);
        let first = &stored
            .queues
            .iter()
            .find(|(n, _)| &**n == "/queue/a")
            .unwrap()
            .1[0];
        assert!(
            first.redelivered,
            "recovered messages may have been delivered"
        );
        drop(d);
        // State from this store: taken as it is, nothing doubled.
        let (again, d) = recover(&dir, stored).unwrap();
        assert_eq!(q(&again, "/queue/a"), ["one", "two"]);
        assert_eq!(q(&again, "/queue/b"), ["three", "transient"]);
        drop(d);
        let opened = Store::open(&dir).unwrap();
        assert_eq!(bodies(&opened), ["one", "two", "three"]);
        drop(opened);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// What a damaged file opens as: the messages, or a clear error. Never a panic.
    fn open_damaged(dir: &Path, damage: impl FnOnce(&mut std::fs::File, u64)) -> String {
        let path = dir.join(FILE);
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let len = f.metadata().unwrap().len();
        damage(&mut f, len);
        f.sync_all().unwrap();
        drop(f);
        match Store::open(dir) {
            Ok(o) => format!("ok {:?} skipped {}", bodies(&o), o.skipped),
            Err(e) => {
                assert!(!e.to_string().is_empty());
                format!("error {e}")
            }
        }
    }

    /// A store with three committed messages, closed uncleanly (as after a crash: the
    /// [`Durable`] is leaked, so redb never records a clean shutdown).
    fn crashed_store(name: &str) -> PathBuf {
        let dir = temp_dir(name);
        let opened = Store::open(&dir).unwrap();
        let mut d = Durable::new(opened.store, 1);
        fill(&mut d, &["a", "b", "c"]);
        std::mem::forget(d);
        dir
    }

    #[test]
    fn a_crash_without_damage_loses_nothing() {
        let dir = crashed_store("crash");
        // The leaked handle still holds the file lock inside this process: copy the file.
        let copy = temp_dir("crash-copy");
        std::fs::create_dir_all(&copy).unwrap();
        std::fs::copy(dir.join(FILE), copy.join(FILE)).unwrap();
        let opened = Store::open(&copy).unwrap();
        assert_eq!(bodies(&opened), ["a", "b", "c"]);
        drop(opened);
        let _ = std::fs::remove_dir_all(&copy);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn damaged_tails_are_detected_never_a_panic() {
        let dir = crashed_store("damaged");
        let original = std::fs::read(dir.join(FILE)).unwrap();
        type Damage = Box<dyn Fn(&mut std::fs::File, u64)>;
        let cases: Vec<(&str, Damage)> = vec![
            (
                "truncated by 1 byte",
                Box::new(|f: &mut std::fs::File, len| f.set_len(len - 1).unwrap()),
            ),
            (
                "truncated by 4 KiB",
                Box::new(|f: &mut std::fs::File, len| f.set_len(len.saturating_sub(4096)).unwrap()),
            ),
            (
                "truncated to half",
                Box::new(|f: &mut std::fs::File, len| f.set_len(len / 2).unwrap()),
            ),
            (
                "last 512 bytes garbage",
                Box::new(|f: &mut std::fs::File, len| {
                    f.seek(SeekFrom::Start(len - 512)).unwrap();
                    f.write_all(&[0xA5; 512]).unwrap();
                }),
            ),
            (
                "garbage appended",
                Box::new(|f: &mut std::fs::File, len| {
                    f.seek(SeekFrom::Start(len)).unwrap();
                    f.write_all(&[0x5A; 3000]).unwrap();
                }),
            ),
            (
                "zeros appended (grown, never written)",
                Box::new(|f: &mut std::fs::File, len| f.set_len(len + 64 * 1024).unwrap()),
            ),
            (
                "4 KiB garbage appended",
                Box::new(|f: &mut std::fs::File, len| {
                    f.seek(SeekFrom::Start(len)).unwrap();
                    f.write_all(&[0x5A; 4096]).unwrap();
                }),
            ),
            (
                "header garbage",
                Box::new(|f: &mut std::fs::File, _| {
                    f.seek(SeekFrom::Start(0)).unwrap();
                    f.write_all(&[0xFF; 64]).unwrap();
                }),
            ),
            (
                "empty file",
                Box::new(|f: &mut std::fs::File, _| f.set_len(0).unwrap()),
            ),
        ];
        for (name, damage) in cases {
            let copy = temp_dir("damaged-copy");
            std::fs::create_dir_all(&copy).unwrap();
            std::fs::write(copy.join(FILE), &original).unwrap();
            let outcome = open_damaged(&copy, damage);
            eprintln!("{name}: {outcome}");
            if let Some(rest) = outcome.strip_prefix("ok ") {
                // Whatever opens holds a prefix of what was committed, in order, or nothing
                // of it: never a message that was not written.
                let ok = [
                    "[] ",
                    "[\"a\"] ",
                    "[\"a\", \"b\"] ",
                    "[\"a\", \"b\", \"c\"] ",
                ];
                assert!(ok.iter().any(|p| rest.starts_with(p)), "{name}: {outcome}");
            }
            let _ = std::fs::remove_dir_all(&copy);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_torn_last_commit_rolls_back_to_the_one_before() {
        // The file as it was after commit 2, and after commit 3: mix the two as a crash in
        // the middle of writing commit 3 would (some of its pages written, some not).
        let dir = temp_dir("torn");
        let opened = Store::open(&dir).unwrap();
        let mut d = Durable::new(opened.store, 1);
        fill(&mut d, &["a", "b"]);
        let before = std::fs::read(dir.join(FILE)).unwrap();
        fill(&mut d, &["c"]);
        let after = std::fs::read(dir.join(FILE)).unwrap();
        std::mem::forget(d);
        let changed: Vec<usize> = (0..after.len().min(before.len()))
            .filter(|&i| after[i] != before[i])
            .collect();
        assert!(!changed.is_empty());
        let mut outcomes = Vec::new();
        for keep in [0.25, 0.5, 0.75] {
            // The first part of the changed bytes is new, the rest old.
            let mut torn = before.clone();
            torn.resize(after.len(), 0);
            let n = (changed.len() as f64 * keep) as usize;
            for &i in &changed[..n] {
                torn[i] = after[i];
            }
            for (i, b) in after.iter().enumerate().skip(before.len()) {
                torn[i] = *b;
            }
            let copy = temp_dir("torn-copy");
            std::fs::create_dir_all(&copy).unwrap();
            std::fs::write(copy.join(FILE), &torn).unwrap();
            let outcome = match Store::open(&copy) {
                Ok(o) => format!("{:?}", bodies(&o)),
                Err(e) => format!("error {e}"),
            };
            eprintln!("torn at {keep}: {outcome}");
            assert!(
                outcome == r#"["a", "b"]"# || outcome == r#"["a", "b", "c"]"#,
                "a torn commit must open as the commit before or after it: {outcome}"
            );
            outcomes.push(outcome);
            let _ = std::fs::remove_dir_all(&copy);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
