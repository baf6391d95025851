//! DynamoDB single-table design for multi-tenant services.
//!
//! A [`Model`] is a struct with `#[derive(dynabao::Model)]`. Every key it writes (partition, sort
//! and index keys) starts with `[tenant]#prefix#`, and every operation takes its tenant from the
//! task-local [`TenantContext`]. With no tenant an operation fails with
//! [`Error::TenantRequired`] before anything is sent, and every item read back is checked to
//! carry the current tenant's prefix ([`Error::CrossTenant`] otherwise).
//!
//! ```no_run
//! use dynabao::{Db, Error, Model, TenantContext};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, Serialize, Deserialize, Model)]
//! #[bao(prefix = "note")]
//! #[bao(index(by_tag(gsi = 1, pk = "tag")))]
//! struct Note {
//!     #[bao(pk)]
//!     id: String,
//!     tag: String,
//!     body: String,
//! }
//!
//! async fn example(db: &Db) -> Result<(), Error> {
//!     TenantContext::run_with_tenant("acme", async {
//!         let note = Note { id: "n1".into(), tag: "todo".into(), body: "ship it".into() };
//!         Note::create(db, note).await?;
//!         let todo = Note::query_by_tag(db, "todo").all().await?;
//!         assert_eq!(todo.len(), 1);
//!         Note::update(db, "n1").set(Note::BODY, "shipped").await?;
//!         Ok::<_, Error>(())
//!     })
//!     .await
//! }
//! ```
//!
//! # Invariants
//!
//! The rules every change keeps. Each has a test that fails when it is broken; the docs that cite
//! "invariant N" point here.
//!
//! 1. **One key builder.** Only [`key`] turns (tenant, model prefix, field values) into stored key
//!    strings; no public API accepts a raw `_pk`/`_sk` string.
//! 2. **Fail closed.** With tenancy on, an operation that finds no tenant (no scope, no fallback,
//!    no resolver answer) returns [`Error::TenantRequired`] and sends nothing. There is no
//!    default tenant.
//! 3. **Tenant ids are validated once**, into [`TenantId`]: 1 to 64 characters of
//!    `[A-Za-z0-9._-]`, else [`Error::InvalidTenantId`]. The id is bracketed in keys, so no
//!    tenant's keys are a prefix of another's (`[acme]#` vs `[acme-corp]#`).
//! 4. **Injective layout.** Two different (tenant, model, key values) never give the same stored
//!    key: model prefixes are checked at compile time (non-empty, no `#`, `[`, `]`) and key
//!    values are escaped, so a value containing `#` cannot forge another key.
//! 5. **Reads are checked.** Every item that comes back from DynamoDB is checked to carry the
//!    current tenant's and model's prefix before it is decoded; a mismatch is
//!    [`Error::CrossTenant`], never a result.
//! 6. **Cursors are opaque and bound** to tenant, model, index and key condition: replayed under
//!    another tenant, or edited, a cursor is [`Error::InvalidCursor`].
//! 7. **Nothing is lost.** Batches chunk (100 keys per BatchGetItem, 25 per BatchWriteItem),
//!    retry unprocessed items with exponential backoff and jitter, and report what is still
//!    unprocessed after the retry budget in a typed error that carries those items.
//! 8. **No panics on user input.** Nothing reachable from user data or DynamoDB responses
//!    unwraps or panics; library errors are one `#[non_exhaustive]` enum, [`Error`].
//!
//! # Layers
//!
//! Each layer imports only the layers above it in this list (the ones it stands on); a test
//! (`tests/integration/architecture.rs`) reads the imports and fails on any cycle between the
//! crate's modules or their submodules.
//!
//! 1. [`error`], [`retry`] and [`set`]: the one error type and the reports it carries
//!    (unprocessed batch items, cancellation reasons, the stored item of a failed condition),
//!    the retry policy and which DynamoDB codes it retries, set types. They import nothing of
//!    the crate but each other (`error` names the retry codes).
//! 2. [`tenant`]: tenant ids, [`Tenancy`], the task-local context, resolvers. Knows nothing of
//!    DynamoDB.
//! 3. [`key`]: the key builder, the only code that formats stored keys, and its parser.
//! 4. [`model`]: the [`Model`] trait, the schema the derive generates, the link-time registry,
//!    and a model's keys (built through [`key`]).
//! 5. The item codec (models to items and back, item sizes, the checked decode of a failed
//!    write's item), [`expr`] (typed conditions) and [`cursor`] (sealed pagination cursors).
//! 6. [`Db`]: the handle (client, table, tenancy, cursor key, retry policy, timeouts), the only
//!    place that resolves a model's tenant scope.
//! 7. `exec`: the one place every request passes, table management included: a tracing span,
//!    timeouts, retries under the [`RetryPolicy`], and the consumed-capacity meter.
//! 8. The loader's request scope: its cache, the reads waiting and in flight, its counters.
//!    Writes and batches record what they did here.
//! 9. [`batch`]: the batch engine (chunking, bounded fan-out, resending unprocessed items) and
//!    the public batch builders.
//! 10. [`loader`]: the batcher that merges `find`s into batched reads.
//! 11. The write engine: what a verb needs to become one write or one item of a transaction
//!     (expected state, effects, the transaction sender, unique-constraint moves).
//! 12. [`ops`]: one module per verb, each rendering its own request and its own transaction
//!     item.
//! 13. [`transact`] (the public transaction builders) and table management.
//! 14. `registry` (feature `registry`): tenants as records, their hosts and API keys, behind an
//!     in-process cache; provisioning, export and offboarding. Built on the operations, the
//!     transactions and the batch engine, as an application would be.
//! 15. `http`, `lambda` and `testkit` (features of the same names): nothing imports them.
//!     `http` reaches the registry (with both features) only for its gate and lookups.
//!
//! # Stored layout
//!
//! | attribute | tenancy on | tenancy off / `#[bao(global)]` |
//! |---|---|---|
//! | `_pk` | `[t]#prefix#<pk>` | `prefix#<pk>` |
//! | `_sk` | `[t]#prefix#<sk>` (`_` without a sort key) | `prefix#<sk>` |
//! | `_gsiN_pk`, `_gsiN_sk` | same form, each half written when all its fields are present | same |
//! | `_ttl` | the `#[bao(ttl)]` field, epoch seconds | same |
//!
//! Key values are escaped so that they never contain `#` and sort like the values they encode;
//! see [`key`].

#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod batch;
// Lets the derive's `::dynabao::` paths resolve inside this crate's own tests.
extern crate self as dynabao;

mod codec;
pub mod cursor;
mod db;
pub mod error;
mod exec;
pub mod expr;
#[cfg(feature = "http")]
pub mod http;
pub mod key;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod loader;
pub mod model;
pub mod ops;
#[cfg(feature = "registry")]
pub mod registry;
mod request_scope;
pub mod retry;
pub mod set;
mod table;
pub mod tenant;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod transact;
mod write;

pub use cursor::CursorKey;
pub use db::{Config, Db};
pub use error::{Error, Item, Result};
pub use expr::Condition;
pub use key::TTL_ATTR;
pub use key::{KeyPart, KeyScope};
pub use loader::Loader;
pub use model::{Field, GeneratedId, Key, Model};
pub use retry::{RetryPolicy, Timeouts};
pub use set::{NumberSet, StringSet};
pub use tenant::{Tenancy, TenantContext, TenantId};

/// `#[derive(KeyPart)]` for unit-variant enums that serialize to strings, and for newtypes
/// over a key type (`struct ProjectId(Ulid)`, with `#[bao(auto)]` also a [`GeneratedId`]).
pub use dynabao_derive::KeyPart;

/// The ULID crate dynabao's keys use (ulid 1.x): name its types through here (`dynabao::Ulid`)
/// so that a `ulid` of another major version in your `Cargo.toml` cannot make a different
/// `Ulid`.
pub use ulid::{self, Ulid};

/// The uuid crate behind `uuid::Uuid` keys (uuid 1.x, feature `uuid`).
#[cfg(feature = "uuid")]
pub use uuid;

/// The chrono crate dynabao's timestamps use (chrono 0.4): `dynabao::chrono::{DateTime, Utc,
/// NaiveDate}`.
pub use chrono;
/// `#[derive(Model)]`: see the README's "Models" section for the attributes, and
/// [`model`](crate::model#rules-the-derive-and-every-write-enforce) for the rules it enforces
/// (reserved `_` names, one prefix per model, checked decodes).
pub use dynabao_derive::Model;

/// The README's examples, compiled as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The contract between `#[derive(Model)]` / `#[derive(KeyPart)]` and the runtime. Not part of
/// the public API: everything the generated code names is reached through here, and nothing
/// else, so runtime modules can move without touching the derive. What only the derive may do
/// (construct schemas and typed fields, implement [`Model`]'s sealed supertrait) lives here alone.
#[doc(hidden)]
pub mod __private {
    pub use aws_sdk_dynamodb::types::AttributeValue;
    pub use chrono::{DateTime, Utc};
    pub use core::borrow::Borrow;
    pub use core::option::Option::{self, None, Some};
    pub use core::result::Result::{self, Ok};
    pub use inventory;
    pub use ulid::Ulid;

    pub use crate::db::Db;
    pub use crate::key::{write_serialized_str, InvalidKeyPart, KeyPart, KeyWriter};
    pub use crate::model::internals::{
        assert_generated_id, assert_key_part, assert_same, double_option, field, field_ref, index,
        iteration, key_builder, key_field_ref, schema, schema_field, ttl_field, unique, write_key,
        write_opt_key, KeyFieldWriter, Managed, ModelInternals, SchemaBuilder, Timestamp, TtlField,
        TtlRepr,
    };
    pub use crate::model::keys::KeyBuilder;
    pub use crate::model::registry::Registration;
    pub use crate::model::{
        Field, FieldSchema, GeneratedId, IndexSchema, Iteration, Model, PrimaryKey, Schema,
        UniqueSchema,
    };
    pub use crate::model::{InvalidKey, Key};
    pub use crate::ops::query::NoSortKey;
    pub use crate::ops::{Delete, Find, FindUnique, Iterate, Patch, Put, Query, Update};
    pub use serde;
}
