//! The guardrails in the portal through the real router: a denial next to the field it names on
//! the plan page, the same denial as a 403 with its field, message and fix for the portal's own
//! client and as a redirect back for a plain form, the platform page for a developer and a
//! platform admin, the policy test bench (platform admins only), and a waiver granted with the
//! waiver form (a bad date sent back next to its field) that turns the denial into a notice.

mod support;

use axum::http::StatusCode;
use support::App;

const PLAN: &str = "/catalog/default/component/payments-api/environments/dev/plan";

/// The part of `html` from `marker` to the end of its element's block.
fn after<'a>(html: &'a str, marker: &str) -> &'a str {
    html.split(marker)
        .nth(1)
        .unwrap_or_else(|| panic!("{marker} not in the page"))
        .split("</div>")
        .next()
        .unwrap_or_default()
}

const REQUEST: &str =
    "service=component%3Adefault%2Fpayments-api&environment=dev&cpu=9&memory=&pods=&availability=";

#[tokio::test]
async fn a_developer_sees_the_denial_next_to_the_field_and_the_portal_keeps_its_meaning() {
    let app = App::new().await;
    let ada = app.session("ada").await;

    let (status, html) = app.page(&ada, &format!("{PLAN}?cpu=9")).await;
    assert_eq!(status, StatusCode::OK);
    let error = after(&html, r#"id="dev-cpu-error""#);
    assert!(
        error.contains("9000m of CPU is above the ceiling of 8000m for dev"),
        "{error}"
    );
    assert!(error.contains("Ask for less CPU"), "{error}");
    assert!(html.contains(r#"aria-describedby="dev-cpu-help dev-cpu-error""#));
    assert!(!html.contains(r#"data-testid="apply-form""#));

    // The portal's client gets a 403 that says what was denied and how to fix it.
    let (status, _, body) = app
        .post_form(&ada, "/api/portal/environment-request", REQUEST, None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body.contains(
            "set.cpu: 9000m of CPU is above the ceiling of 8000m for dev (fix: Ask for less CPU"
        ),
        "{body}"
    );
    // A plain form is sent back to its page with the denial in the address.
    let (status, location, _) = app
        .post_form(
            &ada,
            "/api/portal/environment-request",
            REQUEST,
            Some("/platform"),
        )
        .await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(location.contains("__err="), "{location}");

    // The platform page shows the configuration to developers, but none of the admins' controls;
    // the test bench is refused.
    let (status, html) = app.page(&ada, "/platform").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"data-testid="active-revision""#));
    assert!(html.contains(r#"data-policy="ceiling-cpu""#));
    assert!(!html.contains(r#"data-testid="reload-form""#));
    assert!(!html.contains(r#"data-testid="bench-link""#));
    // The overview is the domain's: a developer sees their teams' environments only.
    assert!(html.contains("Platform admins see every team"), "{html}");
    let (status, html) = app.page(&ada, "/platform/policies/test").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("only platform admins use the policy test bench"));
    // The page for the refusal's status, not a generic failure.
    assert!(html.contains(r#"data-status="403""#), "{html}");
    assert!(html.contains("Not allowed"), "{html}");
}

#[tokio::test]
async fn an_admin_tests_the_policies_reloads_and_waives_one() {
    let app = App::new().await;
    let linus = app.session("linus").await;
    let ada = app.session("ada").await;

    let (status, html) = app.page(&linus,
        "/platform/policies/test?service=component%3Adefault%2Fpayments-api&environment=dev&cpu=9&requester=user%3Adefault%2Fada",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"data-allowed="false""#), "{html}");
    assert!(html.contains(r#"data-policy="ceiling-cpu" data-outcome="denied""#));
    assert!(html.contains(r#"data-policy="cost-centre" data-outcome="allowed""#));
    let input = after(&html, r#"data-testid="bench-input""#);
    assert!(
        input.contains("cpuMillis") && input.contains(": 9000"),
        "{input}"
    );
    let (_, html) = app
        .page(
            &linus,
            "/platform/policies/test?service=component%3Adefault%2Fnope&environment=dev",
        )
        .await;
    assert!(html.contains(r#"id="bench-service-error""#), "{html}");

    let (status, location, _) = app
        .post_form(&linus, "/api/portal/platform-reload", "", Some("/platform"))
        .await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(location, "/platform?reloaded=unchanged");
    let (_, html) = app.page(&linus, &location).await;
    assert!(html.contains(r#"data-testid="reload-outcome""#));

    // A past date comes back next to its field, with what was typed.
    let grant = |expires: &str| {
        format!(
            "policy=ceiling-cpu&service=component%3Adefault%2Fpayments-api&reason=load+test&expires={expires}"
        )
    };
    let (status, location, _) = app
        .post_form(
            &linus,
            "/api/portal/waiver-grant",
            &grant("2001-01-01"),
            Some("/platform"),
        )
        .await;
    assert_eq!(status, StatusCode::FOUND);
    let (_, html) = app.page(&linus, &location).await;
    assert!(after(&html, r#"id="waiver-expires-error""#).contains("is in the past"));
    assert!(html.contains(r#"value="load test""#));
    // A developer may not grant one.
    let (status, _, _) = app
        .post_form(&ada, "/api/portal/waiver-grant", &grant("2099-01-01"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let next_month =
        causeway_platform::time::iso(causeway_platform::time::now_millis() + 30 * 24 * 3_600_000);
    let (status, location, _) = app
        .post_form(
            &linus,
            "/api/portal/waiver-grant",
            &grant(&next_month[..10]),
            Some("/platform"),
        )
        .await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(location, "/platform#waivers-heading");
    let (_, html) = app.page(&linus, "/platform").await;
    let id = html
        .split(r#"<tr data-waiver=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the waiver's row")
        .to_owned();

    // The denial is now a notice on the plan, and the plan can be applied.
    let (_, html) = app.page(&ada, &format!("{PLAN}?cpu=9")).await;
    assert!(
        html.contains(r#"data-policy="ceiling-cpu" data-outcome="waived""#),
        "{html}"
    );
    assert!(!html.contains(r#"id="dev-cpu-error""#));

    let (status, location, _) = app
        .post_form(
            &linus,
            "/api/portal/waiver-revoke",
            &format!("id={id}"),
            Some("/platform"),
        )
        .await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(location, "/platform#waivers-heading");
    let (_, html) = app.page(&linus, "/platform").await;
    assert!(html.contains(r#"data-testid="no-waivers""#));
}
