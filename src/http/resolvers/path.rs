//! [`PathResolver`]: the tenant from a segment of the path.

use http::request::Parts;

use super::{done, percent_decode, tenant, ResolveFuture};
use crate::http::{Rejection, Trust};
use crate::Error;

/// One segment of a [`PathResolver`] pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Must equal this text.
    Literal(String),
    /// `{tenant}`: the tenant.
    Tenant,
    /// `{anything}` or `*`: any one segment.
    Any,
}

/// The tenant from a segment of the path, named by a pattern such as `/tenants/{tenant}` or
/// `/v1/orgs/{org}/tenants/{tenant}`. Claimed.
///
/// The pattern matches the start of the path, segment by segment: literal segments must be
/// equal, `{tenant}` is the tenant, any other `{name}` (or `*`) matches any one segment, and the
/// path may go on after the pattern (`/tenants/acme/notes/1`). A path that does not match: no
/// answer. A match whose tenant segment is invalid (after percent-decoding): `400
/// invalid_tenant_id`.
///
/// Under API Gateway REST APIs, `lambda_http` puts the stage in front of the path
/// (`/prod/tenants/...`) unless `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set; write the pattern
/// for the path your service sees.
#[derive(Debug, Clone)]
pub struct PathResolver {
    pattern: String,
    segments: Vec<Segment>,
    trust: Trust,
}

impl PathResolver {
    /// Parses `pattern`: it starts with `/` and has exactly one `{tenant}` segment
    /// ([`Error::Config`] otherwise).
    pub fn new(pattern: &str) -> Result<Self, Error> {
        let invalid = |why: &str| Error::Config(format!("path pattern {pattern:?}: {why}"));
        let rest = pattern
            .strip_prefix('/')
            .ok_or_else(|| invalid("must start with '/'"))?;
        let segments: Vec<Segment> = rest
            .trim_end_matches('/')
            .split('/')
            .map(|s| match s {
                "{tenant}" => Segment::Tenant,
                "*" => Segment::Any,
                s if s.starts_with('{') && s.ends_with('}') && s.len() > 2 => Segment::Any,
                s => Segment::Literal(s.to_owned()),
            })
            .collect();
        match segments.iter().filter(|s| **s == Segment::Tenant).count() {
            1 => {}
            0 => return Err(invalid("has no {tenant} segment")),
            _ => return Err(invalid("has more than one {tenant} segment")),
        }
        if let Some(Segment::Literal(bad)) = segments
            .iter()
            .find(|s| matches!(s, Segment::Literal(l) if l.is_empty() || l.contains(['{', '}'])))
        {
            return Err(invalid(&format!("segment {bad:?} is empty or malformed")));
        }
        Ok(PathResolver {
            pattern: pattern.to_owned(),
            segments,
            trust: Trust::Claimed,
        })
    }

    /// The pattern.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The raw (still percent-encoded) tenant segment of `path`, if the pattern matches.
    fn tenant_segment<'p>(&self, path: &'p str) -> Option<&'p str> {
        let mut parts = path.strip_prefix('/')?.split('/');
        let mut found = None;
        for segment in &self.segments {
            let part = parts.next()?;
            match segment {
                Segment::Literal(l) if l != part => return None,
                Segment::Literal(_) | Segment::Any => {}
                Segment::Tenant => found = Some(part),
            }
        }
        found
    }

    /// The tenant in the path.
    fn find<'a>(&'a self, request: &'a Parts) -> ResolveFuture<'a> {
        done(match self.tenant_segment(request.uri.path()) {
            None => Ok(None),
            Some(raw) => match percent_decode(raw, false) {
                Some(value) => tenant(&value),
                None => Err(Rejection::InvalidTenantId {
                    reason: "the path segment is not validly percent-encoded UTF-8",
                }),
            },
        })
    }
}

claimed_resolver! {
    /// Treats the path as verified; see
    /// [`HeaderResolver::verified`](crate::http::HeaderResolver::verified).
    PathResolver, "path"
}
