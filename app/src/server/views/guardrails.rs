//! The guardrails, rendered on the server only: a policy denial next to its field with its fix,
//! the plan's warnings, the platform page's configuration, policies and waivers (forms for
//! platform admins), and the policy test bench.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::api::{GrantWaiver, ReloadPlatformConfig, RevokeWaiver};
use crate::model::{
    GuardrailsView, PolicyBenchView, PolicyRow, RevisionView, VerdictView, WaiverForm, WaiverRow,
};

/// Each denial's message and fix, inside a field's error (which its input's `aria-describedby`
/// names).
#[component]
pub fn Denials(denials: Vec<VerdictView>) -> impl IntoView {
    denials
        .into_iter()
        .map(|d| {
            view! {
                <p class="policy-denial" data-testid="policy-denial" data-policy=d.policy.clone()>
                    {d.message}
                </p>
                <p class="policy-fix small" data-testid="policy-fix">
                    <strong>"Fix: "</strong>{d.fix}<span class="muted">" (policy " <code>{d.policy}</code> ")"</span>
                </p>
            }
        })
        .collect_view()
}

/// Denials about the environment itself, under its heading (`id` for `aria-describedby`), and
/// those about another part of the request, at the top of the form.
#[component]
pub fn RequestDenials(denials: Vec<VerdictView>, environment_id: String) -> impl IntoView {
    let (environment, other): (Vec<_>, Vec<_>) = denials
        .into_iter()
        .partition(|d| d.field == crate::server::guardrails::ENVIRONMENT_FIELD);
    view! {
        {(!environment.is_empty()).then(|| view! {
            <div id=environment_id class="error-box" role="alert" data-testid="environment-denials">
                <Denials denials=environment />
            </div>
        })}
        {(!other.is_empty()).then(|| view! {
            <div class="error-box" role="alert" data-testid="request-denials">
                {other.into_iter().map(|d| {
                    let field = d.field.clone();
                    view! { <p><code>{field}</code></p><Denials denials=vec![d] /> }
                }).collect_view()}
            </div>
        })}
    }
}

/// A plan's warnings and waived denials: shown, never blocking.
#[component]
pub fn Notices(notices: Vec<VerdictView>) -> impl IntoView {
    (!notices.is_empty()).then(|| {
        view! {
            <div class="notice notice--warning" role="status" data-testid="policy-notices">
                <p><strong>"The platform team's policies note:"</strong></p>
                <ul>
                    {notices.into_iter().map(|n| view! {
                        <li data-testid="policy-notice" data-policy=n.policy.clone() data-outcome=n.outcome.clone()>
                            <span class="badge">{n.outcome.clone()}</span> " " <code>{n.field}</code> ": " {n.message}
                            {(!n.fix.is_empty()).then(|| view! { <br /><span class="small">"Fix: " {n.fix}</span> })}
                            {n.waiver.map(|w| view! { <br /><span class="small" data-testid="policy-waiver">"Waived: " {w}</span> })}
                        </li>
                    }).collect_view()}
                </ul>
            </div>
        }
    })
}

fn revision_row(r: RevisionView) -> impl IntoView {
    view! {
        <tr>
            <td><code title=r.hash>{r.short_hash}</code></td>
            <td>{r.source}</td>
            <td>{r.loaded_at}</td>
        </tr>
    }
}

/// The configuration in force, its history, why the newest read was refused (admins), the
/// policies and the waivers.
#[component]
pub fn Guardrails(view: GuardrailsView) -> impl IntoView {
    let GuardrailsView {
        is_admin,
        active,
        history,
        refused,
        reloaded,
        policies,
        waivers,
        waiver_form,
    } = view;
    let policy_ids: Vec<String> = policies.iter().map(|p| p.id.clone()).collect();
    view! {
        <section class="panel" aria-labelledby="configuration-heading" data-testid="platform-configuration">
            <h2 id="configuration-heading">"Configuration"</h2>
            <dl class="pairs">
                <div class="pairs__item"><dt>"Active revision"</dt><dd><code data-testid="active-revision" title=active.hash.clone()>{active.short_hash.clone()}</code></dd></div>
                <div class="pairs__item"><dt>"Source"</dt><dd data-testid="active-source">{active.source.clone()}</dd></div>
                <div class="pairs__item"><dt>"Loaded"</dt><dd data-testid="active-loaded">{active.loaded_at.clone()}</dd></div>
            </dl>
            {reloaded.map(|r| view! { <p class="notice" role="status" data-testid="reload-outcome">"Reloaded: " {r}</p> })}
            {refused.map(|f| view! {
                <div class="error-box" role="alert" data-testid="refused-read">
                    <p>"The newest read of " <code>{f.source}</code> " (" <code>{f.short_hash}</code> ", " {f.at} ") was refused; the active revision keeps serving."</p>
                    <ul>
                        {f.problems.into_iter().map(|p| view! {
                            <li><code>{p.at}</code> " " <code>{p.field}</code> ": " {p.message}</li>
                        }).collect_view()}
                    </ul>
                </div>
            })}
            {is_admin.then(|| view! {
                <form method="post" action=ReloadPlatformConfig::url() class="inline-form" data-testid="reload-form">
                    <button type="submit" class="button">"Reload now"</button>
                </form>
                <p><a href="/platform/policies/test" data-testid="bench-link">"Test the policies on a request"</a></p>
            })}
            <h3 class="subheading">"History"</h3>
            <div class="table-wrap">
                <table class="table" data-testid="revision-history">
                    <thead><tr><th scope="col">"Revision"</th><th scope="col">"Source"</th><th scope="col">"Loaded"</th></tr></thead>
                    <tbody>{history.into_iter().map(revision_row).collect_view()}</tbody>
                </table>
            </div>
        </section>
        <Policies policies />
        <Waivers waivers is_admin form=waiver_form policy_ids />
    }
}

#[component]
fn Policies(policies: Vec<PolicyRow>) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="policies-heading">
            <h2 id="policies-heading">"Policies"</h2>
            <div class="table-wrap">
                <table class="table" data-testid="policies">
                    <thead><tr>
                        <th scope="col">"Policy"</th><th scope="col">"Severity"</th><th scope="col">"Field"</th>
                        <th scope="col">"Applies to"</th><th scope="col">"Fix"</th><th scope="col">"In the cluster"</th>
                    </tr></thead>
                    <tbody>
                        {policies.into_iter().map(|p| { let row = p.id.clone(); view! {
                            <tr data-policy=row>
                                <td><code>{p.id}</code><br /><span class="small muted">{p.description}</span></td>
                                <td><span class=format!("status status--{}", p.severity)>{p.severity.clone()}</span></td>
                                <td><code>{p.field}</code></td>
                                <td>{p.applies_to}</td>
                                <td>{p.fix}</td>
                                <td>{if p.in_cluster { "enforced by the API server" } else { "no" }}</td>
                            </tr>
                        }}).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

/// One input of the waiver form, with the problem the server found in it.
fn waiver_input(
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    value: String,
    error: Option<String>,
) -> impl IntoView {
    let id = format!("waiver-{name}");
    let error_id = format!("{id}-error");
    let invalid = error.is_some();
    view! {
        <div class="field" data-invalid=invalid.then_some("true")>
            <label for=id.clone()>{label}</label>
            <input id=id type=kind name=name value=value required
                aria-invalid=invalid.then_some("true") aria-describedby=invalid.then_some(error_id.clone()) />
            {error.map(|e| view! { <p id=error_id class="field__error" role="alert">{e}</p> })}
        </div>
    }
}

#[component]
fn Waivers(
    waivers: Vec<WaiverRow>,
    is_admin: bool,
    form: WaiverForm,
    policy_ids: Vec<String>,
) -> impl IntoView {
    let error_for = |field: &str| {
        (form.error_field == field)
            .then(|| form.error.clone())
            .flatten()
    };
    let general = form.error.clone().filter(|_| form.error_field.is_empty());
    let (policy_error, service_error) = (error_for("policy"), error_for("service"));
    let (reason_error, expires_error) = (error_for("reason"), error_for("expires"));
    let chosen = form.policy.clone();
    let policy_invalid = policy_error.is_some().then_some("true");
    let grant = is_admin.then(|| view! {
        <h3 class="subheading" id="grant-waiver">"Grant a waiver"</h3>
        {general.map(|e| view! { <p class="error-box" role="alert" data-testid="waiver-error">{e}</p> })}
        <form method="post" action=GrantWaiver::url() class="form" data-testid="waiver-form">
            <div class="field" data-invalid=policy_invalid>
                <label for="waiver-policy">"Policy"</label>
                <select id="waiver-policy" name="policy" required aria-invalid=policy_invalid
                    aria-describedby=policy_invalid.map(|_| "waiver-policy-error")>
                    {policy_ids.into_iter().map(|id| view! { <option value=id.clone() selected=id == chosen>{id.clone()}</option> }).collect_view()}
                </select>
                {policy_error.map(|e| view! { <p id="waiver-policy-error" class="field__error" role="alert">{e}</p> })}
            </div>
            {waiver_input("service", "Service (component reference)", "text", form.service, service_error)}
            {waiver_input("reason", "Reason", "text", form.reason, reason_error)}
            {waiver_input("expires", "Expires at the end of (UTC date)", "date", form.expires, expires_error)}
            <button type="submit" class="button button--primary">"Grant"</button>
        </form>
    });
    view! {
        <section class="panel" aria-labelledby="waivers-heading">
            <h2 id="waivers-heading">"Waivers in force"</h2>
            {if waivers.is_empty() {
                view! { <p class="muted" data-testid="no-waivers">"No policy is waived."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="table" data-testid="waivers">
                            <thead><tr>
                                <th scope="col">"Policy"</th><th scope="col">"Service"</th><th scope="col">"Reason"</th>
                                <th scope="col">"Expires"</th><th scope="col">"Granted by"</th>
                                {is_admin.then(|| view! { <th scope="col">"Revoke"</th> })}
                            </tr></thead>
                            <tbody>
                                {waivers.into_iter().map(|w| view! {
                                    <tr data-waiver=w.id.clone()>
                                        <td><code>{w.policy}</code></td><td><code>{w.service}</code></td><td>{w.reason}</td>
                                        <td>{w.expires_at}</td><td>{w.granted_by}</td>
                                        {is_admin.then(|| view! {
                                            <td>{w.revocable.then(|| view! {
                                                <form method="post" action=RevokeWaiver::url() class="inline-form" data-testid="revoke-form">
                                                    <input type="hidden" name="id" value=w.id.clone() />
                                                    <button type="submit" class="button button--quiet">"Revoke"</button>
                                                </form>
                                            })}</td>
                                        })}
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }
                    .into_any()
            }}
            {grant}
        </section>
    }
}

/// The policy test bench: a GET form to its own address, then every policy's verdict and the
/// input they saw.
#[component]
pub fn Bench(view: PolicyBenchView) -> impl IntoView {
    let PolicyBenchView {
        service,
        environment,
        requester,
        fields,
        services,
        environments,
        errors,
        result,
    } = view;
    let error_for = |name: &str| {
        errors
            .iter()
            .filter(|(field, _)| field == name)
            .map(|(_, message)| message.clone())
            .collect::<Vec<_>>()
    };
    let (service_errors, requester_errors) = (error_for("service"), error_for("requester"));
    let service_invalid = (!service_errors.is_empty()).then_some("true");
    let requester_invalid = (!requester_errors.is_empty()).then_some("true");
    let other: Vec<String> = errors
        .iter()
        .filter(|(field, _)| field != "service" && field != "requester")
        .map(|(field, message)| {
            if field.is_empty() {
                message.clone()
            } else {
                format!("{field}: {message}")
            }
        })
        .collect();
    view! {
        <nav class="breadcrumb" aria-label="Breadcrumb">
            <ol><li><a href="/platform">"Platform"</a></li><li aria-current="page">"Policy test bench"</li></ol>
        </nav>
        <section class="page-head">
            <h1>"Policy test bench"</h1>
            <p class="muted">"Every policy's verdict on a request, and the input the policies saw. Nothing is planned or applied."</p>
        </section>
        <section class="panel">
            <form method="get" class="form environment-form" data-testid="bench-form">
                <BenchField id="bench-service" label="Service" errors=service_errors>
                    <input id="bench-service" name="service" list="bench-services" value=service required autocomplete="off"
                        aria-invalid=service_invalid aria-describedby=service_invalid.map(|_| "bench-service-error") />
                    <datalist id="bench-services">
                        {services.into_iter().map(|s| view! { <option value=s /> }).collect_view()}
                    </datalist>
                </BenchField>
                <div class="field">
                    <label for="bench-environment">"Environment"</label>
                    <select id="bench-environment" name="environment">
                        {environments.into_iter().map(|e| view! { <option value=e.clone() selected=e == environment>{e.clone()}</option> }).collect_view()}
                    </select>
                </div>
                <BenchField id="bench-requester" label="Requester (a user; you when empty)" errors=requester_errors>
                    <input id="bench-requester" name="requester" value=requester placeholder="user:default/…" autocomplete="off"
                        aria-invalid=requester_invalid aria-describedby=requester_invalid.map(|_| "bench-requester-error") />
                </BenchField>
                {fields.into_iter().map(|f| view! {
                    <div class="field">
                        <label for=format!("bench-{}", f.name)>{f.name.clone()}</label>
                        <input id=format!("bench-{}", f.name) name=f.name.clone() value=f.value placeholder=f.default.clone() autocomplete="off" />
                        <p class="muted small">{f.help} " (default " {f.default} ")"</p>
                    </div>
                }).collect_view()}
                <button type="submit" class="button button--primary">"Evaluate"</button>
            </form>
        </section>
        {(!other.is_empty()).then(|| view! {
            <div class="error-box" role="alert" data-testid="bench-errors">
                <ul>{other.into_iter().map(|e| view! { <li>{e}</li> }).collect_view()}</ul>
            </div>
        })}
        {result.map(|r| view! {
            <section class="panel" aria-labelledby="verdicts-heading">
                <h2 id="verdicts-heading">"Verdicts"</h2>
                <p data-testid="bench-decision" data-allowed=r.allowed.to_string()>
                    {if r.allowed { "Allowed: no policy refuses this request." } else { "Denied: at least one policy refuses this request." }}
                </p>
                <div class="table-wrap">
                    <table class="table" data-testid="bench-verdicts">
                        <thead><tr>
                            <th scope="col">"Policy"</th><th scope="col">"Outcome"</th><th scope="col">"Field"</th>
                            <th scope="col">"Why"</th><th scope="col">"Fix"</th>
                        </tr></thead>
                        <tbody>
                            {r.verdicts.into_iter().map(|v| { let (row, outcome) = (v.policy.clone(), v.outcome.clone()); view! {
                                <tr data-policy=row data-outcome=outcome>
                                    <td><code>{v.policy}</code><br /><span class="small muted">{v.description}</span></td>
                                    <td><span class=format!("status status--{}", v.outcome.replace(' ', "-"))>{v.outcome.clone()}</span></td>
                                    <td><code>{v.field}</code></td>
                                    <td>{v.message}{v.waiver.map(|w| view! { <br /><span class="small">"Waived: " {w}</span> })}</td>
                                    <td>{v.fix}</td>
                                </tr>
                            }}).collect_view()}
                        </tbody>
                    </table>
                </div>
                <h3 class="subheading">"Input"</h3>
                <pre class="code-block" data-testid="bench-input"><code>{r.input}</code></pre>
            </section>
        })}
    }
}

/// A bench field with the problems the server found in it.
#[component]
fn BenchField(
    id: &'static str,
    label: &'static str,
    errors: Vec<String>,
    children: Children,
) -> impl IntoView {
    let invalid = !errors.is_empty();
    view! {
        <div class="field" data-invalid=invalid.then_some("true")>
            <label for=id>{label}</label>
            {children()}
            {invalid.then(|| view! {
                <p id=format!("{id}-error") class="field__error" role="alert">{errors.join("; ")}</p>
            })}
        </div>
    }
}
