//! Tracing: the tenant recorded on the request's span, and the logged 500 of a bug.

use http::StatusCode;

use super::*;

mod recording {
    //! A minimal subscriber that records span fields and events, and tracks the current span
    //! per thread (so `Span::current()` works).

    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Level, Metadata, Subscriber};
    use tracing_core::span::Current;

    /// Recorded fields, in order.
    pub type FieldList = Vec<(String, String)>;

    #[derive(Default)]
    pub struct Log {
        pub spans: Mutex<HashMap<u64, (&'static Metadata<'static>, FieldList)>>,
        pub events: Mutex<Vec<(Level, FieldList)>>,
        next: AtomicU64,
    }

    impl Log {
        /// The recorded fields of every span named `name`.
        pub fn spans_named(&self, name: &str) -> Vec<Vec<(String, String)>> {
            let spans = self.spans.lock().unwrap();
            let mut ids: Vec<&u64> = spans.keys().collect();
            ids.sort();
            ids.into_iter()
                .filter(|id| spans[*id].0.name() == name)
                .map(|id| spans[id].1.clone())
                .collect()
        }
    }

    #[derive(Clone)]
    pub struct Recorder(pub Arc<Log>);

    thread_local! {
        static STACK: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
    }

    struct Fields<'a>(&'a mut Vec<(String, String)>);

    impl Visit for Fields<'_> {
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.push((field.name().to_owned(), value.to_owned()));
        }

        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.push((field.name().to_owned(), format!("{value:?}")));
        }
    }

    impl Subscriber for Recorder {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }

        fn new_span(&self, attrs: &Attributes<'_>) -> Id {
            let id = self.0.next.fetch_add(1, Ordering::SeqCst) + 1;
            let mut fields = Vec::new();
            attrs.record(&mut Fields(&mut fields));
            self.0
                .spans
                .lock()
                .unwrap()
                .insert(id, (attrs.metadata(), fields));
            Id::from_u64(id)
        }

        fn record(&self, span: &Id, values: &Record<'_>) {
            if let Some((_, fields)) = self.0.spans.lock().unwrap().get_mut(&span.into_u64()) {
                values.record(&mut Fields(fields));
            }
        }

        fn record_follows_from(&self, _: &Id, _: &Id) {}

        fn event(&self, event: &Event<'_>) {
            let mut fields = Vec::new();
            event.record(&mut Fields(&mut fields));
            self.0
                .events
                .lock()
                .unwrap()
                .push((*event.metadata().level(), fields));
        }

        fn enter(&self, span: &Id) {
            STACK.with(|s| s.borrow_mut().push(span.into_u64()));
        }

        fn exit(&self, _: &Id) {
            STACK.with(|s| s.borrow_mut().pop());
        }

        fn current_span(&self) -> Current {
            let Some(id) = STACK.with(|s| s.borrow().last().copied()) else {
                return Current::none();
            };
            match self.0.spans.lock().unwrap().get(&id) {
                Some((meta, _)) => Current::new(Id::from_u64(id), meta),
                None => Current::none(),
            }
        }
    }
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "current_thread")]
async fn every_request_records_its_tenant_on_its_span() {
    use tracing::instrument::WithSubscriber;
    use tracing::Instrument;

    let log = Arc::new(recording::Log::default());
    let dispatch = tracing::Dispatch::new(recording::Recorder(log.clone()));
    async {
        for tenant in ["acme", "globex"] {
            // The span an outer TraceLayer would open, declaring the field.
            let outer = tracing::info_span!("http.request", tenant = tracing::field::Empty);
            let (response, _) = send(request(
                "/notes",
                &[("X-Tenant-ID", tenant)],
                Some(&["acme", "globex"]),
            ))
            .instrument(outer)
            .await;
            assert_eq!(response.status(), StatusCode::OK);
        }
        let (response, _) = send(request("/notes", &[], Some(&["acme"]))).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
    .with_subscriber(dispatch)
    .await;

    let spans = log.spans_named("dynabao.tenant");
    assert_eq!(spans.len(), 3);
    assert_eq!(field(&spans[0], "tenant"), Some("acme"));
    assert_eq!(field(&spans[0], "tenant.resolver"), Some("header"));
    assert_eq!(field(&spans[1], "tenant"), Some("globex"));
    assert_eq!(
        field(&spans[2], "tenant"),
        None,
        "refused: no tenant recorded"
    );
    let outer = log.spans_named("http.request");
    assert_eq!(field(&outer[0], "tenant"), Some("acme"));
    assert_eq!(field(&outer[1], "tenant"), Some("globex"));
    let refusals = log
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, f)| field(f, "code") == Some("tenant_required"))
        .count();
    assert_eq!(refusals, 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_handlers_tenant_required_is_a_logged_500() {
    use tracing::instrument::WithSubscriber;

    // The bare spawn below asks the process-wide fallback and resolvers: hold the lock that
    // keeps both empty.
    let _guard = crate::tenant::global_test_lock();
    let log = Arc::new(recording::Log::default());
    let dispatch = tracing::Dispatch::new(recording::Recorder(log.clone()));
    let handler = service_fn(|_req: Request<String>| async {
        // The bug: a bare spawn carries no tenant, so dynabao fails closed inside it.
        let inner = tokio::spawn(async { TenantContext::resolve().await.map(|_| ()) })
            .await
            .unwrap();
        let response = match inner {
            Ok(()) => Response::new("ok".to_owned()),
            Err(e) => ErrorResponse::from(e).into_response(),
        };
        Ok::<_, Infallible>(response)
    });
    let response = async {
        test_layer()
            .layer(handler)
            .oneshot(request(
                "/notes",
                &[("X-Tenant-ID", "acme")],
                Some(&["acme"]),
            ))
            .await
            .unwrap()
    }
    .with_subscriber(dispatch)
    .await;
    assert_json_error(&response, 500, "internal_error", "internal server error");
    let events = log.events.lock().unwrap();
    let logged: Vec<_> = events
        .iter()
        .filter(|(level, f)| {
            *level == tracing::Level::ERROR && field(f, "code") == Some("tenant_required")
        })
        .collect();
    assert_eq!(logged.len(), 1, "{events:?}");
    assert!(field(&logged[0].1, "message")
        .unwrap()
        .contains("ran without a tenant"));
}
