//! Upgrading a service to a new version of its template, on the embedded `local` git host: a
//! service made by running version 1 for real, edited by its team in a clone, then upgraded to
//! version 2 as a branch — the team's edits kept, the template's changes merged, a file the team
//! deleted still deleted, a new parameter at its default, conflicts marked and listed, the
//! default branch untouched, and the same upgrade run again finding its own branch.

#[path = "support/upgrade_bed.rs"]
mod bed;

use bed::{Bed, V1, V2, edit, git, git_raw, team_edits};
use causeway_platform::Error;
use causeway_platform::scaffolder::upgrade::{ChangeState, UpgradeStatus, branch_name};
use serde_json::json;

/// The bare repository of the service `name` on the embedded host.
fn bare(bed: &Bed, name: &str) -> std::path::PathBuf {
    bed.dir.join("git/payments").join(format!("{name}.git"))
}

/// The file `path` on `branch` of the bare repository `repo`, or `None` when it has none.
fn show(repo: &std::path::Path, branch: &str, path: &str) -> Option<String> {
    let output = git_raw(repo, &["show", &format!("{branch}:{path}")], &[]);
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

#[tokio::test]
async fn an_upgrade_merges_the_template_into_the_teams_repository_as_a_branch() {
    let bed = Bed::local().await;
    let service = bed.create("ledger").await;
    let annotations = &service["metadata"]["annotations"];
    assert_eq!(annotations["causeway.dev/template-version"], V1);
    let repo = bare(&bed, "ledger");
    let clone = bed.clone_of(&repo.display().to_string(), "ledger-clone", &[]);
    let head = team_edits(&clone, &[]);

    let request = bed
        .request(&service, bed.template(2, json!({})), "ada")
        .await;
    let outcome = bed
        .scaffolder
        .upgrade_service(&request)
        .await
        .expect("upgraded");
    let branch = branch_name("upgradable", V2);
    assert_eq!(outcome.status, UpgradeStatus::Open, "{outcome:?}");
    assert_eq!(outcome.branch.as_deref(), Some(branch.as_str()));
    assert_eq!(outcome.change_url, None);
    assert_eq!(outcome.change_number, None);
    assert!(outcome.conflicts.is_empty(), "{outcome:?}");
    assert_eq!(outcome.kept_deleted, ["notes.txt"]);
    assert!(
        outcome
            .notes
            .iter()
            .any(|n| n.starts_with("tier:") && n.contains("\"standard\"")),
        "{outcome:?}"
    );

    // The default branch is untouched; the branch is one commit on top of it, by the requester,
    // marked with the upgrade's trailer.
    let commit = outcome.commit.clone().expect("a commit");
    assert_eq!(git(&repo, &["rev-parse", "refs/heads/main"], &[]), head);
    assert_eq!(
        git(&repo, &["rev-parse", &format!("refs/heads/{branch}")], &[]),
        commit
    );
    assert_eq!(git(&repo, &["rev-parse", &format!("{commit}^")], &[]), head);
    let message = git(
        &repo,
        &["log", "-1", "--format=%an <%ae>%n%B", &commit],
        &[],
    );
    assert!(
        message.starts_with("Ada Okafor <ada@example.com>"),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "Causeway-Upgrade: template:default/upgradable@{V2}"
        )),
        "{message}"
    );
    assert!(message.contains("- notes.txt"), "{message}");

    // The team's port and the template's timeout; the README's new line; notes.txt still
    // deleted; the new file with the new parameter's default.
    let app = show(&repo, &branch, "app.txt").expect("app.txt");
    assert!(
        app.contains("port = 9090") && app.contains("timeout = 45"),
        "{app}"
    );
    assert!(!app.contains("<<<<<<<"), "{app}");
    let readme = show(&repo, &branch, "README.md").expect("README.md");
    assert!(readme.contains("make run"), "{readme}");
    assert_eq!(show(&repo, &branch, "notes.txt"), None);
    assert_eq!(
        show(&repo, &branch, "tier.txt").as_deref(),
        Some("tier = standard\n")
    );
    // The descriptor moves to version 2 with the answers it was rendered with; nothing else in
    // it changes, since both versions were rendered as the run that created the service.
    let descriptor = show(&repo, &branch, "catalog-info.yaml").expect("catalog-info.yaml");
    let before = show(&repo, "main", "catalog-info.yaml").expect("catalog-info.yaml");
    assert!(
        descriptor.contains(V2) && !descriptor.contains(V1),
        "{descriptor}"
    );
    assert!(descriptor.contains("tier"), "{descriptor}");
    let changed: Vec<(&str, &str)> = before
        .lines()
        .zip(descriptor.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(changed.len(), 2, "{changed:?}");

    // Run again: the same branch and commit, nothing pushed.
    let again = bed
        .scaffolder
        .upgrade_service(&request)
        .await
        .expect("again");
    assert_eq!(again, outcome);
    assert_eq!(
        git(&repo, &["rev-parse", &format!("refs/heads/{branch}")], &[]),
        commit
    );

    // What the upgrade wrote is audited once, with the request id; the run that found its
    // branch wrote nothing.
    let audited: Vec<_> = bed
        .platform
        .audit
        .recent(50)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.action == "scaffolder.upgrade.change")
        .collect();
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0].target, "component:default/ledger");
    assert_eq!(audited[0].actor, "user:default/ada");
    assert_eq!(audited[0].request_id.as_deref(), Some("req-upgrade"));
    assert_eq!(audited[0].detail["branch"], branch.as_str());

    // The team moves on meanwhile: run again, the upgrade's own commit is made again on the new
    // head, and the branch moves with it.
    std::fs::write(clone.join("CHANGELOG.md"), "Ported to 9090.\n").unwrap();
    git(&clone, &["add", "CHANGELOG.md"], &[]);
    git(&clone, &["commit", "--quiet", "-m", "A changelog"], &[]);
    git(&clone, &["push", "--quiet", "origin", "main"], &[]);
    let moved = git(&clone, &["rev-parse", "HEAD"], &[]);
    let again = bed
        .scaffolder
        .upgrade_service(&request)
        .await
        .expect("again");
    let commit = again.commit.clone().expect("a commit");
    assert_ne!(Some(&commit), outcome.commit.as_ref());
    assert_eq!(
        (again.status, &again.branch),
        (UpgradeStatus::Open, &outcome.branch)
    );
    assert_eq!(
        git(&repo, &["rev-parse", &format!("{commit}^")], &[]),
        moved
    );
    assert_eq!(
        git(&repo, &["rev-parse", &format!("refs/heads/{branch}")], &[]),
        commit
    );
    assert!(show(&repo, &branch, "CHANGELOG.md").is_some());

    // Followed until merged: open, then merged once the team merges the branch.
    let state = bed
        .scaffolder
        .change_state(&service, &branch, None)
        .await
        .unwrap();
    assert_eq!(state, ChangeState::Open);
    git(&clone, &["fetch", "--quiet", "origin", &branch], &[]);
    git(
        &clone,
        &["merge", "--quiet", "--ff-only", "FETCH_HEAD"],
        &[],
    );
    git(&clone, &["push", "--quiet", "origin", "main"], &[]);
    let state = bed
        .scaffolder
        .change_state(&service, &branch, None)
        .await
        .unwrap();
    assert_eq!(state, ChangeState::Merged);

    // Once merged, the repository holds version 2: upgrading again changes nothing.
    let current = bed
        .scaffolder
        .upgrade_service(&request)
        .await
        .expect("current");
    assert_eq!(current.status, UpgradeStatus::Current, "{current:?}");
    assert_eq!((current.branch, current.commit), (None, None));
    let _ = std::fs::remove_dir_all(&bed.dir);
}

#[tokio::test]
async fn a_conflicting_upgrade_is_marked_and_listed() {
    let bed = Bed::local().await;
    let service = bed.create("billing").await;
    let repo = bare(&bed, "billing");
    let clone = bed.clone_of(&repo.display().to_string(), "billing-clone", &[]);
    // The team changes the line version 2 changes.
    edit(&clone, "app.txt", "timeout = 30", "timeout = 120");
    git(
        &clone,
        &["commit", "--quiet", "-am", "A longer timeout"],
        &[],
    );
    git(&clone, &["push", "--quiet", "origin", "main"], &[]);
    let head = git(&clone, &["rev-parse", "HEAD"], &[]);

    let request = bed
        .request(&service, bed.template(2, json!({})), "linus")
        .await;
    let outcome = bed
        .scaffolder
        .upgrade_service(&request)
        .await
        .expect("upgraded");
    assert_eq!(outcome.status, UpgradeStatus::Conflict, "{outcome:?}");
    assert_eq!(outcome.conflicts, ["app.txt"]);
    assert!(outcome.kept_deleted.is_empty(), "{outcome:?}");
    let branch = outcome.branch.clone().expect("a branch");
    let app = show(&repo, &branch, "app.txt").expect("app.txt");
    assert!(app.contains("<<<<<<<") && app.contains(">>>>>>>"), "{app}");
    assert!(
        app.contains("timeout = 120") && app.contains("timeout = 45"),
        "{app}"
    );
    // The rest merged: the template's notes change applies to the team's untouched file.
    let notes = show(&repo, &branch, "notes.txt").expect("notes.txt");
    assert!(notes.contains("revised"), "{notes}");
    assert_eq!(git(&repo, &["rev-parse", "refs/heads/main"], &[]), head);
    let message = git(&repo, &["log", "-1", "--format=%B", &branch], &[]);
    assert!(
        message.contains("Conflicts") && message.contains("- app.txt"),
        "{message}"
    );

    // Run again after the team resolved the conflict on the branch: their work is left alone.
    let work = bed.clone_of(&repo.display().to_string(), "billing-resolve", &[]);
    git(&work, &["checkout", "--quiet", &branch], &[]);
    std::fs::write(
        work.join("app.txt"),
        show(&repo, "main", "app.txt")
            .unwrap()
            .replace("timeout = 120", "timeout = 90"),
    )
    .unwrap();
    git(&work, &["commit", "--quiet", "-am", "Resolved"], &[]);
    git(&work, &["push", "--quiet", "origin", &branch], &[]);
    let resolved = git(&work, &["rev-parse", "HEAD"], &[]);
    let again = bed
        .scaffolder
        .upgrade_service(&request)
        .await
        .expect("again");
    assert_eq!(again.commit.as_deref(), Some(resolved.as_str()));
    assert!(
        again.notes.iter().any(|n| n.contains("left as it is")),
        "{again:?}"
    );
    assert_eq!(
        git(&repo, &["rev-parse", &format!("refs/heads/{branch}")], &[]),
        resolved
    );
    let _ = std::fs::remove_dir_all(&bed.dir);
}

#[tokio::test]
async fn upgrades_are_refused_with_the_field_and_the_rule() {
    let bed = Bed::local().await;
    let service = bed.create("refunds").await;
    let field = |error: Error| match error {
        Error::InvalidInput { field, rule } => (field, rule),
        other => panic!("expected invalid input, got {other:?}"),
    };

    // Another team's developer may not.
    let request = bed
        .request(&service, bed.template(2, json!({})), "grace")
        .await;
    let refused = bed.scaffolder.upgrade_service(&request).await.unwrap_err();
    assert!(
        matches!(&refused, Error::Forbidden(m) if m.contains("group:default/payments")),
        "{refused:?}"
    );

    // A new required parameter without a default is named, so that the portal can ask for it;
    // given with the answers, the upgrade goes ahead with it.
    let target = bed.template(2, json!({ "region": { "type": "string" } }));
    let mut request = bed.request(&service, target, "ada").await;
    let (name, rule) = field(bed.scaffolder.upgrade_service(&request).await.unwrap_err());
    assert_eq!(name, "region", "{rule}");
    request.answers["region"] = json!("eu-west");
    let outcome = bed
        .scaffolder
        .upgrade_service(&request)
        .await
        .expect("with region");
    assert_eq!(outcome.status, UpgradeStatus::Open, "{outcome:?}");

    // The base must be the version the service is on.
    let mut request = bed
        .request(&service, bed.template(2, json!({})), "ada")
        .await;
    request.base_version = "sha256:0000".to_owned();
    let (name, _) = field(bed.scaffolder.upgrade_service(&request).await.unwrap_err());
    assert_eq!(name, "base_version");

    // A service the catalog does not hold is not found, whatever the entity sent says.
    let mut unknown = service.clone();
    unknown["metadata"]["name"] = json!("not-in-the-catalog");
    let request = bed
        .request(&unknown, bed.template(2, json!({})), "ada")
        .await;
    let refused = bed.scaffolder.upgrade_service(&request).await.unwrap_err();
    assert!(matches!(refused, Error::NotFound(_)), "{refused:?}");

    // A service that was not made from a template has nothing to upgrade from.
    let component = |name: &str, annotations: &str| {
        format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n  annotations:\n    {annotations}\nspec: {{ type: service, lifecycle: production, owner: group:default/payments }}\n---\n"
        )
    };
    let recorded = format!(
        "backstage.io/source-template: template:default/upgradable\n    causeway.dev/template-version: \"{V1}\"\n    causeway.dev/template-task: run-1\n    causeway.dev/template-answers: '{{\"name\":\"elsewhere\",\"owner\":\"group:default/payments\"}}'\n    backstage.io/managed-by-origin-location: git:file://{}#main:catalog-info.yaml",
        bed.dir.display()
    );
    bed.ingest(&format!(
        "{}{}",
        component("plain", "example.com/note: hand-written"),
        component("elsewhere", &recorded)
    ))
    .await;
    let request = bed
        .request(&bed.entity("plain"), bed.template(2, json!({})), "ada")
        .await;
    let (name, _) = field(bed.scaffolder.upgrade_service(&request).await.unwrap_err());
    assert_eq!(
        name,
        "metadata.annotations[\"causeway.dev/template-version\"]"
    );

    // A repository outside the embedded host's directory is never written to.
    let request = bed
        .request(&bed.entity("elsewhere"), bed.template(2, json!({})), "ada")
        .await;
    let (name, rule) = field(bed.scaffolder.upgrade_service(&request).await.unwrap_err());
    assert_eq!(
        name, "metadata.annotations[\"backstage.io/managed-by-origin-location\"]",
        "{rule}"
    );
    let _ = std::fs::remove_dir_all(&bed.dir);
}
