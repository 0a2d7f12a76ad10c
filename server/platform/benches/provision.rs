//! Provisioning benchmark against a real control plane (`TEST_KUBECONFIG`, as the backend
//! identity), run by `make bench-provision`:
//!
//! 1. the full bundle of a new environment applied by Causeway, against one
//!    `kubectl apply --server-side` of exactly the same rendered manifests (`KUBECTL`), each into a
//!    namespace of its own, alternating which goes first; the medians are compared;
//! 2. a no-change reconcile of 100 ready environments (the drift reconciler's pass): its wall time,
//!    CPU time and peak RSS, and the number of writes, counted by comparing every managed object's
//!    `resourceVersion` before and after.

#[path = "../tests/support/kube.rs"]
mod cluster;
#[path = "../tests/support/measure.rs"]
mod measure;
#[path = "../tests/support/testbed.rs"]
mod testbed;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use causeway_platform::provision::bundle::{self, MANAGED_BY};
use causeway_platform::provision::drift::Reported;
use causeway_platform::provision::{Provisioner, Request};
use cluster::{Identity, client, kubeconfig_path};
use futures::StreamExt;
use kube::api::{Api, DynamicObject, ListParams};
use measure::{cpu_time, peak_rss_mib};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn request(service: &str) -> Request {
    Request {
        service: service.to_owned(),
        environment: "dev".to_owned(),
        request_id: format!("bench-{service}"),
        ..Request::default()
    }
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The `resourceVersion` of every object Causeway manages, by kind, namespace and name.
async fn versions() -> BTreeMap<String, String> {
    let admin = client(Identity::Admin).await;
    let selector = format!("{}={}", MANAGED_BY.0, MANAGED_BY.1);
    let mut all = BTreeMap::new();
    for resource in bundle::kinds() {
        let api: Api<DynamicObject> = Api::all_with(admin.clone(), &resource);
        for object in api
            .list(&ListParams::default().labels(&selector))
            .await
            .expect("list")
        {
            all.insert(
                format!(
                    "{}/{}/{}",
                    resource.kind,
                    object.metadata.namespace.unwrap_or_default(),
                    object.metadata.name.unwrap_or_default()
                ),
                object.metadata.resource_version.unwrap_or_default(),
            );
        }
    }
    all
}

/// Writes `service`'s rendered bundle as one multi-document YAML file.
fn manifests(engine: &Provisioner, service: &str) -> std::path::PathBuf {
    let prepared = engine.prepare(&request(service)).expect("prepared");
    let text: Vec<String> = prepared
        .bundle
        .iter()
        .map(|d| serde_yaml_ng::to_string(&d.object).expect("YAML"))
        .collect();
    let path = std::env::temp_dir().join(format!("causeway-bench-{service}.yaml"));
    std::fs::write(&path, text.join("---\n")).expect("write manifests");
    path
}

fn kubectl_apply(kubectl: &str, file: &std::path::Path) -> Duration {
    let started = Instant::now();
    let output = Command::new(kubectl)
        .arg("--kubeconfig")
        .arg(kubeconfig_path())
        .args(["--context", Identity::Causeway.context()])
        .args(["apply", "--server-side", "--field-manager=causeway", "-f"])
        .arg(file)
        .output()
        .expect("kubectl runs");
    let took = started.elapsed();
    assert!(
        output.status.success(),
        "kubectl: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    took
}

#[tokio::main]
async fn main() {
    let runs = env_number("BENCH_RUNS", 15);
    let environments = env_number("BENCH_ENVIRONMENTS", 100);
    let kubectl = std::env::var("KUBECTL").expect("KUBECTL names the control plane's kubectl");
    let tag = uuid::Uuid::new_v4().simple().to_string()[..6].to_owned();
    let name = |prefix: &str, i: usize| format!("b{tag}-{prefix}{i}");
    let services: Vec<String> = (0..=runs)
        .flat_map(|i| [name("c", i), name("k", i)])
        .chain((0..environments).map(|i| name("r", i)))
        .collect();
    let mut catalog = testbed::team_a_service(&services[0]);
    for service in &services[1..] {
        let one = testbed::team_a_service(service);
        // The group is declared once, by the first service's documents.
        catalog.push_str("---\n");
        catalog.push_str(one.split_once("---\n").map_or("", |(_, rest)| rest));
    }
    let engine = testbed::engine_with_catalog(&catalog, |_| {}).await;

    // 1. Full bundle: Causeway against kubectl, alternating, after one warm-up of each (kubectl
    // fills its discovery cache; Causeway opens its connections).
    let objects = engine
        .prepare(&request(&services[0]))
        .expect("prepared")
        .bundle
        .len();
    let mut causeway = Vec::new();
    let mut kubectl_times = Vec::new();
    for i in 0..=runs {
        let ours = name("c", i);
        let theirs = manifests(&engine, &name("k", i));
        let apply_ours = async {
            let started = Instant::now();
            let report = engine.apply(&request(&ours)).await.expect("apply");
            assert!(report.failed.is_empty(), "{:?}", report.failed);
            started.elapsed()
        };
        let (ours_took, theirs_took) = if i % 2 == 0 {
            let a = apply_ours.await;
            (a, kubectl_apply(&kubectl, &theirs))
        } else {
            let b = kubectl_apply(&kubectl, &theirs);
            (apply_ours.await, b)
        };
        if i > 0 {
            causeway.push(ours_took);
            kubectl_times.push(theirs_took);
        }
    }
    let ours = median(&mut causeway);
    let theirs = median(&mut kubectl_times);
    println!("## Full bundle ({objects} objects), median of {runs}\n");
    println!("| | median | min | max |\n|---|---|---|---|");
    println!(
        "| Causeway apply | {} | {} | {} |",
        ms(ours),
        ms(causeway[0]),
        ms(causeway[runs - 1])
    );
    println!(
        "| kubectl apply --server-side | {} | {} | {} |",
        ms(theirs),
        ms(kubectl_times[0]),
        ms(kubectl_times[runs - 1])
    );
    println!(
        "\nCauseway / kubectl: {:.2}× (target ≤ 0.5×)\n",
        ours.as_secs_f64() / theirs.as_secs_f64()
    );

    // 2. A no-change reconcile of `environments` ready environments.
    let ready: Vec<String> = (0..environments).map(|i| name("r", i)).collect();
    let namespaces: Vec<String> = futures::stream::iter(ready.iter().cloned())
        .map(|service| {
            let engine = engine.clone();
            async move {
                let report = engine.apply(&request(&service)).await.expect("apply");
                assert!(report.failed.is_empty(), "{:?}", report.failed);
                report.namespace
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let before = versions().await;
    let reported = Reported::default();
    let cpu_before = cpu_time();
    let started = Instant::now();
    let found: usize = futures::stream::iter(namespaces.iter().cloned())
        .map(|namespace| {
            let engine = engine.clone();
            let reported = reported.clone();
            async move {
                engine
                    .reconcile(&namespace, &reported)
                    .await
                    .expect("reconcile")
                    .len()
            }
        })
        .buffer_unordered(8)
        .fold(0, |sum, n| async move { sum + n })
        .await;
    let took = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    let after = versions().await;
    let writes = before
        .iter()
        .filter(|(key, version)| after.get(*key) != Some(*version))
        .count()
        + after
            .keys()
            .filter(|key| !before.contains_key(*key))
            .count();
    println!("## No-change reconcile of {environments} environments\n");
    println!(
        "| wall time | CPU time | peak RSS | drift found | writes (target 0) | objects compared |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {:.0} MiB | {found} | {writes} | {} |",
        ms(took),
        ms(cpu),
        peak_rss_mib(),
        before.len()
    );
    assert_eq!(writes, 0, "a no-change reconcile wrote");
}
