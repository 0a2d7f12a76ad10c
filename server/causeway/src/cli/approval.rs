//! `causeway approval list | show | approve | reject`: applies waiting for an approver. The
//! command line reads the database directly, so a decision names the user it is made as
//! (`--as`); the domain holds that user to the same rules as the portal and the API (an approver
//! or a platform admin, never the requester), and audits the decision as theirs.

use anyhow::Context as _;
use causeway_platform::Platform;
use causeway_platform::entity_ref::EntityRef;
use causeway_platform::provision::approvals::{
    Approval, ApprovalFilter, ApprovalStatus, Decision, Submission,
};
use causeway_platform::time::display;

use crate::config::Config;
use crate::serve;

#[derive(Debug, clap::Subcommand)]
pub enum ApprovalCommand {
    /// List approvals, newest first.
    List {
        /// pending, approved, rejected or void.
        #[arg(long)]
        status: Option<String>,
        /// The component, e.g. payments-api.
        #[arg(long)]
        service: Option<String>,
        #[arg(long = "env")]
        environment: Option<String>,
    },
    /// Show one approval with its plan, its decision, and why it is void if it is.
    Show { id: String },
    /// Approve: the plan is computed again and applied only if its hash is unchanged; the apply
    /// runs here, its log printed, unless a server's worker takes it first.
    Approve(DecideArgs),
    /// Reject with a comment; nothing is applied.
    Reject(DecideArgs),
}

#[derive(Debug, clap::Args)]
pub struct DecideArgs {
    id: String,
    /// The user deciding, e.g. user:default/linus: an approver or a platform admin, never the
    /// requester.
    #[arg(long = "as", value_name = "USER")]
    user: String,
    /// Why (required to reject).
    #[arg(long, default_value = "")]
    comment: String,
}

/// Runs an approval command.
pub async fn run(
    config: &Config,
    platform: &Platform,
    command: ApprovalCommand,
) -> anyhow::Result<()> {
    let engine = serve::provisioner(config, platform);
    match command {
        ApprovalCommand::List {
            status,
            service,
            environment,
        } => {
            let status = status
                .map(|s| {
                    ApprovalStatus::named(&s).ok_or_else(|| {
                        anyhow::anyhow!(
                            "--status {s:?}: expected pending, approved, rejected or void"
                        )
                    })
                })
                .transpose()?;
            let found = engine
                .approvals(&ApprovalFilter {
                    status,
                    service,
                    environment,
                    namespace: None,
                    limit: 200,
                })
                .await?;
            if found.is_empty() {
                println!("No approvals.");
            }
            for approval in found {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    approval.id,
                    approval.status.as_str(),
                    approval.namespace,
                    approval.requester.entity_ref,
                    display(approval.created_at_millis)
                );
            }
            Ok(())
        }
        ApprovalCommand::Show { id } => {
            print(&engine.approval(&id).await?);
            Ok(())
        }
        ApprovalCommand::Approve(args) | ApprovalCommand::Reject(args)
            if args.user.trim().is_empty() =>
        {
            anyhow::bail!("--as: name the user deciding, e.g. user:default/linus")
        }
        ApprovalCommand::Approve(args) => {
            let principal = principal(platform, &args.user).await?;
            let (approval, task) = engine
                .decide(
                    &platform.tasks,
                    &principal,
                    &args.id,
                    Decision::Approve,
                    &args.comment,
                    None,
                )
                .await?;
            println!(
                "Approved {} ({}); the plan {} is unchanged.",
                approval.id, approval.namespace, approval.plan_hash
            );
            match task {
                Some(task) => {
                    println!("Task {}: {}", task.id, task.title);
                    super::follow(config, platform, &engine, &task.id).await
                }
                None => Ok(()),
            }
        }
        ApprovalCommand::Reject(args) => {
            let principal = principal(platform, &args.user).await?;
            let (approval, _) = engine
                .decide(
                    &platform.tasks,
                    &principal,
                    &args.id,
                    Decision::Reject,
                    &args.comment,
                    None,
                )
                .await?;
            println!("Rejected {} ({}).", approval.id, approval.namespace);
            Ok(())
        }
    }
}

/// What `provision apply` prints for an apply that waits for an approval, or the task's id.
pub fn submitted(submission: &Submission) -> Option<String> {
    match submission {
        Submission::Task(task) => {
            println!("Task {}: {}", task.id, task.title);
            Some(task.id.clone())
        }
        Submission::Approval(approval) => {
            println!(
                "{} needs an approval from {} (rule {}): approval {} is pending.",
                approval.environment,
                approval.approvers.join(", "),
                approval.rule,
                approval.id
            );
            print(approval);
            println!(
                "An approver runs `causeway approval approve {} --as USER`.",
                approval.id
            );
            None
        }
    }
}

async fn principal(
    platform: &Platform,
    user: &str,
) -> anyhow::Result<causeway_platform::identity::Principal> {
    let user_ref = EntityRef::parse(user, Some("user"), "--as")?.to_string();
    platform
        .directory
        .principal(&user_ref)
        .await
        .with_context(|| format!("--as: no user {user_ref} is known"))
}

fn print(approval: &Approval) {
    println!(
        "Approval {} ({}) for {} in {} ({})",
        approval.id,
        approval.status.as_str(),
        approval.service,
        approval.environment,
        approval.namespace
    );
    println!(
        "  requested by {} at {}, parameters {}",
        approval.requester.entity_ref,
        display(approval.created_at_millis),
        serde_json::to_string(&approval.parameters).unwrap_or_default()
    );
    println!("  approvers {}", approval.approvers.join(", "));
    println!("  plan {}", approval.plan_hash);
    super::print_steps(&approval.plan.steps);
    if let Some(by) = &approval.decided_by {
        println!(
            "  decided by {by}{}",
            approval
                .comment
                .as_deref()
                .map(|c| format!(": {c}"))
                .unwrap_or_default()
        );
    }
    if let Some(reason) = &approval.reason {
        println!("  void: {reason}");
    }
    if let Some(task) = &approval.task_id {
        println!("  apply task {task}");
    }
}
