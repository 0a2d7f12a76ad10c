//! Approvals against the real control plane (`TEST_KUBECONFIG`): prod is applied through an
//! approval, a change is requested, and an object deleted in the live namespace meanwhile (as an
//! operator with kubectl would) voids the approval, which names the object and says that the
//! live state, not the request, changed.

#[path = "support/kube.rs"]
mod cluster;
#[path = "support/testbed.rs"]
mod testbed;

use causeway_platform::identity::{Principal, Role, Team};
use causeway_platform::provision::approvals::{Approval, ApprovalStatus, Decision, Submission};
use causeway_platform::provision::plan::Step;
use causeway_platform::provision::{Provisioner, Request, Requester};
use causeway_platform::tasks::TaskStatus;
use causeway_platform::tasks::runner::{Runner, Settings};
use causeway_platform::{Error, Platform};
use cluster::{Identity, unique_name};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Api;

fn person(name: &str, team: &str) -> Principal {
    Principal {
        entity_ref: format!("user:default/{name}"),
        display_name: name.to_owned(),
        email: None,
        teams: vec![Team {
            entity_ref: format!("group:default/{team}"),
            display_name: team.to_owned(),
        }],
        role: Role::Developer,
    }
}

fn request(service: &str, id: &str, pods: &str) -> Request {
    Request {
        service: service.to_owned(),
        environment: "prod".to_owned(),
        set: [("pods".to_owned(), pods.to_owned())].into(),
        request_id: id.to_owned(),
        requester: Requester::of(&person("ada", "team-a")),
        adopt: false,
    }
}

async fn pending(engine: &Provisioner, platform: &Platform, request: &Request) -> Approval {
    match engine
        .request_apply(&platform.tasks, request)
        .await
        .expect("requested")
    {
        Submission::Approval(approval) => *approval,
        Submission::Task(task) => panic!("prod started task {} without an approval", task.id),
    }
}

#[tokio::test]
async fn a_changed_live_namespace_voids_a_prod_approval() {
    let service = unique_name("appr");
    // The test bed's component is production with an on-call rota, which the starter policies
    // let into prod.
    let catalog = testbed::team_a_service(&service);
    let (engine, platform) = testbed::engine_and_platform(&catalog, |_| {}).await;
    let namespace = format!("{service}-prod");
    let linus = person("linus", "platform");
    let runner = Runner::new(
        platform.tasks.clone(),
        engine.task_handlers(),
        "test-worker".to_owned(),
        Settings::default(),
    );

    // Prod as approved: applied by the apply task the approval started.
    let first = pending(&engine, &platform, &request(&service, "req-1", "30")).await;
    let (_, task) = engine
        .decide(
            &platform.tasks,
            &linus,
            &first.id,
            Decision::Approve,
            "",
            None,
        )
        .await
        .expect("approved");
    let task = task.expect("task");
    assert_eq!(runner.drain().await.expect("drain"), 1);
    let ran = platform
        .tasks
        .get(&task.id)
        .await
        .expect("get")
        .expect("task");
    assert_eq!(ran.status, TaskStatus::Completed, "{:?}", ran.error);

    // A change is requested: only the quota would change; the rest is as live.
    let change = pending(&engine, &platform, &request(&service, "req-2", "40")).await;
    assert!(
        change.plan.steps.iter().any(
            |s| matches!(s, Step::Update { object, .. } if object == "ResourceQuota/causeway-quota")
        ),
        "{:?}",
        change.plan.steps
    );
    let watched = "NetworkPolicy/allow-from-monitoring";
    assert!(
        change.plan.steps.contains(&Step::Unchanged {
            object: watched.to_owned()
        }),
        "{:?}",
        change.plan.steps
    );

    // Meanwhile an operator deletes an object in the live namespace.
    let admin = cluster::client(Identity::Admin).await;
    Api::<NetworkPolicy>::namespaced(admin, &namespace)
        .delete("allow-from-monitoring", &Default::default())
        .await
        .expect("deleted");

    let refused = engine
        .decide(
            &platform.tasks,
            &linus,
            &change.id,
            Decision::Approve,
            "",
            None,
        )
        .await;
    let Err(Error::Conflict(message)) = refused else {
        panic!("a plan changed by the cluster must not be applied: {refused:?}");
    };
    assert!(message.contains(watched), "{message}");
    let void = engine.approval(&change.id).await.expect("approval");
    assert_eq!(void.status, ApprovalStatus::Void);
    assert_eq!(void.changes.len(), 1, "{:?}", void.changes);
    assert_eq!(void.changes[0].part, "live");
    assert_eq!(void.changes[0].object.as_deref(), Some(watched));
    assert_eq!(
        void.changes[0].detail,
        format!("{watched}: unchanged when requested, to be created now in prod")
    );
    assert_eq!(
        runner.drain().await.expect("drain"),
        0,
        "nothing more was applied"
    );
    cluster::remove_namespace(&namespace).await;
}
