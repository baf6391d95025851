//! Integration tests against a real DynamoDB Local (started by the testkit, or the one in
//! `DYNAMODB_ENDPOINT`). One binary, many modules, so the server starts once.

mod models;
mod smoke;
