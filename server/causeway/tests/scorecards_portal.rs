//! The Scorecard tab through the real router, as a signed-in browser without JavaScript sees it:
//! a component's level, every check passed or failed with the fix of each failing one, and its
//! history; a team's components with their levels; the tab linked from a component's other tabs.

use axum::http::StatusCode;

mod support;

use support::App;

#[tokio::test]
async fn the_scorecard_tab_shows_levels_checks_fixes_and_history() {
    let app = App::new().await;
    let grace = app.session("grace").await;
    let (status, html) = app
        .page(&grace, "/catalog/default/component/payments-api/scorecard")
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("<title>Payments API · Scorecard · Causeway</title>"),
        "{html}"
    );
    assert!(html.contains("operational-maturity"), "{html}");
    // Owned and described, no rota and nothing provisioned: bronze.
    assert!(html.contains(r#"class="badge">bronze"#), "{html}");
    assert!(html.contains(r#"data-passed="false""#));
    assert!(html.contains(r#"data-passed="true""#));
    assert!(
        html.contains("Add the annotation causeway.dev/on-call naming the rota"),
        "the failing check's fix is shown"
    );
    assert!(html.contains(r#"data-testid="scorecard-history""#));
    assert!(html.contains(r#"data-testid="scorecard-tab""#));

    // The component's other tabs link to it.
    let (_, overview) = app
        .page(&grace, "/catalog/default/component/payments-api")
        .await;
    assert!(
        overview.contains(r#"href="/catalog/default/component/payments-api/scorecard""#),
        "{overview}"
    );

    // The team's page lists its components, as last scored.
    app.state
        .platform
        .scorecards
        .evaluate_all()
        .await
        .expect("scored");
    let (status, html) = app
        .page(&grace, "/catalog/default/group/payments/scorecard")
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains(r#"data-testid="team-scorecard-row""#),
        "{html}"
    );
    assert!(html.contains("component:default/payments-api"), "{html}");

    // Other kinds have no scorecard tab.
    let (status, html) = app
        .page(&grace, "/catalog/default/system/payments/scorecard")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Not found"), "{html}");
}
