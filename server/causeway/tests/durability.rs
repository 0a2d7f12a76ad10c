//! Durable tasks across real server processes on one PostgreSQL (`TEST_POSTGRES_URL`) and the
//! control plane (`TEST_KUBECONFIG`): a server killed with SIGKILL in the middle of a provisioning
//! task, at every step in turn, leaves the task to the next server, which resumes it and converges
//! the environment without duplicates; a template run killed in the middle resumes with one
//! repository and one catalog entry; and two servers sharing the database never claim one task
//! twice.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Connection as _;

/// A fresh PostgreSQL database on the test server, by URL.
async fn database() -> String {
    let base = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| panic!("TEST_POSTGRES_URL is not set; run through `make test`"));
    let name = format!("cw_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let mut admin = sqlx::AnyConnection::connect(&base).await.expect("connect");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create database");
    let (prefix, _) = base.rsplit_once('/').expect("URL with a database");
    format!("{prefix}/{name}")
}

fn kubeconfig() -> String {
    std::env::var("TEST_KUBECONFIG")
        .unwrap_or_else(|_| panic!("TEST_KUBECONFIG is not set; run through `make test`"))
}

/// `causeway` with only this test's configuration.
fn causeway(database_url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_causeway"));
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("CAUSEWAY_")) {
        command.env_remove(key);
    }
    command
        .env("CAUSEWAY_DATABASE_URL", database_url)
        .env("CAUSEWAY_KUBECONFIG", kubeconfig())
        .env("CAUSEWAY_LOG_FORMAT", "json")
        // A short lease, so that a dead server's task is taken over within a second or two.
        .env("CAUSEWAY_TASK_LEASE_SECS", "1")
        .args(args);
    command
}

/// Seeds the demo organisation and returns a token for `user`.
fn prepare(database_url: &str, user: &str) -> String {
    let seeded = causeway(database_url, &["seed"]).output().expect("seed");
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let token = causeway(database_url, &["token", "create", "--user", user])
        .output()
        .expect("token");
    assert!(token.status.success());
    String::from_utf8_lossy(&token.stdout)
        .lines()
        .last()
        .expect("secret")
        .trim()
        .to_owned()
}

struct Server {
    child: Child,
    base: String,
}

impl Server {
    async fn start(database_url: &str) -> Self {
        Self::start_with(database_url, &[]).await
    }

    /// A server with extra configuration variables.
    async fn start_with(database_url: &str, extra: &[(&str, String)]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
            .port();
        let child = causeway(database_url, &["serve"])
            .env("CAUSEWAY_LISTEN", format!("127.0.0.1:{port}"))
            .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(response) = client.get(format!("{}/readyz", server.base)).send().await
                && response.status() == 200
            {
                return server;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the server became ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn call(method: &str, url: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut request = match method {
        "POST" => client.post(url),
        _ => client.get(url),
    }
    .header("authorization", format!("Bearer {token}"));
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("response");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Polls task `id` on `server` until it has ended.
async fn ended(server: &Server, token: &str, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let (status, found) = call(
            "GET",
            &format!("{}/api/tasks/{id}", server.base),
            token,
            None,
        )
        .await;
        assert_eq!(status, 200, "{found}");
        if ["completed", "failed", "cancelled"]
            .contains(&found["task"]["status"].as_str().unwrap_or(""))
        {
            return found;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "task {id} did not end: {found}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_killed_server_resumes_its_tasks_and_the_environment_converges() {
    let database_url = database().await;
    let token = prepare(&database_url, "user:default/ada");
    let points = ["check", "record", "namespace", "objects", "prune", "verify"];
    let mut server = Server::start(&database_url).await;
    let mut resumed = 0;
    for round in 0..12 {
        let point = points[round % points.len()];
        let pods = (10 + round).to_string();
        let target =
            json!({ "service": "payments-api", "environment": "dev", "set": { "pods": pods } });
        let (status, task) = call(
            "POST",
            &format!("{}/api/provision/apply", server.base),
            &token,
            Some(target.clone()),
        )
        .await;
        assert_eq!(status, 202, "{task}");
        let id = task["id"].as_str().expect("id").to_owned();
        // Kill the server as soon as the chosen step has started (or the task got past it).
        let started = Instant::now();
        loop {
            let (_, found) = call(
                "GET",
                &format!("{}/api/tasks/{id}", server.base),
                &token,
                None,
            )
            .await;
            let steps = found["task"]["steps"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let reached = steps
                .iter()
                .skip_while(|s| s["name"] != point)
                .any(|s| s["status"] != "pending");
            if reached || started.elapsed() > Duration::from_secs(10) {
                break;
            }
        }
        server.kill();
        server = Server::start(&database_url).await;
        let done = ended(&server, &token, &id).await;
        assert_eq!(
            done["task"]["status"], "completed",
            "round {round} (killed at {point}): {done}"
        );
        let attempts = done["task"]["attempts"].as_i64().unwrap_or(0);
        if attempts > 1 {
            resumed += 1;
        }
        println!("round {round}: killed at {point}, attempts {attempts}");

        // Converged, with nothing twice: the plan against the cluster is all unchanged, one quota
        // with the new pod count, four policies.
        let (status, plan) = call(
            "POST",
            &format!("{}/api/provision/plan", server.base),
            &token,
            Some(target),
        )
        .await;
        assert_eq!(status, 200, "{plan}");
        let steps = plan["steps"].as_array().expect("steps");
        assert!(
            steps.iter().all(|s| s["action"] == "unchanged"),
            "round {round}: {plan}"
        );
        assert_eq!(
            steps
                .iter()
                .filter(|s| s["object"]
                    .as_str()
                    .is_some_and(|o| o.starts_with("ResourceQuota/")))
                .count(),
            1
        );
        assert_eq!(
            steps
                .iter()
                .filter(|s| s["object"]
                    .as_str()
                    .is_some_and(|o| o.starts_with("NetworkPolicy/")))
                .count(),
            4
        );
        let (_, status_view) = call(
            "POST",
            &format!("{}/api/provision/status", server.base),
            &token,
            Some(json!({ "service": "payments-api", "environment": "dev" })),
        )
        .await;
        assert_eq!(status_view["record"]["status"], "ready", "{status_view}");
        assert_eq!(status_view["record"]["parameters"]["pods"], pods);
    }
    assert!(
        resumed >= 6,
        "at least half of the rounds were interrupted mid-task ({resumed} of 12)"
    );
    let (_, gone) = call(
        "POST",
        &format!("{}/api/provision/destroy", server.base),
        &token,
        Some(json!({ "service": "payments-api", "environment": "dev" })),
    )
    .await;
    let gone = ended(&server, &token, gone["id"].as_str().expect("id")).await;
    assert_eq!(gone["task"]["status"], "completed");
}

#[tokio::test]
async fn two_servers_on_one_database_never_run_the_same_task_twice() {
    let database_url = database().await;
    // A platform admin may provision every team's services.
    let token = prepare(&database_url, "user:default/linus");
    let servers = [
        Server::start(&database_url).await,
        Server::start(&database_url).await,
    ];
    let services = [
        "ledger",
        "fraud-scoring",
        "checkout-web",
        "basket",
        "causeway",
    ];
    let mut ids = Vec::new();
    for (i, service) in services.iter().enumerate() {
        for environment in ["dev", "staging"] {
            let server = &servers[(i + ids.len()) % 2];
            let (status, task) = call(
                "POST",
                &format!("{}/api/provision/apply", server.base),
                &token,
                Some(json!({ "service": service, "environment": environment })),
            )
            .await;
            assert_eq!(status, 202, "{task}");
            ids.push((
                service.to_string(),
                environment,
                task["id"].as_str().expect("id").to_owned(),
            ));
        }
    }
    let mut workers = std::collections::BTreeSet::new();
    for (_, _, id) in &ids {
        let done = ended(&servers[0], &token, id).await;
        assert_eq!(done["task"]["status"], "completed", "{done}");
        assert_eq!(done["task"]["attempts"], 1, "claimed once: {done}");
        let writers: std::collections::BTreeSet<&str> = done["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter_map(|e| e["worker"].as_str())
            .collect();
        assert_eq!(writers.len(), 1, "one worker ran task {id}: {writers:?}");
        workers.extend(writers.into_iter().map(str::to_owned));
    }
    println!("workers that ran tasks: {workers:?}");
    for (service, environment, _) in &ids {
        let (_, gone) = call(
            "POST",
            &format!("{}/api/provision/destroy", servers[1].base),
            &token,
            Some(json!({ "service": service, "environment": environment })),
        )
        .await;
        let gone = ended(&servers[1], &token, gone["id"].as_str().expect("id")).await;
        assert_eq!(gone["task"]["status"], "completed", "{gone}");
    }
}

const SLOW_TEMPLATE: &str = r#"apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: slow-service
spec:
  owner: group:default/payments
  type: service
  parameters:
    - required: [name]
      properties:
        name: { type: string }
  steps:
    - id: fetch
      action: fetch:template
      input:
        url: ./skeleton
        values: { name: "${{ parameters.name }}" }
    - id: describe
      action: catalog:write
      input:
        entity:
          apiVersion: backstage.io/v1alpha1
          kind: Component
          metadata: { name: "${{ parameters.name }}" }
          spec: { type: service, lifecycle: experimental, owner: group:default/payments }
    - id: publish
      action: publish:git
      input:
        repoUrl: local?owner=payments&repo=${{ parameters.name }}
    - id: pause
      action: debug:wait
      input: { seconds: 3 }
    - id: register
      action: catalog:register
      input:
        repoContentsUrl: ${{ steps.publish.output.repoContentsUrl }}
"#;

#[tokio::test]
async fn a_template_run_killed_mid_way_resumes_with_one_repository_and_one_entry() {
    let database_url = database().await;
    let token = prepare(&database_url, "user:default/ada");
    let dir = std::env::temp_dir().join(format!("causeway-run-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("template/skeleton")).unwrap();
    std::fs::write(dir.join("template/template.yaml"), SLOW_TEMPLATE).unwrap();
    std::fs::write(
        dir.join("template/skeleton/README.md"),
        "# ${{ values.name }}\n",
    )
    .unwrap();
    let git_dir = dir.join("git");
    let imported = causeway(&database_url, &["catalog", "import"])
        .arg(dir.join("template/template.yaml"))
        .output()
        .expect("import");
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let extra = [("CAUSEWAY_GIT_DIR", git_dir.display().to_string())];
    let first = Server::start_with(&database_url, &extra).await;
    let (status, created) = call(
        "POST",
        &format!("{}/api/scaffolder/v2/tasks", first.base),
        &token,
        Some(json!({ "templateRef": "slow-service", "values": { "name": "resumed" } })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    // Killed while it pauses, after the repository was pushed and before it is registered.
    let started = Instant::now();
    loop {
        let (_, task) = call(
            "GET",
            &format!("{}/api/tasks/{id}", first.base),
            &token,
            None,
        )
        .await;
        let pausing = task["task"]["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s["name"] == "pause" && s["status"] == "running");
        if pausing {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the run never paused: {task}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.kill();
    let second = Server::start_with(&database_url, &extra).await;
    let ended = ended(&second, &token, &id).await;
    assert_eq!(ended["task"]["status"], "completed", "{ended}");
    assert!(
        ended["events"].to_string().contains("Resumed by"),
        "the second server resumed the run: {ended}"
    );
    // One repository, with one commit; one catalog entry from one location.
    let owners: Vec<_> = std::fs::read_dir(git_dir.join("payments"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(owners, ["resumed.git"]);
    let log = std::process::Command::new("git")
        .args(["log", "--oneline", "main"])
        .current_dir(git_dir.join("payments/resumed.git"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&log.stdout).lines().count(), 1);
    let (status, entities) = call(
        "GET",
        &format!(
            "{}/api/catalog/entities/by-query?filter=metadata.name=resumed",
            second.base
        ),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        entities["items"].as_array().map(Vec::len),
        Some(1),
        "{entities}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
