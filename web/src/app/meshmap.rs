//! The mesh map, for admins: every node, its links with their round-trip
//! times, clients and messages per second; the rooms that changed last,
//! node by node, with how far behind each is; and a live log of what
//! changes (a node down or back, repairs, rooms catching up). Each node is
//! asked for its own view every two seconds; `meshmap` puts them together.

use std::time::Duration;

use leptos::prelude::*;
use meshchat_shared::meshmap::{self, MeshMap};

use super::use_ctx;
use crate::i18n::t;
use crate::net::now_ms;

/// Lines kept in the live log.
const LOG_LINES: usize = 12;

/// Asks every node for its view, then puts them side by side.
async fn sample(
    nodes: Vec<(String, String)>,
    token: String,
    rooms: Vec<String>,
) -> Vec<(String, Option<meshchat_shared::api::MeshView>)> {
    let mut views = Vec::new();
    for (id, url) in nodes {
        let view = if url.is_empty() {
            None
        } else {
            crate::api::mesh_view(&crate::account::http_base(&url), &token, &rooms).await.ok()
        };
        views.push((id, view));
    }
    views
}

#[leptos::wasm_split::wasm_split(mesh_map_panel, wasm_split_path = ::leptos::wasm_split, fallible)]
pub fn mesh_map_panel(close: Callback<()>) -> Result<AnyView, super::lazy::Unloaded> {
    Ok(view! { <MeshMapPanel close/> }.into_any())
}

#[component]
fn MeshMapPanel(close: Callback<()>) -> impl IntoView {
    let map = RwSignal::new(None::<MeshMap>);
    let body = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        if let (Some(m), Some(into)) = (map.get(), body.get()) {
            draw::map(&into, &m);
        }
    });
    let log = RwSignal::new(Vec::<String>::new());
    let last_at = StoredValue::new(0u64);
    // Context is found while the component runs, not in a timer's callback.
    let ctx = use_ctx();
    let refresh = move || {
        let Some(token) = ctx.token() else { return };
        let nodes: Vec<(String, String)> =
            ctx.chat.with_untracked(|c| c.nodes.all().iter().map(|n| (n.id.clone(), n.url.clone())).collect());
        let rooms = map.with_untracked(|m| m.as_ref().map(MeshMap::room_names).unwrap_or_default());
        leptos::task::spawn_local(async move {
            let views = sample(nodes, token, rooms).await;
            let now = now_ms();
            let dt = now.saturating_sub(last_at.try_get_value().unwrap_or(now));
            let _ = last_at.try_set_value(now);
            let Some(before) = map.try_get_untracked() else { return };
            let next = MeshMap::build(views, before.as_ref(), dt);
            if let Some(before) = &before {
                let said = meshmap::events(before, &next);
                if !said.is_empty() {
                    let stamp = super::format::time(now);
                    log.update(|l| {
                        for s in said {
                            l.insert(0, format!("{stamp} {s}"));
                        }
                        l.truncate(LOG_LINES);
                    });
                }
            }
            map.set(Some(next));
        });
    };
    refresh();
    let timer = set_interval_with_handle(refresh, Duration::from_secs(2)).ok();
    on_cleanup(move || {
        if let Some(t) = timer {
            t.clear();
        }
    });
    view! {
        <super::dialogs::Dialog id="mesh-map" title=t().mesh_map class="mesh-map" close>
            <div class="map-body" node_ref=body>
                <p class="muted">{t().asking_nodes}</p>
            </div>
            <h3>{t().what_happens}</h3>
            <ol class="map-log small" aria-live="polite">
                {move || log.get().into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
            </ol>
        </super::dialogs::Dialog>
    }
}

/// The map, drawn with plain DOM calls: the leptos view of three tables and
/// a graph cost 19 KiB of wasm, this a fraction of it. Text goes in as text
/// (`set_text_content`), never as HTML.
mod draw {
    use std::f64::consts::PI;

    use meshchat_shared::meshmap::{self, MeshMap};
    use web_sys::{Document, Element};

    use crate::i18n::{count, fill, t};

    const SVG: &str = "http://www.w3.org/2000/svg";

    fn el(doc: &Document, parent: &Element, tag: &str, class: &str, text: &str) -> Element {
        let e = doc.create_element(tag).expect("an element");
        if !class.is_empty() {
            e.set_class_name(class);
        }
        if !text.is_empty() {
            e.set_text_content(Some(text));
        }
        let _ = parent.append_child(&e);
        e
    }

    fn svg(doc: &Document, parent: &Element, tag: &str, attrs: &[(&str, String)], text: &str) {
        let Ok(e) = doc.create_element_ns(Some(SVG), tag) else { return };
        for (k, v) in attrs {
            let _ = e.set_attribute(k, v);
        }
        if !text.is_empty() {
            e.set_text_content(Some(text));
        }
        let _ = parent.append_child(&e);
    }

    /// A table: a header row, then rows of cells (`(class, text)`), the
    /// first of each row a row header.
    fn table(doc: &Document, parent: &Element, class: &str, head: &[String], rows: Vec<Vec<(&str, String)>>) {
        let t = el(doc, parent, "table", class, "");
        let tr = el(doc, &el(doc, &t, "thead", "", ""), "tr", "", "");
        for h in head {
            let _ = el(doc, &tr, "th", "", h).set_attribute("scope", "col");
        }
        let body = el(doc, &t, "tbody", "", "");
        for row in rows {
            let tr = el(doc, &body, "tr", "", "");
            for (i, (class, text)) in row.iter().enumerate() {
                let cell = el(doc, &tr, if i == 0 { "th" } else { "td" }, class, text);
                if i == 0 {
                    let _ = cell.set_attribute("scope", "row");
                }
            }
        }
    }

    /// Replaces what `into` shows with `map`.
    pub fn map(into: &Element, map: &MeshMap) {
        let doc = leptos::prelude::document();
        into.set_text_content(None);
        let t = t();
        let summary = if map.converged() { t.converged } else { t.converging };
        el(&doc, into, "p", if map.converged() { "map-summary ok-text" } else { "map-summary" }, summary);
        graph(&doc, into, map);
        let head: Vec<String> = [t.col_node, t.col_links, t.col_clients, t.col_rate, t.col_repairs, t.col_behind]
            .map(String::from)
            .to_vec();
        let rows = map.nodes.iter().map(|n| match &n.view {
            None => vec![("down", n.id.clone()), ("down", t.no_answer_short.into())],
            Some(v) => {
                let links: Vec<String> = v.links.iter().map(meshmap::link_label).collect();
                let behind = match v.rooms_behind {
                    0 => t.behind_none.to_owned(),
                    r => fill(t.behind_rooms, &[&r.to_string(), &v.lag_seconds.to_string()]),
                };
                let rate = n.per_sec_tenths.map(meshmap::tenths).unwrap_or_else(|| "…".into());
                vec![
                    ("", n.id.clone()),
                    ("", links.join(", ")),
                    ("", v.clients.to_string()),
                    ("", rate),
                    ("", v.repairs.to_string()),
                    ("", behind),
                ]
            }
        });
        table(&doc, into, "map-nodes", &head, rows.collect());
        el(&doc, into, "h3", "", t.rooms_changed_last);
        el(&doc, into, "p", "small muted", t.rooms_legend);
        let head: Vec<String> =
            std::iter::once(t.col_room.to_owned()).chain(map.nodes.iter().map(|n| n.id.clone())).collect();
        let rows = map.rooms.iter().map(|r| {
            let cells = r.cells.iter().map(|c| match c {
                None => ("muted", "—".to_owned()),
                Some(c) if c.behind == 0 => ("", c.held.to_string()),
                Some(c) => ("behind", format!("{} (−{}, {} s)", c.held, c.behind, c.seconds)),
            });
            std::iter::once(("", r.room.clone())).chain(cells).collect()
        });
        table(&doc, into, "map-rooms", &head, rows.collect());
    }

    /// The nodes on a circle, a line per link: solid while up, with its
    /// round-trip time; dashed while down. Whole pixels, and the browser's
    /// own sine.
    fn graph(doc: &Document, into: &Element, map: &MeshMap) {
        let Ok(g) = doc.create_element_ns(Some(SVG), "svg") else { return };
        let _ = g.set_attribute("class", "map-graph");
        let _ = g.set_attribute("viewBox", "0 0 320 250");
        let _ = g.set_attribute("role", "img");
        let _ = g.set_attribute("aria-label", t().nodes_and_links);
        let n = map.nodes.len().max(1) as f64;
        let at = |i: usize| {
            let a = 2.0 * PI * i as f64 / n - PI / 2.0;
            ((160.0 + 110.0 * js_sys::Math::cos(a)) as i32, (120.0 + 85.0 * js_sys::Math::sin(a)) as i32)
        };
        for (i, a) in map.nodes.iter().enumerate() {
            for (j, b) in map.nodes.iter().enumerate().skip(i + 1) {
                let link = a.view.as_ref().and_then(|v| v.links.iter().find(|l| l.peer == b.id));
                let up = link.is_some_and(|l| l.up);
                let ((x1, y1), (x2, y2)) = (at(i), at(j));
                let class = if up { "map-link up" } else { "map-link down" };
                let attrs = [("x1", x1), ("y1", y1), ("x2", x2), ("y2", y2)].map(|(k, v)| (k, v.to_string()));
                svg(doc, &g, "line", &[attrs.as_slice(), &[("class", class.into())]].concat(), "");
                let rtt = link.and_then(|l| l.rtt_us).filter(|_| up);
                let label = rtt.map(|us| format!("{} ms", meshmap::tenths((us + 50) / 100))).unwrap_or_default();
                let at = [("x", ((x1 + x2) / 2).to_string()), ("y", ((y1 + y2) / 2 - 4).to_string())];
                svg(doc, &g, "text", &[at.as_slice(), &[("class", "map-rtt".into())]].concat(), &label);
            }
        }
        for (i, node) in map.nodes.iter().enumerate() {
            let (x, y) = at(i);
            let up = node.view.is_some();
            let class = if up { "map-node up" } else { "map-node down" };
            svg(
                doc,
                &g,
                "circle",
                &[("cx", x.to_string()), ("cy", y.to_string()), ("r", "22".into()), ("class", class.into())],
                "",
            );
            let text = |dy: i32, class: &str| {
                vec![("x", x.to_string()), ("y", (y + dy).to_string()), ("class", class.to_owned())]
            };
            svg(doc, &g, "text", &text(4, "map-id"), &node.id);
            let clients = node
                .view
                .as_ref()
                .map(|v| count(v.clients as usize, t().clients_one, t().clients_other))
                .unwrap_or_else(|| "down".into());
            svg(doc, &g, "text", &text(36, "map-sub"), &clients);
        }
        let _ = into.append_child(&g);
    }
}
