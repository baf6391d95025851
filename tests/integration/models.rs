//! Models shared by the integration tests.

use chrono::{DateTime, Utc};
use dynabao::{KeyPart, Model};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, KeyPart)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Suspended,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "u")]
#[bao(index(by_status(gsi = 1, pk = "status", sk = "created_at")))]
#[bao(index(by_email(gsi = 2, pk = "email")))]
#[bao(patch)]
pub struct User {
    #[bao(pk, auto)]
    pub id: Ulid,
    pub email: String,
    pub name: String,
    pub status: Status,
    pub logins: u32,
    pub nickname: Option<String>,
    #[bao(created_at)]
    pub created_at: DateTime<Utc>,
    #[bao(updated_at)]
    pub updated_at: DateTime<Utc>,
    #[bao(version)]
    pub version: u64,
}

impl User {
    pub fn new(email: &str) -> Self {
        User {
            id: Ulid::nil(),
            email: email.into(),
            name: email.split('@').next().unwrap_or_default().into(),
            status: Status::Active,
            logins: 0,
            nickname: None,
            created_at: DateTime::default(),
            updated_at: DateTime::default(),
            version: 0,
        }
    }
}

/// A model with a sort key, an index whose partition is another model's id, and a sparse index
/// on an optional field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "post")]
#[bao(index(by_author(gsi = 1, pk = "author_id", sk = "published_at")))]
#[bao(index(by_tag(gsi = 3, pk = "tag", sk = ["author_id", "seq"])))]
pub struct Post {
    #[bao(pk)]
    pub author_id: Ulid,
    #[bao(sk)]
    pub seq: i64,
    pub title: String,
    pub published_at: DateTime<Utc>,
    pub tag: Option<String>,
}

/// Composite primary key of several types, for key-order tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "rd")]
#[bao(pk = ["sensor", "day"], sk = ["value", "at"])]
pub struct Reading {
    pub sensor: String,
    pub day: u16,
    pub value: f64,
    pub at: DateTime<Utc>,
    pub note: String,
}

/// Data that belongs to no tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "plan", global)]
pub struct Plan {
    #[bao(pk)]
    pub code: String,
    pub price_cents: i64,
}

/// A model with a TTL and camelCase stored names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "sess")]
#[serde(rename_all = "camelCase")]
pub struct Session {
    #[bao(pk)]
    pub session_id: String,
    pub user_name: String,
    #[bao(ttl)]
    pub expires_at: DateTime<Utc>,
}

/// A model whose index sort key is built from two ordinary (non-key) fields, for the rule that an
/// update must give every field of an index key half it touches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "task")]
#[bao(index(by_board(gsi = 2, pk = "board", sk = ["lane", "rank"])))]
pub struct Task {
    #[bao(pk, auto)]
    pub id: Ulid,
    pub board: String,
    pub lane: String,
    pub rank: u32,
    pub title: String,
    #[bao(version)]
    pub version: u64,
}

impl Task {
    pub fn new(board: &str, lane: &str, rank: u32, title: &str) -> Self {
        Task {
            id: Ulid::nil(),
            board: board.into(),
            lane: lane.into(),
            rank,
            title: title.into(),
            version: 0,
        }
    }
}
