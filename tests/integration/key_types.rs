//! Key types users have: dates without a zone, UUIDs, and newtype ids (with `#[bao(auto)]`),
//! named through dynabao's re-exports so no second `ulid` or `chrono` can sneak in.

use dynabao::chrono::{NaiveDate, NaiveDateTime};
use dynabao::ops::query::{between, lt};
use dynabao::testkit::{fresh_db, fresh_tenant};
use dynabao::{Error, KeyPart, Model, TenantContext, Ulid};
use serde::{Deserialize, Serialize};

use crate::support::*;

type R<T = ()> = dynabao::Result<T>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "shift")]
pub struct Shift {
    #[bao(pk)]
    pub day: NaiveDate,
    #[bao(sk)]
    pub starts: NaiveDateTime,
    pub who: String,
}

/// A newtype id, generated on create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, KeyPart)]
#[bao(auto)]
pub struct ProjectId(pub Ulid);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "proj")]
#[bao(new)]
pub struct Project {
    #[bao(pk, auto)]
    pub id: ProjectId,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "dev")]
pub struct Device {
    #[bao(pk, auto)]
    pub id: dynabao::uuid::Uuid,
    pub label: String,
}

fn at(day: NaiveDate, h: u32, m: u32) -> NaiveDateTime {
    day.and_hms_opt(h, m, 0).expect("a time")
}

#[tokio::test]
async fn naive_dates_and_times_key_and_range_like_their_values() -> R {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        let day = NaiveDate::from_ymd_opt(2026, 12, 2).expect("a date");
        for (h, who) in [(17, "eve"), (6, "ada"), (9, "bob"), (12, "cy")] {
            Shift::create(
                &db,
                Shift {
                    day,
                    starts: at(day, h, 0),
                    who: who.into(),
                },
            )
            .await?;
        }
        let morning = Shift::query(&db, &day)
            .sk(between(at(day, 6, 0), at(day, 10, 0)))
            .all()
            .await?;
        let names: Vec<&str> = morning.iter().map(|s| s.who.as_str()).collect();
        assert_eq!(names, ["ada", "bob"], "in time order");
        assert_eq!(
            Shift::query(&db, &day)
                .sk(lt(at(day, 12, 0)))
                .count()
                .await?,
            2
        );
        let found = Shift::find(&db, &day, &at(day, 17, 0)).await?;
        assert_eq!(found.map(|s| s.who), Some("eve".to_owned()));
        let far = NaiveDate::from_ymd_opt(10_000, 1, 1).expect("a date");
        let bad = Shift::create(
            &db,
            Shift {
                day: far,
                starts: at(far, 1, 0),
                who: "x".into(),
            },
        )
        .await;
        assert!(matches!(bad, Err(Error::InvalidKeyValue { .. })), "{bad:?}");
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn newtype_and_uuid_ids_are_generated_by_auto() -> R {
    let db = fresh_db().await?;
    let t = fresh_tenant();
    TenantContext::run_with_tenant(t.clone(), async {
        let p = Project::create(
            &db,
            Project {
                id: ProjectId(Ulid::nil()),
                name: "apollo".into(),
            },
        )
        .await?;
        assert!(!p.id.0.is_nil(), "generated");
        assert_eq!(Project::find(&db, &p.id).await?, Some(p.clone()));
        let pk = format!("[{t}]#proj#{}", p.id.0);
        assert!(
            raw_get(&db, &pk, &format!("[{t}]#proj#_")).await.is_some(),
            "keyed by the inner ULID"
        );
        // `#[bao(new)]`: no placeholder for the generated id.
        let made = Project::create(&db, Project::new("mercury".into())).await?;
        assert!(!made.id.0.is_nil());
        let given = ProjectId(Ulid::new());
        let kept = Project::create(
            &db,
            Project {
                id: given,
                name: "gemini".into(),
            },
        )
        .await?;
        assert_eq!(kept.id, given, "a given id is kept");

        let d = Device::create(
            &db,
            Device {
                id: dynabao::uuid::Uuid::nil(),
                label: "sensor".into(),
            },
        )
        .await?;
        assert_eq!(d.id.get_version_num(), 7, "a version 7 UUID");
        assert_eq!(Device::find(&db, &d.id).await?, Some(d.clone()));
        let pk = format!("[{t}]#dev#{}", d.id.hyphenated());
        assert!(
            raw_get(&db, &pk, &format!("[{t}]#dev#_")).await.is_some(),
            "lowercase hyphenated"
        );
        Ok::<_, Error>(())
    })
    .await
}
