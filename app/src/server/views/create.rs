//! The create pages rendered on the server only: the templates list, a wizard page and its
//! fields. Every form is a GET to the wizard's own address (see `server/create/wizard.rs`), so
//! they work the same with and without JavaScript.

use leptos::prelude::*;

use crate::model::{
    Control, FieldView, StepLink, TemplateCard, TemplatesView, WizardHead, WizardPageView,
};

fn filter_select(
    id: &'static str,
    label: &'static str,
    options: Vec<String>,
    chosen: String,
) -> impl IntoView {
    let select_id = format!("create-{id}");
    view! {
        <label for=select_id.clone()>{label}</label>
        <select id=select_id name=id>
            <option value="" selected=chosen.is_empty()>"any"</option>
            {options.into_iter().map(|o| view! { <option value=o.clone() selected=o.eq_ignore_ascii_case(&chosen)>{o.clone()}</option> }).collect_view()}
        </select>
    }
}

#[component]
pub fn Templates(view: TemplatesView) -> impl IntoView {
    let TemplatesView {
        q,
        kind,
        tag,
        owner,
        kinds,
        tags,
        owners,
        total,
        templates,
        can_author,
    } = view;
    let shown = templates.len();
    view! {
        <section class="page-head">
            <h1>"Create"</h1>
            <p class="muted">
                "Golden paths: each template asks a few questions, shows what it would create, then creates it — "
                "a repository, its entry in the catalog and, for services, a dev environment."
            </p>
            {can_author.then(|| view! {
                <p><a href="/create/author" data-testid="author-link">"Author a template"</a>
                " " <span class="muted small">"(platform admins: paste a template, check it and dry-run it)"</span></p>
            })}
        </section>
        <form method="get" action="/create" class="filter-form" data-testid="templates-filter" role="search">
            <label for="create-q" class="visually-hidden">"Search templates"</label>
            <input type="search" id="create-q" name="q" value=q placeholder="Search templates" />
            {filter_select("type", "Type", kinds, kind)}
            {filter_select("tag", "Tag", tags, tag)}
            {filter_select("owner", "Owner", owners, owner)}
            <button type="submit" class="button">"Show"</button>
        </form>
        <p class="muted" data-testid="templates-count">{format!("Showing {shown} of {total} templates")}</p>
        {if templates.is_empty() {
            view! { <p class="notice">"No template matches. " <a href="/create">"Show them all"</a></p> }.into_any()
        } else {
            view! {
                <ul class="template-cards" data-testid="templates">
                    {templates.into_iter().map(|card| view! { <Card card /> }).collect_view()}
                </ul>
            }
                .into_any()
        }}
    }
}

#[component]
fn Card(card: TemplateCard) -> impl IntoView {
    let TemplateCard {
        entity_ref,
        title,
        description,
        kind,
        tags,
        owner,
        entity_href,
        wizard_href,
        problems,
    } = card;
    let heading_id = format!("template-{}", entity_ref.replace([':', '/'], "-"));
    let labelled_by = heading_id.clone();
    view! {
        <li class="panel template-card" data-testid="template-card" data-ref=entity_ref.clone() aria-labelledby=labelled_by>
            <h2 id=heading_id class="template-card__title">{title.clone()}</h2>
            {(!description.is_empty()).then(|| view! { <p>{description}</p> })}
            <dl class="facts">
                {(!kind.is_empty()).then(|| view! { <div class="facts__item"><dt>"Type"</dt><dd data-testid="template-type">{kind}</dd></div> })}
                {owner.map(|o| view! { <div class="facts__item"><dt>"Owner"</dt><dd><a href=crate::model::ref_path(&o)>{o.clone()}</a></dd></div> })}
            </dl>
            {(!tags.is_empty()).then(|| view! {
                <ul class="tag-list" aria-label="Tags">
                    {tags.into_iter().map(|t| view! { <li><a class="tag" href=format!("/create?tag={}", crate::model::encode_query_value(&t))>{t.clone()}</a></li> }).collect_view()}
                </ul>
            })}
            <div class="template-card__actions">
                {match wizard_href {
                    Some(href) => view! {
                        <a class="button button--primary" href=href data-testid="choose-template" aria-label=format!("Choose {title}")>"Choose"</a>
                    }
                        .into_any(),
                    None => view! {
                        <div class="notice notice--warning" data-testid="template-problems">
                            <p class="notice__title">"This template cannot run here:"</p>
                            <ul>{problems.into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}</ul>
                        </div>
                    }
                        .into_any(),
                }}
                <a href=entity_href class="small">"The template in the catalog"</a>
                " "
                <a href=crate::server::create::versions::href(&entity_ref) class="small">"Its versions"</a>
            </div>
        </li>
    }
}

/// The breadcrumb, title and stepper every wizard page and the review share.
pub fn wizard_head(head: &WizardHead) -> impl IntoView + use<> {
    let WizardHead {
        entity_ref,
        title,
        description,
        steps,
        ..
    } = head.clone();
    view! {
        <nav class="breadcrumb" aria-label="Breadcrumb">
            <ol>
                <li><a href="/create">"Create"</a></li>
                <li aria-current="page">{title.clone()}</li>
            </ol>
        </nav>
        <section class="page-head">
            <h1>{title}</h1>
            <p class="muted">{description} " " <code>{entity_ref.clone()}</code></p>
            <p class="small">
                <a href=crate::server::create::versions::href(&entity_ref) data-testid="versions-link">"Versions of this template"</a>
                " · "
                <a href=crate::server::create::versions::fleet_href(&entity_ref) data-testid="fleet-link">"Services made from it, and their upgrades"</a>
            </p>
        </section>
        <Stepper steps />
    }
}

#[component]
fn Stepper(steps: Vec<StepLink>) -> impl IntoView {
    view! {
        <ol class="wizard-steps" aria-label="Steps" data-testid="wizard-steps">
            {steps.into_iter().map(|s| view! {
                <li class="wizard-steps__step" aria-current=s.current.then_some("step")>{s.title}</li>
            }).collect_view()}
        </ol>
    }
}

#[component]
pub fn WizardPage(page: WizardPageView) -> impl IntoView {
    let WizardPageView {
        head,
        index,
        title,
        description,
        fields,
        carried,
        errors,
        has_previous,
        is_last,
    } = page;
    view! {
        {wizard_head(&head)}
        <section class="panel" aria-labelledby="wizard-page-heading">
            <h2 id="wizard-page-heading">{title}</h2>
            {description.map(|d| view! { <p class="muted">{d}</p> })}
            {(!errors.is_empty()).then(|| view! {
                <div class="error-box" role="alert" data-testid="wizard-errors">
                    <ul>{errors.into_iter().map(|e| view! { <li>{e}</li> }).collect_view()}</ul>
                </div>
            })}
            <form method="get" action=head.action class="form wizard-form" data-testid="wizard-form" data-page=index>
                <input type="hidden" name="from" value=index />
                {carried.into_iter().map(|(name, value)| view! { <input type="hidden" name=name value=value /> }).collect_view()}
                {fields.into_iter().map(|field| view! { <Field field /> }).collect_view()}
                // The first submit button is the one Enter presses, so Next comes first and the
                // row is reversed to show Back on the left.
                <div class="button-row button-row--reverse">
                    <button type="submit" name="go" value="next" class="button button--primary" data-testid="wizard-next">
                        {if is_last { "Review" } else { "Next" }}
                    </button>
                    {has_previous.then(|| view! {
                        <button type="submit" name="go" value="back" class="button" formnovalidate data-testid="wizard-back">"Back"</button>
                    })}
                </div>
            </form>
        </section>
    }
}

/// An id for a property's input, from its name.
pub fn field_id(prefix: &str, name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{prefix}-{safe}")
}

/// One answer: its label (marked when required), its control, its help and the server's error.
#[component]
pub fn Field(field: FieldView) -> impl IntoView {
    let FieldView {
        name,
        label,
        help,
        required,
        control,
        value,
        placeholder,
        autofocus,
        readonly,
        error,
    } = field;
    let id = field_id("field", &name);
    let help_id = format!("{id}-help");
    let error_id = format!("{id}-error");
    let invalid = error.is_some();
    let described = [
        help.as_ref().map(|_| help_id.clone()),
        error.as_ref().map(|_| error_id.clone()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    let described = (!described.is_empty()).then_some(described);
    let input_name = format!("p.{name}");
    let marker =
        required.then(|| view! { <span class="field__required" title="required">" *"</span> });
    let help_view = help.map(|h| view! { <p id=help_id class="muted small">{h}</p> });
    let error_view = error.map(|e| view! { <p id=error_id class="field__error" role="alert" data-testid="field-error">{e}</p> });
    let invalid_attr = invalid.then_some("true");
    match control {
        Control::Hidden => view! { <input type="hidden" name=input_name value=value /> }.into_any(),
        Control::Checkbox => view! {
            <div class="field field--check" data-invalid=invalid_attr data-field=name>
                <input type="hidden" name=input_name.clone() value="false" />
                <label for=id.clone()>
                    <input type="checkbox" id=id.clone() name=input_name value="true" checked=value == "true"
                        disabled=readonly aria-describedby=described aria-invalid=invalid_attr />
                    " " {label} {marker}
                </label>
                {help_view}
                {error_view}
            </div>
        }
            .into_any(),
        Control::RepoUrl { hosts, owners, host, owner, repo } => {
            let (host_id, owner_id, repo_id) = (format!("{id}-host"), format!("{id}-owner"), format!("{id}-repo"));
            let owner_input = if owners.is_empty() {
                view! { <input id=owner_id.clone() name=format!("rp.owner.{name}") value=owner required=required autocomplete="off" aria-invalid=invalid_attr /> }.into_any()
            } else {
                view! {
                    <select id=owner_id.clone() name=format!("rp.owner.{name}") required=required aria-invalid=invalid_attr>
                        <option value="">"Choose…"</option>
                        {owners.into_iter().map(|o| view! { <option value=o.clone() selected=o == owner>{o.clone()}</option> }).collect_view()}
                    </select>
                }
                    .into_any()
            };
            view! {
                <fieldset class="field repo-url" data-invalid=invalid_attr data-field=name.clone() aria-describedby=described>
                    <legend>{label} {marker}</legend>
                    <div class="repo-url__parts">
                        <div><label for=host_id.clone()>"Host"</label>
                            <select id=host_id name=format!("rp.host.{name}")>
                                {hosts.into_iter().map(|h| view! { <option value=h.clone() selected=h == host>{h.clone()}</option> }).collect_view()}
                            </select></div>
                        <div><label for=owner_id>"Owner"</label>{owner_input}</div>
                        <div><label for=repo_id.clone()>"Repository"</label>
                            <input id=repo_id name=format!("rp.repo.{name}") value=repo required=required autocomplete="off" aria-invalid=invalid_attr /></div>
                    </div>
                    {help_view}
                    {error_view}
                </fieldset>
            }
                .into_any()
        }
        control => {
            let input = match control {
                Control::Select { options, empty } => view! {
                    <select id=id.clone() name=input_name required=required disabled=readonly autofocus=autofocus
                        aria-describedby=described aria-invalid=invalid_attr>
                        {empty.then(|| view! { <option value="" selected=value.is_empty()>"Choose…"</option> })}
                        {options.into_iter().map(|(v, l)| view! { <option value=v.clone() selected=v == value>{l}</option> }).collect_view()}
                    </select>
                }
                    .into_any(),
                Control::Suggest { options } => {
                    let list_id = format!("{id}-options");
                    view! {
                        <input id=id.clone() name=input_name value=value list=list_id.clone() required=required readonly=readonly
                            autofocus=autofocus placeholder=placeholder autocomplete="off" aria-describedby=described aria-invalid=invalid_attr />
                        <datalist id=list_id>
                            {options.into_iter().map(|(v, l)| view! { <option value=v>{l}</option> }).collect_view()}
                        </datalist>
                    }
                        .into_any()
                }
                Control::TextArea { rows, code } => view! {
                    <textarea id=id.clone() name=input_name rows=rows class:code=code required=required readonly=readonly
                        autofocus=autofocus placeholder=placeholder aria-describedby=described aria-invalid=invalid_attr>{value}</textarea>
                }
                    .into_any(),
                Control::Number { integer, min, max } => view! {
                    <input type="number" id=id.clone() name=input_name value=value step=if integer { "1" } else { "any" } min=min max=max
                        required=required readonly=readonly autofocus=autofocus placeholder=placeholder aria-describedby=described aria-invalid=invalid_attr />
                }
                    .into_any(),
                Control::Text { input } => view! {
                    <input type=input id=id.clone() name=input_name value=value required=required readonly=readonly autofocus=autofocus
                        placeholder=placeholder autocomplete="off" aria-describedby=described aria-invalid=invalid_attr />
                }
                    .into_any(),
                _ => ().into_any(),
            };
            view! {
                <div class="field" data-invalid=invalid_attr data-field=name>
                    <label for=id>{label} {marker}</label>
                    {input}
                    {help_view}
                    {error_view}
                </div>
            }
                .into_any()
        }
    }
}
