//! Shared files: pictures shown inline (the node's thumbnail, the original
//! on click), other files as a card that downloads on click; uploads by
//! the paperclip, by dropping files on the page or pasting them, each with
//! its progress, a cancel, and a retry when it fails.
//!
//! File requests carry the session like every API call, so the browser
//! fetches them here and shows them through `blob:` URLs.

use std::collections::HashMap;

use leptos::prelude::*;
use meshchat_shared::client::annotate::FileRef;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{File, XmlHttpRequest};

use super::{Ctx, use_ctx};
use crate::i18n::{fill, size, t};

/// Fetches a file with the session; a `blob:` URL for it.
pub(super) async fn blob_url(ctx: &Ctx, path: &str) -> Option<String> {
    let req = crate::api::with_token(
        gloo_net::http::Request::get(&format!("{}{path}", ctx.api_base())),
        ctx.token().as_deref(),
    );
    let resp = req.send().await.ok().filter(|r| r.ok())?;
    let kind = resp.headers().get("content-type").unwrap_or_default();
    let bytes = resp.binary().await.ok()?;
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(&bytes[..]));
    let props = web_sys::BlobPropertyBag::new();
    props.set_type(&kind);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &props).ok()?;
    web_sys::Url::create_object_url_with_blob(&blob).ok()
}

/// Saves (or opens, for a picture) a shared file, or anything the node
/// serves to the session (the export of one's data).
pub(super) fn open(ctx: Ctx, path: String, name: String, picture: bool) {
    leptos::task::spawn_local(async move {
        let Some(url) = blob_url(&ctx, &path).await else { return };
        let Ok(a) = document().create_element("a") else { return };
        let _ = a.set_attribute("href", &url);
        if picture {
            let _ = a.set_attribute("target", "_blank");
        } else {
            let _ = a.set_attribute("download", &name);
        }
        if let Some(a) = a.dyn_ref::<web_sys::HtmlElement>() {
            a.click();
        }
    });
}

#[component]
pub fn FileView(f: FileRef, room: String) -> impl IntoView {
    let ctx = use_ctx();
    let (path, name) = (f.url(&room, false), f.name.clone());
    let about = format!("{} · {} · {}", f.name, size(f.size), f.mime);
    if f.is_image() {
        let thumb = RwSignal::new(None::<String>);
        let c = ctx.clone();
        let small = f.url(&room, true);
        leptos::task::spawn_local(async move {
            // A node busy making thumbnails, or not yet holding a peer's
            // file, says so: asked again a little later, not left blank.
            for wait in [0, 1, 3, 8] {
                crate::net::sleep(std::time::Duration::from_secs(wait)).await;
                if let Some(url) = blob_url(&c, &small).await {
                    return thumb.set(Some(url));
                }
            }
        });
        return view! {
            <button class="file-picture" title=about.clone() aria-label=fill(t().open_picture, &[&about])
                on:click=move |_| open(ctx.clone(), path.clone(), name.clone(), true)>
                {move || thumb.get().map(|src| view! { <img src=src alt=f.name.clone()/> })}
            </button>
        }
        .into_any();
    }
    view! {
        <button class="file-card" title=about.clone() aria-label=fill(t().download, &[&about])
            on:click=move |_| open(ctx.clone(), path.clone(), name.clone(), false)>
            <span class="file-name">{f.name.clone()}</span>
            <span class="small muted">{format!("{} · {}", size(f.size), f.mime)}</span>
        </button>
    }
    .into_any()
}

/// An upload as the list shows it.
#[derive(Clone, PartialEq)]
struct Row {
    id: String,
    name: String,
    /// Sent so far, 0–100.
    percent: u32,
    error: Option<String>,
}

/// Where an upload goes: a room, and the thread in it if any.
type Dest = (String, Option<meshchat_shared::client::annotate::Target>);

/// Uploads of a composer: what shows, and what the browser holds.
#[derive(Clone, Copy)]
pub struct Uploads {
    rows: RwSignal<Vec<Row>>,
    held: StoredValue<HashMap<String, (Dest, File, XmlHttpRequest)>, LocalStorage>,
    /// The thread composer's: files go to the open thread (else the room
    /// on screen, and files dropped on the page too).
    thread: Option<RwSignal<Option<super::threads::Open>>>,
}

impl Uploads {
    pub fn new() -> Uploads {
        Uploads { rows: RwSignal::new(Vec::new()), held: StoredValue::new_local(HashMap::new()), thread: None }
    }

    /// Uploads into the thread open in `thread`.
    pub fn to_thread(thread: RwSignal<Option<super::threads::Open>>) -> Uploads {
        Uploads { thread: Some(thread), ..Uploads::new() }
    }

    /// Uploads `file` to the room on screen (or the open thread).
    pub fn add(self, ctx: &Ctx, file: File) {
        let dest = match self.thread {
            Some(t) => t.with_untracked(|t| t.as_ref().map(|o| (o.room.clone(), Some(o.root.clone())))),
            None => ctx.chat.with_untracked(|c| c.current.clone()).map(|room| (room, None)),
        };
        let Some(dest) = dest else { return };
        let id = super::composer::new_id();
        self.rows.update(|r| r.push(Row { id: id.clone(), name: file.name(), percent: 0, error: None }));
        self.send(ctx, id, dest, file);
    }

    fn set(self, id: &str, f: impl FnMut(&mut Row)) {
        self.rows.update(|rows| rows.iter_mut().filter(|r| r.id == id).for_each(f));
    }

    fn drop_row(self, id: &str) {
        self.rows.update(|rows| rows.retain(|r| r.id != id));
        self.held.update_value(|h| {
            h.remove(id);
        });
    }

    fn send(self, ctx: &Ctx, id: String, dest: Dest, file: File) {
        let Ok(xhr) = XmlHttpRequest::new() else { return };
        let guest = ctx.chat.with_untracked(|c| c.name.clone());
        let token = ctx.token();
        let q: String = js_sys::encode_uri_component(&guest).into();
        let (room, thread) = &dest;
        let mut url = format!("{}/api/rooms/{room}/files?id={id}&name={q}", ctx.api_base());
        if let Some((origin, seq)) = thread {
            url.push_str(&format!("&thread={origin}:{seq}"));
        }
        let name: String = js_sys::encode_uri_component(&file.name()).into();
        let mime = Some(file.type_()).filter(|t| !t.is_empty()).unwrap_or("application/octet-stream".into());
        let _ = xhr.open("POST", &url);
        if let Some(t) = token {
            let _ = xhr.set_request_header("Authorization", &format!("Bearer {t}"));
        }
        let _ = xhr.set_request_header("X-File-Name", &name);
        let _ = xhr.set_request_header("Content-Type", &mime);
        let i = id.clone();
        let progress = Closure::<dyn Fn(web_sys::ProgressEvent)>::new(move |ev: web_sys::ProgressEvent| {
            if ev.total() > 0.0 {
                self.set(&i, |r| r.percent = (ev.loaded() * 100.0 / ev.total()) as u32);
            }
        });
        if let Ok(up) = xhr.upload() {
            up.set_onprogress(Some(progress.as_ref().unchecked_ref()));
        }
        let (i, x) = (id.clone(), xhr.clone());
        let done = Closure::<dyn Fn()>::new(move || {
            if x.status().unwrap_or(0) == 201 {
                self.drop_row(&i);
                return;
            }
            // The node's reason in words, else that nothing answered.
            let said = x.response_text().ok().flatten().and_then(|text| {
                let e: meshchat_shared::api::ErrorBody = serde_json::from_str(&text).ok()?;
                Some(fill(t().upload_failed, &[&e.error.message]))
            });
            let why = said.unwrap_or_else(|| t().upload_no_answer.into());
            self.set(&i, |r| r.error = Some(why.clone()));
        });
        xhr.set_onloadend(Some(done.as_ref().unchecked_ref()));
        progress.forget();
        done.forget();
        let _ = xhr.send_with_opt_blob(Some(&file));
        self.held.update_value(|h| {
            h.insert(id, (dest, file, xhr));
        });
    }

    fn cancel(self, id: &str) {
        if let Some((_, _, xhr)) = self.held.with_value(|h| h.get(id).cloned()) {
            let _ = xhr.abort();
        }
        self.drop_row(id);
    }

    fn retry(self, ctx: &Ctx, id: &str) {
        let Some((dest, file, _)) = self.held.with_value(|h| h.get(id).cloned()) else { return };
        self.set(id, |r| (r.percent, r.error) = (0, None));
        // The same id: a node that took it already answers with that message.
        self.send(ctx, id.to_owned(), dest, file);
    }

    /// Every file of a paste or a drop.
    pub fn add_all(self, ctx: &Ctx, list: Option<web_sys::FileList>) -> bool {
        let Some(list) = list.filter(|l| l.length() > 0) else { return false };
        (0..list.length()).filter_map(|i| list.get(i)).for_each(|f| self.add(ctx, f));
        true
    }
}

/// Uploads on their way, above the composer.
#[component]
pub fn UploadList(uploads: Uploads) -> impl IntoView {
    let ctx = use_ctx();
    // Files dropped anywhere on the page go to the room on screen; other
    // drags (text into the composer) are left to the browser.
    let has_files = |d: Option<web_sys::DataTransfer>| d.is_some_and(|d| d.types().includes(&"Files".into(), 0));
    if uploads.thread.is_none() {
        let c = ctx.clone();
        let drop = window_event_listener(leptos::ev::drop, move |ev| {
            if has_files(ev.data_transfer()) {
                ev.prevent_default();
                uploads.add_all(&c, ev.data_transfer().and_then(|d| d.files()));
            }
        });
        let over = window_event_listener(leptos::ev::dragover, move |ev| {
            if has_files(ev.data_transfer()) {
                ev.prevent_default();
            }
        });
        on_cleanup(move || {
            drop.remove();
            over.remove();
        });
    }
    // Few rows, redrawn as they change: cheaper than a keyed list.
    let row = move |r: Row| {
        let (c, id, id2) = (ctx.clone(), r.id.clone(), r.id.clone());
        let failed = r.error.is_some();
        view! {
            <li class="upload" class:failed=failed>
                <span class="file-name">{r.name}</span>
                <progress max="100" value=r.percent.to_string() hidden=failed></progress>
                <span class="error small" role="alert">{r.error}</span>
                <button class="link small" hidden=!failed on:click=move |_| uploads.retry(&c, &id)>{t().retry}</button>
                <button class="link small" on:click=move |_| uploads.cancel(&id2)>
                    {if failed { t().discard } else { t().cancel }}
                </button>
            </li>
        }
    };
    view! {
        <ul class="uploads" aria-label=t().uploads>
            {move || uploads.rows.get().into_iter().map(row.clone()).collect_view()}
        </ul>
    }
}

/// The paperclip: choose files to share.
#[component]
pub fn Attach(uploads: Uploads) -> impl IntoView {
    let ctx = use_ctx();
    let input = NodeRef::<leptos::html::Input>::new();
    let id = if uploads.thread.is_some() { "thread-attach-input" } else { "attach-input" };
    view! {
        <input type="file" multiple class="visually-hidden" id=id tabindex="-1" aria-label=t().attach_files node_ref=input
            on:change=move |_| {
                if let Some(el) = input.get() {
                    uploads.add_all(&ctx, el.files());
                    el.set_value("");
                }
            }/>
        <button type="button" class="icon attach" aria-label=t().attach_files title=t().attach_files
            on:click=move |_| { if let Some(el) = input.get() { el.click(); } }>"📎"</button>
    }
}
