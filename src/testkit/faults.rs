//! Making DynamoDB misbehave on purpose: throttling and unprocessed batch items, injected by an
//! SDK interceptor, for tests of retries and of "nothing lost". Faults of the network and the
//! server (lost answers, 500s, hung requests, latency) are [`HttpFaults`](super::HttpFaults),
//! at the HTTP layer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextMut, FinalizerInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::ErrorMetadata;
use aws_sdk_dynamodb::operation::batch_get_item::{
    BatchGetItemError, BatchGetItemInput, BatchGetItemOutput,
};
use aws_sdk_dynamodb::operation::batch_write_item::{
    BatchWriteItemError, BatchWriteItemInput, BatchWriteItemOutput,
};
use aws_sdk_dynamodb::operation::delete_item::{DeleteItemError, DeleteItemInput};
use aws_sdk_dynamodb::operation::get_item::{GetItemError, GetItemInput};
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemInput};
use aws_sdk_dynamodb::operation::query::{QueryError, QueryInput};
use aws_sdk_dynamodb::operation::transact_get_items::{
    TransactGetItemsError, TransactGetItemsInput,
};
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsInput,
};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemInput};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, DeleteRequest, KeysAndAttributes, TransactWriteItem,
    WriteRequest,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::Error as ErasedError;
use aws_smithy_runtime_api::client::orchestrator::OrchestratorError;
use aws_smithy_types::config_bag::{Storable, StoreReplace};

/// The error code injected throttling uses.
pub const THROTTLING_CODE: &str = "ProvisionedThroughputExceededException";

/// An SDK interceptor that makes requests fail the way a busy DynamoDB does, to test that
/// nothing is lost and retries stay bounded.
///
/// - [`throttle_next`](FaultInjector::throttle_next): the next requests fail with
///   `ProvisionedThroughputExceededException`. A throttled write is **not applied**: its request
///   is altered before it is sent so that DynamoDB refuses it (a condition on an attribute that
///   never exists; a batch write of one harmless delete; a transaction with a failing condition
///   check), and the answer is then replaced with the throttling error. Reads are sent as they
///   are and their answer replaced.
/// - [`unprocessed_next`](FaultInjector::unprocessed_next) /
///   [`unprocessed_always`](FaultInjector::unprocessed_always): BatchGetItem and
///   BatchWriteItem requests hold back every other item (the first one always goes), and
///   the held-back items are reported in `UnprocessedKeys` / `UnprocessedItems`, exactly as
///   DynamoDB does under load: they were neither read nor written.
///
/// Table management (CreateTable and the like) is never touched. Build the client with the
/// SDK's retries off (see [`fresh_db_with_faults`](super::fresh_db_with_faults)), so every
/// retry the test sees is dynabao's. Clones share one plan and one set of counters.
#[derive(Debug, Clone, Default)]
pub struct FaultInjector {
    plan: Arc<Mutex<Plan>>,
    throttled: Arc<AtomicUsize>,
    held_back: Arc<AtomicUsize>,
}

#[derive(Debug, Default)]
struct Plan {
    throttle: usize,
    throttle_only: Option<String>,
    unprocessed: usize,
    unprocessed_always: bool,
    unprocessed_rate: f64,
    rng: u64,
}

/// What was injected into one operation, kept in its config bag between the hooks.
#[derive(Debug, Clone)]
enum Fault {
    Throttle(&'static str),
    HeldBackKeys {
        table: String,
        keys: Vec<HashMap<String, AttributeValue>>,
        consistent: Option<bool>,
    },
    HeldBackWrites {
        table: String,
        writes: Vec<WriteRequest>,
    },
}

impl Storable for Fault {
    type Storer = StoreReplace<Self>;
}

impl FaultInjector {
    /// An injector that injects nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next `n` requests (table management aside) fail with throttling.
    pub fn throttle_next(&self, n: usize) {
        let mut plan = self.plan();
        plan.throttle = n;
        plan.throttle_only = None;
    }

    /// The next `n` requests of `operation` (`GetItem`, `PutItem`, `BatchWriteItem`, ...) fail
    /// with throttling; other operations are untouched.
    pub fn throttle_next_of(&self, operation: &str, n: usize) {
        let mut plan = self.plan();
        plan.throttle = n;
        plan.throttle_only = Some(operation.to_owned());
    }

    /// The next `n` batch requests hold back every other item and report it unprocessed.
    pub fn unprocessed_next(&self, n: usize) {
        let mut plan = self.plan();
        plan.unprocessed = n;
        plan.unprocessed_always = false;
    }

    /// From now on each batch request holds back every other item with probability `rate`,
    /// drawn from a generator seeded with `seed`.
    pub fn unprocessed_at_rate(&self, rate: f64, seed: u64) {
        let mut plan = self.plan();
        plan.unprocessed_rate = rate.clamp(0.0, 1.0);
        plan.rng = seed | 1;
    }

    /// Every batch request from now on holds back every other item.
    pub fn unprocessed_always(&self) {
        self.plan().unprocessed_always = true;
    }

    /// Stops injecting.
    pub fn clear(&self) {
        *self.plan() = Plan::default();
    }

    /// Requests failed with throttling so far.
    pub fn throttled(&self) -> usize {
        self.throttled.load(Ordering::SeqCst)
    }

    /// Batch items held back (reported unprocessed) so far.
    pub fn held_back(&self) -> usize {
        self.held_back.load(Ordering::SeqCst)
    }

    /// Adds this injector to an SDK config builder.
    pub fn attach(
        &self,
        builder: aws_sdk_dynamodb::config::Builder,
    ) -> aws_sdk_dynamodb::config::Builder {
        builder.interceptor(self.clone())
    }

    fn plan(&self) -> std::sync::MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Decides what to inject into an operation, once, before it is serialized.
    fn decide(&self, op: &'static str) -> Option<Decision> {
        let mut plan = self.plan();
        let matches = plan
            .throttle_only
            .as_deref()
            .map_or(true, |only| only == op);
        if plan.throttle > 0 && matches {
            plan.throttle -= 1;
            return Some(Decision::Throttle);
        }
        let by_rate = plan.unprocessed_rate > 0.0 && {
            let mut x = plan.rng;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            plan.rng = x;
            let roll = (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
            roll < plan.unprocessed_rate
        };
        if matches!(op, "BatchGetItem" | "BatchWriteItem")
            && (plan.unprocessed_always || plan.unprocessed > 0 || by_rate)
        {
            if !plan.unprocessed_always && !by_rate {
                plan.unprocessed -= 1;
            }
            return Some(Decision::HoldBack);
        }
        None
    }
}

enum Decision {
    Throttle,
    HoldBack,
}

fn operation(
    input: &aws_smithy_runtime_api::client::interceptors::context::Input,
) -> Option<&'static str> {
    macro_rules! which {
        ($($t:ty => $name:literal),*) => {
            $( if input.downcast_ref::<$t>().is_some() { return Some($name); } )*
        };
    }
    which!(
        GetItemInput => "GetItem",
        PutItemInput => "PutItem",
        UpdateItemInput => "UpdateItem",
        DeleteItemInput => "DeleteItem",
        QueryInput => "Query",
        BatchGetItemInput => "BatchGetItem",
        BatchWriteItemInput => "BatchWriteItem",
        TransactGetItemsInput => "TransactGetItems",
        TransactWriteItemsInput => "TransactWriteItems"
    );
    None
}

const NEVER_ATTR: &str = "_dynabao_fault_never";
const NEVER_NAME: &str = "#dynabao_fault";

fn fault_key() -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("_pk".to_owned(), AttributeValue::S("_dynabao_fault".into())),
        ("_sk".to_owned(), AttributeValue::S("_dynabao_fault".into())),
    ])
}

/// `(existing) AND attribute_exists(#dynabao_fault)`: a condition that never holds.
fn never(condition: &mut Option<String>, names: &mut Option<HashMap<String, String>>) {
    let clause = format!("attribute_exists({NEVER_NAME})");
    *condition = Some(match condition.take() {
        Some(c) => format!("({c}) AND {clause}"),
        None => clause,
    });
    names
        .get_or_insert_with(HashMap::new)
        .insert(NEVER_NAME.to_owned(), NEVER_ATTR.to_owned());
}

/// Alters a write so that DynamoDB refuses it and applies nothing.
fn neutralize(input: &mut aws_smithy_runtime_api::client::interceptors::context::Input) {
    if let Some(i) = input.downcast_mut::<PutItemInput>() {
        never(
            &mut i.condition_expression,
            &mut i.expression_attribute_names,
        );
    } else if let Some(i) = input.downcast_mut::<UpdateItemInput>() {
        never(
            &mut i.condition_expression,
            &mut i.expression_attribute_names,
        );
    } else if let Some(i) = input.downcast_mut::<DeleteItemInput>() {
        never(
            &mut i.condition_expression,
            &mut i.expression_attribute_names,
        );
    } else if let Some(i) = input.downcast_mut::<BatchWriteItemInput>() {
        if let Some(items) = &mut i.request_items {
            for writes in items.values_mut() {
                let harmless = DeleteRequest::builder().set_key(Some(fault_key())).build();
                *writes = harmless
                    .map(|d| vec![WriteRequest::builder().delete_request(d).build()])
                    .unwrap_or_default();
            }
        }
    } else if let Some(i) = input.downcast_mut::<TransactWriteItemsInput>() {
        let table = i
            .transact_items
            .as_ref()
            .and_then(|items| items.first())
            .and_then(|t| {
                t.put()
                    .map(|p| p.table_name().to_owned())
                    .or_else(|| t.update().map(|u| u.table_name().to_owned()))
                    .or_else(|| t.delete().map(|d| d.table_name().to_owned()))
                    .or_else(|| t.condition_check().map(|c| c.table_name().to_owned()))
            })
            .unwrap_or_default();
        let check = ConditionCheck::builder()
            .table_name(table)
            .set_key(Some(fault_key()))
            .condition_expression(format!("attribute_exists({NEVER_NAME})"))
            .expression_attribute_names(NEVER_NAME, NEVER_ATTR)
            .build();
        if let Ok(check) = check {
            i.transact_items
                .get_or_insert_with(Vec::new)
                .push(TransactWriteItem::builder().condition_check(check).build());
        }
    }
}

/// The throttling error of operation `op`, typed as its own error.
fn throttling(op: &str) -> Option<ErasedError> {
    let meta = || {
        ErrorMetadata::builder()
            .code(THROTTLING_CODE)
            .message("throttled by dynabao::testkit::FaultInjector")
            .build()
    };
    Some(match op {
        "GetItem" => ErasedError::erase(GetItemError::generic(meta())),
        "PutItem" => ErasedError::erase(PutItemError::generic(meta())),
        "UpdateItem" => ErasedError::erase(UpdateItemError::generic(meta())),
        "DeleteItem" => ErasedError::erase(DeleteItemError::generic(meta())),
        "Query" => ErasedError::erase(QueryError::generic(meta())),
        "BatchGetItem" => ErasedError::erase(BatchGetItemError::generic(meta())),
        "BatchWriteItem" => ErasedError::erase(BatchWriteItemError::generic(meta())),
        "TransactGetItems" => ErasedError::erase(TransactGetItemsError::generic(meta())),
        "TransactWriteItems" => ErasedError::erase(TransactWriteItemsError::generic(meta())),
        _ => return None,
    })
}

impl Intercept for FaultInjector {
    fn name(&self) -> &'static str {
        "dynabao::testkit::FaultInjector"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(op) = operation(context.input()) else {
            return Ok(());
        };
        match self.decide(op) {
            Some(Decision::Throttle) => {
                neutralize(context.input_mut());
                self.throttled.fetch_add(1, Ordering::SeqCst);
                cfg.interceptor_state().store_put(Fault::Throttle(op));
            }
            Some(Decision::HoldBack) => {
                let input = context.input_mut();
                if let Some(i) = input.downcast_mut::<BatchGetItemInput>() {
                    if let Some((table, ka)) =
                        i.request_items.as_mut().and_then(|m| m.iter_mut().next())
                    {
                        let all = std::mem::take(&mut ka.keys);
                        let (sent, held): (Vec<_>, Vec<_>) =
                            all.into_iter().enumerate().partition(|(n, _)| n % 2 == 0);
                        ka.keys = sent.into_iter().map(|(_, k)| k).collect();
                        let keys: Vec<_> = held.into_iter().map(|(_, k)| k).collect();
                        if !keys.is_empty() {
                            self.held_back.fetch_add(keys.len(), Ordering::SeqCst);
                            cfg.interceptor_state().store_put(Fault::HeldBackKeys {
                                table: table.clone(),
                                keys,
                                consistent: ka.consistent_read,
                            });
                        }
                    }
                } else if let Some(i) = input.downcast_mut::<BatchWriteItemInput>() {
                    if let Some((table, writes)) =
                        i.request_items.as_mut().and_then(|m| m.iter_mut().next())
                    {
                        let all = std::mem::take(writes);
                        let (sent, held): (Vec<_>, Vec<_>) =
                            all.into_iter().enumerate().partition(|(n, _)| n % 2 == 0);
                        *writes = sent.into_iter().map(|(_, w)| w).collect();
                        let held: Vec<_> = held.into_iter().map(|(_, w)| w).collect();
                        if !held.is_empty() {
                            self.held_back.fetch_add(held.len(), Ordering::SeqCst);
                            cfg.interceptor_state().store_put(Fault::HeldBackWrites {
                                table: table.clone(),
                                writes: held,
                            });
                        }
                    }
                }
            }
            None => {}
        }
        Ok(())
    }

    fn modify_before_attempt_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(fault) = cfg.load::<Fault>().cloned() else {
            return Ok(());
        };
        let Some(result) = context.output_or_error_mut() else {
            return Ok(());
        };
        match fault {
            Fault::Throttle(op) => {
                if let Some(err) = throttling(op) {
                    *result = Err(OrchestratorError::operation(err));
                }
            }
            Fault::HeldBackKeys {
                table,
                keys,
                consistent,
            } => {
                if let Ok(out) = result {
                    if let Some(out) = out.downcast_mut::<BatchGetItemOutput>() {
                        let ka = KeysAndAttributes::builder()
                            .set_keys(Some(keys))
                            .set_consistent_read(consistent)
                            .build()?;
                        out.unprocessed_keys
                            .get_or_insert_with(HashMap::new)
                            .insert(table, ka);
                    }
                }
            }
            Fault::HeldBackWrites { table, writes } => {
                if let Ok(out) = result {
                    if let Some(out) = out.downcast_mut::<BatchWriteItemOutput>() {
                        out.unprocessed_items
                            .get_or_insert_with(HashMap::new)
                            .entry(table)
                            .or_default()
                            .extend(writes);
                    }
                }
            }
        }
        Ok(())
    }
}
