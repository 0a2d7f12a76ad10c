//! How an upgrade names what it makes: its branch, the trailer that marks its commit, its
//! change's description and its commit's author.

use crate::identity::Principal;

/// The trailer that marks the commit of an upgrade to `version` of `template`: an upgrade run
/// again finds its own branch by it.
pub fn trailer(template: &str, version: &str) -> String {
    format!("Causeway-Upgrade: {template}@{version}")
}

/// The branch of an upgrade to `version` of the template named `name`:
/// `causeway/upgrade-<name>-<first 12 characters of the version>`.
pub fn branch_name(name: &str, version: &str) -> String {
    let clean = |text: &str| -> String {
        text.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect::<String>()
            .trim_matches(|c| matches!(c, '-' | '.'))
            .replace("..", ".")
    };
    let version = clean(short(version));
    format!("causeway/upgrade-{}-{version}", clean(name))
}

/// The first characters of a version, as people read it.
pub(super) fn short(version: &str) -> &str {
    let hex = version.strip_prefix("sha256:").unwrap_or(version);
    &hex[..hex.char_indices().nth(12).map_or(hex.len(), |(i, _)| i)]
}

/// What a change's description says: the conflicts, the files kept deleted and the notes.
pub(super) fn summary(conflicts: &[String], kept_deleted: &[String], notes: &[String]) -> String {
    let mut text = String::new();
    if conflicts.is_empty() {
        text.push_str("The template's changes merged cleanly; the team's own edits are kept.\n");
    } else {
        text.push_str(
            "Conflicts, marked in the files (resolve them on this branch before merging):\n",
        );
        for path in conflicts {
            text.push_str(&format!("- {path}\n"));
        }
    }
    if !kept_deleted.is_empty() {
        text.push_str("\nDeleted by the team and changed by the template; they stay deleted:\n");
        for path in kept_deleted {
            text.push_str(&format!("- {path}\n"));
        }
    }
    if !notes.is_empty() {
        text.push_str("\nNotes:\n");
        for note in notes {
            text.push_str(&format!("- {note}\n"));
        }
    }
    text
}

/// The upgrade commit's author: the person who asked for it.
pub(super) fn author(principal: &Principal) -> (String, String) {
    let name = if principal.display_name.is_empty() {
        principal.entity_ref.clone()
    } else {
        principal.display_name.clone()
    };
    let email = principal.email.clone().unwrap_or_else(|| {
        format!(
            "{}@causeway.invalid",
            principal.entity_ref.replace([':', '/'], ".")
        )
    });
    (name, email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches_are_named_for_the_template_and_the_version() {
        assert_eq!(
            branch_name("service", "sha256:0123456789abcdef"),
            "causeway/upgrade-service-0123456789ab"
        );
        assert_eq!(
            branch_name("Odd Name", "v2 (beta)"),
            "causeway/upgrade-odd-name-v2--beta"
        );
        assert_eq!(
            trailer("template:default/service", "sha256:01"),
            "Causeway-Upgrade: template:default/service@sha256:01"
        );
    }

    #[test]
    fn the_summary_lists_conflicts_deleted_files_and_notes() {
        let text = summary(
            &["app.txt".to_owned()],
            &["notes.txt".to_owned()],
            &["tier: new".to_owned()],
        );
        assert!(text.contains("- app.txt\n"), "{text}");
        assert!(text.contains("stay deleted:\n- notes.txt\n"), "{text}");
        assert!(text.contains("Notes:\n- tier: new\n"), "{text}");
        assert!(summary(&[], &[], &[]).contains("merged cleanly"));
    }
}
