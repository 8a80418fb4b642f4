//! Mounts the app; everything else lives in the library.

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(meshchat_web::App);
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("meshchat-web runs in a browser: build it with trunk (see the README)");
}
