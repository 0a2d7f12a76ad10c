//! `causeway platform export|check` and `causeway policy test`: the platform configuration and
//! its policies on the command line, with no server and no database, for the platform team's
//! own repository and its CI.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use causeway_platform::guardrails::{self, Guardrails, Lookup, Outcome, Source, Subject};
use serde_json::Value;

use crate::config::Config;

/// `causeway platform …`.
#[derive(Debug, clap::Subcommand)]
pub enum PlatformCommand {
    /// Print the platform configuration in force (the configured source, or the embedded
    /// default) as `causeway.dev/v1alpha1` documents a team can start from.
    Export,
    /// Check a configuration (a file or a directory of .yaml files) without loading it
    /// anywhere: every problem is printed with its file, line and field. Exits non-zero when
    /// there is one.
    Check {
        /// The file or directory (default: the configured `platform_config`).
        path: Option<PathBuf>,
    },
}

/// `causeway policy …`.
#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Evaluate every policy of a configuration against an input file and print each verdict.
    /// The input is one policy input (with `subject`: environment, template or import) or
    /// `cases:`, each `{name, input, expect: {<policy>: allowed|denied|warned|waived}}`. Exits
    /// non-zero when an expectation fails, or, without expectations, when a policy denies.
    Test {
        /// The configuration: a file or a directory of .yaml files.
        path: PathBuf,
        /// The input: a YAML or JSON file.
        #[arg(long, value_name = "FILE")]
        input: PathBuf,
    },
}

/// Runs a `platform` command.
pub fn platform(command: PlatformCommand) -> anyhow::Result<()> {
    match command {
        PlatformCommand::Export => {
            let config = Config::from_env()?;
            let guardrails = configured(&config)?;
            print!(
                "{}",
                guardrails::export::export(&guardrails.current().config)
            );
            Ok(())
        }
        PlatformCommand::Check { path } => {
            let source = match path {
                Some(path) => Source::Path(path),
                None => Source::parse(&Config::from_env()?.platform_config),
            };
            let guardrails = load(&source)?;
            let revision = guardrails.current();
            println!(
                "{}: valid; {} clusters, {} environments, {} policies, revision {}",
                source.describe(),
                revision.provision.clusters.len(),
                revision.provision.environments.len(),
                revision.config.policies.len(),
                revision.hash
            );
            Ok(())
        }
    }
}

/// The configuration `config` names, as the server would load it.
fn configured(config: &Config) -> anyhow::Result<Guardrails> {
    let guardrails = Guardrails::fixed(crate::serve::provision_config(config));
    guardrails
        .configure(
            Source::parse(&config.platform_config),
            crate::serve::provision_config(config),
        )
        .map_err(problems)?;
    Ok(guardrails)
}

fn load(source: &Source) -> anyhow::Result<Guardrails> {
    let files = match source {
        Source::Embedded => {
            return configured(&Config::from_env()?);
        }
        other => other.read().map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    Guardrails::from_files(&files).map_err(problems)
}

fn problems(problems: Vec<causeway_platform::catalog::Problem>) -> anyhow::Error {
    anyhow::anyhow!(
        "the platform configuration is invalid ({} problems):\n{}",
        problems.len(),
        problems
            .iter()
            .map(|p| format!("  {p}"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// One case of a policy test file.
struct Case {
    name: String,
    input: Value,
    expect: Option<serde_json::Map<String, Value>>,
}

/// Runs a `policy` command.
pub async fn policy(command: PolicyCommand) -> anyhow::Result<()> {
    let PolicyCommand::Test { path, input } = command;
    let guardrails = load(&Source::Path(path))?;
    let cases = cases(&input)?;
    let mut failed = Vec::new();
    for case in &cases {
        let subject = match case
            .input
            .get("subject")
            .and_then(Value::as_str)
            .unwrap_or("environment")
        {
            "environment" => Subject::Environment,
            "template" => Subject::Template,
            "import" => Subject::Import,
            other => bail!(
                "{}: subject {other:?} is not one of environment, template, import",
                case.name
            ),
        };
        let text = |pointer: &str| {
            case.input
                .pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let environment = text("/environment/name");
        let team = text("/owner/ref").or_else(|| text("/team/ref"));
        let service = text("/service/ref").or_else(|| text("/entity/ref"));
        let decision = guardrails
            .decide(
                subject,
                &case.input,
                Lookup {
                    environment: environment.as_deref(),
                    team: team.as_deref(),
                    service: service.as_deref(),
                    now_millis: causeway_platform::time::now_millis(),
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!(
            "{}: {}",
            case.name,
            if decision.allowed() {
                "allowed"
            } else {
                "denied"
            }
        );
        for verdict in &decision.verdicts {
            if verdict.outcome == Outcome::NotApplicable {
                continue;
            }
            let outcome = serde_json::to_value(verdict.outcome)?;
            let outcome = outcome.as_str().unwrap_or_default();
            print!("  {outcome:<8} {} ({})", verdict.policy, verdict.field);
            if verdict.message.is_empty() {
                println!();
            } else {
                println!(": {}\n           fix: {}", verdict.message, verdict.fix);
            }
        }
        match &case.expect {
            Some(expect) => {
                for (policy, wanted) in expect {
                    let got = decision
                        .verdicts
                        .iter()
                        .find(|v| &v.policy == policy)
                        .map(|v| serde_json::to_value(v.outcome).unwrap_or_default());
                    if got.as_ref() != Some(wanted) {
                        failed.push(format!(
                            "{}: {policy} expected {wanted}, got {}",
                            case.name,
                            got.map_or("no such policy".to_owned(), |g| g.to_string())
                        ));
                    }
                }
            }
            None if !decision.allowed() => failed.push(format!("{}: denied", case.name)),
            None => {}
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        bail!("{} failed:\n  {}", failed.len(), failed.join("\n  "))
    }
}

fn cases(path: &Path) -> anyhow::Result<Vec<Case>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    let document: Value =
        serde_yaml_ng::from_str(&text).with_context(|| format!("{}", path.display()))?;
    let Some(cases) = document.get("cases").and_then(Value::as_array) else {
        return Ok(vec![Case {
            name: path.display().to_string(),
            input: document,
            expect: None,
        }]);
    };
    cases
        .iter()
        .enumerate()
        .map(|(index, case)| {
            let name = case
                .get("name")
                .and_then(Value::as_str)
                .map_or_else(|| format!("case {}", index + 1), str::to_owned);
            let input = case
                .get("input")
                .cloned()
                .with_context(|| format!("{}: {name}: no `input`", path.display()))?;
            let expect = case.get("expect").and_then(Value::as_object).cloned();
            Ok(Case {
                name,
                input,
                expect,
            })
        })
        .collect()
}
