//! Integration tests against a real DynamoDB Local (started by the testkit, or the one in
//! `DYNAMODB_ENDPOINT`). One binary, many modules, so the server starts once.

// clippy's duplicated_attributes misfires on derive helper attributes that repeat a key with
// different values (rust-clippy#13238), such as two `#[bao(index(.., gsi = N))]`.
#![allow(clippy::duplicated_attributes)]

mod batch;
mod compile_fail;
mod concurrency;
mod counters;
mod crud;
#[cfg(feature = "http")]
mod example_axum;
mod example_jobs;
#[cfg(feature = "lambda")]
mod lambda_events;
mod layout;
mod loader;
mod local_tasks;
mod models;
mod models_tx;
mod paging;
mod query;
mod retry;
mod smoke;
mod support;
mod table;
mod tenancy;
mod transact;
mod unique;
