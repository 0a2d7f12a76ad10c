//! The provisioning engine when the API server stops answering: the operation reports the
//! failure instead of hanging, and a retry once the server is back converges.
//!
//! The API server of the test control plane is paused with SIGSTOP for 30 seconds. This is its
//! own test binary because cargo runs test binaries one after another: no other suite talks to
//! the plane while it is paused.

#[path = "support/kube.rs"]
mod cluster;
#[path = "support/testbed.rs"]
mod testbed;

use std::time::{Duration, Instant};

use causeway_platform::provision::Request;
use causeway_platform::provision::plan::Step;
use cluster::{Identity, kubeconfig_path, unique_name};
use testbed::engine_with_catalog;

const PAUSE: Duration = Duration::from_secs(30);

/// Sends `signal` to the control plane's API server (its pid file sits next to the kubeconfig).
fn signal_api_server(signal: &str) {
    let pid_file = kubeconfig_path()
        .parent()
        .expect("state directory")
        .join("kube-apiserver.pid");
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap_or_else(|e| panic!("{}: {e}", pid_file.display()));
    let status = std::process::Command::new("kill")
        .args([signal, pid.trim()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {signal} {}", pid.trim());
}

/// Resumes the API server when dropped, so a failing assertion never leaves it paused.
struct Paused;

impl Drop for Paused {
    fn drop(&mut self) {
        signal_api_server("-CONT");
    }
}

#[tokio::test]
async fn an_outage_is_reported_and_a_retry_converges() {
    let service = unique_name("out");
    let catalog = format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\nspec:\n  type: team\n  children: []\n---\n\
         apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {service}\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    );
    let engine = engine_with_catalog(&catalog, |_| {}).await;
    let request = |pods: &str| Request {
        service: service.clone(),
        environment: "dev".to_owned(),
        set: [("pods".to_owned(), pods.to_owned())].into(),
        request_id: format!("pods-{pods}"),
        ..Request::default()
    };
    engine.apply(&request("10")).await.expect("first apply");

    // The environment changes while the API server is paused for 30 s.
    signal_api_server("-STOP");
    let paused = Paused;
    let started = Instant::now();
    let outcome = engine.apply(&request("11")).await;
    let reported_after = started.elapsed();
    match &outcome {
        Err(error) => assert!(error.to_string().contains("cluster"), "{error}"),
        Ok(report) => assert!(!report.failed.is_empty(), "{report:?}"),
    }
    assert!(
        reported_after < PAUSE,
        "the failure is reported while the server is still down ({reported_after:?})"
    );
    tokio::time::sleep(PAUSE.saturating_sub(started.elapsed())).await;
    drop(paused);

    // Once it is back, a retry converges: the change is applied, and nothing more is to do.
    let retried = {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match engine.apply(&request("11")).await {
                Ok(report) if report.failed.is_empty() => break report,
                other if Instant::now() > deadline => panic!("no convergence: {other:?}"),
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    };
    assert!(
        retried
            .applied
            .iter()
            .any(|a| a.object == "ResourceQuota/causeway-quota"),
        "{retried:?}"
    );
    let plan = engine.plan(&request("11")).await.expect("plan");
    assert!(
        plan.steps
            .iter()
            .all(|s| matches!(s, Step::Unchanged { .. })),
        "{:?}",
        plan.steps
    );
    let admin = cluster::client(Identity::Admin).await;
    let _ = kube::Api::<k8s_openapi::api::core::v1::Namespace>::all(admin)
        .delete(&format!("{service}-dev"), &Default::default())
        .await;
}
