//! The sign-in page. In development mode it offers the development sign-in, a plain form that
//! posts to `/auth/dev/sign-in`, so it works without JavaScript; with OpenID Connect, a link to
//! `/auth/oidc/start`, which sends the browser to the identity provider.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::sign_in_options;
use crate::model::SignInChoices;

/// Percent-encodes a query value (everything but unreserved characters).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Explains an `error` code that the sign-in handler put into the redirect.
fn error_message(code: &str, user: &str) -> String {
    match code {
        "unknown-user" => format!(
            "No user {user:?} is known. Users come from the organisation data (kind User); pick one from the list."
        ),
        "invalid-user" => format!(
            "{user:?} is not a user reference; expected user:namespace/name or just a name."
        ),
        "signed-out" => "You are signed out.".to_owned(),
        _ => "Sign-in failed; please try again.".to_owned(),
    }
}

/// `/sign-in`
#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let (error, attempted, next) = query.with_untracked(|q| {
        (
            q.get("error"),
            q.get("user").unwrap_or_default(),
            q.get("next")
                .filter(|n| n.starts_with('/') && !n.starts_with("//"))
                .unwrap_or_else(|| "/".to_owned()),
        )
    });
    let options = Resource::new(|| (), |_| sign_in_options());
    view! {
        <Title text="Sign in" />
        <section class="panel panel--narrow">
            <h1>"Sign in to Causeway"</h1>
            {error.map(|code| {
                let class = if code == "signed-out" { "notice" } else { "error-box" };
                view! { <p class=class role="alert" data-testid="sign-in-message">{error_message(&code, &attempted)}</p> }
            })}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    let next = next.clone();
                    Suspend::new(async move {
                        match options.await {
                            Ok(options) if options.dev_sign_in => view! {
                                <p class="notice notice--warning">
                                    "Development sign-in: choose who you are. It exists only on a local, loopback-only server."
                                </p>
                                <form method="post" action="/auth/dev/sign-in" class="form" data-testid="dev-sign-in">
                                    <input type="hidden" name="next" value=next />
                                    <label for="user">"User"</label>
                                    <select id="user" name="user" required>
                                        {options.users.into_iter().map(|(entity_ref, name)| view! {
                                            <option value=entity_ref.clone()>{format!("{name} ({entity_ref})")}</option>
                                        }).collect_view()}
                                    </select>
                                    <button type="submit" class="button button--primary">"Sign in"</button>
                                </form>
                            }
                                .into_any(),
                            Ok(SignInChoices { oidc_provider: Some(provider), .. }) => {
                                // A plain link: the provider's page is a full navigation, with or
                                // without JavaScript.
                                let href = format!("/auth/oidc/start?next={}", encode(&next));
                                view! {
                                    <p>"Causeway uses your organisation's single sign-on."</p>
                                    <a href=href class="button button--primary" data-testid="oidc-sign-in" rel="external">
                                        {format!("Sign in with {provider}")}
                                    </a>
                                }
                                .into_any()
                            }
                            Ok(_) => view! { <p>"Single sign-on is not configured on this server yet."</p> }.into_any(),
                            Err(e) => view! { <p class="error-box" role="alert">{e.to_string()}</p> }.into_any(),
                        }
                    })
                }}
            </Suspense>
        </section>
    }
}
