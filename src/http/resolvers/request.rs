//! Resolvers of a value the request names: a header ([`HeaderResolver`]) or a query parameter
//! ([`QueryResolver`]).

use http::request::Parts;
use http::HeaderName;

use super::{done, percent_decode, single_header, tenant_if_any, ResolveFuture, TWICE};
use crate::http::{Rejection, Trust};

// ---------------------------------------------------------------------------------------------
// Header

/// The tenant from a request header, `X-Tenant-ID` by default. Claimed.
///
/// Absent: no answer. Present but invalid, or present twice: `400 invalid_tenant_id`.
#[derive(Debug, Clone)]
pub struct HeaderResolver {
    header: HeaderName,
    trust: Trust,
}

impl HeaderResolver {
    /// Reads `header` (build it with `HeaderName::from_static("x-org-id")`).
    pub fn new(header: HeaderName) -> Self {
        HeaderResolver {
            header,
            trust: Trust::Claimed,
        }
    }

    /// The header read.
    pub fn header(&self) -> &HeaderName {
        &self.header
    }

    /// The tenant in the header.
    fn find<'a>(&'a self, request: &'a Parts) -> ResolveFuture<'a> {
        done(single_header(&request.headers, &self.header).and_then(tenant_if_any))
    }
}

claimed_resolver! {
    /// Treats the header as verified, skipping the authorizer.
    ///
    /// Only for a header that a proxy in front of the service sets from its own authentication
    /// *and* strips from client requests (an API gateway mapping an authorizer's context into a
    /// header). A header a client can send is never verified.
    HeaderResolver, "header"
}

impl Default for HeaderResolver {
    /// `X-Tenant-ID`, claimed.
    fn default() -> Self {
        HeaderResolver::new(HeaderName::from_static("x-tenant-id"))
    }
}

// ---------------------------------------------------------------------------------------------
// Query

/// The tenant from a query parameter, `tenant_id` by default. Claimed.
///
/// The value is percent-decoded (`+` is a space) and then validated. Absent: no answer. Present
/// but invalid (empty, badly encoded), or present twice: `400 invalid_tenant_id`.
#[derive(Debug, Clone)]
pub struct QueryResolver {
    param: String,
    trust: Trust,
}

impl QueryResolver {
    /// Reads the query parameter `param`.
    pub fn new(param: impl Into<String>) -> Self {
        QueryResolver {
            param: param.into(),
            trust: Trust::Claimed,
        }
    }

    /// The tenant in the query parameter.
    fn find<'a>(&'a self, request: &'a Parts) -> ResolveFuture<'a> {
        done(
            query_value(request.uri.query(), &self.param)
                .and_then(|value| tenant_if_any(value.as_deref())),
        )
    }
}

claimed_resolver! {
    /// Treats the parameter as verified; see [`HeaderResolver::verified`] for when that is
    /// right (almost never for a query parameter).
    QueryResolver, "query"
}

impl Default for QueryResolver {
    /// `tenant_id`, claimed.
    fn default() -> Self {
        QueryResolver::new("tenant_id")
    }
}

/// The decoded value of query parameter `param`; an error when it is repeated or badly encoded.
fn query_value(query: Option<&str>, param: &str) -> Result<Option<String>, Rejection> {
    let mut found = None;
    for pair in query.unwrap_or_default().split('&') {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        if percent_decode(raw_key, true).as_deref() != Some(param) {
            continue;
        }
        if found.is_some() {
            return Err(TWICE);
        }
        found = Some(
            percent_decode(raw_value, true).ok_or(Rejection::InvalidTenantId {
                reason: "the value is not validly percent-encoded UTF-8",
            })?,
        );
    }
    Ok(found)
}
