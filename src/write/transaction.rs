//! Sending a TransactWriteItems: the reads unique bookkeeping needs, rendering, limits,
//! cancellation reasons, and the optimistic retry when a concurrent write got in between.

use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsInput,
};
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ReturnConsumedCapacity, TransactWriteItem,
};

use super::outcome::{condition_failed_with, non_empty, Effect, Expect};
use crate::codec;
use crate::db::Db;
use crate::error::{CancelReason, Error, Item};
use crate::exec;
use crate::key::{KeyScope, StoredKey};
use crate::model::Key;
use crate::model::{Model, Schema};
use crate::request_scope::{self, Written};

/// DynamoDB's limit of items per transaction.
pub(crate) const MAX_ITEMS: usize = 100;

/// What one item of a transaction is to its operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// The item the operation is about.
    Owner,
    /// Claims the value of a unique constraint.
    Claim(&'static str),
    /// Releases the value of a unique constraint.
    Release(&'static str),
}

impl Part {
    fn constraint(self) -> Option<&'static str> {
        match self {
            Part::Owner => None,
            Part::Claim(c) | Part::Release(c) => Some(c),
        }
    }
}

/// What the owner's condition assumed about the item as it was read. When the condition fails
/// and the stored item no longer matches, a concurrent write got in between: read and try
/// again.
#[derive(Debug, Clone, Default)]
pub(crate) struct Guard {
    pub(crate) exists: bool,
    pub(crate) attrs: Vec<(&'static str, Option<AttributeValue>)>,
}

impl Guard {
    /// Whether `current` (the item when the condition failed) differs from what was read.
    fn broken_by(&self, current: Option<&Item>) -> bool {
        match current {
            None => self.exists,
            Some(item) => {
                !self.exists
                    || self
                        .attrs
                        .iter()
                        .any(|(attr, read)| normalize(item.get(*attr)) != normalize(read.as_ref()))
            }
        }
    }
}

/// `NULL` and absent mean the same to a guard.
fn normalize(v: Option<&AttributeValue>) -> Option<&AttributeValue> {
    v.filter(|v| !matches!(v, AttributeValue::Null(true)))
}

/// One operation rendered into transaction items.
pub(crate) struct RenderedOp {
    pub(crate) items: Vec<(TransactWriteItem, Part)>,
    pub(crate) expect: Expect,
    pub(crate) guard: Option<Guard>,
    /// The owner's stored key.
    pub(crate) key: StoredKey,
    /// What the owner holds after the transaction, for the loader's cache.
    pub(crate) written: Option<Written>,
    /// What the operation leaves stored, to recognise it after a lost answer.
    pub(crate) effect: Effect,
}

/// One operation of a transaction.
pub(crate) trait WriteOp: Send + Sync {
    /// The model.
    fn schema(&self) -> &'static Schema;
    /// The handle the operation was built with (it names the table its items go to).
    fn db(&self) -> &Db;
    /// The owner's stored key in `scope`.
    fn key(&self, scope: &KeyScope) -> Result<StoredKey, Error>;
    /// Whether the stored owner must be read (consistently) before rendering: the operation
    /// changes unique fields whose stored values it does not know.
    fn needs_read(&self) -> bool;
    /// Renders the operation. `stored` is `Some(the owner as read)` when
    /// [`needs_read`](WriteOp::needs_read) (`Some(None)`: absent).
    fn render(&self, scope: &KeyScope, stored: Option<&Option<Item>>) -> Result<RenderedOp, Error>;
}

/// Why a transaction did not go through.
pub(crate) enum Failure {
    /// Cancelled by DynamoDB; nothing was applied.
    Canceled {
        reasons: Vec<CancelReason>,
        expects: Vec<Expect>,
        /// Each operation's effect, as rendered in the cancelled request.
        effects: Vec<Effect>,
        /// Whether an earlier attempt of the cancelled request may have been applied (its
        /// answer was lost): the cancellation may then be that attempt's own effect, on an
        /// engine that does not honour client request tokens.
        unknown_before: bool,
        /// The owners as read before the request (see [`run`]).
        reads: Vec<Option<Option<Item>>>,
    },
    /// Any other error (including contention and limits).
    Other(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Other(e)
    }
}

/// A transaction ready to send.
pub(crate) struct Rendered {
    pub(crate) items: Vec<TransactWriteItem>,
    pub(crate) parts: Vec<(usize, Part)>,
    pub(crate) ops: Vec<RenderedOp>,
}

/// Resolves each operation's scope (the tenant once, for all tenant-scoped models).
pub(crate) async fn scopes(db: &Db, schemas: &[&'static Schema]) -> Result<Vec<KeyScope>, Error> {
    let mut tenant: Option<KeyScope> = None;
    let mut out = Vec::with_capacity(schemas.len());
    for schema in schemas {
        if schema.global || db.tenancy() == crate::Tenancy::Off {
            out.push(KeyScope::Global);
            continue;
        }
        let scope = match &tenant {
            Some(s) => s.clone(),
            None => {
                let s = db.scope_for_schema(schema).await?;
                tenant = Some(s.clone());
                s
            }
        };
        out.push(scope);
    }
    Ok(out)
}

/// Reads (consistently) the stored owners of the operations that need them.
async fn read_owners(
    db: &Db,
    ops: &[&dyn WriteOp],
    scopes: &[KeyScope],
) -> Result<Vec<Option<Option<Item>>>, Error> {
    let mut reads = Vec::with_capacity(ops.len());
    for (op, scope) in ops.iter().zip(scopes) {
        if !op.needs_read() {
            reads.push(None);
            continue;
        }
        let schema = op.schema();
        let fluent = db
            .client()
            .get_item()
            .table_name(db.table())
            .set_key(Some(op.key(scope)?.to_item()))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        let out = exec::send(db, "GetItem", schema.name, scope, || fluent.clone().send())
            .await
            .map_err(|e| Error::dynamo("GetItem", e.into_service_error()))?;
        let item = non_empty(out.item);
        if let Some(item) = &item {
            crate::model::check_item_scope_schema(scope, schema, item)?;
        }
        reads.push(Some(item));
    }
    Ok(reads)
}

/// Renders every operation and checks the limits: at most 100 items, no item twice.
fn render(
    ops: &[&dyn WriteOp],
    scopes: &[KeyScope],
    reads: &[Option<Option<Item>>],
) -> Result<Rendered, Error> {
    let mut rendered = Rendered {
        items: Vec::new(),
        parts: Vec::new(),
        ops: Vec::with_capacity(ops.len()),
    };
    let mut seen = std::collections::HashSet::new();
    for (i, ((op, scope), read)) in ops.iter().zip(scopes).zip(reads).enumerate() {
        let r = op.render(scope, read.as_ref())?;
        for (item, part) in &r.items {
            if let Some(k) = item_key(item) {
                if !seen.insert(k.clone()) {
                    return Err(Error::invalid_request(
                        op.schema().name,
                        format!(
                            "two operations of the transaction touch the item at {k}{}; DynamoDB \
                             takes one operation per item",
                            part.constraint()
                                .map(|c| format!(" (unique constraint {c})"))
                                .unwrap_or_default()
                        ),
                    ));
                }
            }
            rendered.items.push(item.clone());
            rendered.parts.push((i, *part));
        }
        rendered.ops.push(r);
    }
    if rendered.items.len() > MAX_ITEMS {
        return Err(Error::TooManyItems {
            operation: "TransactWriteItems",
            count: rendered.items.len(),
            limit: MAX_ITEMS,
        });
    }
    Ok(rendered)
}

/// The stored key a transaction item addresses.
fn item_key(item: &TransactWriteItem) -> Option<StoredKey> {
    if let Some(p) = item.put() {
        return StoredKey::of(p.item());
    }
    if let Some(u) = item.update() {
        return StoredKey::of(u.key());
    }
    if let Some(d) = item.delete() {
        return StoredKey::of(d.key());
    }
    item.condition_check().and_then(|c| StoredKey::of(c.key()))
}

/// The model named in spans: the one model of the transaction, or `transaction`.
fn span_model(ops: &[&dyn WriteOp]) -> &'static str {
    match ops.first().map(|o| o.schema()) {
        Some(s) if ops.iter().all(|o| std::ptr::eq(o.schema(), s)) => s.name,
        _ => "transaction",
    }
}

/// Refuses an operation built with another handle than the transaction's: its items would
/// name another table (or belong to another client) than the one the request goes to.
fn one_table(db: &Db, ops: &[&dyn WriteOp]) -> Result<(), Error> {
    match ops.iter().find(|op| op.db().id() != db.id()) {
        Some(op) => Err(Error::invalid_request(
            op.schema().name,
            format!(
                "the operation was built with a handle for table {:?}, the transaction's is for \
                 table {:?}; build every operation from the handle the transaction passes",
                op.db().table(),
                db.table()
            ),
        )),
        None => Ok(()),
    }
}

/// The request a transaction would send now (its reads are made).
pub(crate) async fn to_request(
    db: &Db,
    ops: &[&dyn WriteOp],
    token: Option<&str>,
) -> Result<TransactWriteItemsInput, Error> {
    one_table(db, ops)?;
    let schemas: Vec<_> = ops.iter().map(|o| o.schema()).collect();
    let scopes = scopes(db, &schemas).await?;
    let reads = read_owners(db, ops, &scopes).await?;
    let rendered = render(ops, &scopes, &reads)?;
    TransactWriteItemsInput::builder()
        .set_transact_items(Some(rendered.items))
        .set_client_request_token(token.map(str::to_owned))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .build()
        .map_err(|e| Error::invalid_request(span_model(ops), e.to_string()))
}

/// Sends a transaction of `ops`, re-reading and retrying (under `db`'s retry policy, with a
/// fresh client request token each time) while it is cancelled only because a concurrent write
/// changed what was read, or only by conflicts and throttling. Returns the owners as read.
///
/// With a caller's `token` nothing is re-sent after a cancellation: the same token with a
/// different request is an error in DynamoDB, and the caller chose to own the retries.
pub(crate) async fn run(
    db: &Db,
    ops: &[&dyn WriteOp],
    user_token: Option<&str>,
) -> Result<Vec<Option<Option<Item>>>, Failure> {
    if ops.is_empty() {
        return Err(Failure::Other(Error::invalid_request(
            "transaction",
            "a transaction needs at least one operation",
        )));
    }
    one_table(db, ops)?;
    let schemas: Vec<_> = ops.iter().map(|o| o.schema()).collect();
    let scopes = scopes(db, &schemas).await?;
    let model = span_model(ops);
    let policy = db.retry_policy();
    let mut attempt: u32 = 1;
    loop {
        let reads = read_owners(db, ops, &scopes).await?;
        let rendered = render(ops, &scopes, &reads)?;
        // One token per attempt: the SDK-level retries inside `exec::send` reuse it (so a
        // transaction whose answer was lost is applied once), a re-read gets a new one.
        let token = user_token
            .map(str::to_owned)
            .unwrap_or_else(|| ulid::Ulid::new().to_string());
        let fluent = db
            .client()
            .transact_write_items()
            .set_transact_items(Some(rendered.items.clone()))
            .client_request_token(token)
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        let span_scope = scopes.first().cloned().unwrap_or(KeyScope::Global);
        let tracked = exec::send_tracked(db, "TransactWriteItems", model, &span_scope, || {
            fluent.clone().send()
        })
        .await;
        let unknown = tracked.outcome_unknown();
        match tracked.result {
            Ok(_) => {
                for (r, scope) in rendered.ops.into_iter().zip(&scopes) {
                    if let Some(w) = r.written {
                        request_scope::record_write(db, scope, &r.key, || w);
                    }
                }
                return Ok(reads);
            }
            Err(err) => match err.into_service_error() {
                // A cancellation is definite even after an attempt whose answer was lost: the
                // retry carried the same client request token, and DynamoDB answers a token it
                // already applied with success, not with a cancellation.
                TransactWriteItemsError::TransactionCanceledException(e) => {
                    let raw = e.cancellation_reasons.unwrap_or_default();
                    let reasons = reasons(&rendered, &schemas, &scopes, raw);
                    let contention = reasons.iter().zip(&rendered.parts).any(|(r, (i, part))| {
                        *part == Part::Owner
                            && r.is_condition_failed()
                            && rendered
                                .ops
                                .get(*i)
                                .and_then(|o| o.guard.as_ref())
                                .is_some_and(|g| g.broken_by(r.item.as_ref()))
                    });
                    let transient = reasons.iter().any(CancelReason::is_failure)
                        && reasons
                            .iter()
                            .filter(|r| r.is_failure())
                            .all(|r| r.is_conflict() || r.is_throttled());
                    let ours = user_token.is_none();
                    // After an attempt whose answer was lost, a new token could apply the
                    // transaction a second time: no re-send then.
                    let unknown_before = tracked.ambiguous_before;
                    if (contention || transient)
                        && ours
                        && !unknown_before
                        && policy.may_retry(attempt)
                    {
                        tracing::debug!(
                            attempt,
                            contention,
                            "dynabao: transaction cancelled by a concurrent write; retrying"
                        );
                        tokio::time::sleep(policy.delay(attempt)).await;
                        attempt += 1;
                        continue;
                    }
                    if contention && !unknown_before {
                        return Err(Failure::Other(Error::Contention {
                            model,
                            attempts: attempt,
                        }));
                    }
                    return Err(Failure::Canceled {
                        reasons,
                        expects: rendered.ops.iter().map(|o| o.expect).collect(),
                        effects: rendered.ops.iter().map(|o| o.effect.clone()).collect(),
                        unknown_before,
                        reads,
                    });
                }
                other => {
                    // The cache cannot know what is stored now.
                    for (i, r) in rendered.ops.iter().enumerate() {
                        if let Some(scope) = scopes.get(i) {
                            request_scope::record_write(db, scope, &r.key, || Written::Unknown);
                        }
                    }
                    let err = Error::dynamo("TransactWriteItems", other);
                    return Err(Failure::Other(if unknown {
                        Error::outcome_unknown("TransactWriteItems", model, err)
                    } else {
                        err
                    }));
                }
            },
        }
    }
}

fn reasons(
    rendered: &Rendered,
    schemas: &[&'static Schema],
    scopes: &[KeyScope],
    raw: Vec<CancellationReason>,
) -> Vec<CancelReason> {
    rendered
        .parts
        .iter()
        .enumerate()
        .map(|(n, (i, part))| {
            let r = raw.get(n);
            CancelReason {
                position: *i,
                model: schemas.get(*i).map_or("transaction", |s| s.name),
                constraint: part.constraint(),
                claim: matches!(part, Part::Claim(_)),
                prefix: schemas.get(*i).map_or("", |s| s.prefix),
                key_prefix: match (scopes.get(*i), schemas.get(*i)) {
                    (Some(scope), Some(schema)) => Some(scope.model_prefix(schema.prefix)),
                    _ => None,
                },
                code: r.and_then(|r| r.code().map(str::to_owned)),
                message: r.and_then(|r| r.message().map(str::to_owned)),
                item: r.and_then(|r| r.item().cloned()).filter(|i| !i.is_empty()),
            }
        })
        .collect()
}

/// Maps a cancelled transaction of one operation to the error the operation would give on its
/// own: the owner's condition to `AlreadyExists`, `NotFound`, `VersionConflict` or
/// `ConditionFailed`; a claim to `UniqueViolation`; anything else stays `TransactionCanceled`.
pub(crate) fn single_error(schema: &'static Schema, failure: Failure) -> Error {
    match failure {
        Failure::Other(e) => e,
        Failure::Canceled {
            reasons, expects, ..
        } => {
            let expect = expects.first().copied().unwrap_or(Expect::Anything);
            let owner = reasons
                .iter()
                .find(|r| r.constraint.is_none() && r.is_condition_failed());
            if let Some(owner) = owner {
                // The reason carries the key prefix of the scope the operation wrote in;
                // without one the item is checked against the global scope, which a tenant's
                // item never passes.
                let key_prefix = owner
                    .key_prefix
                    .clone()
                    .unwrap_or_else(|| KeyScope::Global.model_prefix(schema.prefix));
                return condition_failed_with(schema, key_prefix, expect, owner.item.clone());
            }
            let claim = reasons
                .iter()
                .find(|r| r.constraint.is_some() && r.is_condition_failed() && r.claim);
            if let Some(claim) = claim {
                if let Some(constraint) = claim.constraint {
                    return Error::UniqueViolation {
                        model: schema.name,
                        constraint,
                    };
                }
            }
            Error::TransactionCanceled { reasons }
        }
    }
}

/// How a one-operation transaction ended: `Ok(stored)` when it was applied (`stored`: the
/// owner as DynamoDB returned it with a failed condition that shows the operation's own effect,
/// or `None`), else its error. A cancellation after an attempt whose answer was lost is the
/// operation's own success when the owner's failed condition shows its effect, and
/// [`Error::OutcomeUnknown`] when it does not.
pub(crate) fn single_outcome(
    schema: &'static Schema,
    failure: Failure,
) -> Result<Option<Item>, Error> {
    match failure {
        Failure::Canceled {
            reasons,
            expects,
            effects,
            unknown_before: true,
            reads,
        } => {
            let owner = reasons
                .iter()
                .find(|r| r.constraint.is_none() && r.is_condition_failed());
            if let (Some(owner), Some(effect)) = (owner, effects.first()) {
                if effect.shown_by(owner.item.as_ref()) {
                    return Ok(owner.item.clone());
                }
            }
            let err = single_error(
                schema,
                Failure::Canceled {
                    reasons,
                    expects,
                    effects,
                    unknown_before: false,
                    reads,
                },
            );
            Err(Error::outcome_unknown(
                "TransactWriteItems",
                schema.name,
                err,
            ))
        }
        other => Err(single_error(schema, other)),
    }
}

/// The stored key of an item or key map a verb rendered (it always has one).
pub(crate) fn owner_key(schema: &Schema, item: &Item) -> Result<StoredKey, Error> {
    StoredKey::of(item).ok_or_else(|| Error::MalformedItem {
        model: schema.name,
        reason: "the item has no key".into(),
    })
}

/// An SDK builder's refusal, as the request error of `schema`'s operation.
pub(crate) fn build_err(schema: &Schema, e: impl std::fmt::Display) -> Error {
    Error::invalid_request(schema.name, e.to_string())
}

/// The error `to_request` gives for a single write that goes as a transaction.
pub(crate) fn rendered_as_transaction<M: Model>() -> Error {
    Error::invalid_request(
        M::SCHEMA.name,
        "this write keeps unique constraints and is sent as a TransactWriteItems; render it with \
         db.transact_write()...to_request()",
    )
}

/// Reads the item a transaction of one write left, to return it (a transaction returns
/// nothing).
pub(crate) async fn read_back<M: Model>(
    db: &Db,
    scope: &KeyScope,
    key: Key<M>,
) -> Result<M, Error> {
    let key = key.stored(scope);
    let fluent = db
        .client()
        .get_item()
        .table_name(db.table())
        .set_key(Some(key.to_item()))
        .consistent_read(true)
        .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total);
    let out = exec::send(db, "GetItem", M::SCHEMA.name, scope, || {
        fluent.clone().send()
    })
    .await
    .map_err(|e| Error::dynamo("GetItem", e.into_service_error()))?;
    match non_empty(out.item) {
        Some(item) => {
            let decoded = codec::decode_written::<M>(scope, "TransactWriteItems", item.clone());
            request_scope::record_write(db, scope, &key, || Written::Item(item));
            decoded
        }
        // Deleted by someone else right after the update.
        None => Err(Error::NotFound {
            model: M::SCHEMA.name,
        }),
    }
}
