//! Tenant resolvers and the process-wide, ordered resolver chain.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};

use super::id::TenantId;
use crate::error::BoxError;
use crate::Error;

/// The future a [`TenantResolver`] returns, spelled out once for implementors.
pub type ResolveFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<TenantId>, Error>> + Send + 'a>>;

/// Finds the tenant when no scope and no fallback names one (the last step of
/// [`TenantContext::resolve`](super::TenantContext::resolve)).
///
/// Answer `Ok(Some(tenant))` to decide, `Ok(None)` to pass to the next resolver, and `Err` to
/// stop the lookup with that error (a malformed token, an unreachable tenant registry): an error
/// is never skipped over, because a later resolver answering instead could pick the wrong
/// tenant. Wrap your own errors with [`resolver_error`].
///
/// The method returns a boxed future so the trait is object-safe without the `async-trait`
/// crate; [`resolver_fn`] and [`async_resolver_fn`] build resolvers from closures.
pub trait TenantResolver: Send + Sync + 'static {
    /// Looks for the tenant; see the trait docs for what each answer means.
    fn resolve(&self) -> ResolveFuture<'_>;
}

impl<R: TenantResolver + ?Sized> TenantResolver for Arc<R> {
    fn resolve(&self) -> ResolveFuture<'_> {
        (**self).resolve()
    }
}

impl<R: TenantResolver + ?Sized> TenantResolver for Box<R> {
    fn resolve(&self) -> ResolveFuture<'_> {
        (**self).resolve()
    }
}

/// Wraps any error from resolver code as [`Error::TenantResolver`], keeping it as the source.
///
/// A resolver that calls dynabao itself can return those errors with `?` unchanged; this is
/// for everything else (JWT decoding, HTTP, a registry lookup).
pub fn resolver_error(e: impl Into<BoxError>) -> Error {
    Error::TenantResolver {
        source: e.into().into(),
    }
}

/// A resolver made from a synchronous closure; built by [`resolver_fn`].
pub struct FnResolver<F> {
    /// The closure, called once per lookup.
    f: F,
}

/// Makes a resolver from a synchronous closure, for lookups that need no I/O (an environment
/// variable, a value set by the surrounding framework).
///
/// ```
/// use dynabao::tenant::{resolver_error, resolver_fn, TenantContext, TenantId};
///
/// TenantContext::add_resolver(resolver_fn(|| match std::env::var("APP_TENANT") {
///     Ok(id) => TenantId::new(id).map(Some),
///     Err(std::env::VarError::NotPresent) => Ok(None),
///     Err(e) => Err(resolver_error(e)),
/// }));
/// # TenantContext::clear_resolvers();
/// ```
pub fn resolver_fn<F>(f: F) -> FnResolver<F>
where
    F: Fn() -> Result<Option<TenantId>, Error> + Send + Sync + 'static,
{
    FnResolver { f }
}

impl<F> TenantResolver for FnResolver<F>
where
    F: Fn() -> Result<Option<TenantId>, Error> + Send + Sync + 'static,
{
    fn resolve(&self) -> ResolveFuture<'_> {
        Box::pin(async move { (self.f)() })
    }
}

impl<F> fmt::Debug for FnResolver<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnResolver")
    }
}

/// A resolver made from a closure that returns a future; built by [`async_resolver_fn`].
pub struct AsyncFnResolver<F> {
    /// The closure, called once per lookup; its future is awaited.
    f: F,
}

/// Makes a resolver from a closure returning a future, for lookups that do I/O (a tenant
/// registry, a token introspection endpoint). The closure is called once per lookup.
pub fn async_resolver_fn<F, Fut>(f: F) -> AsyncFnResolver<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<TenantId>, Error>> + Send + 'static,
{
    AsyncFnResolver { f }
}

impl<F, Fut> TenantResolver for AsyncFnResolver<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<TenantId>, Error>> + Send + 'static,
{
    fn resolve(&self) -> ResolveFuture<'_> {
        Box::pin((self.f)())
    }
}

impl<F> fmt::Debug for AsyncFnResolver<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AsyncFnResolver")
    }
}

/// The process-wide resolver chain, in the order the resolvers were added.
static RESOLVERS: RwLock<Vec<Arc<dyn TenantResolver>>> = RwLock::new(Vec::new());

/// Appends `resolver` to the chain ([`TenantContext::add_resolver`](super::TenantContext::add_resolver)).
pub(super) fn add(resolver: Arc<dyn TenantResolver>) {
    RESOLVERS
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .push(resolver);
}

/// Empties the chain ([`TenantContext::clear_resolvers`](super::TenantContext::clear_resolvers)).
pub(super) fn clear() {
    RESOLVERS
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
}

/// Asks the resolvers in order: the first `Some` wins, the first `Err` stops the chain and is
/// returned unchanged, all `None` gives `Ok(None)`.
///
/// The chain is copied out (a `Vec` of `Arc`s) before anything is awaited, so no lock is held
/// across an await and resolvers may add or clear resolvers themselves.
pub(super) async fn run_chain() -> Result<Option<TenantId>, Error> {
    let chain: Vec<Arc<dyn TenantResolver>> = RESOLVERS
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    for resolver in &chain {
        if let Some(tenant) = resolver.resolve().await? {
            return Ok(Some(tenant));
        }
    }
    Ok(None)
}

#[cfg(test)]
#[allow(clippy::await_holding_lock)] // the global test lock is held for a whole test on purpose
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::tenant::{global_test_lock, TenantContext};

    fn tid(s: &str) -> TenantId {
        TenantId::new(s).unwrap()
    }

    /// A resolver that counts its calls and gives a fixed answer.
    struct Counting {
        calls: Arc<AtomicUsize>,
        answer: fn() -> Result<Option<TenantId>, Error>,
    }

    impl TenantResolver for Counting {
        fn resolve(&self) -> ResolveFuture<'_> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let answer = (self.answer)();
            Box::pin(async move {
                tokio::task::yield_now().await;
                answer
            })
        }
    }

    fn counting(answer: fn() -> Result<Option<TenantId>, Error>) -> (Counting, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        (
            Counting {
                calls: calls.clone(),
                answer,
            },
            calls,
        )
    }

    #[derive(Debug)]
    struct BadToken;

    impl fmt::Display for BadToken {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("bad token")
        }
    }

    impl std::error::Error for BadToken {}

    #[tokio::test]
    async fn first_some_wins_in_order() {
        let _g = global_test_lock();
        let (none, none_calls) = counting(|| Ok(None));
        let (first, first_calls) = counting(|| Ok(Some(TenantId::new("first")?)));
        let (second, second_calls) = counting(|| Ok(Some(TenantId::new("second")?)));
        TenantContext::add_resolver(none);
        TenantContext::add_resolver(first);
        TenantContext::add_resolver(second);

        assert_eq!(TenantContext::resolve().await.unwrap(), "first");
        assert_eq!(none_calls.load(Ordering::SeqCst), 1);
        assert_eq!(first_calls.load(Ordering::SeqCst), 1);
        assert_eq!(second_calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn error_stops_the_chain_and_is_returned() {
        let _g = global_test_lock();
        let (before, before_calls) = counting(|| Ok(None));
        let (failing, _) = counting(|| Err(resolver_error(BadToken)));
        let (after, after_calls) = counting(|| Ok(Some(TenantId::new("after")?)));
        TenantContext::add_resolver(before);
        TenantContext::add_resolver(failing);
        TenantContext::add_resolver(after);

        let err = TenantContext::resolve().await.unwrap_err();
        match &err {
            Error::TenantResolver { source } => {
                assert!(source.downcast_ref::<BadToken>().is_some());
            }
            other => panic!("expected TenantResolver, got {other:?}"),
        }
        assert_eq!(err.code(), "tenant_resolver_failed");
        assert_eq!(err.to_string(), "tenant resolver failed: bad token");
        assert_eq!(before_calls.load(Ordering::SeqCst), 1);
        assert_eq!(after_calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn dynabao_errors_pass_through_unchanged() {
        let _g = global_test_lock();
        TenantContext::add_resolver(resolver_fn(|| TenantId::new("from#header").map(Some)));
        let err = TenantContext::resolve().await.unwrap_err();
        assert!(
            matches!(&err, Error::InvalidTenantId { value, .. } if value == "from#header"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn all_none_is_tenant_required() {
        let _g = global_test_lock();
        assert!(matches!(
            TenantContext::resolve().await,
            Err(Error::TenantRequired)
        ));
        TenantContext::add_resolver(resolver_fn(|| Ok(None)));
        TenantContext::add_resolver(async_resolver_fn(|| async { Ok(None) }));
        assert!(matches!(
            TenantContext::resolve().await,
            Err(Error::TenantRequired)
        ));
    }

    #[tokio::test]
    async fn async_resolvers_are_awaited() {
        let _g = global_test_lock();
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        TenantContext::add_resolver(async_resolver_fn(move || {
            let counter = counter.clone();
            async move {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(Some(tid("from-registry")))
            }
        }));
        assert_eq!(TenantContext::resolve().await.unwrap(), "from-registry");
        assert_eq!(TenantContext::resolve().await.unwrap(), "from-registry");
        assert_eq!(calls.load(Ordering::SeqCst), 2, "asked on every lookup");

        TenantContext::clear_resolvers();
        TenantContext::add_resolver(async_resolver_fn(|| async {
            tokio::task::yield_now().await;
            Err(resolver_error("registry unreachable"))
        }));
        assert!(matches!(
            TenantContext::resolve().await,
            Err(Error::TenantResolver { .. })
        ));
    }

    #[tokio::test]
    async fn resolvers_see_the_callers_task_and_may_touch_the_chain() {
        let _g = global_test_lock();
        // A resolver that clears the chain while it runs must not deadlock.
        TenantContext::add_resolver(resolver_fn(|| {
            TenantContext::clear_resolvers();
            Ok(Some(TenantId::new("once")?))
        }));
        assert_eq!(TenantContext::resolve().await.unwrap(), "once");
        assert!(matches!(
            TenantContext::resolve().await,
            Err(Error::TenantRequired)
        ));
    }

    #[tokio::test]
    async fn shared_resolvers_and_clear() {
        let _g = global_test_lock();
        let shared: Arc<dyn TenantResolver> = Arc::new(resolver_fn(|| Ok(Some(tid("shared")))));
        TenantContext::add_resolver(shared.clone());
        TenantContext::add_resolver(Box::new(resolver_fn(|| Ok(None))) as Box<dyn TenantResolver>);
        assert_eq!(TenantContext::resolve().await.unwrap(), "shared");
        assert_eq!(shared.resolve().await.unwrap(), Some(tid("shared")));
        TenantContext::clear_resolvers();
        assert!(matches!(
            TenantContext::resolve().await,
            Err(Error::TenantRequired)
        ));
        assert_eq!(format!("{:?}", resolver_fn(|| Ok(None))), "FnResolver");
    }

    #[test]
    fn resolver_error_wraps_any_error() {
        let e = resolver_error("plain message");
        assert!(matches!(e, Error::TenantResolver { .. }));
        assert_eq!(e.to_string(), "tenant resolver failed: plain message");
        let e = resolver_error(std::io::Error::other("io"));
        assert_eq!(e.code(), "tenant_resolver_failed");
    }
}
