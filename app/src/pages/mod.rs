//! One module per page.

pub mod home;
pub mod not_found;
pub mod not_yet;
pub mod sign_in;
