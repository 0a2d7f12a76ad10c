//! A template's versions page (`/create/templates/{namespace}/{name}/versions`), rendered on the
//! server only: the versions, newest first, and a GET form to its own address that picks two of
//! them and shows what differs, file by file.

use leptos::prelude::*;

use crate::server::create::versions::{DiffRow, VersionRow, VersionsView};

fn version_row(row: VersionRow) -> impl IntoView {
    let VersionRow {
        version,
        short,
        created_at,
        author,
        author_href,
        origin,
        files,
    } = row;
    view! {
        <tr data-testid="template-version" data-version=version.clone()>
            <td><code title=version.clone()>{short}</code></td>
            <td>{created_at}</td>
            <td>{match author_href {
                Some(href) => view! { <a href=href>{author}</a> }.into_any(),
                None => view! { <span>{author}</span> }.into_any(),
            }}</td>
            <td>{origin}</td>
            <td>{files}</td>
        </tr>
    }
}

fn picker(
    name: &'static str,
    label: &'static str,
    versions: &[VersionRow],
    chosen: &str,
) -> impl IntoView {
    let id = format!("versions-{name}");
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <select id=id name=name>
                {versions.iter().map(|v| view! {
                    <option value=v.version.clone() selected=v.version == chosen>
                        {format!("{} · {} · {}", v.short, v.created_at, v.origin)}
                    </option>
                }).collect_view()}
            </select>
        </div>
    }
}

fn file_diff(row: DiffRow) -> impl IntoView {
    let DiffRow {
        path,
        change,
        class,
        unified,
    } = row;
    view! {
        <section class="panel" data-testid="version-diff-file" data-path=path.clone()>
            <h3 class="subheading"><code>{path.clone()}</code> " " <span class=format!("status {class}")>{change}</span></h3>
            <pre class="code-block"><code>{unified}</code></pre>
        </section>
    }
}

#[component]
pub fn Versions(view: VersionsView) -> impl IntoView {
    let VersionsView {
        template_ref,
        title,
        href,
        wizard_href,
        versions,
        from,
        to,
        diff,
        published,
    } = view;
    let comparable = versions.len() > 1;
    let form = comparable.then(|| {
        view! {
            <form method="get" action=href class="form" data-testid="versions-compare">
                {picker("from", "From", &versions, &from)}
                {picker("to", "To", &versions, &to)}
                <button type="submit" class="button">"Compare"</button>
            </form>
        }
    });
    let fleet_href = crate::server::create::versions::fleet_href(&template_ref);
    view! {
        <nav class="breadcrumb" aria-label="Breadcrumb">
            <ol>
                <li><a href="/create">"Create"</a></li>
                <li>{match wizard_href.clone() {
                    Some(href) => view! { <a href=href>{title.clone()}</a> }.into_any(),
                    None => view! { <span>{title.clone()}</span> }.into_any(),
                }}</li>
                <li aria-current="page">"Versions"</li>
            </ol>
        </nav>
        <section class="page-head">
            <h1>{format!("Versions of {title}")}</h1>
            <p class="muted">
                "Each version is the template's entity and every file of its directory, named by the hash of their content. "
                "A version is stored when the catalog reads a changed template, when a run first uses it, or when a platform admin publishes one; it never changes."
                " " <code>{template_ref}</code>
            </p>
            {wizard_href.map(|h| view! { <p><a href=h>"Run this template"</a></p> })}
            <p><a href=fleet_href data-testid="fleet-link">"Services made from it, and their upgrades"</a></p>
        </section>
        {published.map(|short| view! {
            <p class="notice" role="status" data-testid="version-published">"Published as version " <code>{short}</code> "."</p>
        })}
        <section class="panel" aria-labelledby="versions-heading">
            <h2 id="versions-heading">"Versions"</h2>
            {if versions.is_empty() {
                view! { <p class="muted" data-testid="no-versions">"No version is stored yet: one is when the template is next read by the catalog or run."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="table" data-testid="template-versions">
                            <thead><tr>
                                <th scope="col">"Version"</th>
                                <th scope="col">"Date"</th>
                                <th scope="col">"Author"</th>
                                <th scope="col">"Origin"</th>
                                <th scope="col">"Files"</th>
                            </tr></thead>
                            <tbody>{versions.into_iter().map(version_row).collect_view()}</tbody>
                        </table>
                    </div>
                }.into_any()
            }}
            {form}
        </section>
        {diff.map(|diff| match diff {
            Err(message) => view! {
                <p class="error-box" role="alert" data-testid="version-diff-error">{message}</p>
            }.into_any(),
            Ok(files) if files.is_empty() => view! {
                <p class="notice" data-testid="version-diff-empty">"Nothing differs between these versions."</p>
            }.into_any(),
            Ok(files) => view! {
                <section aria-label="Differences" data-testid="version-diff">
                    <h2>{format!("{} file(s) differ", files.len())}</h2>
                    {files.into_iter().map(file_diff).collect_view()}
                </section>
            }.into_any(),
        })}
    }
}
