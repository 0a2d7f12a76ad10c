//! `causeway template dry-run`: renders a template directory on the author's machine, with no
//! server and no database, for template authors' CI. It runs the same engine as the server's
//! dry run: actions that cannot dry-run are skipped with their example output.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use causeway_platform::identity::{Principal, Role};
use causeway_platform::scaffolder::{Request, Scaffolder, Source};
use serde_json::{Map, Value};

/// Arguments of `causeway template dry-run`.
#[derive(Debug, clap::Args)]
pub struct DryRunArgs {
    /// The template: its directory (holding template.yaml, or another YAML file with
    /// `kind: Template`) or the file itself.
    path: PathBuf,
    /// The answers: a JSON or YAML file, or inline JSON.
    #[arg(long, value_name = "FILE|JSON")]
    values: Option<String>,
    /// Secrets (`${{ secrets.x }}`): a JSON or YAML file.
    #[arg(long, value_name = "FILE")]
    secrets: Option<PathBuf>,
    /// Write the rendered files into this directory (created; it must not hold files already).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// The directory relative `url:` inputs may reach up to (default: the template's own).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Who runs it, as `user.ref` sees it.
    #[arg(long, default_value = "user:default/template-author")]
    user: String,
}

/// Runs the dry run and prints its log (stderr), its files and its output (stdout).
pub async fn dry_run(args: DryRunArgs) -> anyhow::Result<()> {
    let (file, dir) = locate(&args.path)?;
    let text = std::fs::read_to_string(&file).with_context(|| format!("{}", file.display()))?;
    let entity = template_document(&text).with_context(|| format!("{}", file.display()))?;
    let root = match &args.root {
        Some(root) => root
            .canonicalize()
            .with_context(|| format!("--root {}", root.display()))?,
        None => dir.clone(),
    };
    if !dir.starts_with(&root) {
        bail!(
            "--root {} does not contain the template's directory",
            root.display()
        );
    }
    let scaffolder = offline_scaffolder()?;
    let template = scaffolder
        .load(&entity, Source::Dir { dir, root })
        .map_err(problems)?;
    let values = match &args.values {
        None => Value::Object(Map::new()),
        Some(text) if text.trim_start().starts_with('{') => {
            serde_json::from_str(text).context("--values: not a JSON object")?
        }
        Some(path) => read_data(Path::new(path)).context("--values")?,
    };
    let secrets = match &args.secrets {
        None => Map::new(),
        Some(path) => match read_data(path).context("--secrets")? {
            Value::Object(map) => map,
            _ => bail!("--secrets: must hold an object"),
        },
    };
    let principal = Principal {
        entity_ref: args.user.clone(),
        display_name: args.user.clone(),
        email: None,
        teams: Vec::new(),
        role: Role::Developer,
    };
    let run = scaffolder
        .dry_run(template, Request { values, secrets }, &principal)
        .await
        .map_err(problems)?;
    for line in &run.log {
        match &line.step {
            Some(step) => eprintln!("[{step}] {}", line.message),
            None => eprintln!("{}", line.message),
        }
    }
    if let Some(error) = &run.error {
        bail!("{error}");
    }
    println!("files:");
    for (path, file) in run.files.files() {
        println!(
            "  {path} ({} bytes{})",
            file.content.len(),
            if file.executable { ", executable" } else { "" }
        );
    }
    println!("output: {}", serde_json::to_string_pretty(&run.output)?);
    if let Some(out) = &args.out {
        write_out(out, &run.files)?;
        println!("written to {}", out.display());
    }
    Ok(())
}

/// The server's template engine with every action, over an empty in-memory catalog: a dry run
/// executes only the actions that support it and skips the others, exactly as the server's.
fn offline_scaffolder() -> anyhow::Result<Scaffolder> {
    let config = crate::config::Config::load(Vec::<(String, String)>::new())?;
    // The pool connects on first use, and a dry run never uses it: no database is created.
    let unused = std::env::temp_dir().join("causeway-template-dry-run.db");
    let store = causeway_platform::Store::connect_lazy(&format!("sqlite://{}", unused.display()))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let platform = causeway_platform::Platform::new(store, &crate::serve::settings(&config))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::serve::configure_platform(&config, &platform)?;
    let provisioner = crate::serve::provisioner(&config, &platform);
    Ok(crate::serve::scaffolder(&config, &platform, &provisioner))
}

/// The template file and its directory.
fn locate(path: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let path = path
        .canonicalize()
        .with_context(|| format!("{}", path.display()))?;
    if path.is_file() {
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        return Ok((path, dir));
    }
    let preferred = path.join("template.yaml");
    if preferred.is_file() {
        return Ok((preferred, path));
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(&path)
        .with_context(|| format!("{}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    candidates.sort();
    for candidate in candidates {
        let text = std::fs::read_to_string(&candidate).unwrap_or_default();
        if template_document(&text).is_ok() {
            return Ok((candidate, path));
        }
    }
    bail!(
        "{}: no template.yaml, and no YAML file there holds a kind: Template",
        path.display()
    )
}

/// The first document of `text` with `kind: Template`.
fn template_document(text: &str) -> anyhow::Result<Value> {
    use serde::Deserialize as _;
    for document in serde_yaml_ng::Deserializer::from_str(text) {
        let value = Value::deserialize(document).context("not valid YAML")?;
        if value.get("kind").and_then(Value::as_str) == Some("Template") {
            return Ok(value);
        }
    }
    bail!("holds no document with kind: Template")
}

fn read_data(path: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    serde_yaml_ng::from_str(&text).with_context(|| format!("{}: not JSON or YAML", path.display()))
}

fn write_out(out: &Path, files: &causeway_platform::scaffolder::Workspace) -> anyhow::Result<()> {
    if out.exists() && std::fs::read_dir(out)?.next().is_some() {
        bail!("--out {}: the directory is not empty", out.display());
    }
    for (path, file) in files.files() {
        let target = out.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, &file.content)?;
        #[cfg(unix)]
        if file.executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    Ok(())
}

/// A domain error as the lines a template author reads: one per problem.
fn problems(error: causeway_platform::Error) -> anyhow::Error {
    match error {
        causeway_platform::Error::Rejected(problems) => anyhow::anyhow!(
            "{}",
            problems
                .iter()
                .map(|p| format!("{}: {}", p.field, p.message))
                .collect::<Vec<_>>()
                .join("\n")
        ),
        other => anyhow::anyhow!("{other}"),
    }
}
