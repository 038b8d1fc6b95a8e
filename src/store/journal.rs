//! The store's write-ahead journal: every write is appended here first, and acknowledged
//! once the journal is on disk; the sled trees are brought up to date from it afterwards.
//!
//! Why: a sled insert costs several microseconds of CPU and a multi-tree transaction tens,
//! which on one core is more than the rest of a request. An append here is a memcpy under a
//! lock. One writer thread writes the appended records out and syncs them, so every write
//! made while a sync is running shares the next one (group commit). Writing to the file
//! holds a lock of its own, never the appenders': an append never waits for the disk, even
//! when the OS makes a write wait for its page cache. Waiters are woken by a
//! condition variable (threads) or a watch channel (async tasks), so the HTTP path never
//! blocks a runtime worker.
//!
//! Records are physical: each is a list of puts and removes of whole values, applied in
//! order. Replaying a record that was already applied changes nothing, so recovery replays
//! everything after the last checkpoint without knowing exactly how far sled got.
//!
//! On disk: `journal/{first seq:020}.log` segments of records
//! `[payload length u32 LE][crc32 of payload u32 LE][payload]`, where the payload is
//! `[seq u64 LE][op count u32 LE]` and per op `[tree u8][kind u8][key len u32][key]` and,
//! for a put, `[value len u32][value]`. A torn record at the tail (a crash mid-write) fails
//! its checksum and is cut off: it was never acknowledged.
//!
//! Segments are filled with zeros a little ahead of the records (a header of length 0
//! marks the end; no record is that short). Writing over blocks that are already on disk,
//! without growing the file, lets a sync skip the filesystem's own journal: measured on
//! ext4, such a sync takes about 60% of the CPU time and of the wall time of one that grows
//! the file.

use super::{StoreError, StoreResult};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use tokio::sync::watch;

/// Segments are started afresh past this size, so applied ones can be deleted.
const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

/// How far ahead of the records a segment is filled with zeros (at most the segment's size
/// limit): one sync in this many bytes also carries the file's growth.
const ZERO_AHEAD: u64 = 256 * 1024;
/// Zeros to write from.
static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// One change to one key of one tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Op {
    Put {
        tree: u8,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Remove {
        tree: u8,
        key: Vec<u8>,
    },
}

impl Op {
    pub(super) fn put(tree: u8, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Op {
        Op::Put {
            tree,
            key: key.into(),
            value: value.into(),
        }
    }

    pub(super) fn remove(tree: u8, key: impl Into<Vec<u8>>) -> Op {
        Op::Remove {
            tree,
            key: key.into(),
        }
    }
}

/// How far the journal has got, as async waiters see it: every record up to `durable` is
/// on disk; `failed` is set for good once a write or sync failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Progress {
    durable: u64,
    failed: bool,
}

/// A write that was appended; await [`Durability::wait`] before acknowledging it.
#[derive(Debug)]
pub struct Durability {
    seq: u64,
    progress: watch::Receiver<Progress>,
}

impl Durability {
    /// Returns once the write is on disk; an error if the journal could not be written.
    pub async fn wait(mut self) -> StoreResult<()> {
        let seq = self.seq;
        let progress = self
            .progress
            .wait_for(|p| p.failed || p.durable >= seq)
            .await
            .map_err(|_| journal_failed("the journal writer stopped"))?;
        if progress.durable >= seq {
            Ok(())
        } else {
            Err(journal_failed("the journal could not be written"))
        }
    }
}

fn journal_failed(what: &str) -> StoreError {
    StoreError::Journal(std::io::Error::other(what.to_owned()))
}

struct State {
    next_seq: u64,
    /// Encoded records appended and not yet written to the segment.
    buffer: Vec<u8>,
    /// Every record up to here is in a segment file (perhaps not yet synced).
    written: u64,
    durable: u64,
    failed: Option<String>,
    stopping: bool,
    /// The writer thread is waiting for work: only then does an append wake it (a wake is
    /// a system call, too dear to make for every append).
    writer_idle: bool,
}

/// The segment being written. Whoever writes to it holds its lock across the write, and
/// takes the state's lock only to take the buffer and to record what was written: appends
/// never wait for the disk.
struct Segment {
    file: Arc<File>,
    /// Where the next record goes in the file.
    bytes: u64,
    /// The file is zeros (or records) up to here.
    zeroed: u64,
    /// An empty buffer with room, swapped for the state's full one.
    spare: Vec<u8>,
}

impl Segment {
    fn new(file: File) -> Self {
        Segment {
            file: Arc::new(file),
            bytes: 0,
            zeroed: 0,
            spare: Vec::with_capacity(64 * 1024),
        }
    }

    /// Writes `records` where the next record goes, first filling the file with zeros
    /// `zero_ahead` bytes past their end if the zeros do not reach that far.
    fn write(&mut self, records: &[u8], zero_ahead: u64) -> std::io::Result<()> {
        let end = self.bytes + records.len() as u64;
        if end > self.zeroed {
            let to = end + zero_ahead;
            while self.zeroed < to {
                let n = (to - self.zeroed).min(ZEROS.len() as u64);
                self.file.write_all_at(&ZEROS[..n as usize], self.zeroed)?;
                self.zeroed += n;
            }
        }
        self.file.write_all_at(records, self.bytes)?;
        self.bytes = end;
        Ok(())
    }
}

pub(super) struct Journal {
    dir: PathBuf,
    segment_limit: u64,
    /// Taken before `state` when both are held.
    segment: Mutex<Segment>,
    state: Mutex<State>,
    /// Wakes the writer thread: something to write, or stop.
    work: Condvar,
    /// Wakes threads waiting for a sync.
    synced: Condvar,
    progress: watch::Sender<Progress>,
}

impl Journal {
    /// Starts a new segment after `last_seq` (recovery has already applied and removed
    /// every earlier one).
    pub(super) fn create(dir: &Path, last_seq: u64) -> std::io::Result<Arc<Journal>> {
        Self::with_segment_limit(dir, last_seq, SEGMENT_BYTES)
    }

    fn with_segment_limit(
        dir: &Path,
        last_seq: u64,
        segment_limit: u64,
    ) -> std::io::Result<Arc<Journal>> {
        std::fs::create_dir_all(dir)?;
        let file = new_segment(dir, last_seq + 1)?;
        let (progress, _) = watch::channel(Progress {
            durable: last_seq,
            failed: false,
        });
        Ok(Arc::new(Journal {
            dir: dir.to_path_buf(),
            segment_limit,
            segment: Mutex::new(Segment::new(file)),
            state: Mutex::new(State {
                next_seq: last_seq + 1,
                buffer: Vec::with_capacity(64 * 1024),
                written: last_seq,
                durable: last_seq,
                failed: None,
                stopping: false,
                writer_idle: false,
            }),
            work: Condvar::new(),
            synced: Condvar::new(),
            progress,
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn segment(&self) -> MutexGuard<'_, Segment> {
        self.segment.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends one record, built from its sequence number (outbox ids derive from it, so
    /// ids are handed out in the order records are applied). Returns the sequence number.
    pub(super) fn append(&self, build: impl FnOnce(u64) -> Vec<Op>) -> StoreResult<u64> {
        let mut st = self.lock();
        if let Some(error) = &st.failed {
            return Err(journal_failed(error));
        }
        let seq = st.next_seq;
        let ops = build(seq);
        encode_record(&mut st.buffer, seq, &ops);
        st.next_seq += 1;
        let wake = st.writer_idle;
        drop(st);
        if wake {
            self.work.notify_one();
        }
        Ok(seq)
    }

    /// The last sequence number handed out.
    pub(super) fn appended(&self) -> u64 {
        self.lock().next_seq - 1
    }

    /// A handle to await the sync of record `seq`.
    pub(super) fn durability(&self, seq: u64) -> Durability {
        Durability {
            seq,
            progress: self.progress.subscribe(),
        }
    }

    /// Blocks until record `seq` is on disk.
    pub(super) fn wait_durable(&self, seq: u64) -> StoreResult<()> {
        let mut st = self.lock();
        loop {
            if st.durable >= seq {
                return Ok(());
            }
            if let Some(error) = &st.failed {
                return Err(journal_failed(error));
            }
            st = self.synced.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Writes what is buffered to the segment (without syncing), so a reader can apply
    /// it; returns the last sequence number written.
    pub(super) fn write_out(&self) -> StoreResult<u64> {
        self.write_buffer();
        let st = self.lock();
        match &st.failed {
            Some(error) => Err(journal_failed(error)),
            None => Ok(st.written),
        }
    }

    /// Takes the buffered records and writes them to the segment, holding only the
    /// segment's lock while writing.
    fn write_buffer(&self) {
        let mut segment = self.segment();
        let (mut records, last) = {
            let mut st = self.lock();
            if st.buffer.is_empty() || st.failed.is_some() {
                return;
            }
            let spare = std::mem::take(&mut segment.spare);
            (std::mem::replace(&mut st.buffer, spare), st.next_seq - 1)
        };
        let wrote = segment.write(&records, ZERO_AHEAD.min(self.segment_limit));
        {
            let mut st = self.lock();
            match wrote {
                Ok(()) => {
                    st.written = last;
                    // The writer may have found the buffer empty (taken here) and nothing
                    // written that was not synced (not yet recorded here), and gone idle:
                    // these records still need their sync.
                    if st.writer_idle {
                        self.work.notify_one();
                    }
                }
                // The records were never acknowledged: their waiters get the error.
                Err(e) => self.fail(&mut st, format!("writing the journal: {e}")),
            }
        }
        records.clear();
        segment.spare = records;
    }

    fn fail(&self, st: &mut State, error: String) {
        tracing::error!("the store's journal failed; writes are refused until a restart: {error}");
        st.failed = Some(error);
        self.progress.send_replace(Progress {
            durable: st.durable,
            failed: true,
        });
        self.synced.notify_all();
    }

    /// The writer thread's loop: write out, sync, wake the waiters; start a new segment
    /// when the current one is big. Returns when [`Journal::stop`] was called and
    /// everything appended before it is on disk.
    pub(super) fn run_writer(&self) {
        loop {
            {
                let mut st = self.lock();
                while st.buffer.is_empty() && st.written == st.durable && !st.stopping {
                    st.writer_idle = true;
                    st = self.work.wait(st).unwrap_or_else(|e| e.into_inner());
                    st.writer_idle = false;
                }
            }
            self.write_buffer();
            // Only this thread changes the segment's file, so every record up to `target`
            // is in `file`.
            let file = self.segment().file.clone();
            let target = {
                let st = self.lock();
                if st.failed.is_some() {
                    return;
                }
                if st.written == st.durable {
                    // Stopping, and nothing left to sync.
                    return;
                }
                st.written
            };
            if !self.record_sync(target, file.sync_data()) {
                return;
            }
            self.start_new_segment_if_full();
        }
    }

    /// Records that every record up to `target` was synced (or that the sync failed, and
    /// returns false), and wakes the waiters.
    fn record_sync(&self, target: u64, synced: std::io::Result<()>) -> bool {
        let mut st = self.lock();
        if let Err(e) = synced {
            self.fail(&mut st, format!("syncing the journal: {e}"));
            return false;
        }
        st.durable = st.durable.max(target);
        self.progress.send_replace(Progress {
            durable: st.durable,
            failed: false,
        });
        self.synced.notify_all();
        true
    }

    /// Starts a new segment when the current one is full. Records written to it since the
    /// last sync are synced first, holding the segment's lock so that no more arrive:
    /// otherwise a reader calling [`Journal::write_out`] under steady load could keep the
    /// segment from ever being full and synced at once, and it would grow without end.
    fn start_new_segment_if_full(&self) {
        let mut segment = self.segment();
        if segment.bytes < self.segment_limit {
            return;
        }
        // Whoever writes to the segment records `written` before letting go of its lock.
        let (written, durable) = {
            let st = self.lock();
            if st.failed.is_some() {
                return;
            }
            (st.written, st.durable)
        };
        if written != durable && !self.record_sync(written, segment.file.sync_data()) {
            return;
        }
        match new_segment(&self.dir, written + 1) {
            Ok(file) => {
                let spare = std::mem::take(&mut segment.spare);
                *segment = Segment {
                    spare,
                    ..Segment::new(file)
                };
            }
            Err(e) => tracing::warn!("cannot start a new journal segment: {e}"),
        }
    }

    /// Asks the writer thread to sync what is left and return.
    pub(super) fn stop(&self) {
        self.lock().stopping = true;
        self.work.notify_all();
    }

    /// Deletes the segments whose records are all at or before `applied`: the newest
    /// segment starting at or before `applied + 1` may still hold later records.
    pub(super) fn remove_applied(&self, applied: u64) -> std::io::Result<()> {
        for pair in segments(&self.dir)?.windows(2) {
            let (first, next) = (&pair[0], &pair[1]);
            if next.0 <= applied + 1 {
                std::fs::remove_file(&first.1)?;
            }
        }
        Ok(())
    }
}

fn segment_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("{first_seq:020}.log"))
}

fn new_segment(dir: &Path, first_seq: u64) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(segment_path(dir, first_seq))?;
    // The new name must survive a crash too.
    File::open(dir)?.sync_all()?;
    Ok(file)
}

/// The segment files in `dir`, oldest first, with their first sequence numbers.
pub(super) fn segments(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let path = entry?.path();
        let first = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(first) = first {
            out.push((first, path));
        }
    }
    out.sort();
    Ok(out)
}

pub(super) fn encode_record(buf: &mut Vec<u8>, seq: u64, ops: &[Op]) {
    let start = buf.len();
    buf.extend_from_slice(&[0; 8]);
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(&(ops.len() as u32).to_le_bytes());
    for op in ops {
        let put_bytes = |buf: &mut Vec<u8>, bytes: &[u8]| {
            buf.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            buf.extend_from_slice(bytes);
        };
        match op {
            Op::Put { tree, key, value } => {
                buf.extend_from_slice(&[*tree, 1]);
                put_bytes(buf, key);
                put_bytes(buf, value);
            }
            Op::Remove { tree, key } => {
                buf.extend_from_slice(&[*tree, 0]);
                put_bytes(buf, key);
            }
        }
    }
    let payload = &buf[start + 8..];
    let len = (payload.len() as u32).to_le_bytes();
    let crc = crc32fast::hash(payload).to_le_bytes();
    buf[start..start + 4].copy_from_slice(&len);
    buf[start + 4..start + 8].copy_from_slice(&crc);
}

/// Why reading stopped before the end of a segment.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Tail {
    /// The segment ended on a record boundary.
    Clean,
    /// A torn or corrupt record starts at [`Reader::position`].
    Torn,
}

fn decode_payload(payload: &[u8]) -> Option<(u64, Vec<Op>)> {
    let mut at = 0usize;
    let mut take = |n: usize| -> Option<&[u8]> {
        let slice = payload.get(at..at.checked_add(n)?)?;
        at += n;
        Some(slice)
    };
    let seq = u64::from_le_bytes(take(8)?.try_into().ok()?);
    let count = u32::from_le_bytes(take(4)?.try_into().ok()?);
    let mut ops = Vec::with_capacity(count.min(1024) as usize);
    for _ in 0..count {
        let head = take(2)?;
        let (tree, kind) = (head[0], head[1]);
        let len = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
        let key = take(len)?.to_vec();
        if kind == 1 {
            let len = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
            let value = take(len)?.to_vec();
            ops.push(Op::Put { tree, key, value });
        } else {
            ops.push(Op::Remove { tree, key });
        }
    }
    (at == payload.len()).then_some((seq, ops))
}

/// Reads the records of the journal in order, one segment after another, from a given
/// position; used both by recovery and to keep the sled trees up to date.
pub(super) struct Reader {
    dir: PathBuf,
    /// The segment being read: its first sequence number and a reader at `offset`.
    segment: Option<(u64, BufReader<File>)>,
    offset: u64,
    /// The last record read.
    pub(super) last: u64,
}

impl Reader {
    pub(super) fn new(dir: &Path, last: u64) -> Reader {
        Reader {
            dir: dir.to_path_buf(),
            segment: None,
            offset: 0,
            last,
        }
    }

    /// Calls `apply` for every record after `self.last` up to `until`, in order. Records
    /// up to `until` must have been written out. Returns the tail state of the segment it
    /// stopped in (only recovery cares: elsewhere the records are complete).
    pub(super) fn read_until(
        &mut self,
        until: u64,
        apply: &mut dyn FnMut(u64, Vec<Op>) -> StoreResult<()>,
    ) -> StoreResult<Tail> {
        while self.last < until {
            if self.segment.is_none() && !self.open_segment()? {
                return Ok(Tail::Clean);
            }
            match self.next_record()? {
                Some((seq, ops)) => {
                    if seq > self.last {
                        apply(seq, ops)?;
                        self.last = seq;
                    }
                }
                None => {
                    // End of this segment: a later one continues, if there is one.
                    let tail = self.tail()?;
                    let current = self.segment.as_ref().map_or(0, |s| s.0);
                    let later = segments(&self.dir)
                        .map_err(StoreError::Journal)?
                        .into_iter()
                        .any(|(first, _)| first > current);
                    if !later || tail != Tail::Clean {
                        return Ok(tail);
                    }
                    self.segment = None;
                }
            }
        }
        Ok(Tail::Clean)
    }

    /// Opens the segment holding the record after `self.last`: the newest one starting at
    /// or before it. Should the records continue only in a later segment (a gap this code
    /// never makes), recovery still applies what is there rather than losing it.
    fn open_segment(&mut self) -> StoreResult<bool> {
        let all = segments(&self.dir).map_err(StoreError::Journal)?;
        let current = self.segment.as_ref().map(|s| s.0);
        let pick = all
            .iter()
            .rfind(|(first, _)| *first <= self.last + 1 && Some(*first) > current)
            .or_else(|| all.iter().find(|(first, _)| Some(*first) > current));
        let Some((first, path)) = pick else {
            return Ok(false);
        };
        let file = File::open(path).map_err(StoreError::Journal)?;
        self.segment = Some((*first, BufReader::with_capacity(256 * 1024, file)));
        self.offset = 0;
        Ok(true)
    }

    /// The path and offset of the record about to be read: where a torn tail starts.
    pub(super) fn position(&self) -> Option<(PathBuf, u64)> {
        self.segment
            .as_ref()
            .map(|(first, _)| (segment_path(&self.dir, *first), self.offset))
    }

    fn tail(&mut self) -> StoreResult<Tail> {
        let Some((_, reader)) = self.segment.as_mut() else {
            return Ok(Tail::Clean);
        };
        // Peek, without consuming: the reader stays at the record boundary. The records end
        // at the end of the file or where the zeros written ahead of them begin.
        let rest = reader.fill_buf().map_err(StoreError::Journal)?;
        match rest.iter().take(4).all(|b| *b == 0) {
            true => Ok(Tail::Clean),
            false => Ok(Tail::Torn),
        }
    }

    /// The next complete, intact record, or None at the end (or at a torn record, which
    /// [`Reader::tail`] then reports). With None, the reader is back at the start of the
    /// record it could not read.
    fn next_record(&mut self) -> StoreResult<Option<(u64, Vec<Op>)>> {
        // Twice: what the reader buffered may be zeros the writer has written records over
        // since, so a miss reads once more, from the file.
        for _ in 0..2 {
            if let Some(record) = self.read_record()? {
                return Ok(Some(record));
            }
            // Back to the record boundary, dropping the buffer.
            if let Some((_, reader)) = self.segment.as_mut() {
                reader
                    .seek(SeekFrom::Start(self.offset))
                    .map_err(StoreError::Journal)?;
            }
        }
        Ok(None)
    }

    /// The record at the reader's position, if it is complete and intact; None at the end
    /// of the file, at the zeros past the last record, or at a torn record.
    fn read_record(&mut self) -> StoreResult<Option<(u64, Vec<Op>)>> {
        let Some((_, reader)) = self.segment.as_mut() else {
            return Ok(None);
        };
        let mut head = [0u8; 8];
        if !read_exact_or_end(reader, &mut head)? {
            return Ok(None);
        }
        let len = u32::from_le_bytes(head[0..4].try_into().unwrap_or_default()) as usize;
        let crc = u32::from_le_bytes(head[4..8].try_into().unwrap_or_default());
        if len == 0 {
            return Ok(None);
        }
        let mut payload = vec![0u8; len];
        if !read_exact_or_end(reader, &mut payload)? {
            return Ok(None);
        }
        let intact = crc32fast::hash(&payload) == crc;
        let record = intact.then(|| decode_payload(&payload)).flatten();
        if record.is_some() {
            self.offset += 8 + len as u64;
        }
        Ok(record)
    }
}

/// Fills `buf`; false when the input ended first.
fn read_exact_or_end(reader: &mut BufReader<File>, buf: &mut [u8]) -> StoreResult<bool> {
    match reader.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(StoreError::Journal(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let ops = vec![
            Op::put(1, b"key".to_vec(), b"value".to_vec()),
            Op::remove(3, 7u64.to_be_bytes().to_vec()),
            Op::put(0, Vec::new(), Vec::new()),
        ];
        let mut buf = Vec::new();
        encode_record(&mut buf, 42, &ops);
        let len = u32::from_le_bytes(buf[0..4].try_into().unwrap()) as usize;
        assert_eq!(buf.len(), 8 + len);
        assert_eq!(decode_payload(&buf[8..]), Some((42, ops)));
        // A payload cut short does not decode.
        assert_eq!(decode_payload(&buf[8..buf.len() - 1]), None);
    }

    /// Segments are zero-filled ahead of their records: the zeros end the records cleanly,
    /// and a record cut short before them is a torn tail.
    #[test]
    fn zeros_past_the_records_end_them_cleanly() {
        let read = |bytes: &[u8]| {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(segment_path(dir.path(), 1), bytes).unwrap();
            let mut reader = Reader::new(dir.path(), 0);
            let mut seqs = Vec::new();
            let tail = reader
                .read_until(u64::MAX, &mut |seq, _| {
                    seqs.push(seq);
                    Ok(())
                })
                .unwrap();
            (seqs, tail)
        };
        let mut whole = Vec::new();
        encode_record(&mut whole, 1, &[Op::put(0, b"a".to_vec(), b"1".to_vec())]);
        encode_record(&mut whole, 2, &[Op::remove(1, b"b".to_vec())]);
        let mut zeros = whole.clone();
        zeros.resize(whole.len() + 4096, 0);
        assert_eq!(read(&zeros), (vec![1, 2], Tail::Clean));

        let mut third = Vec::new();
        encode_record(&mut third, 3, &[Op::put(0, b"c".to_vec(), vec![7; 64])]);
        let mut torn = whole.clone();
        torn.extend_from_slice(&third[..third.len() / 2]);
        torn.resize(torn.len() + 4096, 0);
        assert_eq!(read(&torn), (vec![1, 2], Tail::Torn));
    }

    /// The writer fills the segment with zeros ahead of what it writes, and a reader finds
    /// every record, and a clean end, after a sync.
    #[test]
    fn the_writer_writes_records_over_zeros() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path(), 0).unwrap();
        let writer = {
            let journal = journal.clone();
            std::thread::spawn(move || journal.run_writer())
        };
        let mut last = 0;
        for i in 0..10u32 {
            last = journal
                .append(|_| vec![Op::put(0, i.to_be_bytes().to_vec(), vec![1; 100])])
                .unwrap();
        }
        journal.wait_durable(last).unwrap();
        let path = segment_path(dir.path(), 1);
        let len = std::fs::metadata(&path).unwrap().len();
        assert!(
            len >= ZERO_AHEAD,
            "the segment is filled ahead: {len} bytes"
        );
        let mut reader = Reader::new(dir.path(), 0);
        let tail = reader.read_until(u64::MAX, &mut |_, _| Ok(())).unwrap();
        assert_eq!((reader.last, tail), (10, Tail::Clean));
        journal.stop();
        writer.join().unwrap();
    }

    /// A write to the file in progress (which the OS can hold up, e.g. while it flushes its
    /// page cache) does not hold up appends.
    #[test]
    fn an_append_does_not_wait_for_a_write_in_progress() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path(), 0).unwrap();
        let writing = journal.segment();
        let (appended, rx) = std::sync::mpsc::channel();
        {
            let journal = journal.clone();
            std::thread::spawn(move || {
                let _ = appended.send(journal.append(|_| vec![Op::remove(0, b"k".to_vec())]));
            });
        }
        let seq = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the append returned while the file was being written");
        assert_eq!(seq.unwrap(), 1);
        drop(writing);
    }

    /// A reader writing records out between the writer's syncs must not keep a full
    /// segment from being closed: the records written meanwhile are synced, then the next
    /// segment starts after them.
    #[test]
    fn a_full_segment_is_closed_even_with_records_written_since_its_last_sync() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::with_segment_limit(dir.path(), 0, 64).unwrap();
        for i in 0..3u8 {
            journal
                .append(|seq| vec![Op::put(0, seq.to_be_bytes(), vec![i; 40])])
                .unwrap();
        }
        assert_eq!(journal.write_out().unwrap(), 3);
        assert_eq!(journal.lock().durable, 0, "nothing synced yet");
        journal.start_new_segment_if_full();
        assert_eq!(journal.lock().durable, 3);
        let firsts: Vec<u64> = segments(dir.path()).unwrap().iter().map(|s| s.0).collect();
        assert_eq!(firsts, vec![1, 4]);
        journal
            .append(|seq| vec![Op::remove(0, seq.to_be_bytes().to_vec())])
            .unwrap();
        assert_eq!(journal.write_out().unwrap(), 4);
        let mut reader = Reader::new(dir.path(), 0);
        let mut seqs = Vec::new();
        let tail = reader
            .read_until(4, &mut |seq, _| {
                seqs.push(seq);
                Ok(())
            })
            .unwrap();
        assert_eq!((tail, seqs), (Tail::Clean, vec![1, 2, 3, 4]));
    }

    /// Writers append while a reader applies, across many segment changes; the reader sees
    /// every record once, in order, and applied segments can be removed under it.
    #[test]
    fn a_reader_follows_the_writers_across_segments() {
        follow(4096, 20, 1500);
    }

    #[test]
    fn big_records_big_segments() {
        follow(1 << 20, 400, 4000);
    }

    fn follow(limit: u64, size: usize, per_thread: u32) {
        let total = 2 * per_thread as u64;
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::with_segment_limit(dir.path(), 0, limit).unwrap();
        let writer = {
            let journal = journal.clone();
            std::thread::spawn(move || journal.run_writer())
        };
        let appenders: Vec<_> = (0..2u8)
            .map(|t| {
                let journal = journal.clone();
                std::thread::spawn(move || {
                    for i in 0..per_thread {
                        let seq = journal
                            .append(|seq| {
                                vec![Op::put(t, seq.to_be_bytes(), i.to_le_bytes().repeat(size))]
                            })
                            .unwrap();
                        if i % 100 == 0 {
                            journal.wait_durable(seq).unwrap();
                        }
                    }
                })
            })
            .collect();
        let mut reader = Reader::new(dir.path(), 0);
        let mut seen = 0u64;
        let mut check = |seq: u64, ops: Vec<Op>| {
            seen += 1;
            assert_eq!(seq, seen, "records come in order, each once");
            match &ops[..] {
                [Op::Put { key, .. }] => assert_eq!(key, &seq.to_be_bytes()),
                other => panic!("unexpected ops {other:?}"),
            }
            Ok(())
        };
        while reader.last < total {
            let written = journal.write_out().unwrap();
            let tail = reader.read_until(written, &mut check).unwrap();
            assert_eq!(tail, Tail::Clean);
            assert_eq!(reader.last, written);
            journal.remove_applied(reader.last).unwrap();
        }
        for a in appenders {
            a.join().unwrap();
        }
        journal.stop();
        writer.join().unwrap();
        // The journal moved on to new segments, and the applied ones are gone.
        assert!(segments(dir.path()).unwrap()[0].0 > 1);
    }
}
