//! Integration tests against a real DynamoDB engine: the testkit's embedded one, or the one in
//! `DYNAMODB_ENDPOINT` (see `support::engines` for what they may rely on). One binary, many
//! modules, one engine per run.

mod architecture;
mod batch;
mod compile_fail;
mod concurrency;
mod counters;
mod crud;
#[cfg(feature = "http")]
mod example_axum;
mod example_jobs;
mod faults;
mod isolation_data;
#[cfg(feature = "uuid")]
mod key_types;
#[cfg(feature = "lambda")]
mod lambda_events;
mod layout;
mod loader;
mod local_tasks;
mod models;
mod models_tx;
mod paging;
mod query;
#[cfg(feature = "registry")]
mod registry;
#[cfg(all(feature = "http", feature = "registry", feature = "axum"))]
mod registry_edge;
mod retry;
mod smoke;
mod support;
mod table;
mod tenancy;
mod transact;
mod unique;
