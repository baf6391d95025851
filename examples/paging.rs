//! Paging in an HTTP-style handler: `GET /events?kind=K&limit=N&cursor=C`.
//!
//! ```sh
//! cargo run --example paging
//! ```
//!
//! The handler takes the cursor from the query string and hands the next one back; a client
//! cannot move a cursor to another tenant or edit it (that is a 400), and the tenant comes from
//! the request scope, never from the cursor.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use dynabao::{Db, Error, Model, Tenancy, TenantContext};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Model)]
#[bao(prefix = "ev")]
#[bao(index(by_kind(gsi = 1, pk = "kind", sk = "at")))]
struct Event {
    #[bao(pk)]
    id: String,
    kind: String,
    at: DateTime<Utc>,
}

/// What a web framework would turn into an HTTP response.
#[derive(Debug)]
struct Response {
    status: u16,
    body: String,
}

/// `GET /events?kind=K&limit=N&cursor=C`, newest first.
async fn list_events(db: &Db, params: &HashMap<&str, &str>) -> Response {
    let Some(kind) = params.get("kind") else {
        return Response {
            status: 400,
            body: r#"{"error":"missing_kind"}"#.into(),
        };
    };
    let limit = params
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(2)
        .clamp(1, 100);
    let page = Event::query_by_kind(db, *kind)
        .descending()
        .limit(limit)
        .cursor_opt(params.get("cursor").copied())
        .send()
        .await;
    match page {
        Ok(page) => {
            let ids: Vec<String> = page.items.iter().map(|e| format!("{:?}", e.id)).collect();
            let cursor = page
                .cursor()
                .map_or("null".to_owned(), |c| format!("{c:?}"));
            Response {
                status: 200,
                body: format!(r#"{{"items":[{}],"cursor":{cursor}}}"#, ids.join(",")),
            }
        }
        Err(e @ Error::InvalidCursor { .. }) => Response {
            status: 400,
            body: format!(r#"{{"error":"{}","message":"{e}"}}"#, e.code()),
        },
        Err(e @ Error::TenantRequired) => Response {
            status: 400,
            body: format!(r#"{{"error":"{}"}}"#, e.code()),
        },
        Err(e) => {
            eprintln!("internal error: {e}");
            Response {
                status: 500,
                body: r#"{"error":"internal"}"#.into(),
            }
        }
    }
}

#[tokio::main]
async fn main() -> dynabao::Result<()> {
    let db = Db::new(
        dynabao::testkit::sdk_client().await?,
        "paging-example",
        Tenancy::On,
    );
    db.create_table().await?;
    let start = Utc::now();
    for tenant in ["acme", "globex"] {
        TenantContext::run_with_tenant(tenant, async {
            for i in 0..5 {
                let id = format!("{tenant}-{i}");
                Event::create(
                    &db,
                    Event {
                        id,
                        kind: "login".into(),
                        at: start + Duration::seconds(i),
                    },
                )
                .await?;
            }
            Ok::<_, Error>(())
        })
        .await?;
    }

    // A client of acme pages through its events.
    let mut cursor: Option<String> = None;
    let mut acme_cursor = None;
    loop {
        let mut params = HashMap::from([("kind", "login"), ("limit", "2")]);
        if let Some(c) = &cursor {
            params.insert("cursor", c.as_str());
        }
        let response = TenantContext::scope("acme".parse()?, list_events(&db, &params)).await;
        println!(
            "acme  GET /events?{params:?} -> {} {}",
            response.status, response.body
        );
        cursor = response
            .body
            .split(r#""cursor":""#)
            .nth(1)
            .and_then(|r| r.split('"').next())
            .map(str::to_owned);
        if acme_cursor.is_none() {
            acme_cursor = cursor.clone();
        }
        if cursor.is_none() {
            break;
        }
    }

    // The same cursor replayed by a client of globex is refused.
    if let Some(c) = &acme_cursor {
        let params = HashMap::from([("kind", "login"), ("cursor", c.as_str())]);
        let response = TenantContext::scope("globex".parse()?, list_events(&db, &params)).await;
        println!(
            "globex GET /events with acme's cursor -> {} {}",
            response.status, response.body
        );
        assert_eq!(response.status, 400);
    }
    db.delete_table().await?;
    Ok(())
}
