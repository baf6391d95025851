//! The model-free core of batches: chunking, de-duplication, sending chunks with bounded
//! concurrency, and resending unprocessed items with backoff until the retry budget is spent.

use std::collections::HashMap;
use std::hash::Hash;
use std::ops::Range;

use aws_sdk_dynamodb::types::{KeysAndAttributes, ReturnConsumedCapacity, WriteRequest};

use super::fanout::run_bounded;
use crate::db::Db;
use crate::error::{Error, Item};
use crate::exec;
use crate::key::{KeyScope, StoredKey};

/// Keys per BatchGetItem.
pub(crate) const GET_CHUNK: usize = 100;
/// Requests per BatchWriteItem.
pub(crate) const WRITE_CHUNK: usize = 25;
/// Chunks in flight at once, unless a batch says otherwise.
pub(crate) const DEFAULT_CONCURRENCY: usize = 4;

/// Splits `0..n` into consecutive ranges of at most `size` (`size` of 0 counts as 1).
pub(crate) fn chunks(n: usize, size: usize) -> Vec<Range<usize>> {
    let size = size.max(1);
    (0..n)
        .step_by(size)
        .map(|start| start..(start + size).min(n))
        .collect()
}

/// Splits `items` along `ranges` (from [`chunks`]), keeping each item's position in `items`.
fn indexed_chunks<T>(items: Vec<T>, ranges: &[Range<usize>]) -> Vec<Vec<(usize, T)>> {
    let mut items = items.into_iter().enumerate();
    ranges
        .iter()
        .map(|r| items.by_ref().take(r.len()).collect())
        .collect()
}

/// De-duplicates `keys`, keeping first occurrences in order. Returns the distinct keys and, for
/// each input position, the index of its key among them.
pub(crate) fn dedup<K: Hash + Eq + Clone>(keys: &[K]) -> (Vec<K>, Vec<usize>) {
    let mut seen: HashMap<&K, usize> = HashMap::with_capacity(keys.len());
    let mut distinct = Vec::new();
    let mut positions = Vec::with_capacity(keys.len());
    for k in keys {
        let idx = *seen.entry(k).or_insert_with(|| {
            distinct.push(k.clone());
            distinct.len() - 1
        });
        positions.push(idx);
    }
    (distinct, positions)
}

/// What a batched read got.
#[derive(Debug)]
pub(crate) struct RawGet {
    /// Per key: the item, `None` when missing or not processed.
    pub(crate) found: Vec<Option<Item>>,
    /// Indexes of keys not processed (budget spent, or their chunk failed).
    pub(crate) unprocessed: Vec<usize>,
    /// The first error that stopped a chunk.
    pub(crate) error: Option<Error>,
}

/// Reads distinct `keys` with BatchGetItem: chunks of 100, `concurrency` chunks at
/// once, unprocessed keys resent with backoff under `db`'s retry policy.
pub(crate) async fn get_raw(
    db: &Db,
    scope: &KeyScope,
    model: &'static str,
    keys: Vec<StoredKey>,
    consistent: bool,
    concurrency: usize,
) -> RawGet {
    let n = keys.len();
    let ranges = chunks(n, GET_CHUNK);
    let tasks: Vec<_> = indexed_chunks(keys, &ranges)
        .into_iter()
        .map(|chunk| get_chunk(db.clone(), scope.clone(), model, chunk, consistent))
        .collect();
    let results = run_bounded(tasks, concurrency).await;
    let mut out = RawGet {
        found: (0..n).map(|_| None).collect(),
        unprocessed: Vec::new(),
        error: None,
    };
    for (range, result) in ranges.into_iter().zip(results) {
        match result {
            Some(chunk) => {
                for (i, item) in chunk.found {
                    if let Some(slot) = out.found.get_mut(i) {
                        *slot = Some(item);
                    }
                }
                out.unprocessed.extend(chunk.unprocessed);
                if out.error.is_none() {
                    out.error = chunk.error;
                }
            }
            None => out.unprocessed.extend(range),
        }
    }
    out.unprocessed.sort_unstable();
    out
}

struct ChunkGet {
    found: Vec<(usize, Item)>,
    unprocessed: Vec<usize>,
    error: Option<Error>,
}

async fn get_chunk(
    db: Db,
    scope: KeyScope,
    model: &'static str,
    chunk: Vec<(usize, StoredKey)>,
    consistent: bool,
) -> ChunkGet {
    let policy = db.retry_policy();
    let mut by_key: HashMap<StoredKey, usize> = HashMap::with_capacity(chunk.len());
    let mut pending: Vec<Item> = Vec::with_capacity(chunk.len());
    for (i, key) in chunk {
        pending.push(key.to_item());
        by_key.insert(key, i);
    }
    let mut found = Vec::new();
    let mut round: u32 = 1;
    loop {
        let request = KeysAndAttributes::builder()
            .set_keys(Some(pending.clone()))
            .consistent_read(consistent)
            .build();
        let request = match request {
            Ok(r) => r,
            Err(e) => {
                return ChunkGet {
                    found,
                    unprocessed: pending_indexes(&pending, &by_key),
                    error: Some(Error::invalid_request(model, e.to_string())),
                }
            }
        };
        let fluent = db
            .client()
            .batch_get_item()
            .request_items(db.table(), request)
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        let out =
            match exec::send(&db, "BatchGetItem", model, &scope, || fluent.clone().send()).await {
                Ok(out) => out,
                Err(e) => {
                    return ChunkGet {
                        found,
                        unprocessed: pending_indexes(&pending, &by_key),
                        error: Some(Error::dynamo("BatchGetItem", e.into_service_error())),
                    }
                }
            };
        let mut responses = out.responses.unwrap_or_default();
        for item in responses.remove(db.table()).unwrap_or_default() {
            match StoredKey::of(&item).and_then(|k| by_key.get(&k).copied()) {
                Some(i) => found.push((i, item)),
                None => {
                    return ChunkGet {
                        found,
                        unprocessed: pending_indexes(&pending, &by_key),
                        error: Some(Error::MalformedItem {
                            model,
                            reason: "BatchGetItem returned an item that was not asked for".into(),
                        }),
                    }
                }
            }
        }
        pending = out
            .unprocessed_keys
            .unwrap_or_default()
            .remove(db.table())
            .map(|k| k.keys)
            .unwrap_or_default();
        if pending.is_empty() {
            return ChunkGet {
                found,
                unprocessed: Vec::new(),
                error: None,
            };
        }
        if !policy.may_retry(round) {
            tracing::warn!(
                model,
                keys = pending.len(),
                rounds = round,
                "dynabao: BatchGetItem keys still unprocessed after the retry budget"
            );
            return ChunkGet {
                found,
                unprocessed: pending_indexes(&pending, &by_key),
                error: None,
            };
        }
        tracing::debug!(
            model,
            keys = pending.len(),
            round,
            "dynabao: resending unprocessed keys"
        );
        tokio::time::sleep(policy.delay(round)).await;
        round += 1;
    }
}

fn pending_indexes(pending: &[Item], by_key: &HashMap<StoredKey, usize>) -> Vec<usize> {
    pending
        .iter()
        .filter_map(|k| StoredKey::of(k).and_then(|k| by_key.get(&k).copied()))
        .collect()
}

/// What a batched write left undone.
#[derive(Debug, Default)]
pub(crate) struct RawWrite {
    /// Indexes of requests not confirmed written.
    pub(crate) unprocessed: Vec<usize>,
    /// The indexes among `unprocessed` that were in a request whose answer was lost: they may
    /// have been written.
    pub(crate) unknown: Vec<usize>,
    /// The first error that stopped a chunk.
    pub(crate) error: Option<Error>,
}

/// Writes `requests` (distinct keys) with BatchWriteItem: chunks of 25, `concurrency` chunks at
/// once, unprocessed requests resent with backoff under `db`'s retry policy.
pub(crate) async fn write_raw(
    db: &Db,
    scope: &KeyScope,
    model: &'static str,
    requests: Vec<WriteRequest>,
    concurrency: usize,
) -> RawWrite {
    let n = requests.len();
    let ranges = chunks(n, WRITE_CHUNK);
    let tasks: Vec<_> = indexed_chunks(requests, &ranges)
        .into_iter()
        .map(|chunk| write_chunk(db.clone(), scope.clone(), model, chunk))
        .collect();
    let results = run_bounded(tasks, concurrency).await;
    let mut out = RawWrite::default();
    for (range, result) in ranges.into_iter().zip(results) {
        match result {
            Some(chunk) => {
                out.unprocessed.extend(chunk.unprocessed);
                out.unknown.extend(chunk.unknown);
                if out.error.is_none() {
                    out.error = chunk.error;
                }
            }
            // The chunk's task ended without an answer: it may have sent its request.
            None => {
                out.unprocessed.extend(range.clone());
                out.unknown.extend(range);
            }
        }
    }
    out.unprocessed.sort_unstable();
    out.unknown.sort_unstable();
    out
}

/// The key a write request addresses.
pub(crate) fn write_key(w: &WriteRequest) -> Option<StoredKey> {
    match (w.put_request(), w.delete_request()) {
        (Some(p), _) => StoredKey::of(p.item()),
        (_, Some(d)) => StoredKey::of(d.key()),
        _ => None,
    }
}

async fn write_chunk(
    db: Db,
    scope: KeyScope,
    model: &'static str,
    chunk: Vec<(usize, WriteRequest)>,
) -> RawWrite {
    let policy = db.retry_policy();
    let mut by_key: HashMap<StoredKey, usize> = HashMap::with_capacity(chunk.len());
    let mut pending: Vec<WriteRequest> = Vec::with_capacity(chunk.len());
    for (i, w) in chunk {
        if let Some(k) = write_key(&w) {
            by_key.insert(k, i);
        }
        pending.push(w);
    }
    let indexes = |pending: &[WriteRequest]| -> Vec<usize> {
        pending
            .iter()
            .filter_map(|w| write_key(w).and_then(|k| by_key.get(&k).copied()))
            .collect()
    };
    let mut round: u32 = 1;
    loop {
        let fluent = db
            .client()
            .batch_write_item()
            .request_items(db.table(), pending.clone())
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        let tracked = exec::send_tracked(&db, "BatchWriteItem", model, &scope, || {
            fluent.clone().send()
        })
        .await;
        let unknown = tracked.outcome_unknown();
        let out = match tracked.result {
            Ok(out) => out,
            Err(e) => {
                let unprocessed = indexes(&pending);
                return RawWrite {
                    unknown: if unknown {
                        unprocessed.clone()
                    } else {
                        Vec::new()
                    },
                    unprocessed,
                    error: Some(Error::dynamo("BatchWriteItem", e.into_service_error())),
                };
            }
        };
        pending = out
            .unprocessed_items
            .unwrap_or_default()
            .remove(db.table())
            .unwrap_or_default();
        if pending.is_empty() {
            return RawWrite::default();
        }
        if !policy.may_retry(round) {
            tracing::warn!(
                model,
                items = pending.len(),
                rounds = round,
                "dynabao: BatchWriteItem items still unprocessed after the retry budget"
            );
            return RawWrite {
                unprocessed: indexes(&pending),
                unknown: Vec::new(),
                error: None,
            };
        }
        tracing::debug!(
            model,
            items = pending.len(),
            round,
            "dynabao: resending unprocessed items"
        );
        tokio::time::sleep(policy.delay(round)).await;
        round += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn chunk_boundaries() {
        assert_eq!(chunks(0, 100), Vec::<Range<usize>>::new());
        assert_eq!(chunks(100, 100), vec![0..100]);
        assert_eq!(chunks(101, 100), vec![0..100, 100..101]);
        assert_eq!(chunks(60, 25), vec![0..25, 25..50, 50..60]);
        assert_eq!(chunks(3, 0), vec![0..1, 1..2, 2..3]);
    }

    #[test]
    fn dedup_keeps_first_occurrences() {
        let (d, pos) = dedup(&["a", "b", "a", "c", "b"]);
        assert_eq!(d, ["a", "b", "c"]);
        assert_eq!(pos, [0, 1, 0, 2, 1]);
    }

    proptest! {
        #[test]
        fn chunks_cover_everything_once(n in 0usize..1000, size in 1usize..150) {
            let rs = chunks(n, size);
            prop_assert_eq!(rs.len(), n.div_ceil(size));
            let mut next = 0;
            for r in &rs {
                prop_assert_eq!(r.start, next);
                prop_assert!(r.end > r.start && r.end - r.start <= size);
                next = r.end;
            }
            prop_assert_eq!(next, n);
        }

        #[test]
        fn indexed_chunks_keep_positions(n in 0usize..300, size in 1usize..40) {
            let items: Vec<usize> = (0..n).map(|i| i * 10).collect();
            let ranges = chunks(n, size);
            let split = indexed_chunks(items, &ranges);
            prop_assert_eq!(split.len(), ranges.len());
            for (chunk, r) in split.iter().zip(&ranges) {
                prop_assert_eq!(chunk.iter().map(|(i, _)| *i).collect::<Vec<_>>(), r.clone().collect::<Vec<_>>());
                prop_assert!(chunk.iter().all(|(i, v)| *v == i * 10));
            }
        }

        #[test]
        fn dedup_round_trips(keys in prop::collection::vec(0u8..20, 0..200)) {
            let (d, pos) = dedup(&keys);
            prop_assert_eq!(pos.len(), keys.len());
            for (k, p) in keys.iter().zip(&pos) {
                prop_assert_eq!(&d[*p], k);
            }
            let distinct: std::collections::HashSet<_> = keys.iter().collect();
            prop_assert_eq!(d.len(), distinct.len());
        }
    }
}
