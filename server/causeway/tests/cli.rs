//! The `causeway` command line, run as a real process.

use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Env {
    dir: std::path::PathBuf,
}

impl Env {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("causeway-cli-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self { dir }
    }

    fn database_url(&self) -> String {
        format!("sqlite://{}/causeway.db", self.dir.display())
    }

    /// A `causeway` command with only this test's configuration.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_causeway"));
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("CAUSEWAY_")) {
            command.env_remove(key);
        }
        command
            .env("CAUSEWAY_DATABASE_URL", self.database_url())
            .env("CAUSEWAY_LOG_FORMAT", "json")
            .args(args);
        command
    }

    fn run(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
        let mut command = self.command(args);
        command.envs(extra_env.iter().copied());
        command.output().expect("run causeway")
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn version_and_help() {
    let env = Env::new();
    let output = env.run(&["version"], &[]);
    assert!(output.status.success());
    assert_eq!(
        stdout(&output).trim(),
        format!("causeway {}", env!("CARGO_PKG_VERSION"))
    );
    let help = stdout(&env.run(&["--help"], &[]));
    for command in ["serve", "migrate", "seed", "token", "version"] {
        assert!(help.contains(command), "{help}");
    }
    let token_help = stdout(&env.run(&["token", "--help"], &[]));
    for command in ["create", "list", "revoke"] {
        assert!(token_help.contains(command), "{token_help}");
    }
}

#[test]
fn bad_configuration_stops_with_the_key_named() {
    let env = Env::new();
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[("CAUSEWAY_LISTEN", "bogus")],
            "configuration key `listen` (from environment variable CAUSEWAY_LISTEN)",
        ),
        (
            &[("CAUSEWAY_SESION_TTL_HOURS", "1")],
            "unknown variable CAUSEWAY_SESION_TTL_HOURS",
        ),
        (
            &[("CAUSEWAY_LISTEN", "0.0.0.0:3000")],
            "configuration key `auth_mode`",
        ),
        (
            &[("CAUSEWAY_DATABASE_URL", "mysql://db")],
            "configuration key `database_url`",
        ),
    ];
    for (vars, expected) in cases {
        let output = env.run(&["serve"], vars);
        assert!(!output.status.success(), "{vars:?}");
        let err = stderr(&output);
        assert!(err.contains(expected), "{vars:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn unreachable_database_is_a_clear_error() {
    let env = Env::new();
    let output = env.run(
        &["migrate"],
        &[(
            "CAUSEWAY_DATABASE_URL",
            "postgres://causeway:secret@127.0.0.1:1/causeway",
        )],
    );
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("cannot use the database postgres://causeway:***@127.0.0.1:1/causeway"),
        "{err}"
    );
    assert!(
        !err.contains("secret"),
        "the password is never printed: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn tokens_are_created_listed_and_revoked() {
    let env = Env::new();
    assert!(env.run(&["migrate"], &[]).status.success());
    let seeded = env.run(&["seed"], &[]);
    assert!(seeded.status.success(), "{}", stderr(&seeded));
    assert!(
        stdout(&seeded).contains("15 added, 0 updated"),
        "{}",
        stdout(&seeded)
    );

    let output = env.run(
        &[
            "token",
            "create",
            "--user",
            "user:default/ada",
            "--name",
            "ci",
        ],
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    let secret = out.lines().last().expect("a last line");
    assert!(secret.starts_with("cwt_") && secret.len() > 40, "{out}");
    let id = out.split_whitespace().nth(2).expect("id").to_owned();
    assert!(out.contains("scopes write, expiring"), "{out}");

    // Scopes and lifetimes, each refusal naming its option.
    let read = env.run(
        &[
            "token",
            "create",
            "--user",
            "ada",
            "--scope",
            "read",
            "--expires-in-days",
            "7",
        ],
        &[],
    );
    assert!(read.status.success(), "{}", stderr(&read));
    assert!(
        stdout(&read).contains("scopes read, expiring"),
        "{}",
        stdout(&read)
    );
    let admin = env.run(
        &["token", "create", "--user", "ada", "--scope", "admin"],
        &[],
    );
    assert!(
        stderr(&admin).contains("--scope: `admin` is only for platform admins"),
        "{}",
        stderr(&admin)
    );
    let long = env.run(
        &[
            "token",
            "create",
            "--user",
            "ada",
            "--expires-in-days",
            "400",
        ],
        &[],
    );
    assert!(
        stderr(&long).contains("--expires-in-days: must be between 1 and 365"),
        "{}",
        stderr(&long)
    );

    let listed = stdout(&env.run(&["token", "list", "--user", "ada"], &[]));
    assert!(
        listed.contains(&id) && listed.contains("active"),
        "{listed}"
    );
    assert!(!listed.contains(secret), "secrets are never listed");

    let revoked = env.run(&["token", "revoke", &id], &[]);
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    assert!(stdout(&env.run(&["token", "list"], &[])).contains("revoked"));

    let unknown = env.run(&["token", "create", "--user", "nobody"], &[]);
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("--user: no user user:default/nobody is known"),
        "{}",
        stderr(&unknown)
    );
    let missing = env.run(&["token", "revoke", "no-such-id"], &[]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("token no-such-id was not found"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn seed_rejects_invalid_files_and_stores_nothing() {
    let env = Env::new();
    let file = env.dir.join("org.yaml");
    std::fs::write(&file, "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata: { name: eve }\nspec: { memberOf: [] }\n---\nkind: Group\nmetadata: { name: x }\nspec: { type: team, children: [] }\n")
        .expect("write");
    let output = env.run(&["seed", "--file", &file.display().to_string()], &[]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("nothing was stored")
            && err.contains("org.yaml: document 2: apiVersion: is required"),
        "{err}"
    );
    let create = env.run(&["token", "create", "--user", "eve"], &[]);
    assert!(!create.status.success(), "eve was not stored");
}

#[test]
fn serve_stops_gracefully_on_sigterm() {
    let env = Env::new();
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let mut child = env
        .command(&["serve"])
        .env("CAUSEWAY_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    let mut ready = false;
    while started.elapsed() < Duration::from_secs(20) {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = stream
                .write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
            let mut response = String::new();
            let _ = stream.read_to_string(&mut response);
            if response.starts_with("HTTP/1.1 200") {
                ready = true;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(ready, "the server became ready");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop within 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = child.wait_with_output().expect("output");
    assert!(status.success(), "exit status {status}");
    assert!(
        stderr(&output).contains("Causeway stopped"),
        "{}",
        stderr(&output)
    );
}

/// One HTTP/1.1 request on a new connection: the status and the body, or `None` when the server
/// does not accept the connection.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.get(9..12)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

/// The holder of the drift reconciler's lease, read from the server's SQLite database.
fn lease_holder(env: &Env) -> Option<String> {
    use sqlx::Connection as _;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut db = sqlx::SqliteConnection::connect(&env.database_url())
            .await
            .ok()?;
        sqlx::query_scalar::<_, String>("SELECT holder FROM leases WHERE name = 'drift-reconciler'")
            .fetch_optional(&mut db)
            .await
            .ok()
            .flatten()
    })
}

#[test]
fn sigterm_turns_readiness_503_while_requests_are_still_served() {
    let env = Env::new();
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let delay = Duration::from_secs(3);
    let mut child = env
        .command(&["serve"])
        .env("CAUSEWAY_LISTEN", format!("127.0.0.1:{port}"))
        .env("CAUSEWAY_SHUTDOWN_DELAY_SECS", delay.as_secs().to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20)
        && !(get(port, "/readyz").is_some_and(|(status, _)| status == 200)
            && lease_holder(&env).is_some())
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        lease_holder(&env).is_some(),
        "the server became ready and took the drift reconciler's lease"
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let signalled = Instant::now();
    // Readiness turns 503 at once, while the server still accepts and answers requests.
    let mut draining = None;
    while draining.is_none() && signalled.elapsed() < Duration::from_secs(2) {
        match get(port, "/readyz") {
            Some((503, body)) => draining = Some(body),
            Some(_) => std::thread::sleep(Duration::from_millis(20)),
            None => break,
        }
    }
    let body = draining.expect("/readyz answered 503 after SIGTERM, before the listener closed");
    assert!(body.contains("\"draining\""), "{body}");
    assert_eq!(
        get(port, "/healthz").map(|(status, _)| status),
        Some(200),
        "requests are still served during the delay"
    );
    // The lease is given up right after readiness turns 503 (the same drain step), well inside
    // the shutdown delay; poll briefly rather than race the step on a busy machine.
    let released = Instant::now();
    while lease_holder(&env).is_some() && released.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        lease_holder(&env),
        None,
        "the lease is released for another replica during the delay"
    );
    std::thread::sleep(delay / 2);
    assert_eq!(
        get(port, "/readyz").map(|(status, _)| status),
        Some(503),
        "still serving, still draining, halfway through the delay"
    );

    let deadline = signalled + delay + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        signalled.elapsed() >= delay,
        "served for the whole delay: stopped after {:?}",
        signalled.elapsed()
    );
    let output = child.wait_with_output().expect("output");
    assert!(status.success(), "exit status {status}");
    assert_eq!(lease_holder(&env), None, "the lease was not taken again");
    let log = stderr(&output);
    assert!(log.contains("Causeway stopped"), "{log}");
}

#[test]
fn template_dry_run_renders_a_directory_without_a_server() {
    let cli = Env::new();
    let dir = cli.dir.join("tpl");
    std::fs::create_dir_all(dir.join("skeleton/${{ values.name }}")).unwrap();
    std::fs::write(
        dir.join("template.yaml"),
        r#"apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: lib
spec:
  owner: group:default/payments
  type: library
  parameters:
    - required: [name]
      properties:
        name: { type: string, pattern: "^[a-z]+$" }
  steps:
    - id: fetch
      action: fetch:template
      input:
        url: ./skeleton
        values: { name: "${{ parameters.name }}" }
    - id: register
      action: publish:github
      input:
        repoUrl: github.com?owner=x&repo=y
  output:
    links:
      - title: Entity
        entityRef: ${{ steps.register.output.entityRef }}
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("skeleton/${{ values.name }}/lib.txt"),
        "I am ${{ values.name }}\n",
    )
    .unwrap();
    let out = cli.dir.join("out");
    let dir_arg = dir.display().to_string();
    let out_arg = out.display().to_string();
    let dry_run = |values: &str, out: Option<&str>| {
        let mut args = vec!["template", "dry-run", &dir_arg, "--values", values];
        args.extend(out.map(|o| ["--out", o]).into_iter().flatten());
        cli.command(&args).output().unwrap()
    };
    let output = dry_run(r#"{"name":"ledger"}"#, Some(&out_arg));
    // Causeway has no publish:github, so the template is refused before anything runs.
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("publish:github"),
        "{}",
        stderr(&output)
    );
    assert!(!out.exists());
    std::fs::write(
        dir.join("template.yaml"),
        std::fs::read_to_string(dir.join("template.yaml"))
            .unwrap()
            .replace("action: publish:github", "action: debug:log")
            .replace("repoUrl: github.com?owner=x&repo=y", "message: registered"),
    )
    .unwrap();
    let output = dry_run(r#"{"name":"ledger"}"#, Some(&out_arg));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("ledger/lib.txt"),
        "{}",
        stdout(&output)
    );
    assert_eq!(
        std::fs::read_to_string(out.join("ledger/lib.txt")).unwrap(),
        "I am ledger\n"
    );
    // Invalid answers fail with the property named, and nothing is written.
    let output = dry_run(r#"{"name":"Ledger"}"#, None);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("name"), "{}", stderr(&output));
}

#[test]
fn the_platform_configuration_is_exported_checked_and_its_policies_tested() {
    let env = Env::new();
    // The embedded default, exported, is a configuration `platform check` accepts.
    let export = env.run(&["platform", "export"], &[]);
    assert!(export.status.success(), "{}", stderr(&export));
    let documents = stdout(&export);
    assert!(documents.contains("kind: Policy") && documents.contains("name: ceiling-cpu"));
    let config = env.dir.join("platform");
    std::fs::create_dir_all(&config).expect("dir");
    std::fs::write(config.join("platform.yaml"), &documents).expect("write");
    let check = env.run(&["platform", "check", config.to_str().expect("path")], &[]);
    assert!(check.status.success(), "{}", stderr(&check));
    assert!(stdout(&check).contains("valid;"), "{}", stdout(&check));

    // Cases with expectations: one holds, one fails, and the command says which.
    let cases = env.dir.join("cases.yaml");
    std::fs::write(
        &cases,
        r#"cases:
  - name: small dev request
    input: &small
      subject: environment
      service: { ref: "component:default/api", metadata: { name: api, annotations: {} }, spec: { lifecycle: production } }
      owner: { ref: "group:default/payments", name: payments }
      environment: { name: dev, ephemeral: false }
      request: { cpuMillis: 1000, memoryMib: 512, pods: 2 }
      team: { environments: [], totals: { cpuMillis: 0, memoryMib: 0, pods: 0 } }
    expect: { ceiling-cpu: allowed, cost-centre: allowed }
  - name: too much CPU
    input:
      subject: environment
      service: { ref: "component:default/api", metadata: { name: api, annotations: {} }, spec: { lifecycle: production } }
      owner: { ref: "group:default/payments", name: payments }
      environment: { name: dev, ephemeral: false }
      request: { cpuMillis: 9000, memoryMib: 512, pods: 2 }
      team: { environments: [], totals: { cpuMillis: 0, memoryMib: 0, pods: 0 } }
    expect: { ceiling-cpu: allowed }
"#,
    )
    .expect("write");
    let test = env.run(
        &[
            "policy",
            "test",
            config.to_str().expect("path"),
            "--input",
            cases.to_str().expect("path"),
        ],
        &[],
    );
    assert!(!test.status.success());
    let out = stdout(&test);
    assert!(out.contains("small dev request: allowed"), "{out}");
    assert!(out.contains("too much CPU: denied"), "{out}");
    assert!(
        out.contains(
            "denied   ceiling-cpu (set.cpu): 9000m of CPU is above the ceiling of 8000m for dev"
        ),
        "{out}"
    );
    assert!(
        stderr(&test).contains("too much CPU: ceiling-cpu expected \"allowed\", got \"denied\""),
        "{}",
        stderr(&test)
    );

    // A broken configuration is refused with its file, line and field.
    std::fs::write(config.join("broken.yaml"), "apiVersion: causeway.dev/v1alpha1\nkind: Policy\nmetadata: { name: broken }\nspec:\n  appliesTo: [environment]\n  field: x\n  expression: 'request.pods <'\n  message: \"'m'\"\n  fix: f\n").expect("write");
    let check = env.run(&["platform", "check", config.to_str().expect("path")], &[]);
    assert!(!check.status.success());
    assert!(
        stderr(&check).contains("broken.yaml:7: spec.expression: is not valid CEL"),
        "{}",
        stderr(&check)
    );
}

#[test]
fn an_ephemeral_environment_is_extended_within_its_maximum() {
    let env = Env::new();
    let gitops = env.dir.join("gitops").display().to_string();
    let vars = [("CAUSEWAY_GITOPS_DIR", gitops.as_str())];
    assert!(env.run(&["seed"], &vars).status.success());
    let target = ["--service", "payments-api", "--env", "preview"];
    let run = |verb: &[&str], extra: &[&str]| {
        let args: Vec<&str> = ["provision"]
            .iter()
            .chain(verb)
            .chain(&target)
            .chain(extra)
            .copied()
            .collect();
        env.run(&args, &vars)
    };
    let applied = run(&["apply"], &[]);
    assert!(applied.status.success(), "{}", stderr(&applied));

    let extended = run(&["extend"], &["--ttl", "5d"]);
    assert!(extended.status.success(), "{}", stderr(&extended));
    assert!(
        stdout(&extended).contains("payments-api-preview (preview) now expires at")
            && stdout(&extended).contains("in 5 d"),
        "{}",
        stdout(&extended)
    );
    let status = run(&["status"], &[]);
    assert!(
        stdout(&status).contains("expires at") && stdout(&status).contains("(in 5 d)"),
        "{}",
        stdout(&status)
    );

    let beyond = run(&["extend"], &["--ttl", "8d"]);
    assert!(!beyond.status.success());
    assert!(
        stderr(&beyond).contains(
            "ttl_seconds: 691200 seconds (8 d) is beyond the limit of the preview environment"
        ),
        "{}",
        stderr(&beyond)
    );
    let unreadable = run(&["extend"], &["--ttl", "5w"]);
    assert!(!unreadable.status.success());
    assert!(
        stderr(&unreadable).contains("--ttl \"5w\""),
        "{}",
        stderr(&unreadable)
    );
}
