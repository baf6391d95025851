//! Every stored item of one tenant, page by page, resumable from a sealed checkpoint.
//!
//! Two ways to find them. When every model the export covers is iterable
//! (`#[bao(iterable(..))]`), each model's bucketed index is queried, bucket after bucket, so
//! no other tenant's partition is read, and each item's unique-constraint items are derived
//! from it. Otherwise (or when asked with [`TenantExport::scan`]) the table is scanned in
//! parallel segments with a filter on the tenant's key prefix: every item is read (and paid
//! for), other tenants' too, so the scan can be paced
//! ([`TenantExport::max_requests_per_second`]).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, Select};
use futures_core::Stream;
use futures_util::{future, stream, StreamExt};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::checkpoint::{decode, encode, Plan, Position, Segment};
use crate::db::Db;
use crate::error::{Error, Item};
use crate::exec;
use crate::key::{self, KeyScope, StoredKey, PK_ATTR};
use crate::model::registry::{registered, Registration};
use crate::model::Model;
use crate::tenant::TenantId;

/// The span's model name for export requests.
const EXPORT: &str = "export";

/// What an exported item is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExportedKind {
    /// An item of a model.
    Item,
    /// The item that holds a unique constraint's value for its owner.
    Constraint {
        /// The constraint's name.
        name: String,
    },
}

/// One stored item of the tenant, untyped: which model it belongs to, its key values and its
/// attributes (the model's fields; dynabao's own `_` attributes left out).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ExportedItem {
    /// The model prefix its keys carry.
    pub model_prefix: String,
    /// The model of that prefix linked into this program, if any.
    pub model: Option<&'static str>,
    /// An item or a constraint item.
    pub kind: ExportedKind,
    /// The partition key's values, encoded as key parts (text decodes with
    /// [`key::decode_text`]); for a constraint item, the constrained value; empty for an item
    /// of the tenant whose key is in no form dynabao writes.
    pub pk: Vec<String>,
    /// The sort key's values, encoded (`["_"]` for a model without a sort key; empty for a
    /// constraint item).
    pub sk: Vec<String>,
    /// Every attribute but dynabao's own.
    pub attributes: Item,
    /// Where it is stored, for offboarding.
    pub(crate) stored: StoredKey,
}

impl ExportedItem {
    /// The stored `_pk`, for checking an export against the table.
    pub fn stored_pk(&self) -> &str {
        &self.stored.pk
    }

    /// The stored `_sk`.
    pub fn stored_sk(&self) -> &str {
        &self.stored.sk
    }

    fn from_item(
        scope: &KeyScope,
        item: Item,
        models: &HashMap<&str, &'static Registration>,
    ) -> Result<Self, Error> {
        let stored = StoredKey::of(&item).ok_or_else(|| Error::MalformedItem {
            model: EXPORT,
            reason: "an item without string _pk and _sk".into(),
        })?;
        let tenant_prefix = scope.tenant_prefix();
        if !stored.pk.starts_with(&tenant_prefix) || !stored.sk.starts_with(&tenant_prefix) {
            return Err(Error::CrossTenant {
                model: EXPORT,
                expected: tenant_prefix,
            });
        }
        let (model_prefix, kind, pk, sk) = if let Some(u) = key::parse_unique_key(&stored.pk, true)
        {
            (
                u.model_prefix.to_owned(),
                ExportedKind::Constraint {
                    name: u.constraint.to_owned(),
                },
                vec![u.value.to_owned()],
                Vec::new(),
            )
        } else if let Some(p) = key::parse_key(&stored.pk, true) {
            let s = key::parse_key(&stored.sk, true);
            (
                p.model_prefix.to_owned(),
                ExportedKind::Item,
                p.parts.iter().map(|s| (*s).to_owned()).collect(),
                s.map(|s| s.parts.iter().map(|p| (*p).to_owned()).collect())
                    .unwrap_or_default(),
            )
        } else {
            // The tenant's, but in no form this version writes (an older layout, a hand-written
            // item): still exported, and still deleted by an offboarding, with no key values.
            let rest = &stored.pk[tenant_prefix.len()..];
            let prefix = rest.split('#').next().unwrap_or_default();
            (
                prefix.to_owned(),
                ExportedKind::Item,
                Vec::new(),
                Vec::new(),
            )
        };
        let attributes = item
            .into_iter()
            .filter(|(name, _)| !key::is_reserved_attr(name))
            .collect();
        Ok(ExportedItem {
            model: models.get(model_prefix.as_str()).map(|r| r.schema.name()),
            model_prefix,
            kind,
            pk,
            sk,
            attributes,
            stored,
        })
    }
}

/// Spaces requests out to a rate.
struct Pace {
    every: Duration,
    next: Mutex<Instant>,
}

impl Pace {
    async fn wait(&self) {
        let at = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + self.every;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

/// Every stored item of one tenant, from [`TenantRegistry::export`](super::TenantRegistry::export)
/// (or [`TenantExport::new`]): read page by page with [`next_page`](TenantExport::next_page),
/// or as a [`stream`](TenantExport::stream) of items; [`checkpoint`](TenantExport::checkpoint)
/// after a page is where [`resume`](TenantExport::resume) picks up (in this process or
/// another).
///
/// It covers every tenant model linked into the program, or those named with
/// [`model`](TenantExport::model); a scan also finds the items of models it does not know.
pub struct TenantExport {
    db: Db,
    scope: KeyScope,
    models: Option<Vec<&'static Registration>>,
    force_scan: bool,
    segments: u32,
    page_size: i32,
    pace: Option<Arc<Pace>>,
    plan: Option<Plan>,
    position: Option<Position>,
    resume: Option<String>,
}

impl std::fmt::Debug for TenantExport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantExport")
            .field("tenant", &self.scope.tenant())
            .field("plan", &self.plan)
            .field("position", &self.position.is_some())
            .finish_non_exhaustive()
    }
}

impl TenantExport {
    /// An export of `tenant`'s items in `db`'s table.
    pub fn new(db: &Db, tenant: &TenantId) -> Self {
        TenantExport {
            db: db.clone(),
            scope: KeyScope::Tenant(tenant.clone()),
            models: None,
            force_scan: false,
            segments: 4,
            page_size: 100,
            pace: None,
            plan: None,
            position: None,
            resume: None,
        }
    }

    /// Covers model `M` (call once per model); without any, every tenant model linked in.
    pub fn model<M: Model>(mut self) -> Self {
        // By prefix: a schema constant need not have one address across codegen units, and
        // two models of one keyspace are refused at connect anyway.
        let found = registered().find(|r| {
            r.schema.prefix() == M::SCHEMA.prefix() && r.schema.global() == M::SCHEMA.global()
        });
        if let Some(r) = found {
            self.models.get_or_insert_with(Vec::new).push(r);
        }
        self
    }

    /// Scans the table even when every model is iterable.
    pub fn scan(mut self) -> Self {
        self.force_scan = true;
        self
    }

    /// Parallel scan segments (1 to 64; 4 by default).
    pub fn segments(mut self, n: u32) -> Self {
        self.segments = n.clamp(1, 64);
        self
    }

    /// Items read per request (1 to 1000; 100 by default). A scan's page holds what matched
    /// among that many read, so it can be short.
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = i32::try_from(n.clamp(1, 1000)).unwrap_or(100);
        self
    }

    /// At most `n` read requests per second, all segments together.
    pub fn max_requests_per_second(mut self, n: u32) -> Self {
        self.pace = Some(Arc::new(Pace {
            every: Duration::from_secs(1) / n.max(1),
            next: Mutex::new(Instant::now()),
        }));
        self
    }

    /// Continues where [`checkpoint`](TenantExport::checkpoint) was taken. The checkpoint is
    /// sealed like a cursor (with the `Db`'s cursor key) and bound to the tenant and the way the
    /// items are found: another tenant's, an edited one, or one from an export of other models
    /// is [`Error::InvalidCursor`], at the next page.
    pub fn resume(mut self, checkpoint: impl Into<String>) -> Self {
        self.resume = Some(checkpoint.into());
        self
    }

    fn plan(&self) -> Plan {
        let models: Vec<&'static Registration> = match &self.models {
            Some(m) => m.clone(),
            None => registered().filter(|r| !r.schema.global()).collect(),
        };
        if self.force_scan
            || models.is_empty()
            || models.iter().any(|r| r.schema.iteration.is_none())
        {
            Plan::Scan {
                segments: self.segments,
            }
        } else {
            let mut models = models;
            models.sort_by_key(|r| r.schema.prefix());
            models.dedup_by_key(|r| r.schema.prefix());
            Plan::Indexes { models }
        }
    }

    /// Fixes the plan and the position at the first page.
    fn start(&mut self) -> Result<(&Plan, &mut Position), Error> {
        if self.plan.is_none() {
            let plan = self.plan();
            let position = match self.resume.take() {
                Some(c) => decode(&self.db, &self.scope, &plan, &c)?,
                None => match &plan {
                    Plan::Scan { segments } => {
                        Position::Scan(vec![Segment::Start; *segments as usize])
                    }
                    Plan::Indexes { .. } => Position::Indexes {
                        model: 0,
                        bucket: 0,
                        after: None,
                    },
                },
            };
            self.plan = Some(plan);
            self.position = Some(position);
        }
        match (&self.plan, &mut self.position) {
            (Some(plan), Some(position)) => Ok((plan, position)),
            _ => Err(Error::invalid_request(EXPORT, "the export has no plan")),
        }
    }

    /// Whether every item has been read.
    pub fn is_done(&self) -> bool {
        match (&self.plan, &self.position) {
            (Some(Plan::Indexes { models }), Some(Position::Indexes { model, .. })) => {
                *model >= models.len()
            }
            (_, Some(Position::Scan(segments))) => segments.iter().all(|s| *s == Segment::Done),
            _ => false,
        }
    }

    /// Where the export is, sealed: give it to [`resume`](TenantExport::resume). Taken after
    /// a page, it resumes with the page after it.
    pub fn checkpoint(&mut self) -> Result<String, Error> {
        let (plan, position) = self.start()?;
        let plan = plan.clone();
        let position = position.clone();
        encode(&self.db, &self.scope, &plan, &position)
    }

    /// The next page of items; `None` once every item has been read. A page can be empty while
    /// more follow (a scan's read that matched nothing).
    pub async fn next_page(&mut self) -> Result<Option<Vec<ExportedItem>>, Error> {
        if self.is_done() {
            return Ok(None);
        }
        let db = self.db.clone();
        let scope = self.scope.clone();
        let page_size = self.page_size;
        let pace = self.pace.clone();
        let models = linked_models();
        let (plan, position) = self.start()?;
        let raw = match (plan, position) {
            (Plan::Scan { segments }, Position::Scan(positions)) => {
                let total = *segments;
                let reads = positions
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| **s != Segment::Done)
                    .map(|(i, s)| {
                        let start = match s {
                            Segment::After(k) => Some(k.clone()),
                            _ => None,
                        };
                        scan_page(&db, &scope, i as u32, total, start, page_size, pace.clone())
                    });
                let pages = future::try_join_all(reads).await?;
                let mut items = Vec::new();
                let open: Vec<usize> = positions
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| **s != Segment::Done)
                    .map(|(i, _)| i)
                    .collect();
                for (i, (page, next)) in open.into_iter().zip(pages) {
                    items.extend(page);
                    positions[i] = match next {
                        Some(k) => Segment::After(k),
                        None => Segment::Done,
                    };
                }
                items
            }
            (
                Plan::Indexes {
                    models: plan_models,
                },
                Position::Indexes {
                    model,
                    bucket,
                    after,
                },
            ) => {
                let Some(reg) = plan_models.get(*model).copied() else {
                    return Ok(None);
                };
                let Some(iteration) = reg.schema.iteration else {
                    return Err(Error::invalid_request(EXPORT, "the model is not iterable"));
                };
                let (page, next) = index_page(
                    &db,
                    &scope,
                    reg,
                    *bucket,
                    after.take(),
                    page_size,
                    pace.clone(),
                )
                .await?;
                match next {
                    Some(k) => *after = Some(k),
                    None if *bucket + 1 < iteration.buckets.max(1) => *bucket += 1,
                    None => {
                        *model += 1;
                        *bucket = 0;
                    }
                }
                let mut items = Vec::with_capacity(page.len());
                for item in page {
                    for k in reg.constraint_keys(&scope, &item)? {
                        items.push(k.to_item());
                    }
                    items.push(item);
                }
                items
            }
            _ => {
                return Err(Error::invalid_request(
                    EXPORT,
                    "the checkpoint does not fit the plan",
                ))
            }
        };
        raw.into_iter()
            .map(|item| ExportedItem::from_item(&scope, item, models))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// The items as a stream, one page in memory at a time.
    pub fn stream(self) -> impl Stream<Item = Result<ExportedItem, Error>> + Send {
        stream::try_unfold(self, |mut export| async move {
            match export.next_page().await? {
                Some(page) => Ok(Some((stream::iter(page.into_iter().map(Ok)), export))),
                None => Ok(None),
            }
        })
        .map(|page: Result<_, Error>| match page {
            Ok(items) => items.left_stream(),
            Err(e) => stream::once(future::ready(Err(e))).right_stream(),
        })
        .flatten()
    }

    /// How many items there are, read through (for the count an offboarding verifies).
    pub async fn count(mut self) -> Result<u64, Error> {
        let mut n = 0u64;
        while let Some(page) = self.next_page().await? {
            n += page.len() as u64;
        }
        Ok(n)
    }

    /// A fresh export like this one (same models, plan settings and pace), from the start.
    pub(crate) fn restart(&self) -> TenantExport {
        TenantExport {
            db: self.db.clone(),
            scope: self.scope.clone(),
            models: self.models.clone(),
            force_scan: self.force_scan,
            segments: self.segments,
            page_size: self.page_size,
            pace: self.pace.clone(),
            plan: None,
            position: None,
            resume: None,
        }
    }
}

/// The tenant models linked in, by prefix: fixed at link time, so gathered once.
fn linked_models() -> &'static HashMap<&'static str, &'static Registration> {
    static LINKED: OnceLock<HashMap<&'static str, &'static Registration>> = OnceLock::new();
    LINKED.get_or_init(|| {
        registered()
            .filter(|r| !r.schema.global())
            .map(|r| (r.schema.prefix(), r))
            .collect()
    })
}

/// One page of one scan segment: the tenant's items, and where the segment goes on.
async fn scan_page(
    db: &Db,
    scope: &KeyScope,
    segment: u32,
    total: u32,
    start: Option<Item>,
    limit: i32,
    pace: Option<Arc<Pace>>,
) -> Result<(Vec<Item>, Option<Item>), Error> {
    if let Some(p) = &pace {
        p.wait().await;
    }
    let request = db
        .client()
        .scan()
        .table_name(db.table())
        .filter_expression("begins_with(#pk, :tenant)")
        .expression_attribute_names("#pk", PK_ATTR)
        .expression_attribute_values(":tenant", AttributeValue::S(scope.tenant_prefix()))
        .select(Select::AllAttributes)
        .segment(i32::try_from(segment).unwrap_or(0))
        .total_segments(i32::try_from(total).unwrap_or(1))
        .limit(limit)
        .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
        .set_exclusive_start_key(start);
    let out = exec::send(db, "Scan", EXPORT, scope, || request.clone().send())
        .await
        .map_err(|e| Error::dynamo("Scan", e.into_service_error()))?;
    Ok((
        out.items.unwrap_or_default(),
        out.last_evaluated_key.filter(|k| !k.is_empty()),
    ))
}

/// One page of one bucket of a model's iteration index.
async fn index_page(
    db: &Db,
    scope: &KeyScope,
    model: &'static Registration,
    bucket: u16,
    start: Option<Item>,
    limit: i32,
    pace: Option<Arc<Pace>>,
) -> Result<(Vec<Item>, Option<Item>), Error> {
    let Some(iteration) = model.schema.iteration else {
        return Ok((Vec::new(), None));
    };
    if let Some(p) = &pace {
        p.wait().await;
    }
    let partition = scope.key(
        model.schema.prefix(),
        &crate::model::bucket_value(u64::from(bucket)),
    );
    let request = db
        .client()
        .query()
        .table_name(db.table())
        .index_name(iteration.index.index_name)
        .key_condition_expression("#p = :p")
        .expression_attribute_names("#p", iteration.index.pk_attr)
        .expression_attribute_values(":p", AttributeValue::S(partition))
        .limit(limit)
        .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
        .set_exclusive_start_key(start);
    let out = exec::send(db, "Query", model.schema.name(), scope, || {
        request.clone().send()
    })
    .await
    .map_err(|e| Error::dynamo("Query", e.into_service_error()))?;
    let items = out.items.unwrap_or_default();
    for item in &items {
        crate::model::check_item_scope_schema(scope, model.schema, item)?;
    }
    Ok((items, out.last_evaluated_key.filter(|k| !k.is_empty())))
}
