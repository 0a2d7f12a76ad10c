//! Server functions of the guardrails: the platform page (the configuration in force, its
//! history, the policies and waivers, the environments overview for platform admins), reloading
//! the configuration, granting and revoking waivers, and the policy test bench. Each change posts
//! a plain form and redirects to the page that follows, so they work without JavaScript; who may
//! do what is the domain's rule (`Guardrails`, `Waivers`), which these only call.

use leptos::prelude::*;

use crate::error::PortalError;

#[cfg(feature = "ssr")]
use std::collections::BTreeMap;

#[cfg(feature = "ssr")]
use crate::model::Rendered;

/// `/platform`: the environments overview (every environment for platform admins, the viewer's
/// teams' for everyone else), the configuration, policies and waivers for everyone signed in; the
/// refused read, the reload button and the waiver forms for platform admins.
#[cfg(feature = "ssr")]
pub(super) async fn platform_page(
    params: &BTreeMap<String, String>,
) -> Result<Option<Rendered>, PortalError> {
    use crate::server::{domain_error, platform, render_html, require_principal};

    let principal = require_principal()?;
    let platform = platform()?;
    let view = crate::server::guardrails::overview(&platform.guardrails, &principal, params)
        .await
        .map_err(domain_error)?;
    let guardrails =
        render_html(leptos::view! { <crate::server::views::guardrails::Guardrails view /> });
    let value = |name: &str| params.get(name).cloned().unwrap_or_default();
    let head = super::environments::platform_overview(
        value("team"),
        value("target"),
        value("environment"),
    )
    .await?
    .map(|page| page.html)
    .unwrap_or_default();
    let delivery = super::delivery::organisation_section(params).await?;
    Ok(Some(Rendered {
        title: "Platform".to_owned(),
        html: super::environments::with_error(&value("__err"), head + &delivery + &guardrails),
    }))
}

/// `/platform/policies/test`: the policy test bench, for platform admins (others get a 403).
#[cfg(feature = "ssr")]
pub(super) async fn bench_page(
    params: &BTreeMap<String, String>,
) -> Result<Option<Rendered>, PortalError> {
    use crate::server::environments::provisioner;
    use crate::server::{domain_error, platform, render_html, require_principal};

    let principal = require_principal()?;
    let view =
        crate::server::guardrails::bench::bench(&platform()?, &provisioner()?, &principal, params)
            .await
            .map_err(domain_error)?;
    Ok(Some(Rendered {
        title: "Policy test bench · Platform".to_owned(),
        html: render_html(leptos::view! { <crate::server::views::guardrails::Bench view /> }),
    }))
}

/// Reads the platform configuration's source now (platform admins) and shows the platform page
/// with what happened; a refused read is listed there with its problems.
#[server(prefix = "/api/portal", endpoint = "platform-reload")]
pub async fn reload_platform_config() -> Result<(), PortalError> {
    use crate::server::{domain_error, platform, require_principal};

    let principal = require_principal()?;
    let outcome = platform()?
        .guardrails
        .reload_by(&principal)
        .await
        .map_err(domain_error)?;
    let said = crate::server::guardrails::reload_outcome(&outcome);
    leptos_axum::redirect(&format!("/platform?reloaded={}", encode(&said)));
    Ok(())
}

#[cfg(feature = "ssr")]
fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Waives `policy` for `service` until the end of the UTC day `expires` (platform admins). A
/// refused grant goes back to the form with the values sent and the problem next to its field.
#[server(prefix = "/api/portal", endpoint = "waiver-grant")]
pub async fn grant_waiver(
    policy: String,
    service: String,
    reason: String,
    expires: String,
) -> Result<(), PortalError> {
    use causeway_platform::Error;
    use causeway_platform::guardrails::waivers::NewWaiver;

    use crate::server::{domain_error, platform, request_id, require_principal};

    let principal = require_principal()?;
    let platform = platform()?;
    let back = |field: &str, rule: &str| {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("w.policy", &policy)
            .append_pair("w.service", &service)
            .append_pair("w.reason", &reason)
            .append_pair("w.expires", &expires)
            .append_pair("werr", &format!("{field}: {rule}"))
            .finish();
        leptos_axum::redirect(&format!("/platform?{query}#grant-waiver"));
    };
    let Some(expires_at_millis) = causeway_platform::time::end_of_day(&expires) else {
        back(
            "expires",
            &format!("{expires:?} is not a date; expected e.g. 2027-01-31"),
        );
        return Ok(());
    };
    let Some(store) = platform.guardrails.waivers() else {
        return Err(domain_error(Error::NotFound("waivers".to_owned())));
    };
    let granted = store
        .grant(
            &principal,
            NewWaiver {
                policy: policy.clone(),
                service: service.clone(),
                reason: reason.clone(),
                expires_at_millis,
            },
            &platform.guardrails.policy_ids(),
            request_id().as_deref(),
        )
        .await;
    match granted {
        Ok(_) => leptos_axum::redirect("/platform#waivers-heading"),
        Err(Error::InvalidInput { field, rule }) => back(&field, &rule),
        Err(error) => return Err(domain_error(error)),
    }
    Ok(())
}

/// Revokes the waiver `id` now (platform admins) and shows the waivers again.
#[server(prefix = "/api/portal", endpoint = "waiver-revoke")]
pub async fn revoke_waiver(id: String) -> Result<(), PortalError> {
    use crate::server::{domain_error, platform, request_id, require_principal};

    let principal = require_principal()?;
    let platform = platform()?;
    let Some(store) = platform.guardrails.waivers() else {
        return Err(domain_error(causeway_platform::Error::NotFound(
            "waivers".to_owned(),
        )));
    };
    store
        .revoke(&principal, &id, request_id().as_deref())
        .await
        .map_err(domain_error)?;
    leptos_axum::redirect("/platform#waivers-heading");
    Ok(())
}
