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

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::http::Rejection;
    use crate::tenant::TenantId;

    /// The request head `lambda_http` makes of an event file of the integration tests, with the
    /// value at `pointer` replaced (`Value::Null` removes it).
    fn head(raw: &str, pointer: &str, value: Value) -> Parts {
        let mut event: Value = serde_json::from_str(raw).unwrap();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let map = event.pointer_mut(parent).unwrap().as_object_mut().unwrap();
        if value.is_null() {
            map.remove(key);
        } else {
            map.insert(key.to_owned(), value);
        }
        lambda_http::request::from_str(&event.to_string())
            .unwrap()
            .into_parts()
            .0
    }

    const V1_COGNITO: &str = include_str!("../../tests/integration/events/apigw_v1_cognito.json");
    const V1_LAMBDA: &str =
        include_str!("../../tests/integration/events/apigw_v1_lambda_authorizer.json");
    const V2_JWT: &str = include_str!("../../tests/integration/events/apigw_v2_jwt.json");
    const V2_LAMBDA: &str =
        include_str!("../../tests/integration/events/apigw_v2_lambda_authorizer.json");
    const ALB: &str = include_str!("../../tests/integration/events/alb.json");

    async fn outcome(
        r: &AuthorizerResolver,
        parts: &Parts,
    ) -> Result<Option<String>, &'static str> {
        r.resolve(parts)
            .await
            .map(|t| t.map(|t| t.to_string()))
            .map_err(|e| e.code())
    }

    /// Each source: hit, miss (key absent), malformed (not a string; not a valid id), and no
    /// answer for the other kinds of event.
    #[tokio::test]
    async fn every_source_hit_miss_malformed_and_other_events() {
        let cases: [(AuthorizerResolver, &str, &str); 4] = [
            (
                AuthorizerResolver::rest_cognito_claim("custom:tenant_id"),
                V1_COGNITO,
                "/requestContext/authorizer/claims/custom:tenant_id",
            ),
            (
                AuthorizerResolver::rest_authorizer("tenantId"),
                V1_LAMBDA,
                "/requestContext/authorizer/tenantId",
            ),
            (
                AuthorizerResolver::http_jwt_claim("custom:tenant_id"),
                V2_JWT,
                "/requestContext/authorizer/jwt/claims/custom:tenant_id",
            ),
            (
                AuthorizerResolver::http_lambda_authorizer("tenantId"),
                V2_LAMBDA,
                "/requestContext/authorizer/lambda/tenantId",
            ),
        ];
        let all = [V1_COGNITO, V1_LAMBDA, V2_JWT, V2_LAMBDA, ALB];
        for (resolver, event, pointer) in &cases {
            assert_eq!(resolver.trust(), Trust::Verified);
            let label = resolver.name();
            let hit = head(event, pointer, json!("acme"));
            assert_eq!(
                outcome(resolver, &hit).await,
                Ok(Some("acme".into())),
                "{label}"
            );
            let miss = head(event, pointer, Value::Null);
            assert_eq!(outcome(resolver, &miss).await, Ok(None), "{label}");
            let invalid = head(event, pointer, json!("acme#admin"));
            assert_eq!(
                outcome(resolver, &invalid).await,
                Err("invalid_tenant_id"),
                "{label}"
            );
            for other in all.iter().filter(|e| !std::ptr::eq(**e, *event)) {
                let parts = head(other, "/isBase64Encoded", json!(false));
                // Only the same kind of authorizer can answer: a v1 Lambda authorizer resolver
                // reads top-level keys, which a v1 Cognito event does not have under this name.
                assert_eq!(
                    outcome(resolver, &parts).await,
                    Ok(None),
                    "{label} on another event"
                );
            }
        }
        // Values that are not strings: integers are their text, anything else is malformed.
        let r = AuthorizerResolver::rest_authorizer("tenantId");
        let number = head(V1_LAMBDA, "/requestContext/authorizer/tenantId", json!(42));
        assert_eq!(outcome(&r, &number).await, Ok(Some("42".into())));
        let object = head(
            V1_LAMBDA,
            "/requestContext/authorizer/tenantId",
            json!({"a": 1}),
        );
        assert_eq!(outcome(&r, &object).await, Err("invalid_tenant_id"));
        let r = AuthorizerResolver::http_lambda_authorizer("tenantId");
        let boolean = head(
            V2_LAMBDA,
            "/requestContext/authorizer/lambda/tenantId",
            json!(true),
        );
        assert_eq!(outcome(&r, &boolean).await, Err("invalid_tenant_id"));
        // A request that did not come through lambda_http has no context: no answer.
        let plain = http::Request::new(()).into_parts().0;
        assert_eq!(outcome(&r, &plain).await, Ok(None));
    }

    #[tokio::test]
    async fn any_reads_whichever_source_the_event_has() {
        let r = AuthorizerResolver::any("custom:tenant_id");
        assert_eq!(r.name(), "lambda_authorizer");
        assert_eq!(r.key(), "custom:tenant_id");
        for (event, pointer) in [
            (
                V1_COGNITO,
                "/requestContext/authorizer/claims/custom:tenant_id",
            ),
            (
                V2_JWT,
                "/requestContext/authorizer/jwt/claims/custom:tenant_id",
            ),
        ] {
            let parts = head(event, pointer, json!("globex"));
            assert_eq!(outcome(&r, &parts).await, Ok(Some("globex".into())));
        }
        let parts = head(ALB, "/headers/x-tenant-id", json!("globex"));
        assert_eq!(
            outcome(&r, &parts).await,
            Ok(None),
            "ALB events have no authorizer"
        );
        // Claims come before the authorizer context of the same event.
        let mut both: Value = serde_json::from_str(V1_COGNITO).unwrap();
        both["requestContext"]["authorizer"]["custom:tenant_id"] = json!("from-context");
        both["requestContext"]["authorizer"]["claims"]["custom:tenant_id"] = json!("from-claims");
        let parts = lambda_http::request::from_str(&both.to_string())
            .unwrap()
            .into_parts()
            .0;
        assert_eq!(outcome(&r, &parts).await, Ok(Some("from-claims".into())));
    }

    #[tokio::test]
    async fn mapped_values_go_through_the_lookup() {
        let mut clients = std::collections::HashMap::new();
        clients.insert("client-7".to_owned(), TenantId::new("acme").unwrap());
        let r = AuthorizerResolver::http_jwt_claim("client_id").mapped(clients);
        let pointer = "/requestContext/authorizer/jwt/claims/client_id";
        let known = head(V2_JWT, pointer, json!("client-7"));
        assert_eq!(outcome(&r, &known).await, Ok(Some("acme".into())));
        let unknown = head(V2_JWT, pointer, json!("client-8"));
        assert_eq!(outcome(&r, &unknown).await, Err("tenant_forbidden"));
        let absent = head(V2_JWT, pointer, Value::Null);
        assert_eq!(outcome(&r, &absent).await, Ok(None));
        assert_eq!(
            format!("{r:?}"),
            "AuthorizerResolver { sources: [HttpJwtClaims], name: \"client_id\", mapped: true }"
        );
        let failing = AuthorizerResolver::http_jwt_claim("client_id").mapped(
            crate::http::lookup_fn(|_id: String| async { Err(Rejection::internal("down")) }),
        );
        assert_eq!(outcome(&failing, &known).await, Err("internal_error"));
    }
}
