//! Push notifications on this device (`push.js`: the push manager, the
//! node's key and subscription routes; `sw.js` shows them), for the
//! account panel's switch and the sign-out.

use wasm_bindgen_futures::JsFuture;

use crate::keep::call_on;

/// What the switch shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushState {
    On,
    Off,
    /// The person (or the browser) refused notifications to this site.
    Denied,
    Unsupported,
    Failed(String),
}

async fn ask(name: &str, args: &[&str]) -> PushState {
    let Some(p) = call_on("meshchatPush", name, args) else { return PushState::Unsupported };
    let said = JsFuture::from(p).await.ok().and_then(|v| v.as_string()).unwrap_or_default();
    match said.as_str() {
        "on" => PushState::On,
        "off" => PushState::Off,
        "denied" => PushState::Denied,
        "unsupported" => PushState::Unsupported,
        other => PushState::Failed(other.strip_prefix("error: ").unwrap_or(other).to_owned()),
    }
}

pub async fn state() -> PushState {
    ask("state", &[]).await
}

pub async fn enable(base: &str, token: &str, preview: bool) -> PushState {
    ask("enable", &[base, token, if preview { "1" } else { "0" }]).await
}

/// Off here and on the node (`token`: still signed in).
pub async fn disable(base: &str, token: &str) -> PushState {
    ask("disable", &[base, token]).await
}
