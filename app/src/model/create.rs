//! What the create pages show: the templates one may run, a wizard page generated from a
//! template's parameter schema, the review with its dry run, and a finished run's output.

use serde::{Deserialize, Serialize};

/// `/create`: the templates, narrowed by the filters in its address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplatesView {
    pub q: String,
    /// The chosen `spec.type`, tag and owner; empty for any.
    pub kind: String,
    pub tag: String,
    pub owner: String,
    /// Every value each filter may take, from all templates.
    pub kinds: Vec<String>,
    pub tags: Vec<String>,
    pub owners: Vec<String>,
    /// How many templates there are before filtering.
    pub total: usize,
    pub templates: Vec<TemplateCard>,
    /// Whether the reader may author templates (`/create/author`): platform admins.
    pub can_author: bool,
}

/// One template on `/create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateCard {
    pub entity_ref: String,
    pub title: String,
    pub description: String,
    /// `spec.type`.
    pub kind: String,
    pub tags: Vec<String>,
    pub owner: Option<String>,
    /// The template's catalog page.
    pub entity_href: String,
    /// The wizard, when the template can run here.
    pub wizard_href: Option<String>,
    /// Why it cannot run here, one line per problem.
    pub problems: Vec<String>,
}

/// How one answer is asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Control {
    /// `<input>` of a type (`text`, `email`, `url`, `date`).
    Text {
        input: String,
    },
    /// A textarea; `code` for JSON answers.
    TextArea {
        rows: u32,
        code: bool,
    },
    /// A whole or decimal number, with its bounds.
    Number {
        integer: bool,
        min: Option<String>,
        max: Option<String>,
    },
    Checkbox,
    /// A choice among values (value, label); `empty` offers no answer.
    Select {
        options: Vec<(String, String)>,
        empty: bool,
    },
    /// Free text with suggestions (value, label), for pickers that allow arbitrary values.
    Suggest {
        options: Vec<(String, String)>,
    },
    /// RepoUrlPicker: a host among `hosts`, an owner (among `owners` when restricted) and a
    /// repository, composed into `host?owner=o&repo=r` on the server.
    RepoUrl {
        hosts: Vec<String>,
        owners: Vec<String>,
        host: String,
        owner: String,
        repo: String,
    },
    Hidden,
}

/// One answer of a wizard page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldView {
    /// The property's name in the schema.
    pub name: String,
    pub label: String,
    pub help: Option<String>,
    pub required: bool,
    pub control: Control,
    /// The answer as the form shows it.
    pub value: String,
    pub placeholder: Option<String>,
    pub autofocus: bool,
    pub readonly: bool,
    /// What the server found wrong with it.
    pub error: Option<String>,
}

/// An answer carried from page to page in a hidden field: form name and value.
pub type Carried = (String, String);

/// One page of the wizard, as the stepper lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepLink {
    pub title: String,
    pub current: bool,
}

/// The parts every wizard page and the review share.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WizardHead {
    pub entity_ref: String,
    pub title: String,
    pub description: String,
    /// The wizard's own address, where its forms go.
    pub action: String,
    /// The shown pages and the review.
    pub steps: Vec<StepLink>,
}

/// A page of parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WizardPageView {
    pub head: WizardHead,
    /// The page's index among the template's pages.
    pub index: usize,
    pub title: String,
    pub description: Option<String>,
    pub fields: Vec<FieldView>,
    /// Answers of the other pages.
    pub carried: Vec<Carried>,
    /// Problems that belong to no field of the page.
    pub errors: Vec<String>,
    pub has_previous: bool,
    /// Whether the review follows this page.
    pub is_last: bool,
}

/// One answer on the review page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerRow {
    pub label: String,
    /// `None` for a masked answer, asked for below.
    pub value: Option<String>,
}

/// A file the dry run rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileView {
    pub path: String,
    /// The text, or `None` for a binary file.
    pub text: Option<String>,
    pub bytes: usize,
    pub executable: bool,
}

/// A step as the dry run saw it: name, action and status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DryRunStep {
    pub name: String,
    pub action: String,
    pub status: String,
}

/// The review: the answers, the dry run, and the form that creates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewView {
    pub head: WizardHead,
    pub answers: Vec<AnswerRow>,
    /// Every answer, for the form that goes back to the pages.
    pub carried: Vec<Carried>,
    /// The answers as JSON, posted with Create (masked fields excluded).
    pub values_json: String,
    /// Answers asked for only here, in password inputs: `ui:field: Secret` and
    /// `ui:widget: password` properties, never carried in an address or a hidden field.
    pub masked: Vec<FieldView>,
    pub steps: Vec<DryRunStep>,
    pub files: Vec<FileView>,
    /// Log lines: step and message.
    pub log: Vec<(Option<String>, String)>,
    /// Why the dry run stopped early, when it did.
    pub dry_run_error: Option<String>,
    /// Problems a failed Create reported that belong to no masked field.
    pub errors: Vec<String>,
}

/// A link a finished run offers: its title, and where it goes (a portal path or an `http(s)`
/// address) or, for anything else such as a `file://` clone URL, the text to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputLink {
    pub title: String,
    pub href: Option<String>,
    pub text: String,
}

/// What a finished template run produced (`output.links` and `output.text`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskOutputView {
    pub links: Vec<OutputLink>,
    /// Title and Markdown rendered to sanitised HTML.
    pub text: Vec<(String, String)>,
}

impl TaskOutputView {
    pub fn is_empty(&self) -> bool {
        self.links.is_empty() && self.text.is_empty()
    }
}

/// `/create/author`: a template pasted by a platform admin, checked, its wizard previewed and
/// dry-run, nothing registered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorView {
    /// `template.yaml` as pasted.
    pub yaml: String,
    /// The skeleton's files as path and text, with empty entries to add more.
    pub files: Vec<(String, String)>,
    /// Why the template cannot load, one `field: message` per problem.
    pub problems: Vec<String>,
    /// The wizard's pages, once the template loads.
    pub pages: Vec<AuthorPageView>,
    /// Masked answers, which the dry run fills with a placeholder and the page never asks for.
    pub masked: Vec<String>,
    /// Problems of the answers that belong to no field.
    pub errors: Vec<String>,
    pub dry_run: Option<DryRunView>,
    /// Why the last Publish as a new version was refused, as it came back in the address.
    pub publish_error: Option<String>,
}

/// One parameter page of the previewed wizard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorPageView {
    pub title: String,
    pub description: Option<String>,
    pub fields: Vec<FieldView>,
}

/// What a dry run rendered, logged and output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DryRunView {
    pub steps: Vec<DryRunStep>,
    pub files: Vec<FileView>,
    /// Log lines: step and message.
    pub log: Vec<(Option<String>, String)>,
    /// The output, as JSON.
    pub output: String,
    /// Why the dry run stopped early, when it did.
    pub error: Option<String>,
}
