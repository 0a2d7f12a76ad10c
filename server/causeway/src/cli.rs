//! The command line: `causeway serve | migrate | seed | token … | catalog … | provision … |
//! approval … | platform … | policy … | template … | demo … | version`.

mod approval;
mod demo;
mod expiry;
mod platform;
mod template;

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use causeway_platform::Platform;
use causeway_platform::audit::{Entry, Outcome};
use causeway_platform::catalog::import::Importer;
use causeway_platform::catalog::{IngestOptions, yaml};
use causeway_platform::entity_ref::EntityRef;
use clap::{Parser, Subcommand};
use serde_json::json;

use crate::config::Config;
use crate::{serve, telemetry};

/// The demo organisation loaded by `causeway seed` without `--file`.
pub const DEMO_ORG: &str = include_str!("../demo/org.yaml");

/// Causeway, the internal developer platform.
///
/// Configuration comes from CAUSEWAY_* environment variables and the TOML file named by
/// CAUSEWAY_CONFIG; see the README for every key.
#[derive(Debug, Parser)]
#[command(name = "causeway", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the portal, the API and the background workers.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Import users, teams and owned entities from Backstage descriptor files (default: the demo organisation).
    Seed {
        /// YAML files with User, Group and owned entities; several documents per file are allowed.
        #[arg(long = "file", value_name = "PATH")]
        files: Vec<PathBuf>,
    },
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Work with the software catalog.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Plan, apply, destroy or inspect a service's environment.
    #[command(subcommand)]
    Provision(ProvisionCommand),
    /// Work with software templates.
    #[command(subcommand)]
    Template(TemplateCommand),
    /// List, show, approve or reject applies waiting for an approval.
    #[command(subcommand)]
    Approval(approval::ApprovalCommand),
    /// Export or check the platform configuration.
    #[command(subcommand)]
    Platform(platform::PlatformCommand),
    /// Test policies against inputs, for the platform team's CI.
    #[command(subcommand)]
    Policy(platform::PolicyCommand),
    /// Record demo data, such as a delivery history for the demo organisation.
    #[command(subcommand)]
    Demo(demo::DemoCommand),
    /// Print the version.
    Version,
}

#[derive(Debug, Subcommand)]
enum TemplateCommand {
    /// Render a template directory without a server, showing its log, files and output; actions
    /// that cannot dry-run are skipped. Exits non-zero when the template cannot run.
    DryRun(template::DryRunArgs),
}

#[derive(Debug, Subcommand)]
enum CatalogCommand {
    /// Import descriptor files (or every .yaml/.yml/.json in directories); each file is stored
    /// completely or not at all.
    Import {
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
}

/// Which environment of which service.
#[derive(Debug, clap::Args)]
struct Target {
    /// The component, e.g. payments-api or component:default/payments-api.
    #[arg(long)]
    service: String,
    /// The environment: dev, staging, prod or preview with the default configuration.
    #[arg(long = "env")]
    environment: String,
    /// A parameter, `key=value` (cpu, memory, pods); repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Take over an existing namespace Causeway did not create (the command line acts as a
    /// platform admin; the adoption is audited).
    #[arg(long)]
    adopt: bool,
}

#[derive(Debug, Subcommand)]
enum ProvisionCommand {
    /// Show what an apply would change, object by object, without changing anything.
    Plan(Target),
    /// Create or update the environment; re-applying an unchanged request changes nothing.
    Apply(Target),
    /// Remove the environment and wait until its namespace is gone (not for protected ones).
    Destroy(Target),
    /// Show the environment's record, how every object compares with it, and recent drift.
    Status(Target),
    /// Move an ephemeral environment's expiry to --ttl from now (at most its maximum).
    Extend(expiry::ExtendArgs),
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token; the secret is printed once, as the last line.
    Create {
        /// The user the token acts as, e.g. user:default/ada.
        #[arg(long)]
        user: String,
        /// A name to recognise the token by.
        #[arg(long, default_value = "cli")]
        name: String,
        /// `read`, `write` or `admin` (platform admins only); repeatable. Default: the broadest
        /// the user may hold (`admin` for a platform admin, else `write`).
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Days until the token expires, 1 to `token_max_days` (default 90).
        #[arg(long = "expires-in-days", value_name = "DAYS")]
        expires_in_days: Option<i64>,
    },
    /// List tokens (all users, or one with --user).
    List {
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a token by id.
    Revoke { id: String },
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Version => {
            println!("causeway {}", env!("CARGO_PKG_VERSION"));
            return Ok(());
        }
        // Needs no configuration, database or server.
        Command::Template(TemplateCommand::DryRun(args)) => return template::dry_run(args).await,
        Command::Platform(command) => return platform::platform(command),
        Command::Policy(command) => return platform::policy(command).await,
        _ => {}
    }
    let config = Config::from_env()?;
    telemetry::init_logging(config.log_format, &config.log_filter);
    match cli.command {
        Command::Serve => serve::serve(config).await,
        Command::Migrate => {
            let platform = open(&config).await?;
            println!("Migrations applied to {}", redact(&config.database_url));
            platform.store.close().await;
            Ok(())
        }
        Command::Seed { files } => seed(&config, &files).await,
        Command::Token(command) => token(&config, command).await,
        Command::Catalog(CatalogCommand::Import { paths }) => {
            let platform = open(&config).await?;
            let result = import_paths(&platform, &paths).await;
            platform.store.close().await;
            result
        }
        Command::Provision(ProvisionCommand::Extend(args)) => {
            let platform = open(&config).await?;
            let result = expiry::extend(&config, &platform, args).await;
            platform.store.close().await;
            result
        }
        Command::Provision(command) => {
            let platform = open(&config).await?;
            let result = provision(&config, &platform, command).await;
            platform.store.close().await;
            result
        }
        Command::Approval(command) => {
            let platform = open(&config).await?;
            let result = approval::run(&config, &platform, command).await;
            platform.store.close().await;
            result
        }
        Command::Demo(command) => {
            let platform = open(&config).await?;
            let result = demo::run(&platform, command).await;
            platform.store.close().await;
            result
        }
        Command::Version | Command::Template(_) | Command::Platform(_) | Command::Policy(_) => {
            Ok(())
        }
    }
}

/// Runs a provisioning command, printing one line per object.
async fn provision(
    config: &Config,
    platform: &Platform,
    command: ProvisionCommand,
) -> anyhow::Result<()> {
    use causeway_platform::provision::Request;

    let engine = serve::provisioner(config, platform);
    let target = match &command {
        ProvisionCommand::Plan(target)
        | ProvisionCommand::Apply(target)
        | ProvisionCommand::Destroy(target)
        | ProvisionCommand::Status(target) => target,
        // Answered by `run` before it gets here: an extension names no parameters.
        ProvisionCommand::Extend(_) => bail!("provision extend is run by expiry::extend"),
    };
    let mut set = std::collections::BTreeMap::new();
    for pair in &target.set {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--set {pair:?}: expected key=value"))?;
        set.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    let request = Request {
        service: target.service.clone(),
        environment: target.environment.clone(),
        set,
        request_id: format!("cli-{}", uuid::Uuid::new_v4()),
        requester: cli_requester(),
        adopt: target.adopt,
    };
    match command {
        ProvisionCommand::Plan(_) => {
            let plan = engine.plan(&request).await?;
            println!("Plan for {} ({}):", plan.namespace, plan.environment);
            print_steps(&plan.steps);
            Ok(())
        }
        ProvisionCommand::Apply(_) => {
            let submitted = engine.request_apply(&platform.tasks, &request).await?;
            match approval::submitted(&submitted) {
                Some(task) => follow(config, platform, &engine, &task).await,
                None => Ok(()),
            }
        }
        ProvisionCommand::Destroy(_) => {
            let task = engine.submit_destroy(&platform.tasks, &request).await?;
            println!("Task {}: {}", task.id, task.title);
            follow(config, platform, &engine, &task.id).await
        }
        ProvisionCommand::Extend(_) => Ok(()),
        ProvisionCommand::Status(_) => {
            let status = engine.status(&request).await?;
            match &status.record {
                Some(record) => println!(
                    "{} ({}, {}): {}{}\n  last request {} by {}, parameters {}",
                    record.namespace,
                    record.environment,
                    record.target,
                    record.status.as_str(),
                    record
                        .message
                        .as_deref()
                        .map(|m| format!(" ({m})"))
                        .unwrap_or_default(),
                    record.request_id,
                    record.requested_by,
                    serde_json::to_string(&record.parameters).unwrap_or_default(),
                ),
                None => println!("{}: not provisioned", status.plan.namespace),
            }
            if let Some(record) = &status.record {
                expiry::print_expiry(record);
            }
            println!("Objects:");
            print_steps(&status.plan.steps);
            if !status.drift.is_empty() {
                println!("Drift (newest first):");
                for drift in &status.drift {
                    let at = k8s_openapi::jiff::Timestamp::from_millisecond(drift.at_millis)
                        .map(|t| t.to_string())
                        .unwrap_or_else(|_| drift.at_millis.to_string());
                    println!(
                        "  {at} {:<9} {} ({})",
                        drift.change, drift.object, drift.action
                    );
                }
            }
            Ok(())
        }
    }
}

/// Runs task `id` in this process (unless a server's worker already has it), printing its log
/// as it grows; fails when the task does not complete.
async fn follow(
    config: &Config,
    platform: &Platform,
    engine: &causeway_platform::provision::Provisioner,
    id: &str,
) -> anyhow::Result<()> {
    let runner = serve::runner(config, platform, engine);
    let work = {
        let runner = runner.clone();
        let id = id.to_owned();
        tokio::spawn(async move { runner.run_task(&id).await })
    };
    let mut after = 0;
    loop {
        // The status is read first: once it is final, the events read after it are all there are.
        let task = platform
            .tasks
            .get(id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("task {id} disappeared"))?;
        let mut read = 500;
        while read == 500 {
            let events = platform.tasks.events(id, after, 500).await?;
            read = events.len();
            for event in events {
                after = event.id;
                let step = event.step.as_deref().unwrap_or("task");
                println!("  [{step}] {}", event.message);
            }
        }
        if task.status.is_final() && work.is_finished() {
            return match task.status {
                causeway_platform::tasks::TaskStatus::Completed => Ok(()),
                other => anyhow::bail!(
                    "task {id} {}: {}",
                    other.as_str(),
                    task.error.unwrap_or_default()
                ),
            };
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The person running the command line, as far as the machine knows: the author of GitOps
/// commits made from it.
fn cli_requester() -> causeway_platform::provision::Requester {
    let login = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "cli".to_owned());
    causeway_platform::provision::Requester {
        entity_ref: format!("cli:{login}"),
        email: format!("{login}@localhost"),
        name: login,
    }
}

/// One line per object (and one per changed field).
fn print_steps(steps: &[causeway_platform::provision::plan::Step]) {
    use causeway_platform::provision::plan::Step;
    for step in steps {
        match step {
            Step::Create { object } => println!("  create     {object}"),
            Step::Unchanged { object } => println!("  unchanged  {object}"),
            Step::Delete { object } => println!("  delete     {object}"),
            Step::Conflict { object, message } => {
                println!("  conflict   {object}: {message}");
            }
            Step::Update { object, fields } => {
                println!("  update     {object}");
                for field in fields {
                    println!(
                        "               {}: {} -> {}",
                        field.path, field.live, field.desired
                    );
                }
            }
        }
    }
}

/// Opens the store, applying migrations; errors say which database could not be used.
async fn open(config: &Config) -> anyhow::Result<Platform> {
    let store = causeway_platform::Store::connect_lazy(&config.database_url)?;
    let platform = Platform::new(store, &serve::settings(config))?;
    serve::configure_platform(config, &platform)?;
    platform
        .load()
        .await
        .with_context(|| format!("cannot use the database {}", redact(&config.database_url)))?;
    Ok(platform)
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

async fn seed(config: &Config, files: &[PathBuf]) -> anyhow::Result<()> {
    let platform = open(config).await?;
    if files.is_empty() {
        import_text(&platform, DEMO_LOCATION, DEMO_ORG).await?;
    } else {
        import_paths(&platform, files).await?;
    }
    platform.store.close().await;
    Ok(())
}

/// The location key of the embedded demo organisation.
const DEMO_LOCATION: &str = "causeway:demo-organisation";

/// Imports every file (directories: every `.yaml`, `.yml` and `.json` below them), each file on
/// its own and all or nothing; fails naming every file that was refused.
async fn import_paths(platform: &Platform, paths: &[PathBuf]) -> anyhow::Result<()> {
    let mut files = Vec::new();
    for path in paths {
        collect_files(path, true, &mut files)
            .with_context(|| format!("cannot read {}", path.display()))?;
    }
    if files.is_empty() {
        bail!(
            "no .yaml, .yml or .json files found in {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut refused = 0;
    for file in files {
        let absolute = std::fs::canonicalize(&file).unwrap_or(file.clone());
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        if let Err(error) =
            import_text(platform, &format!("file:{}", absolute.display()), &text).await
        {
            eprintln!("error: {error:#}");
            refused += 1;
        }
    }
    if refused > 0 {
        bail!("{refused} file(s) refused; nothing was stored from them");
    }
    Ok(())
}

/// Adds `path` to `out`: a file named explicitly always, files found in directories only when
/// their extension says they hold descriptors.
fn collect_files(
    path: &std::path::Path,
    explicit: bool,
    out: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(std::fs::DirEntry::path);
        for entry in entries {
            collect_files(&entry.path(), false, out)?;
        }
    } else if path.is_file() {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        if explicit || matches!(ext, "yaml" | "yml" | "json") {
            out.push(path.to_owned());
        }
    } else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file or directory",
        ));
    }
    Ok(())
}

async fn import_text(platform: &Platform, location_key: &str, text: &str) -> anyhow::Result<()> {
    let mut documents =
        yaml::parse(location_key, text).map_err(|problems| anyhow::anyhow!(join(&problems)))?;
    // A template's skeletons are read from beside its file, as for a registered file location.
    for document in &mut documents {
        if document.get("kind").and_then(serde_json::Value::as_str) == Some("Template")
            && let Some(metadata) = document
                .get_mut("metadata")
                .and_then(serde_json::Value::as_object_mut)
        {
            let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
            if let Some(annotations) = annotations.as_object_mut() {
                for key in [
                    "backstage.io/managed-by-location",
                    "backstage.io/managed-by-origin-location",
                ] {
                    annotations
                        .entry(key)
                        .or_insert_with(|| json!(location_key));
                }
            }
        }
    }
    let options = IngestOptions {
        replace: true,
        dry_run: false,
    };
    // The command line is the machine's operator: audited as `cli`, successes and failures alike.
    let report = platform
        .catalog
        .import(
            Importer::Operator("cli"),
            location_key,
            documents,
            options,
            None,
        )
        .await
        .map_err(|e| match e {
            causeway_platform::Error::Rejected(problems) => anyhow::anyhow!(join(&problems)),
            other => anyhow::anyhow!("{location_key}: {other}"),
        })?;
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    println!(
        "Imported {location_key}: {} added, {} updated, {} unchanged, {} orphaned",
        report.added.len(),
        report.updated.len(),
        report.unchanged.len(),
        report.orphaned.len()
    );
    Ok(())
}

/// A domain error's field named as the command line's option (`expiresInDays` is
/// `--expires-in-days`), so the message points at what to change.
fn cli_fields(message: &str) -> String {
    let message = message.strip_prefix("not allowed: ").unwrap_or(message);
    [
        ("expiresInDays:", "--expires-in-days:"),
        ("scopes", "--scope"),
        ("name:", "--name:"),
    ]
    .iter()
    .find(|(field, _)| message.starts_with(field))
    .map_or(message.to_owned(), |(field, option)| {
        format!("{option}{}", &message[field.len()..])
    })
}

fn join(problems: &[causeway_platform::catalog::Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n       ")
}

async fn token(config: &Config, command: TokenCommand) -> anyhow::Result<()> {
    let platform = open(config).await?;
    match command {
        TokenCommand::Create {
            user,
            name,
            scopes,
            expires_in_days,
        } => {
            let user_ref = EntityRef::parse(&user, Some("user"), "--user")?;
            if user_ref.kind() != "user" {
                bail!(
                    "--user: {user:?} refers to a {}, expected a user",
                    user_ref.kind()
                );
            }
            let holder = platform
                .directory
                .principal(&user_ref.to_string())
                .await
                .map_err(|e| match e {
                    causeway_platform::Error::NotFound(_) => {
                        anyhow::anyhow!("--user: no user {user_ref} is known; run `causeway seed` or import the user first")
                    }
                    other => anyhow::anyhow!("{other}"),
                })?;
            let request = causeway_platform::identity::TokenRequest {
                name,
                scopes: (!scopes.is_empty()).then_some(scopes),
                expires_in_days,
            };
            let created = platform
                .tokens
                .issue(
                    &holder,
                    causeway_platform::identity::Issuer::Operator,
                    &request,
                )
                .await
                .map_err(|e| anyhow::anyhow!("{}", cli_fields(&e.to_string())))?;
            platform
                .audit
                .record(Entry {
                    actor: "cli",
                    action: "token.create",
                    target: &created.token.id,
                    outcome: Outcome::Success,
                    detail: json!({
                        "name": created.token.name,
                        "user": created.token.user_ref,
                        "scopes": created.token.scopes,
                        "expiresAt": created.token.expires_at_millis,
                        "by": "cli",
                    }),
                    request_id: None,
                })
                .await?;
            println!(
                "Created token {} ({:?}) for {}, scopes {}, expiring {}.",
                created.token.id,
                created.token.name,
                created.token.user_ref,
                created.token.scopes.to_stored(),
                causeway_platform::time::display(created.token.expires_at_millis)
            );
            println!("Use it as `Authorization: Bearer <token>`. It is shown only now:");
            println!("{}", created.secret);
        }
        TokenCommand::List { user } => {
            let user_ref = user
                .map(|u| EntityRef::parse(&u, Some("user"), "--user"))
                .transpose()?
                .map(|r| r.to_string());
            let tokens = platform.tokens.list(user_ref.as_deref()).await?;
            if tokens.is_empty() {
                println!("No tokens.");
            }
            for t in tokens {
                let now = causeway_platform::time::now_millis();
                let state = if t.revoked_at_millis.is_some() {
                    "revoked"
                } else if t.expires_at_millis <= now {
                    "expired"
                } else {
                    "active"
                };
                let last_used = t
                    .last_used_at_millis
                    .map_or("never used".to_owned(), causeway_platform::time::display);
                println!(
                    "{}\t{}\t{}\t{}\t{}\texpires {}\t{}",
                    t.id,
                    t.user_ref,
                    t.name,
                    t.scopes.to_stored(),
                    state,
                    causeway_platform::time::display(t.expires_at_millis),
                    last_used
                );
            }
        }
        TokenCommand::Revoke { id } => {
            let token = platform
                .tokens
                .revoke(&id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            platform
                .audit
                .record(Entry {
                    actor: "cli",
                    action: "token.revoke",
                    target: &id,
                    outcome: Outcome::Success,
                    detail: json!({ "user": token.user_ref }),
                    request_id: None,
                })
                .await?;
            println!(
                "Revoked token {} ({:?}) of {}.",
                token.id, token.name, token.user_ref
            );
        }
    }
    platform.store.close().await;
    Ok(())
}
