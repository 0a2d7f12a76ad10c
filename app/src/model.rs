//! View models: what the server functions send to the pages. They are plain data so the browser
//! build, which cannot link the domain crate, can use them too.

use serde::{Deserialize, Serialize};

/// The signed-in user as the portal shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub entity_ref: String,
    pub display_name: String,
    pub email: Option<String>,
    pub teams: Vec<TeamView>,
    pub platform_admin: bool,
}

/// A team, by reference and display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamView {
    pub entity_ref: String,
    pub display_name: String,
}

/// One entity in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityRow {
    pub entity_ref: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub spec_type: Option<String>,
    pub lifecycle: Option<String>,
    pub owner_ref: Option<String>,
}

impl EntityRow {
    /// The portal path of the entity's page.
    pub fn href(&self) -> String {
        format!(
            "/catalog/{}/{}/{}",
            self.namespace,
            self.kind.to_ascii_lowercase(),
            self.name
        )
    }

    /// Whether `needle` (already lowercase) occurs in the name, title, kind, type or description.
    pub fn matches(&self, needle: &str) -> bool {
        needle.is_empty()
            || [
                Some(&self.name),
                self.title.as_ref(),
                Some(&self.kind),
                self.spec_type.as_ref(),
                self.description.as_ref(),
            ]
            .into_iter()
            .flatten()
            .any(|field| field.to_lowercase().contains(needle))
    }
}

/// Everything the home page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeView {
    pub user: UserView,
    pub owned: Vec<EntityRow>,
}

/// What the sign-in page offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInChoices {
    /// Whether the development sign-in is enabled (`auth_mode = "dev"`).
    pub dev_sign_in: bool,
    /// Known users (reference, display name), offered by the development sign-in.
    pub users: Vec<(String, String)>,
}
