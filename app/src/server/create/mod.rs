//! Building the create pages' views: the templates list (`list.rs`), the wizard's form model
//! (`form.rs`), how each answer is asked for (`fields.rs`) with the pickers' catalog choices
//! (`choices.rs`), its steps (`wizard.rs`), the review with its dry run (`review.rs`), and a
//! finished run's output (`output.rs`); template authoring for platform admins (`author.rs`);
//! a template's versions and the difference between two (`versions.rs`).

pub mod author;
pub mod choices;
pub mod fields;
pub mod form;
pub mod list;
pub mod output;
pub mod review;
pub mod versions;
pub mod wizard;
