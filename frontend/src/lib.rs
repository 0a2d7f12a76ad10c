//! The WebAssembly entry point. The server has already rendered the page; this only attaches the
//! reactive system to that HTML, so everything works before (and without) it.

use wasm_bindgen::prelude::wasm_bindgen;

/// Called by the script that `HydrationScripts` puts into every page.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(causeway_app::App);
}
