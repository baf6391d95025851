//! Streaming a large query holds one page in memory, not the result.
//!
//! Its own test binary because it installs a counting global allocator. Writes 20,000 items,
//! then walks them with `stream()` (pages of 200) while tracking the live heap, and compares the
//! peak with collecting everything through `all()`. The figures are printed
//! (`cargo test --all-features --test stream_memory -- --nocapture`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use dynabao::testkit::{fresh_db, fresh_tenant};
use dynabao::{Error, Model, TenantContext};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are updated.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live =
                LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed) + layout.size() as isize;
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Resets the peak to the current live heap and returns that baseline.
fn reset_peak() -> isize {
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    live
}

#[derive(Debug, Clone, Serialize, Deserialize, Model)]
#[bao(prefix = "row")]
struct Row {
    #[bao(pk)]
    bucket: String,
    #[bao(sk)]
    n: u32,
    payload: String,
}

const ITEMS: u32 = 20_000;
const PAGE: u32 = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_twenty_thousand_items_holds_one_page() -> Result<(), Error> {
    let db = fresh_db().await?;
    let tenant = fresh_tenant();
    TenantContext::run_with_tenant(&tenant, async {
        futures::stream::iter(0..ITEMS)
            .map(|n| {
                let db = db.clone();
                dynabao::tenant::spawn_in_tenant(async move {
                    let row = Row { bucket: "b".into(), n, payload: "x".repeat(200) };
                    Row::create(&db, row).await.map(|_| ())
                })
            })
            .buffer_unordered(64)
            .map(|joined| joined.map_err(|e| Error::TestKit(e.to_string()))?)
            .try_collect::<()>()
            .await?;

        let base = reset_peak();
        let mut seen = 0u32;
        let mut stream = Row::query(&db, "b").limit(PAGE).stream();
        while let Some(row) = stream.next().await {
            let row = row?;
            assert_eq!(row.n, seen);
            seen += 1;
        }
        drop(stream);
        let streamed_peak = PEAK.load(Ordering::Relaxed) - base;
        assert_eq!(seen, ITEMS);

        let base = reset_peak();
        let all = Row::query(&db, "b").limit(PAGE).all().await?;
        let collected_peak = PEAK.load(Ordering::Relaxed) - base;
        assert_eq!(all.len(), ITEMS as usize);
        drop(all);

        println!(
            "stream_memory: {ITEMS} items, pages of {PAGE}: streaming peak {} KiB, collecting peak {} KiB ({:.1}x)",
            streamed_peak / 1024,
            collected_peak / 1024,
            collected_peak as f64 / streamed_peak.max(1) as f64
        );
        // One page of 200 items of ~300 bytes, plus its raw response and request, is well under
        // 2 MiB; the whole result is over 6 MiB as models alone.
        assert!(streamed_peak < 2 * 1024 * 1024, "streaming peak {streamed_peak} bytes");
        assert!(collected_peak > 3 * streamed_peak, "collecting {collected_peak} vs streaming {streamed_peak}");
        Ok(())
    })
    .await
}
