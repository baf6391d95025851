//! Typed conditions for writes (and, later, filters), built from generated field constants.

use std::marker::PhantomData;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;

use super::placeholders::Placeholders;
use crate::codec;
use crate::error::Error;
use crate::model::{Field, Model};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// A value to compare with, serialized when the condition is built; a serialization failure is
/// kept and reported when the request is built, so building conditions never panics.
type Operand = Result<AttributeValue, String>;

/// One step below a top-level attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// A map key (`.name`).
    Key(String),
    /// A list element (`[i]`).
    Index(usize),
}

/// An attribute, possibly nested (`address.city`, `tags[0]`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Path {
    attr: &'static str,
    rest: Vec<Segment>,
}

impl Path {
    fn top(attr: &'static str) -> Self {
        Path {
            attr,
            rest: Vec::new(),
        }
    }

    fn render(&self, p: &mut Placeholders) -> String {
        let mut out = p.name(self.attr);
        for seg in &self.rest {
            match seg {
                Segment::Key(k) => {
                    out.push('.');
                    out.push_str(&p.name(k));
                }
                Segment::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        out
    }
}

#[derive(Debug, Clone)]
enum Node {
    Cmp(Path, CmpOp, Operand),
    Between(Path, Operand, Operand),
    BeginsWith(Path, Operand),
    Contains(Path, Operand),
    In(Path, Vec<Operand>),
    Exists(Path),
    NotExists(Path),
    Size(Path, CmpOp, u64),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
}

/// A condition on items of model `M`. Combine with [`and`](Condition::and),
/// [`or`](Condition::or) and `!`.
///
/// ```
/// # use dynabao::Model;
/// # #[derive(Clone, serde::Serialize, serde::Deserialize, Model)]
/// # #[bao(prefix = "u")]
/// # struct User { #[bao(pk)] id: String, email: String, logins: u32 }
/// // Rendered as `(begins_with(#n0, :v0) AND #n1 > :v1)` with the names and values bound.
/// let c = User::EMAIL.begins_with("a").and(User::LOGINS.gt(3u32));
/// let either = c.or(!User::EMAIL.exists());
/// ```
pub struct Condition<M> {
    node: Node,
    _model: PhantomData<fn() -> M>,
}

impl<M> Clone for Condition<M> {
    fn clone(&self) -> Self {
        Condition {
            node: self.node.clone(),
            _model: PhantomData,
        }
    }
}

impl<M> std::fmt::Debug for Condition<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.node.fmt(f)
    }
}

impl<M> Condition<M> {
    fn new(node: Node) -> Self {
        Condition {
            node,
            _model: PhantomData,
        }
    }

    /// Both conditions hold.
    pub fn and(self, other: Condition<M>) -> Condition<M> {
        match self.node {
            Node::And(mut v) => {
                v.push(other.node);
                Condition::new(Node::And(v))
            }
            node => Condition::new(Node::And(vec![node, other.node])),
        }
    }

    /// Either condition holds.
    pub fn or(self, other: Condition<M>) -> Condition<M> {
        match self.node {
            Node::Or(mut v) => {
                v.push(other.node);
                Condition::new(Node::Or(v))
            }
            node => Condition::new(Node::Or(vec![node, other.node])),
        }
    }
}

impl<M> std::ops::Not for Condition<M> {
    type Output = Condition<M>;
    fn not(self) -> Condition<M> {
        Condition::new(Node::Not(Box::new(self.node)))
    }
}

impl<M: Model> Condition<M> {
    /// Renders the expression, registering names and values in `p`.
    pub(crate) fn render(&self, p: &mut Placeholders) -> Result<String, Error> {
        render::<M>(&self.node, p)
    }
}

fn operand<M: Model>(p: &mut Placeholders, path: &Path, v: &Operand) -> Result<String, Error> {
    let v = v.clone().map_err(|reason| {
        Error::invalid_request(M::SCHEMA.name, format!("{}: {reason}", path.attr))
    })?;
    // Only a whole top-level field can be the TTL, whose stored form differs.
    let v = if path.rest.is_empty() {
        codec::field_to_stored::<M>(path.attr, v)?
    } else {
        v
    };
    Ok(p.value(v))
}

fn render<M: Model>(node: &Node, p: &mut Placeholders) -> Result<String, Error> {
    Ok(match node {
        Node::Cmp(path, op, v) => {
            let name = path.render(p);
            format!("{name} {} {}", op.as_str(), operand::<M>(p, path, v)?)
        }
        Node::Between(path, lo, hi) => {
            let name = path.render(p);
            let lo = operand::<M>(p, path, lo)?;
            let hi = operand::<M>(p, path, hi)?;
            format!("{name} BETWEEN {lo} AND {hi}")
        }
        Node::BeginsWith(path, v) => {
            let name = path.render(p);
            format!("begins_with({name}, {})", operand::<M>(p, path, v)?)
        }
        Node::Contains(path, v) => {
            let name = path.render(p);
            format!("contains({name}, {})", operand::<M>(p, path, v)?)
        }
        Node::In(path, vs) => {
            if vs.is_empty() || vs.len() > 100 {
                return Err(Error::invalid_request(
                    M::SCHEMA.name,
                    format!(
                        "`in` on {} needs 1 to 100 values, got {}",
                        path.attr,
                        vs.len()
                    ),
                ));
            }
            let name = path.render(p);
            let vals = vs
                .iter()
                .map(|v| operand::<M>(p, path, v))
                .collect::<Result<Vec<_>, _>>()?;
            format!("{name} IN ({})", vals.join(", "))
        }
        Node::Exists(path) => format!("attribute_exists({})", path.render(p)),
        Node::NotExists(path) => format!("attribute_not_exists({})", path.render(p)),
        Node::Size(path, op, n) => {
            let name = path.render(p);
            let v = p.value(AttributeValue::N(n.to_string()));
            format!("size({name}) {} {v}", op.as_str())
        }
        Node::And(nodes) | Node::Or(nodes) => {
            let joiner = if matches!(node, Node::And(_)) {
                " AND "
            } else {
                " OR "
            };
            let parts = nodes
                .iter()
                .map(|n| render::<M>(n, p))
                .collect::<Result<Vec<_>, _>>()?;
            format!("({})", parts.join(joiner))
        }
        Node::Not(inner) => format!("(NOT {})", render::<M>(inner, p)?),
    })
}

fn to_operand<V: Serialize>(v: V) -> Operand {
    serde_dynamo::to_attribute_value(v).map_err(|e| e.to_string())
}

impl<M, T: Serialize, R> Field<M, T, R> {
    fn cmp(self, op: CmpOp, v: T) -> Condition<M> {
        Condition::new(Node::Cmp(Path::top(self.attr()), op, to_operand(v)))
    }

    /// The field equals `v`.
    pub fn eq(self, v: impl Into<T>) -> Condition<M> {
        self.cmp(CmpOp::Eq, v.into())
    }

    /// The field differs from `v` (also true when the field is absent).
    pub fn ne(self, v: impl Into<T>) -> Condition<M> {
        self.cmp(CmpOp::Ne, v.into())
    }

    /// The field is less than `v`.
    pub fn lt(self, v: impl Into<T>) -> Condition<M> {
        self.cmp(CmpOp::Lt, v.into())
    }

    /// The field is at most `v`.
    pub fn le(self, v: impl Into<T>) -> Condition<M> {
        self.cmp(CmpOp::Le, v.into())
    }

    /// The field is greater than `v`.
    pub fn gt(self, v: impl Into<T>) -> Condition<M> {
        self.cmp(CmpOp::Gt, v.into())
    }

    /// The field is at least `v`.
    pub fn ge(self, v: impl Into<T>) -> Condition<M> {
        self.cmp(CmpOp::Ge, v.into())
    }

    /// `lo <= field <= hi`.
    pub fn between(self, lo: impl Into<T>, hi: impl Into<T>) -> Condition<M> {
        Condition::new(Node::Between(
            Path::top(self.attr()),
            to_operand(lo.into()),
            to_operand(hi.into()),
        ))
    }

    /// The field equals one of `values` (1 to 100 of them).
    pub fn is_in<V: Into<T>>(self, values: impl IntoIterator<Item = V>) -> Condition<M> {
        Condition::new(Node::In(
            Path::top(self.attr()),
            values.into_iter().map(|v| to_operand(v.into())).collect(),
        ))
    }

    /// The field is stored (not absent).
    pub fn exists(self) -> Condition<M> {
        Condition::new(Node::Exists(Path::top(self.attr())))
    }

    /// The field is absent.
    pub fn not_exists(self) -> Condition<M> {
        Condition::new(Node::NotExists(Path::top(self.attr())))
    }

    /// The size of the field (string length, bytes, set or list length).
    pub fn size(self) -> Size<M> {
        Size {
            path: Path::top(self.attr()),
            _model: PhantomData,
        }
    }

    /// A path into this field (a map or struct, or a list), for conditions on nested values:
    /// `User::ADDRESS.path().key("city").eq("Oslo")`, `User::TAGS.path().index(0).eq("a")`.
    pub fn path(self) -> AttrPath<M> {
        AttrPath {
            path: Path::top(self.attr()),
            _model: PhantomData,
        }
    }

    /// The field (a string, set or list) contains `v`.
    pub fn contains<V: Serialize>(self, v: V) -> Condition<M> {
        Condition::new(Node::Contains(Path::top(self.attr()), to_operand(v)))
    }
}

impl<M, R> Field<M, String, R> {
    /// The string field starts with `prefix`.
    pub fn begins_with(self, prefix: impl Into<String>) -> Condition<M> {
        Condition::new(Node::BeginsWith(
            Path::top(self.attr()),
            to_operand(prefix.into()),
        ))
    }
}

impl<M, R> Field<M, Option<String>, R> {
    /// The string field is present and starts with `prefix`.
    pub fn begins_with(self, prefix: impl Into<String>) -> Condition<M> {
        Condition::new(Node::BeginsWith(
            Path::top(self.attr()),
            to_operand(prefix.into()),
        ))
    }
}

/// The size of a field, to compare with a number.
pub struct Size<M> {
    path: Path,
    _model: PhantomData<fn() -> M>,
}

impl<M> Size<M> {
    fn cmp(self, op: CmpOp, n: u64) -> Condition<M> {
        Condition::new(Node::Size(self.path, op, n))
    }
    /// `size(field) = n`
    pub fn eq(self, n: u64) -> Condition<M> {
        self.cmp(CmpOp::Eq, n)
    }
    /// `size(field) <> n`
    pub fn ne(self, n: u64) -> Condition<M> {
        self.cmp(CmpOp::Ne, n)
    }
    /// `size(field) < n`
    pub fn lt(self, n: u64) -> Condition<M> {
        self.cmp(CmpOp::Lt, n)
    }
    /// `size(field) <= n`
    pub fn le(self, n: u64) -> Condition<M> {
        self.cmp(CmpOp::Le, n)
    }
    /// `size(field) > n`
    pub fn gt(self, n: u64) -> Condition<M> {
        self.cmp(CmpOp::Gt, n)
    }
    /// `size(field) >= n`
    pub fn ge(self, n: u64) -> Condition<M> {
        self.cmp(CmpOp::Ge, n)
    }
}

/// A nested attribute path below a field, built with [`Field::path`]. Values are checked by
/// serde only, since the type below a field is not known to the path.
pub struct AttrPath<M> {
    path: Path,
    _model: PhantomData<fn() -> M>,
}

impl<M> Clone for AttrPath<M> {
    fn clone(&self) -> Self {
        AttrPath {
            path: self.path.clone(),
            _model: PhantomData,
        }
    }
}

impl<M> std::fmt::Debug for AttrPath<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.path.fmt(f)
    }
}

impl<M> AttrPath<M> {
    /// The map key or struct field `name` below this path.
    pub fn key(mut self, name: impl Into<String>) -> Self {
        self.path.rest.push(Segment::Key(name.into()));
        self
    }

    /// The list element `index` below this path.
    pub fn index(mut self, index: usize) -> Self {
        self.path.rest.push(Segment::Index(index));
        self
    }

    fn cmp(self, op: CmpOp, v: impl Serialize) -> Condition<M> {
        Condition::new(Node::Cmp(self.path, op, to_operand(v)))
    }
    /// The value equals `v`.
    pub fn eq(self, v: impl Serialize) -> Condition<M> {
        self.cmp(CmpOp::Eq, v)
    }
    /// The value differs from `v`.
    pub fn ne(self, v: impl Serialize) -> Condition<M> {
        self.cmp(CmpOp::Ne, v)
    }
    /// The value is less than `v`.
    pub fn lt(self, v: impl Serialize) -> Condition<M> {
        self.cmp(CmpOp::Lt, v)
    }
    /// The value is at most `v`.
    pub fn le(self, v: impl Serialize) -> Condition<M> {
        self.cmp(CmpOp::Le, v)
    }
    /// The value is greater than `v`.
    pub fn gt(self, v: impl Serialize) -> Condition<M> {
        self.cmp(CmpOp::Gt, v)
    }
    /// The value is at least `v`.
    pub fn ge(self, v: impl Serialize) -> Condition<M> {
        self.cmp(CmpOp::Ge, v)
    }
    /// `lo <= value <= hi`.
    pub fn between(self, lo: impl Serialize, hi: impl Serialize) -> Condition<M> {
        Condition::new(Node::Between(self.path, to_operand(lo), to_operand(hi)))
    }
    /// The string value starts with `prefix`.
    pub fn begins_with(self, prefix: impl Into<String>) -> Condition<M> {
        Condition::new(Node::BeginsWith(self.path, to_operand(prefix.into())))
    }
    /// The value (a string, set or list) contains `v`.
    pub fn contains(self, v: impl Serialize) -> Condition<M> {
        Condition::new(Node::Contains(self.path, to_operand(v)))
    }
    /// The value is present.
    pub fn exists(self) -> Condition<M> {
        Condition::new(Node::Exists(self.path))
    }
    /// The value is absent.
    pub fn not_exists(self) -> Condition<M> {
        Condition::new(Node::NotExists(self.path))
    }
    /// The size of the value.
    pub fn size(self) -> Size<M> {
        Size {
            path: self.path,
            _model: PhantomData,
        }
    }
}
