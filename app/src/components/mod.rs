//! Pieces shared by several pages.

// Charts are drawn on the server only; the browser receives their SVG.
#[cfg(feature = "ssr")]
pub mod chart;
#[cfg(feature = "ssr")]
pub mod chart_scale;
pub mod error_panel;
pub mod layout;
