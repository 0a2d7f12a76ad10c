//! Following `kind: Location` entities in file locations.

use std::path::PathBuf;

use super::*;

const COMPONENT: &str = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: NAME\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n";

fn location(name: &str, targets: &[&str]) -> String {
    let list = targets
        .iter()
        .map(|t| format!("{t:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: {name}\nspec:\n  targets: [{list}]\n"
    )
}

/// `outer/secret.yaml` and `outer/location/{catalog-info,ok,sub/inner}.yaml`; the location is
/// registered at `outer/location/catalog-info.yaml`.
fn tree(root_text: &str) -> (PathBuf, Location) {
    let outer = std::env::temp_dir().join(format!("causeway-locations-{}", uuid::Uuid::new_v4()));
    let dir = outer.join("location");
    std::fs::create_dir_all(dir.join("sub")).expect("dirs");
    std::fs::write(
        outer.join("secret.yaml"),
        COMPONENT.replace("NAME", "secret"),
    )
    .expect("write");
    std::fs::write(dir.join("ok.yaml"), COMPONENT.replace("NAME", "ok")).expect("write");
    std::fs::write(
        dir.join("sub/inner.yaml"),
        location("inner", &["../ok.yaml"]),
    )
    .expect("write");
    std::fs::write(dir.join("catalog-info.yaml"), root_text).expect("write");
    let root = Location {
        id: "l".to_owned(),
        kind: "file".to_owned(),
        target: dir.join("catalog-info.yaml").display().to_string(),
        refreshed_at_millis: None,
        last_error: None,
    };
    (outer, root)
}

#[tokio::test]
async fn targets_stay_inside_the_location_directory() {
    // Relative targets resolve against the file that names them, as in Backstage, and may climb
    // back up as long as they stay inside the registered location's directory.
    let (outer, root) = tree(&location("root", &["./sub/inner.yaml"]));
    let processed = read_tree(&root, &ReadPolicy::default())
        .await
        .expect("inside");
    let mut names: Vec<&str> = processed.iter().map(|p| p.entity_ref.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "component:default/ok",
            "location:default/inner",
            "location:default/root"
        ]
    );
    let _ = std::fs::remove_dir_all(outer);

    let (outer, root) = tree(&location(
        "root",
        &["./ok.yaml", "../secret.yaml", "/etc/hostname"],
    ));
    let Err(Error::Rejected(problems)) = read_tree(&root, &ReadPolicy::default()).await else {
        panic!("targets outside the directory are refused");
    };
    let found: Vec<(&str, &str)> = problems
        .iter()
        .map(|p| (p.field.as_str(), p.message.as_str()))
        .collect();
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].0, "spec.targets.1");
    assert!(
        found[0]
            .1
            .contains("points outside the location's directory"),
        "{found:?}"
    );
    assert_eq!(found[1].0, "spec.targets.2");
    assert!(found[1].1.contains("not an absolute path"), "{found:?}");
    let _ = std::fs::remove_dir_all(outer);
}

#[cfg(unix)]
#[tokio::test]
async fn symbolic_links_do_not_lead_out() {
    let (outer, root) = tree(&location("root", &["./link.yaml"]));
    std::os::unix::fs::symlink(outer.join("secret.yaml"), outer.join("location/link.yaml"))
        .expect("symlink");
    let err = read_tree(&root, &ReadPolicy::default())
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, Error::InvalidInput { field, rule } if field == "spec.target" && rule.contains("symbolic link")),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(outer);
}
