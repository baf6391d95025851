//! Reading the items of one partition, on the table or on an index (Query).
//!
//! The key condition is always confined to the current tenant's and model's keys: the partition
//! key is `[tenant]#prefix#value`, and without a sort-key condition the sort key must begin with
//! `[tenant]#prefix#`. Every item that comes back is checked again before it is decoded: an item of
//! another model that shares the partition is skipped, an item of another tenant is
//! [`Error::CrossTenant`].
//!
//! # Limits and filters
//!
//! DynamoDB applies `Limit` to the items it *reads*, before the filter: `.limit(20)` with a
//! filter can return fewer than 20 items (even none) while more match further on, and the page
//! still has a cursor. [`Query::fill_page`] keeps reading until `limit` items matched or the
//! partition ends, and then cuts the page after the last item it returns, so the cursor resumes
//! right after it.

mod delete_all;
mod page;
mod sort_key;
mod stream;

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::query::QueryInput;
use aws_sdk_dynamodb::types::{AttributeValue, Select};
use serde::de::DeserializeOwned;

pub use delete_all::DeletedPage;
pub use page::Page;
pub use sort_key::{begins_with, between, eq, ge, gt, le, lt, NoSortKey, SortKey, SortKeyPrefix};

use sort_key::EncodedSortKey;

use crate::codec;
use crate::cursor::{self, Binding};
use crate::db::Db;
use crate::error::{Error, Item};
use crate::exec;
use crate::expr::{Condition, Placeholders};
use crate::key::{KeyPart, KeyScope, KeyValue, KeyValueBuilder, PK_ATTR, SK_ATTR};
use crate::model::InvalidKey;
use crate::model::{Field, FieldSchema, IndexSchema, Model};

/// Decodes a returned item; checks its scope again, like every decode.
type Decoder<O> = fn(&KeyScope, Item) -> Result<O, Error>;

/// A query of one partition of model `M` on the table or one of its indexes.
///
/// `S` is the Rust type of the sort key (a tuple for composite keys, [`NoSortKey`] without one),
/// so [`sk`](Query::sk) conditions are type-checked; `O` is what items decode into (`M`, or a
/// projection type, see [`project`](Query::project)).
///
/// Await it (or [`send`](Query::send)) for one [`Page`]; use [`all`](Query::all) for every item,
/// [`stream`](Query::stream) to walk every item holding one page at a time, and
/// [`count`](Query::count) to count without reading items.
///
/// It reads the tenant at its first poll, not when it is built ([more](crate::ops#when-the-tenant-is-read)).
#[must_use = "a query does nothing until it is awaited"]
pub struct Query<'a, M: Model, S = NoSortKey, O = M> {
    db: &'a Db,
    /// `Err(name)`: an index name that the model does not declare.
    index: Result<Option<&'static IndexSchema>, String>,
    partition: Result<KeyValue, InvalidKey>,
    /// `Err(reason)`: a sort-key condition that cannot be sent.
    sort: Option<Result<EncodedSortKey, String>>,
    filter: Option<Condition<M>>,
    limit: Option<u32>,
    fill: bool,
    descending: bool,
    consistent: bool,
    cursor: Option<String>,
    projection: Option<Vec<&'static str>>,
    decode: Decoder<O>,
    _types: PhantomData<fn() -> (M, S)>,
}

impl<'a, M: Model, S> Query<'a, M, S, M> {
    /// A query of the table's partition `partition` (usually built by the generated `M::query`).
    pub fn table(db: &'a Db, partition: Result<KeyValue, InvalidKey>) -> Self {
        Self::new(db, Ok(None), partition)
    }

    /// A query of `index`'s partition `partition` (usually built by the generated
    /// `M::query_by_<index>`).
    pub fn index(
        db: &'a Db,
        index: &'static IndexSchema,
        partition: Result<KeyValue, InvalidKey>,
    ) -> Self {
        Self::new(db, Ok(Some(index)), partition)
    }

    fn new(
        db: &'a Db,
        index: Result<Option<&'static IndexSchema>, String>,
        partition: Result<KeyValue, InvalidKey>,
    ) -> Self {
        Query {
            db,
            index,
            partition,
            sort: None,
            filter: None,
            limit: None,
            fill: false,
            descending: false,
            consistent: false,
            cursor: None,
            projection: None,
            decode: codec::decode_checked::<M>,
            _types: PhantomData,
        }
    }
}

impl<'a, M: Model> Query<'a, M, NoSortKey, M> {
    /// A query of the index called `name`, for code that picks the index at run time.
    /// `partition` holds the values of the index's partition key fields, in order.
    ///
    /// An unknown name is [`Error::UnknownIndex`] when the query is sent. Sort-key conditions
    /// go through [`sk_field`](Query::sk_field), which checks the field at run time.
    pub fn named(db: &'a Db, name: &str, partition: &[&dyn KeyPart]) -> Self {
        let index = M::SCHEMA.index(name).ok_or_else(|| name.to_owned());
        let fields = match &index {
            Ok(i) => i.pk,
            Err(_) => &[],
        };
        let partition = encode_partition(fields, partition);
        Self::new(db, index.map(Some), partition)
    }
}

fn encode_partition(
    fields: &'static [FieldSchema],
    values: &[&dyn KeyPart],
) -> Result<KeyValue, InvalidKey> {
    if values.len() != fields.len() {
        return Err(InvalidKey {
            field: fields.first().map_or("partition key", |f| f.name),
            reason: format!(
                "the index partition key has {} field(s), {} value(s) given",
                fields.len(),
                values.len()
            ),
        });
    }
    let mut b = KeyValueBuilder::new();
    for (f, v) in fields.iter().zip(values) {
        b.push(v).map_err(|e| InvalidKey {
            field: f.name,
            reason: e.0,
        })?;
    }
    Ok(b.finish())
}

impl<'a, M: Model, S, O> Query<'a, M, S, O> {
    /// Restricts the sort key. The value type is the sort key's type, so a condition on
    /// anything else does not compile.
    ///
    /// ```no_run
    /// # use dynabao::{Db, Model, ops::query::between};
    /// # use chrono::{DateTime, Utc};
    /// # #[derive(Clone, serde::Serialize, serde::Deserialize, Model)]
    /// # #[bao(prefix = "e")]
    /// # #[bao(index(by_kind(gsi = 1, pk = "kind", sk = "at")))]
    /// # struct Event { #[bao(pk)] id: String, kind: String, at: DateTime<Utc> }
    /// # async fn f(db: &Db, from: DateTime<Utc>, to: DateTime<Utc>) -> dynabao::Result<()> {
    /// let events = Event::query_by_kind(db, "login").sk(between(from, to)).all().await?;
    /// # Ok(()) }
    /// ```
    pub fn sk<V: Into<S>>(mut self, condition: SortKey<V>) -> Self
    where
        S: KeyPart,
    {
        self.sort = Some(condition.map(Into::into).encode());
        self
    }

    /// Restricts the leading parts of a composite sort key: with a `(due, id)` sort key,
    /// `.sk_prefix(lt(day))` is every item due before `day`, whatever its id. `P` is the first
    /// part's type (or a tuple of the first parts), checked at compile time.
    ///
    /// Exact, as on a whole key: `eq` is every item whose leading parts equal the value, `lt`,
    /// `le`, `gt`, `ge` and `between` (inclusive) compare the leading parts only, and
    /// `begins_with` matches the encoding of the first part as a prefix (for text).
    pub fn sk_prefix<P: KeyPart>(mut self, condition: SortKey<P>) -> Self
    where
        S: SortKeyPrefix<P>,
    {
        self.sort = Some(condition.encode_prefix());
        self
    }

    /// Restricts the sort key through a field constant, checked at run time: the field must be
    /// the (single) sort key field of the queried index or table, otherwise the query fails with
    /// [`Error::InvalidRequest`]. For dynamic queries ([`Query::named`]).
    pub fn sk_field<T: KeyPart, R>(mut self, field: Field<M, T, R>, condition: SortKey<T>) -> Self {
        let expected = match &self.index {
            Ok(Some(i)) => i.sk,
            Ok(None) => M::SCHEMA.sk,
            Err(_) => &[],
        };
        let encoded = if expected.len() == 1 && expected[0].attr == field.attr() {
            condition.encode()
        } else {
            Err(format!(
                "field {} is not the sort key of this query",
                field.name()
            ))
        };
        self.sort = Some(encoded);
        self
    }

    /// Keeps only items matching `condition` (applied by DynamoDB after reading, so it does not
    /// reduce the read cost).
    pub fn filter(mut self, condition: Condition<M>) -> Self {
        self.filter = Some(match self.filter.take() {
            Some(c) => c.and(condition),
            None => condition,
        });
        self
    }

    /// Reads at most `limit` items per request (see the module docs on filters).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit.max(1));
        self
    }

    /// With a filter and a limit: keeps reading until `limit` items matched or the partition
    /// ends, so a page is only short at the end.
    pub fn fill_page(mut self) -> Self {
        self.fill = true;
        self
    }

    /// Returns items in descending sort-key order.
    pub fn descending(mut self) -> Self {
        self.descending = true;
        self
    }

    /// Reads with strong consistency. DynamoDB allows it on the table only; on an index the
    /// query fails with [`Error::InvalidRequest`] before sending.
    pub fn consistent(mut self) -> Self {
        self.consistent = true;
        self
    }

    /// Starts after `cursor`, taken from a previous [`Page::cursor`] of the same query. A cursor
    /// from another tenant, model, index or key condition, or an edited one, makes the query
    /// fail with [`Error::InvalidCursor`] before anything is sent.
    pub fn cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    /// Like [`cursor`](Query::cursor), taking an optional cursor (`None` starts at the
    /// beginning), as a handler receives it from a query string.
    pub fn cursor_opt(self, cursor: Option<impl Into<String>>) -> Self {
        match cursor {
            Some(c) => self.cursor(c),
            None => self,
        }
    }

    /// Reads only `fields` and decodes each item into `P` (a struct with those fields).
    ///
    /// ```no_run
    /// # use dynabao::{Db, Model};
    /// # #[derive(Clone, serde::Serialize, serde::Deserialize, Model)]
    /// # #[bao(prefix = "u")]
    /// # #[bao(index(by_team(gsi = 1, pk = "team")))]
    /// # struct User { #[bao(pk)] id: String, team: String, email: String, bio: String }
    /// #[derive(serde::Deserialize)]
    /// struct Contact { email: String }
    /// # async fn f(db: &Db) -> dynabao::Result<()> {
    /// let contacts: Vec<Contact> = User::query_by_team(db, "core")
    ///     .project::<Contact>([User::EMAIL.schema()])
    ///     .all()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn project<P: DeserializeOwned>(
        self,
        fields: impl IntoIterator<Item = &'static FieldSchema>,
    ) -> Query<'a, M, S, P> {
        Query {
            db: self.db,
            index: self.index,
            partition: self.partition,
            sort: self.sort,
            filter: self.filter,
            limit: self.limit,
            fill: self.fill,
            descending: self.descending,
            consistent: self.consistent,
            cursor: self.cursor,
            projection: Some(fields.into_iter().map(|f| f.attr).collect()),
            decode: codec::decode_projection_checked::<M, P>,
            _types: PhantomData,
        }
    }

    fn key_attrs(
        &self,
    ) -> Result<(Option<&'static IndexSchema>, &'static str, &'static str), Error> {
        let index = self.index.clone().map_err(|name| Error::UnknownIndex {
            model: M::SCHEMA.name,
            name,
        })?;
        Ok(match index {
            Some(i) => (Some(i), i.pk_attr, i.sk_attr),
            None => (None, PK_ATTR, SK_ATTR),
        })
    }

    /// Builds the request and the cursor binding for `scope`. `keys_only` reads only the key
    /// attributes (for [`count`](Query::count), which checks them).
    fn build(
        &self,
        scope: &KeyScope,
        keys_only: bool,
    ) -> Result<(QueryFluentBuilder, [u8; 16]), Error> {
        let schema = M::SCHEMA;
        let (index, pk_attr, sk_attr) = self.key_attrs()?;
        let partition = self.partition.clone()?;
        if self.consistent && index.is_some() {
            return Err(Error::invalid_request(
                schema.name,
                "consistent reads are not available on a global secondary index",
            ));
        }
        let mut p = Placeholders::new();
        let pk_stored = scope.key(schema.prefix, &partition);
        let pk_name = p.name(pk_attr);
        let pk_value = p.value(AttributeValue::S(pk_stored.clone()));
        let sk_name = p.name(sk_attr);
        let model_prefix = scope.model_prefix(schema.prefix);
        let mut digest_parts: Vec<String> = vec![pk_attr.into(), pk_stored];
        let sk_condition = match &self.sort {
            None => {
                digest_parts.push("prefix".into());
                let v = p.value(AttributeValue::S(model_prefix));
                format!("begins_with({sk_name}, {v})")
            }
            Some(Err(reason)) => {
                return Err(Error::invalid_request(
                    schema.name,
                    format!("sort key: {reason}"),
                ))
            }
            Some(Ok(EncodedSortKey::Cmp(op, value))) => {
                let stored = scope.key(schema.prefix, value);
                digest_parts.extend([format!("{op:?}"), stored.clone()]);
                let v = p.value(AttributeValue::S(stored));
                format!("{sk_name} {} {v}", op.as_str())
            }
            Some(Ok(EncodedSortKey::Between(lo, hi))) => {
                let (lo, hi) = (scope.key(schema.prefix, lo), scope.key(schema.prefix, hi));
                digest_parts.extend(["between".into(), lo.clone(), hi.clone()]);
                let lo = p.value(AttributeValue::S(lo));
                let hi = p.value(AttributeValue::S(hi));
                format!("{sk_name} BETWEEN {lo} AND {hi}")
            }
            Some(Ok(EncodedSortKey::BeginsWith(prefix))) => {
                let stored = scope.key(schema.prefix, prefix);
                digest_parts.extend(["begins_with".into(), stored.clone()]);
                let v = p.value(AttributeValue::S(stored));
                format!("begins_with({sk_name}, {v})")
            }
        };
        let digest =
            cursor::condition_digest(&digest_parts.iter().map(String::as_str).collect::<Vec<_>>());
        let filter = self.filter.as_ref().map(|f| f.render(&mut p)).transpose()?;
        let fields = match (keys_only, &self.projection) {
            (true, _) => Some(&[][..]),
            (false, fields) => fields.as_deref(),
        };
        let projection = fields.map(|fields| {
            let mut attrs: Vec<&str> = vec![PK_ATTR, SK_ATTR];
            if let Some(i) = index {
                attrs.extend([i.pk_attr, i.sk_attr]);
            }
            attrs.extend(fields.iter().copied());
            attrs
                .iter()
                .map(|a| p.name(a))
                .collect::<Vec<_>>()
                .join(", ")
        });
        let start = match &self.cursor {
            Some(c) => Some(cursor::decode(
                self.db.cursor_key(),
                &Binding {
                    scope,
                    model_prefix: schema.prefix,
                    index: index.map_or("", |i| i.index_name),
                    condition: digest,
                },
                c,
            )?),
            None => None,
        };
        let (names, values) = p.into_maps();
        let fluent = self
            .db
            .client()
            .query()
            .table_name(self.db.table())
            .set_index_name(index.map(|i| i.index_name.to_owned()))
            .key_condition_expression(format!("{pk_name} = {pk_value} AND {sk_condition}"))
            .set_filter_expression(filter)
            .set_projection_expression(projection)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .set_limit(self.limit.map(|l| l.min(i32::MAX as u32) as i32))
            .scan_index_forward(!self.descending)
            .set_consistent_read(self.consistent.then_some(true))
            .set_select(keys_only.then_some(Select::SpecificAttributes))
            .set_exclusive_start_key(start)
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total);
        Ok((fluent, digest))
    }

    /// The request this query would send (its first page), without sending it.
    pub async fn to_request(&self) -> Result<QueryInput, Error> {
        let scope = self.db.scope_for::<M>().await?;
        self.build(&scope, false)?
            .0
            .as_input()
            .clone()
            .build()
            .map_err(|e| Error::invalid_request(M::SCHEMA.name, e.to_string()))
    }

    /// Sends one request and decodes its items. Returns the items and DynamoDB's last key.
    async fn fetch(
        &self,
        scope: &KeyScope,
        fluent: QueryFluentBuilder,
    ) -> Result<(Vec<(O, Item)>, Option<Item>), Error> {
        let out = exec::send(self.db, "Query", M::SCHEMA.name, scope, || {
            fluent.clone().send()
        })
        .await
        .map_err(|e| Error::dynamo("Query", e.into_service_error()))?;
        let mut items = Vec::with_capacity(out.items.as_ref().map_or(0, Vec::len));
        for item in out.items.unwrap_or_default() {
            if let Err(e) = crate::model::check_item_scope::<M>(scope, &item) {
                // Another model of the same tenant sharing the partition: not ours to decode.
                if crate::model::carries_tenant(scope, &item) {
                    continue;
                }
                return Err(e);
            }
            let cursor_key = self.cursor_key_of(&item);
            items.push(((self.decode)(scope, item)?, cursor_key));
        }
        Ok((items, out.last_evaluated_key.filter(|k| !k.is_empty())))
    }

    /// The key attributes of an item, as DynamoDB's `LastEvaluatedKey` would hold them.
    fn cursor_key_of(&self, item: &Item) -> Item {
        let mut attrs = vec![PK_ATTR, SK_ATTR];
        if let Ok(Some(i)) = &self.index {
            attrs.extend([i.pk_attr, i.sk_attr]);
        }
        attrs
            .into_iter()
            .filter_map(|a| item.get(a).map(|v| (a.to_owned(), v.clone())))
            .collect()
    }

    fn binding<'s>(&self, scope: &'s KeyScope, digest: [u8; 16]) -> Binding<'s> {
        Binding {
            scope,
            model_prefix: M::SCHEMA.prefix,
            index: match &self.index {
                Ok(Some(i)) => i.index_name,
                _ => "",
            },
            condition: digest,
        }
    }

    /// Reads one page in `scope`.
    async fn page_in(&self, scope: &KeyScope) -> Result<Page<O>, Error> {
        let (fluent, digest) = self.build(scope, false)?;
        let want = self.limit.map(|l| l as usize);
        let (mut items, mut last) = self.fetch(scope, fluent.clone()).await?;
        if self.fill {
            if let Some(want) = want {
                while items.len() < want {
                    let Some(start) = last.take() else { break };
                    let (more, next) = self
                        .fetch(scope, fluent.clone().set_exclusive_start_key(Some(start)))
                        .await?;
                    items.extend(more);
                    last = next;
                }
                if items.len() > want {
                    // Cut after the last item returned; the cursor resumes right after it.
                    items.truncate(want);
                    last = items.last().map(|(_, k)| k.clone());
                }
            }
        }
        let cursor = match last {
            Some(k) => Some(cursor::encode(
                self.db.cursor_key(),
                &self.binding(scope, digest),
                &k,
            )?),
            None => None,
        };
        Ok(Page::new(
            items.into_iter().map(|(o, _)| o).collect(),
            cursor,
        ))
    }

    /// Sends the query and returns the first page (or the page after [`cursor`](Query::cursor)).
    pub async fn send(self) -> Result<Page<O>, Error> {
        let scope = self.db.scope_for::<M>().await?;
        self.page_in(&scope).await
    }

    /// Reads every page and returns all items. Prefer [`stream`](Query::stream) for large
    /// partitions.
    pub async fn all(mut self) -> Result<Vec<O>, Error> {
        let scope = self.db.scope_for::<M>().await?;
        let mut all = Vec::new();
        loop {
            let page = self.page_in(&scope).await?;
            let (items, cursor) = page.into_parts();
            all.extend(items);
            match cursor {
                Some(c) => self.cursor = Some(c),
                None => return Ok(all),
            }
        }
    }

    /// Counts the matching items (after the filter) without returning them. Walks every page;
    /// the read cost is that of reading the items.
    ///
    /// The count agrees with what [`all`](Query::all) returns: only the key attributes of each
    /// matching item come back (a projection costs the same reads as `Select::Count`), and each
    /// is checked like an item a read returns. An item of another model of the tenant sharing
    /// the partition is not counted; an item of another tenant is [`Error::CrossTenant`].
    pub async fn count(self) -> Result<u64, Error> {
        let scope = self.db.scope_for::<M>().await?;
        let (fluent, _) = self.build(&scope, true)?;
        let mut start = fluent.get_exclusive_start_key().clone();
        let mut total = 0u64;
        loop {
            let request = fluent.clone().set_exclusive_start_key(start);
            let out = exec::send(self.db, "Query", M::SCHEMA.name, &scope, || {
                request.clone().send()
            })
            .await
            .map_err(|e| Error::dynamo("Query", e.into_service_error()))?;
            for item in out.items.unwrap_or_default() {
                match crate::model::check_item_scope::<M>(&scope, &item) {
                    Ok(()) => total += 1,
                    // Another model of the same tenant: a read skips it too.
                    Err(_) if crate::model::carries_tenant(&scope, &item) => {}
                    Err(e) => return Err(e),
                }
            }
            match out.last_evaluated_key.filter(|k| !k.is_empty()) {
                Some(k) => start = Some(k),
                None => return Ok(total),
            }
        }
    }
}

impl<'a, M: Model, S: 'a, O: Send + 'a> IntoFuture for Query<'a, M, S, O> {
    type Output = Result<Page<O>, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}
