//! Imports: documents sent by a person (an upload in the portal or the API) or by the machine's
//! operator (`causeway catalog import`), stored all or nothing and audited once, in one shape,
//! whichever door they came through and however they ended.

use serde_json::{Value, json};

use super::{Catalog, IngestOptions, IngestReport};
use crate::audit::{Entry, Outcome};
use crate::identity::Principal;
use crate::{Error, Result};

/// Who imports.
#[derive(Debug, Clone, Copy)]
pub enum Importer<'a> {
    /// A signed-in person, held to the rules of [`Catalog::ingest_as`].
    Person(&'a Principal),
    /// The operator of the machine running the command line (`cli`), who could write to the
    /// database directly and is trusted as such.
    Operator(&'a str),
}

impl Importer<'_> {
    fn actor(&self) -> &str {
        match self {
            Self::Person(principal) => &principal.entity_ref,
            Self::Operator(name) => name,
        }
    }
}

impl Catalog {
    /// Stores `documents` from `location_key` as `importer` (all of them or none; see
    /// [`Catalog::ingest`]) and, unless it is a dry run, records `catalog.import` with how it
    /// ended: `success` with what changed, `denied` when a rule or policy refused it, `failed`
    /// otherwise, each with the number of documents and the error.
    pub async fn import(
        &self,
        importer: Importer<'_>,
        location_key: &str,
        documents: Vec<Value>,
        options: IngestOptions,
        request_id: Option<&str>,
    ) -> Result<IngestReport> {
        let count = documents.len();
        let result = match importer {
            Importer::Person(principal) => {
                self.ingest_as(principal, location_key, documents, options)
                    .await
            }
            Importer::Operator(_) => self.ingest(location_key, documents, options).await,
        };
        if options.dry_run {
            return result;
        }
        let (outcome, detail) = match &result {
            Ok(report) => (
                Outcome::Success,
                json!({
                    "documents": count,
                    "added": report.added.len(),
                    "updated": report.updated.len(),
                    "unchanged": report.unchanged.len(),
                    "orphaned": report.orphaned.len(),
                }),
            ),
            Err(error @ (Error::Forbidden(_) | Error::PolicyDenied(_))) => (
                Outcome::Denied,
                json!({ "documents": count, "error": error.to_string() }),
            ),
            Err(error) => (
                Outcome::Failed,
                json!({ "documents": count, "error": error.to_string() }),
            ),
        };
        if let Some(audit) = &self.audit {
            // The import has happened (or failed) by now; a failure to audit is logged rather
            // than turning a stored import into an error.
            if let Err(error) = audit
                .record(Entry {
                    actor: importer.actor(),
                    action: "catalog.import",
                    target: location_key,
                    outcome,
                    detail,
                    request_id,
                })
                .await
            {
                tracing::error!(%error, "could not write the audit record of catalog.import");
            }
        }
        result
    }
}
