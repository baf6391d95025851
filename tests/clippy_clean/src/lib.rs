//! Models as a user writes them: several indexes sharing a sort key field, composite keys, two
//! unique constraints, an iterable index, a key-part enum, a generated newtype id, a derived
//! constructor and patch type.

use dynabao::chrono::{DateTime, NaiveDate, Utc};
use dynabao::{KeyPart, Model, Ulid};
use serde::{Deserialize, Serialize};

/// A task's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, KeyPart)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Not started.
    Open,
    /// Finished.
    Done,
}

/// A project's id, generated on create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, KeyPart)]
#[bao(auto)]
pub struct ProjectId(pub Ulid);

/// A project.
#[derive(Debug, Clone, Serialize, Deserialize, Model)]
#[bao(prefix = "proj")]
#[bao(index(by_owner(gsi = 1, pk = "owner", sk = "created_at")))]
#[bao(index(by_state(gsi = 2, pk = "state", sk = "created_at")))]
#[bao(index(by_due(gsi = 3, pk = "owner", sk = ["due", "name"])))]
#[bao(unique(name = "by_slug", field = "slug"))]
#[bao(unique(name = "by_name", field = "name"))]
#[bao(iterable(gsi = 5, buckets = 8))]
#[bao(new)]
#[bao(patch)]
pub struct Project {
    /// Its id.
    #[bao(pk, auto)]
    pub id: ProjectId,
    /// Its URL name.
    pub slug: String,
    /// Its display name.
    pub name: String,
    /// Who owns it.
    pub owner: String,
    /// Where it is.
    pub state: State,
    /// When it is due.
    pub due: NaiveDate,
    /// When it was created.
    #[bao(created_at)]
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    #[bao(updated_at)]
    pub updated_at: DateTime<Utc>,
    /// Its version.
    #[bao(version)]
    pub version: u64,
}

/// A task, with a composite sort key.
#[derive(Debug, Clone, Serialize, Deserialize, Model)]
#[bao(prefix = "task")]
#[bao(pk = ["project"], sk = ["due", "id"])]
#[bao(index(by_assignee(gsi = 1, pk = "assignee", sk = ["due", "id"])))]
#[bao(index(by_state(gsi = 2, pk = "state", sk = ["due", "id"])))]
pub struct Task {
    /// The project it belongs to.
    pub project: Ulid,
    /// When it is due.
    pub due: DateTime<Utc>,
    /// Its id.
    pub id: Ulid,
    /// Who does it.
    pub assignee: String,
    /// Where it is.
    pub state: State,
    /// When it expires.
    #[bao(ttl)]
    pub expires_at: Option<DateTime<Utc>>,
}
