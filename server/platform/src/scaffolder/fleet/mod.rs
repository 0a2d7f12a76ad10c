//! A template's fleet: every service created from it, the version each is on, and upgrading them
//! to a newer version as reviewed changes. Each service's outcome is kept in `records.rs`.

pub mod records;

use self::records::UpgradeRecords;
use super::Scaffolder;
use crate::Result;

impl Scaffolder {
    /// The upgrade records.
    pub fn upgrades(&self) -> Result<&UpgradeRecords> {
        Ok(&self.services()?.upgrades)
    }
}
