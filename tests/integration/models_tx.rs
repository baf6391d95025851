//! Models and raw checks for the batch, transaction, unique-constraint, loader and counter tests.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use dynabao::key::{encode_part, parse_unique_key};
use dynabao::{Db, Item, Model, NumberSet, StringSet};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use crate::support::{raw_scan, s};

/// A versioned model with two unique constraints: a required email and an optional handle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "mem")]
#[bao(unique(name = "by_email", field = "email"))]
#[bao(unique(name = "handle", field = handle))]
pub struct Member {
    #[bao(pk, auto)]
    pub id: Ulid,
    pub email: String,
    pub handle: Option<String>,
    pub name: String,
    #[bao(version)]
    pub version: u64,
}

impl Member {
    pub fn new(email: &str) -> Self {
        Member {
            id: Ulid::nil(),
            email: email.into(),
            handle: None,
            name: email.split('@').next().unwrap_or_default().into(),
            version: 0,
        }
    }
}

/// An unversioned model with a unique constraint and a string key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "team")]
#[bao(unique(name = "by_slug", field = "slug"))]
pub struct Team {
    #[bao(pk)]
    pub id: String,
    pub slug: String,
    pub title: String,
}

/// Counters and sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "ctr")]
pub struct Tally {
    #[bao(pk)]
    pub id: String,
    pub hits: u64,
    pub balance: i64,
    pub ratio: f64,
    pub tags: StringSet,
    pub scores: NumberSet<i64>,
    #[bao(version)]
    pub version: u64,
}

impl Tally {
    pub fn new(id: &str) -> Self {
        Tally {
            id: id.into(),
            hits: 0,
            balance: 0,
            ratio: 0.0,
            tags: StringSet::new(),
            scores: NumberSet::new(),
            version: 0,
        }
    }
}

/// A plain document for batches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "doc")]
pub struct Doc {
    #[bao(pk)]
    pub id: u32,
    pub body: String,
}

impl Doc {
    pub fn new(id: u32) -> Self {
        Doc {
            id,
            body: format!("body of {id}"),
        }
    }
}

/// A document with a composite sort key, a second model for cross-model batches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "tnote")]
pub struct Note {
    #[bao(pk)]
    pub folder: String,
    #[bao(sk)]
    pub n: i64,
    pub text: String,
}

/// What a raw scan says about unique constraints: the constraint items, as (owner `_pk`,
/// constraint, encoded value). [`audit_constraints`] has checked that the owners agree.
pub struct ConstraintAudit {
    pub stored: BTreeSet<(String, String, String)>,
}

/// Reads the whole table raw and checks the unique-constraint invariant for [`Member`] and
/// [`Team`]: every constraint item points at an existing owner that holds its value, and every
/// value an owner holds has exactly its constraint item.
pub async fn audit_constraints(db: &Db) -> ConstraintAudit {
    let items = raw_scan(db).await;
    let by_key: HashMap<(String, String), &Item> = items
        .iter()
        .filter_map(|i| Some(((s(i, "_pk")?.to_owned(), s(i, "_sk")?.to_owned()), i)))
        .collect();
    let mut stored = BTreeSet::new();
    let mut expected = BTreeSet::new();
    for item in &items {
        let pk = s(item, "_pk").unwrap_or_default();
        if let Some(parsed) = parse_unique_key(pk, true) {
            // A constraint item: its owner must exist and hold the value.
            let owner_pk = s(item, "_owner_pk").expect("owner pk").to_owned();
            let owner_sk = s(item, "_owner_sk").expect("owner sk").to_owned();
            let owner = by_key
                .get(&(owner_pk.clone(), owner_sk))
                .unwrap_or_else(|| panic!("constraint {pk} left behind: its owner is gone"));
            let field = match (parsed.model_prefix, parsed.constraint) {
                ("mem", "by_email") => "email",
                ("mem", "handle") => "handle",
                ("team", "by_slug") => "slug",
                other => panic!("unknown constraint {other:?}"),
            };
            let held = match owner.get(field) {
                Some(AttributeValue::S(v)) => encode_part(v.as_str()).unwrap(),
                other => panic!("owner of {pk} holds {other:?}"),
            };
            assert_eq!(
                held, parsed.value,
                "constraint {pk} points at an owner with another value"
            );
            stored.insert((
                owner_pk,
                parsed.constraint.to_owned(),
                parsed.value.to_owned(),
            ));
        } else if pk.contains("]#mem#") || pk.contains("]#team#") {
            let fields: &[(&str, &str)] = if pk.contains("]#mem#") {
                &[("by_email", "email"), ("handle", "handle")]
            } else {
                &[("by_slug", "slug")]
            };
            for (constraint, field) in fields {
                if let Some(AttributeValue::S(v)) = item.get(*field) {
                    expected.insert((
                        pk.to_owned(),
                        (*constraint).to_owned(),
                        encode_part(v.as_str()).unwrap(),
                    ));
                }
            }
        }
    }
    assert_eq!(stored, expected, "constraint items and owners disagree");
    ConstraintAudit { stored }
}
