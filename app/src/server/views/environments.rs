//! The environments tab and the plan page, rendered on the server only. The browser receives
//! them as HTML: they hold no interactive parts (their forms post like any form), so shipping
//! their rendering code in the WebAssembly bundle would only make it larger.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::api::{DestroyEnvironment, ExtendEnvironment, RequestEnvironment};
use crate::model::{EnvironmentCard, EnvironmentsView, ExpiryView, ParamField, PlanStep, PlanView};
use crate::pages::environments::EntityTabs;

#[component]
pub fn Environments(view: EnvironmentsView) -> impl IntoView {
    let EnvironmentsView {
        service_ref,
        service_name,
        entity_href,
        can_change,
        environments,
    } = view;
    let plan_base = format!("{entity_href}/environments");
    view! {
        <nav class="breadcrumb" aria-label="Breadcrumb">
            <ol>
                <li><a href="/catalog">"Catalog"</a></li>
                <li><a href=entity_href.clone()>{service_name.clone()}</a></li>
                <li aria-current="page">"Environments"</li>
            </ol>
        </nav>
        <header class="entity-head">
            <h1>{service_name.clone()}</h1>
            <p class="muted"><code>{service_ref.clone()}</code></p>
        </header>
        <EntityTabs entity_href current="environments" />
        {(!can_change).then(|| view! {
            <p class="notice" data-testid="read-only">
                "You can look at these environments; only the owning team and platform admins can request, change or destroy them."
            </p>
        })}
        <div class="environments">
            {environments
                .into_iter()
                .map(|card| view! {
                    <EnvironmentPanel card can_change service_ref=service_ref.clone() plan_base=plan_base.clone() />
                })
                .collect_view()}
        </div>
    }
}

#[component]
fn EnvironmentPanel(
    card: EnvironmentCard,
    can_change: bool,
    service_ref: String,
    plan_base: String,
) -> impl IntoView {
    let EnvironmentCard {
        name,
        protected,
        target,
        namespace,
        fields,
        record,
        objects,
        drift,
        links,
        kubectl,
        kubeconfig,
        error,
        expiry,
        approval,
    } = card;
    let heading_id = format!("environment-{name}");
    let status = record
        .as_ref()
        .map_or_else(|| "not provisioned".to_owned(), |r| r.status.clone());
    let provisioned = record.is_some();
    let action = format!("{plan_base}/{name}/plan");
    let destroy = (can_change && provisioned && !protected).then(|| {
        let (name, namespace, service_ref) = (name.clone(), namespace.clone(), service_ref.clone());
        let testid = format!("destroy-{name}");
        let confirm_id = format!("confirm-{name}");
        view! {
            <details class="danger-zone">
                <summary>"Destroy this environment"</summary>
                <form method="post" action=DestroyEnvironment::url() class="form" data-testid=testid>
                    <input type="hidden" name="service" value=service_ref />
                    <input type="hidden" name="environment" value=name />
                    <label for=confirm_id.clone()>"Type " <code>{namespace}</code> " to confirm"</label>
                    <input id=confirm_id name="confirm" required autocomplete="off" />
                    <button type="submit" class="button button--danger">"Destroy"</button>
                </form>
            </details>
        }
    });
    let extend = expiry
        .clone()
        .filter(|_| can_change && provisioned)
        .map(|expiry| {
            view! { <ExtendForm expiry service_ref=service_ref.clone() name=name.clone() /> }
        });
    let ephemeral = expiry.is_some();
    view! {
        <section class="panel environment" aria-labelledby=heading_id.clone() data-testid=format!("environment-{name}")>
            <header class="environment__head">
                <h2 id=heading_id.clone()>{name.clone()}</h2>
                <span class=format!("status status--{}", status.replace(' ', "-")) data-testid="environment-status">{status.clone()}</span>
                {protected.then(|| view! { <span class="badge">"protected"</span> })}
                {ephemeral.then(|| view! { <span class="badge">"ephemeral"</span> })}
            </header>
            <dl class="pairs">
                <div class="pairs__item"><dt>"Namespace"</dt><dd><code>{namespace.clone()}</code></dd></div>
                <div class="pairs__item"><dt>"Target"</dt><dd>{target}</dd></div>
                {record.clone().map(|r| view! {
                    <div class="pairs__item"><dt>"Last request"</dt><dd>{r.updated_at} " by " {r.requested_by}</dd></div>
                    {r.message.map(|m| view! { <div class="pairs__item"><dt>"Problem"</dt><dd>{m}</dd></div> })}
                })}
                {expiry.map(|e| view! { <Lifetime expiry=e /> })}
            </dl>
            {error.map(|e| view! { <p class="error-box" role="alert">{e}</p> })}
            {approval.map(|approval| view! { <super::approvals::ApprovalPanel approval /> })}
            {(!links.is_empty() || kubectl.is_some() || kubeconfig.is_some()).then(|| view! {
                <ul class="link-list">
                    {links.into_iter().map(|l| view! { <li><a href=l.url rel="noopener noreferrer">{l.title}</a></li> }).collect_view()}
                    {kubeconfig.map(|url| view! { <li><a href=url download="" data-testid="kubeconfig">"Download kubeconfig (signs in as you)"</a></li> })}
                </ul>
                {kubectl.map(|k| view! { <pre class="code-block"><code>{k}</code></pre> })}
            })}
            {(!objects.is_empty()).then(|| view! {
                <h3 class="subheading">"Objects"</h3>
                <div class="table-wrap">
                    <table class="table" data-testid="environment-objects">
                        <thead><tr><th scope="col">"Object"</th><th scope="col">"State"</th></tr></thead>
                        <tbody>
                            {objects.into_iter().map(|o| {
                                let class = format!("status status--{}", o.state.replace(' ', "-"));
                                view! { <tr><td><code>{o.object}</code></td><td><span class=class>{o.state}</span></td></tr> }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            })}
            {(!drift.is_empty()).then(|| view! {
                <h3 class="subheading">"Drift"</h3>
                <div class="table-wrap">
                    <table class="table" data-testid="environment-drift">
                        <thead><tr><th scope="col">"When"</th><th scope="col">"Object"</th><th scope="col">"Change"</th><th scope="col">"Done"</th></tr></thead>
                        <tbody>
                            {drift.into_iter().map(|d| view! {
                                <tr><td>{d.at}</td><td><code>{d.object}</code></td><td>{d.change}</td><td>{d.action}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            })}
            {can_change.then(|| view! {
                <h3 class="subheading">{if provisioned { "Change" } else { "Request" }}</h3>
                <form method="get" action=action class="form environment-form" data-testid=format!("request-{name}")>
                    <Fields fields prefix=name.clone() />
                    <button type="submit" class="button button--primary">"Review the plan"</button>
                </form>
            })}
            {extend}
            {destroy}
        </section>
    }
}

/// When an ephemeral environment goes (`expires in …`) and whether its team was reminded, or,
/// before its first apply, how long it will live.
#[component]
fn Lifetime(expiry: ExpiryView) -> impl IntoView {
    match (expiry.expires_at, expiry.expires_in) {
        (Some(at), Some(within)) => {
            let text = if within == "expired" {
                format!("expired at {at}; it is being removed")
            } else {
                format!("expires in {within} ({at})")
            };
            view! {
                <div class="pairs__item"><dt>"Expires"</dt><dd data-testid="environment-expiry">{text}</dd></div>
                {expiry.reminded_at.map(|r| view! {
                    <div class="pairs__item"><dt>"Reminder"</dt><dd data-testid="environment-reminder">"sent " {r}</dd></div>
                })}
            }
            .into_any()
        }
        _ => view! {
            <div class="pairs__item">
                <dt>"Lifetime"</dt>
                <dd data-testid="environment-expiry">{expiry.ttl} " after its first apply; its team can extend it to at most " {expiry.max} " from then on"</dd>
            </div>
        }
        .into_any(),
    }
}

/// Moves an ephemeral environment's expiry; a plain form, so it works without JavaScript.
#[component]
fn ExtendForm(expiry: ExpiryView, service_ref: String, name: String) -> impl IntoView {
    let hours_id = format!("extend-{name}-hours");
    let testid = format!("extend-{name}");
    let help_id = format!("{hours_id}-help");
    view! {
        <h3 class="subheading">"Extend"</h3>
        <form method="post" action=ExtendEnvironment::url() class="form extend-form" data-testid=testid>
            <input type="hidden" name="service" value=service_ref />
            <input type="hidden" name="environment" value=name />
            <div class="field">
                <label for=hours_id.clone()>"Keep it for this many hours from now"</label>
                <input id=hours_id type="number" name="hours" min="1" max=expiry.max_hours.to_string()
                    value=expiry.ttl_hours.to_string() aria-describedby=help_id.clone() required />
                <p id=help_id class="muted small">"At most " {expiry.max} " (" {expiry.max_hours} " hours) from now; never sooner than it expires now."</p>
            </div>
            <button type="submit" class="button">"Extend"</button>
        </form>
    }
}

/// The parameter fields, each with its help, default and (from the server) its error.
#[component]
fn Fields(fields: Vec<ParamField>, prefix: String) -> impl IntoView {
    fields
        .into_iter()
        .map(|f| {
            let id = format!("{prefix}-{}", f.name);
            let help_id = format!("{id}-help");
            let error_id = format!("{id}-error");
            let invalid = f.error.is_some() || !f.denials.is_empty();
            let described = if invalid {
                format!("{help_id} {error_id}")
            } else {
                help_id.clone()
            };
            view! {
                <div class="field" data-invalid=invalid.then_some("true")>
                    <label for=id.clone()>{f.name.clone()}</label>
                    <input id=id name=f.name.clone() value=f.value placeholder=f.default.clone()
                        aria-describedby=described aria-invalid=invalid.then_some("true") autocomplete="off" />
                    <p id=help_id class="muted small">{f.help} " (default " {f.default} ")"</p>
                    {invalid.then(|| view! {
                        <div id=error_id class="field__error" role="alert">
                            {f.error.map(|e| view! { <p>{e}</p> })}
                            <super::guardrails::Denials denials=f.denials />
                        </div>
                    })}
                </div>
            }
        })
        .collect_view()
}

#[component]
pub fn Plan(plan: PlanView) -> impl IntoView {
    let ok = plan.ok();
    let values: Vec<(String, String)> = plan
        .fields
        .iter()
        .map(|f| (f.name.clone(), f.value.clone()))
        .collect();
    let changes = plan
        .steps
        .iter()
        .filter(|s| s.action != "unchanged")
        .count();
    let summary = if changes == 0 {
        "Nothing would change: the environment is already as requested.".to_owned()
    } else {
        format!("{changes} of {} objects would change.", plan.steps.len())
    };
    let PlanView {
        service_ref,
        service_name,
        environment,
        namespace,
        environments_href,
        fields,
        errors,
        denials,
        notices,
        steps,
        can_change,
        approvers,
    } = plan;
    let apply = if approvers.is_some() {
        "Request approval"
    } else {
        "Apply"
    };
    // A denial about the environment itself is described by the heading that names it.
    let environment_error = format!("{environment}-environment-error");
    let environment_denied = denials
        .iter()
        .any(|d| d.field == crate::server::guardrails::ENVIRONMENT_FIELD);
    view! {
        <nav class="breadcrumb" aria-label="Breadcrumb">
            <ol>
                <li><a href="/catalog">"Catalog"</a></li>
                <li><a href=environments_href.clone()>{service_name.clone()} " environments"</a></li>
                <li aria-current="page">{environment.clone()} " plan"</li>
            </ol>
        </nav>
        <section class="page-head">
            <h1 aria-describedby=environment_denied.then(|| environment_error.clone())>"Plan for " {environment.clone()}</h1>
            <p class="muted">{if ok { summary } else { "The request is not valid; correct the fields below.".to_owned() }}</p>
        </section>
        <super::guardrails::RequestDenials denials environment_id=environment_error />
        {(!errors.is_empty()).then(|| view! {
            <div class="error-box" role="alert" data-testid="plan-errors">
                <ul>{errors.into_iter().map(|e| view! { <li>{e}</li> }).collect_view()}</ul>
            </div>
        })}
        <section class="panel">
            <h2>"Parameters"</h2>
            <form method="get" class="form environment-form" data-testid="plan-form">
                <Fields fields prefix=environment.clone() />
                <button type="submit" class="button">"Plan again"</button>
            </form>
        </section>
        {ok.then(|| view! {
            <section class="panel" aria-labelledby="plan-heading">
                <h2 id="plan-heading">"What would change in " <code>{namespace.clone()}</code></h2>
                <super::guardrails::Notices notices />
                <PlanTable steps />
                {if can_change {
                    view! {
                        <form method="post" action=RequestEnvironment::url() class="form" data-testid="apply-form">
                            <input type="hidden" name="service" value=service_ref.clone() />
                            <input type="hidden" name="environment" value=environment.clone() />
                            {values.into_iter().map(|(name, value)| view! { <input type="hidden" name=name value=value /> }).collect_view()}
                            {approvers.map(|a| view! {
                                <p class="notice" data-testid="needs-approval">{environment.clone()} " needs an approval from " {a} ": the request waits, bound to this exact plan, until an approver approves it."</p>
                            })}
                            <button type="submit" class="button button--primary">{apply}</button>
                        </form>
                    }
                        .into_any()
                } else {
                    view! { <p class="notice">"Only the owning team and platform admins can apply this."</p> }.into_any()
                }}
            </section>
        })}
    }
}

#[component]
pub fn PlanTable(steps: Vec<PlanStep>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="plan-steps">
                <thead><tr><th scope="col">"Action"</th><th scope="col">"Object"</th><th scope="col">"Changes"</th></tr></thead>
                <tbody>
                    {steps.into_iter().map(|s| view! {
                        <tr>
                            <td><span class=format!("status status--{}", s.action)>{s.action.clone()}</span></td>
                            <td><code>{s.object}</code></td>
                            <td>
                                {s.message.map(|m| view! { <p>{m}</p> })}
                                {(!s.fields.is_empty()).then(|| view! {
                                    <ul class="diff">
                                        {s.fields.into_iter().map(|(path, live, desired)| view! {
                                            <li><code>{path}</code> ": " <del>{live}</del> " → " <ins>{desired}</ins></li>
                                        }).collect_view()}
                                    </ul>
                                })}
                            </td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
