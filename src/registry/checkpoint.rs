//! Where a [`TenantExport`](super::TenantExport) is, and the sealed checkpoint that carries it
//! to another process: the plan (how the items are found), the position in it, and their
//! encoding as a cursor bound to the tenant and the plan.

use aws_sdk_dynamodb::types::AttributeValue;

use crate::cursor::{self, Binding};
use crate::db::Db;
use crate::error::{Error, Item};
use crate::key::KeyScope;
use crate::model::registry::Registration;

/// The model name of checkpoint errors.
const EXPORT: &str = "export";
/// What export checkpoints are bound to in place of a model prefix; with a condition digest no
/// query makes, it keeps a query's cursor from passing for a checkpoint, and the reverse.
const CHECKPOINT: &str = "$export";

/// How the items are found.
#[derive(Debug, Clone)]
pub(super) enum Plan {
    Scan { segments: u32 },
    Indexes { models: Vec<&'static Registration> },
}

/// Where the export is.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Position {
    /// Per segment: not started (`None`), after a key, or done.
    Scan(Vec<Segment>),
    /// Model `model`, bucket `bucket`, after `after` (the start when `None`).
    Indexes {
        model: usize,
        bucket: u16,
        after: Option<Item>,
    },
}

/// Where one scan segment is.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Segment {
    Start,
    After(Item),
    Done,
}

/// The condition a checkpoint is bound to: how its export finds the items.
fn digest(plan: &Plan) -> [u8; 16] {
    match plan {
        Plan::Scan { segments } => cursor::condition_digest(&["scan", &segments.to_string()]),
        Plan::Indexes { models } => {
            let mut parts = vec!["indexes"];
            parts.extend(models.iter().map(|r| r.schema.prefix()));
            cursor::condition_digest(&parts)
        }
    }
}

/// Seals a position.
pub(super) fn encode(
    db: &Db,
    scope: &KeyScope,
    plan: &Plan,
    position: &Position,
) -> Result<String, Error> {
    let mut state = Item::new();
    match position {
        Position::Scan(segments) => {
            for (i, s) in segments.iter().enumerate() {
                match s {
                    Segment::Start => {}
                    Segment::Done => {
                        state.insert(format!("s{i}"), AttributeValue::S("done".into()));
                    }
                    Segment::After(k) => {
                        for (name, v) in k {
                            state.insert(format!("s{i}.{name}"), v.clone());
                        }
                    }
                }
            }
        }
        Position::Indexes {
            model,
            bucket,
            after,
        } => {
            state.insert("m".into(), AttributeValue::S(model.to_string()));
            state.insert("b".into(), AttributeValue::S(bucket.to_string()));
            for (name, v) in after.iter().flatten() {
                state.insert(format!("k.{name}"), v.clone());
            }
        }
    }
    // The cursor format holds keys of the tenant only (its decoder checks that every value
    // starts with the tenant's prefix); a scan's position can be another tenant's key, so every
    // value is carried behind the tenant's prefix.
    let prefix = scope.tenant_prefix();
    let state: Item = state
        .into_iter()
        .map(|(name, v)| match v {
            AttributeValue::S(s) => Ok((name, AttributeValue::S(format!("{prefix}{s}")))),
            _ => Err(Error::invalid_request(
                EXPORT,
                "a position key is not a string",
            )),
        })
        .collect::<Result<_, _>>()?;
    cursor::encode(db.cursor_key(), &binding(scope, plan), &state)
}

/// What a checkpoint of `plan` for `scope` is bound to.
fn binding<'s>(scope: &'s KeyScope, plan: &Plan) -> Binding<'s> {
    Binding {
        scope,
        model_prefix: CHECKPOINT,
        index: "",
        condition: digest(plan),
    }
}

/// Opens a sealed position.
pub(super) fn decode(
    db: &Db,
    scope: &KeyScope,
    plan: &Plan,
    checkpoint: &str,
) -> Result<Position, Error> {
    let state = cursor::decode(db.cursor_key(), &binding(scope, plan), checkpoint)?;
    let prefix = scope.tenant_prefix();
    let state: Item = state
        .into_iter()
        .filter_map(|(name, v)| match v {
            AttributeValue::S(s) => {
                Some((name, AttributeValue::S(s.strip_prefix(&prefix)?.to_owned())))
            }
            _ => None,
        })
        .collect();
    let bad = || Error::InvalidCursor {
        reason: "not a checkpoint of this export",
    };
    let text = |name: &str| match state.get(name) {
        Some(AttributeValue::S(s)) => Some(s.as_str()),
        _ => None,
    };
    match plan {
        Plan::Scan { segments } => {
            let mut out = vec![Segment::Start; *segments as usize];
            for (i, slot) in out.iter_mut().enumerate() {
                if text(&format!("s{i}")) == Some("done") {
                    *slot = Segment::Done;
                    continue;
                }
                let head = format!("s{i}.");
                let key: Item = state
                    .iter()
                    .filter_map(|(n, v)| Some((n.strip_prefix(&head)?.to_owned(), v.clone())))
                    .collect();
                if !key.is_empty() {
                    *slot = Segment::After(key);
                }
            }
            Ok(Position::Scan(out))
        }
        Plan::Indexes { models } => {
            let model: usize = text("m").and_then(|m| m.parse().ok()).ok_or_else(bad)?;
            let bucket: u16 = text("b").and_then(|b| b.parse().ok()).ok_or_else(bad)?;
            if model > models.len() {
                return Err(bad());
            }
            let after: Item = state
                .iter()
                .filter_map(|(n, v)| Some((n.strip_prefix("k.")?.to_owned(), v.clone())))
                .collect();
            Ok(Position::Indexes {
                model,
                bucket,
                after: (!after.is_empty()).then_some(after),
            })
        }
    }
}
