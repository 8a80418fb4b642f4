//! Screens few people open (the account panel, the admin console, the mesh
//! map, search, a person's card, the sidebar's dialogs, the open thread's
//! body, the mentions' list, the emoji picker; sign-in, which a person
//! whose session is kept never sees), each in a wasm module of its own
//! that is fetched the first time it opens (wasm-split:
//! scripts/build-web): the first load carries only what everyone uses. The
//! service worker keeps the modules with the rest of the app, so they open
//! offline too once it is installed.

use leptos::prelude::*;
use leptos::wasm_split::SplitLoaderError;

use crate::i18n::t;

/// A screen's module could not be fetched: no node answered before the
/// service worker kept it, or the node was updated since the page loaded.
#[derive(Debug)]
pub struct Unloaded;

impl From<SplitLoaderError> for Unloaded {
    fn from(_: SplitLoaderError) -> Self {
        Unloaded
    }
}

/// The screen once its module is here; if it cannot come, a dialog that
/// says so and closes like the screen (opening it again tries again: a
/// failed fetch is not remembered).
pub fn screen(
    load: impl Future<Output = Result<AnyView, Unloaded>> + Send + 'static,
    close: Callback<()>,
) -> impl IntoView {
    Suspend::new(async move {
        load.await.unwrap_or_else(|Unloaded| {
            view! {
                <super::dialogs::Dialog id="unloaded" title=t().unloaded_title close>
                    <p role="alert">{t().unloaded}</p>
                </super::dialogs::Dialog>
            }
            .into_any()
        })
    })
}
