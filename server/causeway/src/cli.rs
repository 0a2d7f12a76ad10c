//! The command line: `causeway serve | migrate | seed | token … | version`.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use causeway_platform::Platform;
use causeway_platform::audit::{Entry, Outcome};
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
    /// Print the version.
    Version,
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
    if let Command::Version = cli.command {
        println!("causeway {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
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
        Command::Version => Ok(()),
    }
}

/// Opens the store, applying migrations; errors say which database could not be used.
async fn open(config: &Config) -> anyhow::Result<Platform> {
    let store = causeway_platform::Store::open(&config.database_url)
        .await
        .with_context(|| format!("cannot use the database {}", redact(&config.database_url)))?;
    Ok(Platform::new(store, &serve::settings(config))?)
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
    let sources: Vec<(String, String)> = if files.is_empty() {
        vec![("the demo organisation".to_owned(), DEMO_ORG.to_owned())]
    } else {
        files
            .iter()
            .map(|p| {
                Ok((
                    p.display().to_string(),
                    std::fs::read_to_string(p)
                        .with_context(|| format!("cannot read {}", p.display()))?,
                ))
            })
            .collect::<anyhow::Result<_>>()?
    };
    for (name, text) in sources {
        let documents =
            causeway_platform::org::parse_documents(&text).with_context(|| name.clone())?;
        let summary = causeway_platform::org::import(&platform.store, documents)
            .await
            .with_context(|| format!("{name}: nothing was imported"))?;
        for warning in &summary.warnings {
            eprintln!("warning: {name}: {warning}");
        }
        println!(
            "Imported {name}: {} users, {} teams, {} memberships, {} entities",
            summary.users, summary.teams, summary.memberships, summary.entities
        );
        platform
            .audit
            .record(Entry {
                actor: "cli",
                action: "org.import",
                target: &name,
                outcome: Outcome::Success,
                detail: serde_json::to_value(&summary).unwrap_or_default(),
                request_id: None,
            })
            .await?;
    }
    platform.store.close().await;
    Ok(())
}

async fn token(config: &Config, command: TokenCommand) -> anyhow::Result<()> {
    let platform = open(config).await?;
    match command {
        TokenCommand::Create { user, name } => {
            let user_ref = EntityRef::parse(&user, Some("user"), "--user")?;
            if user_ref.kind() != "user" {
                bail!(
                    "--user: {user:?} refers to a {}, expected a user",
                    user_ref.kind()
                );
            }
            let created = platform.tokens.create(&user_ref.to_string(), &name).await.map_err(|e| match e {
                causeway_platform::Error::NotFound(_) => {
                    anyhow::anyhow!("--user: no user {user_ref} is known; run `causeway seed` or import the user first")
                }
                other => anyhow::anyhow!("--name: {other}"),
            })?;
            platform
                .audit
                .record(Entry {
                    actor: "cli",
                    action: "token.create",
                    target: &created.token.id,
                    outcome: Outcome::Success,
                    detail: json!({ "name": created.token.name, "user": created.token.user_ref }),
                    request_id: None,
                })
                .await?;
            println!(
                "Created token {} ({:?}) for {}.",
                created.token.id, created.token.name, created.token.user_ref
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
                let state = if t.revoked_at_millis.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!("{}\t{}\t{}\t{}", t.id, t.user_ref, t.name, state);
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
