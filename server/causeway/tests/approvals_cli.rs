//! `causeway provision apply` and `causeway approval …` as real processes over one SQLite
//! database and the GitOps target: a prod apply stops at an approval, someone outside the
//! approvers is refused, a rejection needs a comment, and an approver's approve runs the apply.

use std::process::Output;

struct Env {
    dir: std::path::PathBuf,
}

impl Env {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("causeway-approvals-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self { dir }
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_causeway"));
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("CAUSEWAY_")) {
            command.env_remove(key);
        }
        command
            .env(
                "CAUSEWAY_DATABASE_URL",
                format!("sqlite://{}/causeway.db", self.dir.display()),
            )
            .env("CAUSEWAY_GITOPS_DIR", self.dir.join("gitops"))
            .env("CAUSEWAY_LOG_FORMAT", "json")
            .env("USER", "ada")
            .args(args)
            .output()
            .expect("run causeway")
    }

    /// Runs a command that must succeed; its standard output.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs a command that must fail; its standard error.
    fn fails(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(!output.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&output.stderr).into_owned()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn a_prod_apply_waits_for_an_approver_on_the_command_line() {
    let env = Env::new();
    env.ok(&["seed"]);
    let component = env.dir.join("vault.yaml");
    std::fs::write(
        &component,
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: vault\n  annotations:\n    causeway.dev/on-call: payments-rota\n    causeway.dev/cost-centre: cc-4711\nspec:\n  type: service\n  lifecycle: production\n  owner: group:default/payments\n",
    )
    .expect("write");
    env.ok(&["catalog", "import", component.to_str().expect("path")]);

    let requested = env.ok(&["provision", "apply", "--service", "vault", "--env", "prod"]);
    assert!(
        requested.contains("prod needs an approval from group:default/platform"),
        "{requested}"
    );
    assert!(
        requested.contains("create     Namespace/vault-prod"),
        "{requested}"
    );
    let listed = env.ok(&["approval", "list", "--status", "pending"]);
    let id = listed.split('\t').next().expect("an approval").to_owned();
    assert!(listed.contains("vault-prod\tcli:ada"), "{listed}");

    let refused = env.fails(&["approval", "approve", &id, "--as", "user:default/grace"]);
    assert!(
        refused.contains("only members of group:default/platform"),
        "{refused}"
    );
    let refused = env.fails(&["approval", "reject", &id, "--as", "user:default/linus"]);
    assert!(
        refused.contains("comment: a rejection says why"),
        "{refused}"
    );
    let refused = env.fails(&["approval", "list", "--status", "maybe"]);
    assert!(refused.contains("--status"), "{refused}");

    let approved = env.ok(&[
        "approval",
        "approve",
        &id,
        "--as",
        "user:default/linus",
        "--comment",
        "fine",
    ]);
    assert!(
        approved.contains(&format!("Approved {id} (vault-prod)")),
        "{approved}"
    );
    assert!(approved.contains("[commit] committed "), "{approved}");
    let shown = env.ok(&["approval", "show", &id]);
    assert!(shown.contains("(approved)"), "{shown}");
    assert!(
        shown.contains("decided by user:default/linus: fine"),
        "{shown}"
    );
    let again = env.fails(&["approval", "approve", &id, "--as", "user:default/linus"]);
    assert!(again.contains("already approved"), "{again}");
}
