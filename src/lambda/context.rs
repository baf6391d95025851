//! Resolvers over `lambda_http`'s request context: what API Gateway verified before it invoked
//! the function.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use http::request::Parts;
use lambda_http::request::RequestContext;

use crate::http::{claim_tenant, json_claim, RequestResolver, ResolveFuture, TenantLookup, Trust};

/// Where in the request context an [`AuthorizerResolver`] looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContextSource {
    /// REST API (payload 1.0), Lambda authorizer: the context the authorizer returned,
    /// `requestContext.authorizer.<name>`.
    RestAuthorizer,
    /// REST API (payload 1.0), Cognito user pool authorizer: the token's claims,
    /// `requestContext.authorizer.claims.<name>`.
    RestCognitoClaims,
    /// HTTP API (payload 2.0), JWT authorizer: the token's claims,
    /// `requestContext.authorizer.jwt.claims.<name>`.
    HttpJwtClaims,
    /// HTTP API (payload 2.0), Lambda authorizer (simple or IAM response): the context it
    /// returned, `requestContext.authorizer.lambda.<name>`.
    HttpLambdaAuthorizer,
}

impl ContextSource {
    /// Every source, in the order [`AuthorizerResolver::any`] asks them (claims before
    /// authorizer context; only the sources of the request's own payload version can match).
    pub const ALL: [ContextSource; 4] = [
        ContextSource::RestCognitoClaims,
        ContextSource::RestAuthorizer,
        ContextSource::HttpJwtClaims,
        ContextSource::HttpLambdaAuthorizer,
    ];

    /// The value of `name` at this source of `context`, if the context is of the right kind.
    fn value<'c>(
        self,
        context: &'c RequestContext,
        name: &str,
    ) -> Option<Result<Cow<'c, str>, &'static str>> {
        match (self, context) {
            (ContextSource::RestAuthorizer, RequestContext::ApiGatewayV1(c)) => {
                c.authorizer.fields.get(name).map(json_claim)
            }
            (ContextSource::RestCognitoClaims, RequestContext::ApiGatewayV1(c)) => c
                .authorizer
                .fields
                .get("claims")
                .and_then(|claims| claims.get(name))
                .map(json_claim),
            (ContextSource::HttpJwtClaims, RequestContext::ApiGatewayV2(c)) => c
                .authorizer
                .as_ref()
                .and_then(|a| a.jwt.as_ref())
                .and_then(|jwt| jwt.claims.get(name))
                .map(|v| Ok(Cow::Borrowed(v.as_str()))),
            (ContextSource::HttpLambdaAuthorizer, RequestContext::ApiGatewayV2(c)) => c
                .authorizer
                .as_ref()
                .and_then(|a| a.fields.get(name))
                .map(json_claim),
            _ => None,
        }
    }
}

/// The tenant from what an API Gateway authorizer verified, as `lambda_http` hands it over in
/// the request context (the `RequestContext` in the request extensions). Verified: API Gateway
/// checked the token, or ran the authorizer, before it invoked the function, and a client
/// cannot write the request context.
///
/// | constructor | event | where |
/// |---|---|---|
/// | [`rest_authorizer`](Self::rest_authorizer) | REST API (v1), Lambda authorizer | `requestContext.authorizer.<name>` |
/// | [`rest_cognito_claim`](Self::rest_cognito_claim) | REST API (v1), Cognito authorizer | `requestContext.authorizer.claims.<name>` |
/// | [`http_jwt_claim`](Self::http_jwt_claim) | HTTP API (v2), JWT authorizer | `requestContext.authorizer.jwt.claims.<name>` |
/// | [`http_lambda_authorizer`](Self::http_lambda_authorizer) | HTTP API (v2), Lambda authorizer | `requestContext.authorizer.lambda.<name>` |
/// | [`any`](Self::any) | any of the above | the first that has `name` |
///
/// The name is the claim or context key as it appears in the event (`custom:tenant_id`,
/// `tenantId`). By default its value is the tenant id; with [`mapped`](Self::mapped) it is
/// mapped to the tenant through a [`TenantLookup`] (a machine client's `client_id` to its
/// account's tenant; an unknown id is `403 tenant_forbidden`).
///
/// No request context of the matching kind (a test request, an ALB event), no authorizer, or no
/// such key: no answer. A value that is not a string or integer, or not a valid tenant id: `400
/// invalid_tenant_id`.
///
/// An Application Load Balancer has no authorizer: behind an ALB the tenant comes from a header
/// ([`HeaderResolver`](crate::http::HeaderResolver)), checked against the principal like any
/// client-named tenant.
#[derive(Clone)]
pub struct AuthorizerResolver {
    sources: Cow<'static, [ContextSource]>,
    name: String,
    lookup: Option<Arc<dyn TenantLookup>>,
    label: &'static str,
}

impl AuthorizerResolver {
    /// Reads `name` from `source`.
    pub fn new(source: ContextSource, name: impl Into<String>) -> Self {
        let (sources, label): (&'static [ContextSource], _) = match source {
            ContextSource::RestAuthorizer => (&[ContextSource::RestAuthorizer], "rest_authorizer"),
            ContextSource::RestCognitoClaims => {
                (&[ContextSource::RestCognitoClaims], "rest_cognito_claim")
            }
            ContextSource::HttpJwtClaims => (&[ContextSource::HttpJwtClaims], "http_jwt_claim"),
            ContextSource::HttpLambdaAuthorizer => (
                &[ContextSource::HttpLambdaAuthorizer],
                "http_lambda_authorizer",
            ),
        };
        AuthorizerResolver {
            sources: Cow::Borrowed(sources),
            name: name.into(),
            lookup: None,
            label,
        }
    }

    /// REST API (v1) Lambda authorizer context key `name`.
    pub fn rest_authorizer(name: impl Into<String>) -> Self {
        Self::new(ContextSource::RestAuthorizer, name)
    }

    /// REST API (v1) Cognito user pool claim `name` (`custom:tenant_id`).
    pub fn rest_cognito_claim(name: impl Into<String>) -> Self {
        Self::new(ContextSource::RestCognitoClaims, name)
    }

    /// HTTP API (v2) JWT authorizer claim `name` (`custom:tenant_id`).
    pub fn http_jwt_claim(name: impl Into<String>) -> Self {
        Self::new(ContextSource::HttpJwtClaims, name)
    }

    /// HTTP API (v2) Lambda authorizer context key `name`.
    pub fn http_lambda_authorizer(name: impl Into<String>) -> Self {
        Self::new(ContextSource::HttpLambdaAuthorizer, name)
    }

    /// `name` from whichever source the request has, in the order of [`ContextSource::ALL`]:
    /// one function behind both a REST and an HTTP API, or behind either kind of authorizer.
    pub fn any(name: impl Into<String>) -> Self {
        AuthorizerResolver {
            sources: Cow::Borrowed(&ContextSource::ALL),
            name: name.into(),
            lookup: None,
            label: "lambda_authorizer",
        }
    }

    /// Maps the value to the tenant through `lookup` instead of using it as the tenant id.
    pub fn mapped(mut self, lookup: impl TenantLookup) -> Self {
        self.lookup = Some(Arc::new(lookup));
        self
    }

    /// The key read.
    pub fn key(&self) -> &str {
        &self.name
    }
}

impl fmt::Debug for AuthorizerResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizerResolver")
            .field("sources", &self.sources)
            .field("name", &self.name)
            .field("mapped", &self.lookup.is_some())
            .finish()
    }
}

impl RequestResolver for AuthorizerResolver {
    fn name(&self) -> &'static str {
        self.label
    }

    fn trust(&self) -> Trust {
        Trust::Verified
    }

    fn resolve<'a>(&'a self, request: &'a Parts) -> ResolveFuture<'a> {
        Box::pin(async move {
            let Some(context) = request.extensions.get::<RequestContext>() else {
                return Ok(None);
            };
            let value = self
                .sources
                .iter()
                .find_map(|source| source.value(context, &self.name));
            claim_tenant(value, self.lookup.as_deref()).await
        })
    }
}
