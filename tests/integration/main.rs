//! Integration tests against a real DynamoDB Local (started by the testkit, or the one in
//! `DYNAMODB_ENDPOINT`). One binary, many modules, so the server starts once.

mod concurrency;
mod crud;
mod layout;
mod models;
mod smoke;
mod support;
mod tenancy;
