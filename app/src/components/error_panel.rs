//! How a page shows a server function's failure: a heading for its status (sign in, not allowed,
//! not found, …), the message, the refused fields of a policy denial, and the way on.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::error::PortalError;

/// The panel a page shows instead of its content when loading it failed.
#[component]
pub fn ErrorPanel(error: PortalError) -> impl IntoView {
    let title = error.title();
    let status = error.status;
    let denials = error.denials.clone();
    let next = match status {
        401 => Some(view! { <p><a class="button" href="/sign-in">"Sign in"</a></p> }.into_any()),
        403 | 404 => Some(view! { <p><a href="/">"Back to your home page"</a></p> }.into_any()),
        _ => None,
    };
    view! {
        <Title text=title />
        <section class="panel" role="alert" data-testid="error-panel" data-status=status.to_string()>
            <h1>{title}</h1>
            <p>{error.message}</p>
            {(!denials.is_empty()).then(|| view! {
                <ul class="denials">
                    {denials
                        .into_iter()
                        .map(|d| view! {
                            <li><code>{d.field}</code>": "{d.message}" — "{d.fix}" "<span class="muted">"("{d.policy}")"</span></li>
                        })
                        .collect_view()}
                </ul>
            })}
            {next}
        </section>
    }
}
