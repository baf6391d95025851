//! Running a batch's requests with bounded concurrency, each in the caller's tenant.

use std::future::Future;

use tokio::task::JoinSet;

use crate::request_scope;
use crate::tenant::InCurrentTenant;

/// Runs `tasks` with at most `concurrency` of them at once and returns their outputs in the
/// order given.
///
/// Each task is spawned on the tokio runtime (so chunks proceed in parallel on a multi-thread
/// runtime) bound to the caller's scoped tenant ([`InCurrentTenant`]) and to the caller's
/// [`Loader`](crate::Loader) scope, so every request a task sends is counted and traced as the
/// caller's. Outside a tokio runtime the tasks run one after another in place.
///
/// A slot is `None` when its task was cancelled (the runtime shutting down); the caller reports
/// its items as unprocessed. A task that panicked resumes the panic here, as a join would.
pub(crate) async fn run_bounded<T, F>(tasks: Vec<F>, concurrency: usize) -> Vec<Option<T>>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let n = tasks.len();
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    if tokio::runtime::Handle::try_current().is_err() || n <= 1 {
        for (slot, task) in out.iter_mut().zip(tasks) {
            *slot = Some(task.await);
        }
        return out;
    }
    let concurrency = concurrency.max(1);
    let mut set = JoinSet::new();
    for (i, task) in tasks.into_iter().enumerate() {
        while set.len() >= concurrency {
            collect_one(&mut set, &mut out).await;
        }
        set.spawn(request_scope::carry(async move { (i, task.await) }).in_current_tenant());
    }
    while !set.is_empty() {
        collect_one(&mut set, &mut out).await;
    }
    out
}

async fn collect_one<T: Send + 'static>(set: &mut JoinSet<(usize, T)>, out: &mut [Option<T>]) {
    match set.join_next().await {
        Some(Ok((i, value))) => {
            if let Some(slot) = out.get_mut(i) {
                *slot = Some(value);
            }
        }
        Some(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Cancelled: the slot stays `None`.
        Some(Err(_)) | None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use crate::tenant::{TenantContext, TenantId};

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn bounded_ordered_and_in_the_callers_tenant() {
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tenant = TenantId::new("acme").unwrap();
        let out = TenantContext::scope(tenant.clone(), async {
            let tasks: Vec<_> = (0..20)
                .map(|i| {
                    let running = running.clone();
                    let peak = peak.clone();
                    async move {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(5 + (i % 3) as u64)).await;
                        running.fetch_sub(1, Ordering::SeqCst);
                        (i, TenantContext::scoped())
                    }
                })
                .collect();
            run_bounded(tasks, 3).await
        })
        .await;
        assert!(peak.load(Ordering::SeqCst) <= 3);
        assert!(peak.load(Ordering::SeqCst) >= 2, "ran concurrently");
        for (i, slot) in out.into_iter().enumerate() {
            let (j, seen) = slot.unwrap();
            assert_eq!(i, j, "results in the order given");
            assert_eq!(
                seen.as_ref(),
                Some(&tenant),
                "task {i} ran in the caller's tenant"
            );
        }
    }
}
