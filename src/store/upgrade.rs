//! Opening a data directory written by a release that kept a journal of its own in front of
//! sled (`journal/*.log`): the records it had not yet checkpointed into sled are applied
//! once, sled is flushed, and only then is the journal removed. Reading only: nothing here
//! writes the old format.
//!
//! The old format: segments `journal/{first seq:020}.log` of records
//! `[payload length u32 LE][crc32 of payload u32 LE][payload]`, the payload
//! `[seq u64 LE][op count u32 LE]` and per op `[tree u8][kind u8][key len u32][key]` and,
//! for a put (kind 1), `[value len u32][value]`. A record of length 0 (the zeros written
//! ahead of the records) ends a segment. The meta tree's `journal_applied` holds the last
//! record known to be in sled's files.
//!
//! A torn record can only be the last one of the last segment (a crash while it was being
//! written: it was never acknowledged) and is dropped. A bad record anywhere else means the
//! journal is damaged: the upgrade stops with the file and the offset, and removes nothing.

use super::{StoreError, StoreResult};
use std::path::{Path, PathBuf};

/// The meta tree's key for the last journal record known to be in sled's files.
const CHECKPOINT: &[u8] = b"journal_applied";

/// One change recorded by the old journal.
enum Change {
    Put(u8, Vec<u8>, Vec<u8>),
    Remove(u8, Vec<u8>),
}

/// Applies what `dir/journal` holds past the checkpoint to `trees` (indexed as the old
/// journal numbered them), flushes, and removes the journal. Returns how many records were
/// applied; 0, and nothing done, when there is no journal.
pub(super) fn apply_old_journal(
    dir: &Path,
    db: &sled::Db,
    trees: &[sled::Tree],
) -> StoreResult<usize> {
    let journal = dir.join("journal");
    let segments = segments(&journal)?;
    if segments.is_empty() {
        if journal.is_dir() {
            std::fs::remove_dir_all(&journal).map_err(StoreError::Journal)?;
        }
        return Ok(0);
    }
    let meta = db.open_tree("meta")?;
    let checkpoint = meta
        .get(CHECKPOINT)?
        .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes))
        .unwrap_or(0);
    let mut applied = 0;
    let last_segment = segments.len() - 1;
    for (i, path) in segments.iter().enumerate() {
        let bytes = std::fs::read(path).map_err(StoreError::Journal)?;
        let mut at = 0usize;
        while let Some(head) = bytes.get(at..at + 8) {
            let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
            let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
            if len == 0 {
                break;
            }
            let record = bytes
                .get(at + 8..at + 8 + len)
                .filter(|payload| crc32fast::hash(payload) == crc)
                .and_then(decode);
            let Some((seq, changes)) = record else {
                if i == last_segment {
                    tracing::warn!(
                        file = %path.display(),
                        offset = at,
                        "the old journal ends in a record that was never completed (a crash while writing it); it was never acknowledged and is dropped"
                    );
                    break;
                }
                return Err(StoreError::Journal(std::io::Error::other(format!(
                    "{} is damaged at offset {at}, before later segments: the data directory was not upgraded and nothing was removed; keep a copy of it and report this",
                    path.display()
                ))));
            };
            at += 8 + len;
            if seq <= checkpoint {
                continue;
            }
            for change in changes {
                let tree = |t: u8| {
                    trees.get(usize::from(t)).ok_or_else(|| {
                        StoreError::Journal(std::io::Error::other(format!(
                            "{}: a record names tree {t}, which does not exist",
                            path.display()
                        )))
                    })
                };
                match change {
                    Change::Put(t, key, value) => {
                        tree(t)?.insert(key, value)?;
                    }
                    Change::Remove(t, key) => {
                        tree(t)?.remove(key)?;
                    }
                }
            }
            applied += 1;
        }
    }
    db.flush()?;
    meta.remove(CHECKPOINT)?;
    db.flush()?;
    std::fs::remove_dir_all(&journal).map_err(StoreError::Journal)?;
    tracing::info!(
        records = applied,
        "upgraded the data directory: applied the old journal's records to sled and removed journal/"
    );
    Ok(applied)
}

/// The segment files in `dir`, oldest first.
fn segments(dir: &Path) -> StoreResult<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::Journal(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.map_err(StoreError::Journal)?.path();
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
    Ok(out.into_iter().map(|(_, p)| p).collect())
}

fn decode(payload: &[u8]) -> Option<(u64, Vec<Change>)> {
    let mut at = 0usize;
    let mut take = |n: usize| -> Option<&[u8]> {
        let slice = payload.get(at..at.checked_add(n)?)?;
        at += n;
        Some(slice)
    };
    let seq = u64::from_le_bytes(take(8)?.try_into().ok()?);
    let count = u32::from_le_bytes(take(4)?.try_into().ok()?);
    let mut changes = Vec::with_capacity(count.min(1024) as usize);
    for _ in 0..count {
        let head = take(2)?;
        let (tree, kind) = (head[0], head[1]);
        let len = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
        let key = take(len)?.to_vec();
        if kind == 1 {
            let len = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
            changes.push(Change::Put(tree, key, take(len)?.to_vec()));
        } else {
            changes.push(Change::Remove(tree, key));
        }
    }
    (at == payload.len()).then_some((seq, changes))
}
