//! `GET /api/search`: full-text search over the rooms the caller may read.
//!
//! The index knows nothing of who may read what; every match is checked
//! here with the same rules as every other read (the room's governance:
//! private rooms for members, banned people out, messages sent while
//! removed hidden), so a search can never show more than history would.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use meshchat_shared::ErrorCode;
use meshchat_shared::api::{SearchHit, SearchResults};

use super::AppState;
use super::api::{parse_num, query_map};
use super::auth::MaybeAuth;
use super::error::ApiError;
use crate::edge::govern;
use crate::room::Governance;
use crate::store::search::{Hit, Order, Query};

/// Results per page: 20 by default, at most 50.
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 50;
/// Matches looked at per page, readable or not ...
const MAX_SCAN: usize = 2_000;
/// ... and the time SQLite may spend on them: past it the search stops
/// (inside SQLite, by its progress handler) and says where to go on from.
pub const SEARCH_BUDGET: std::time::Duration = std::time::Duration::from_millis(300);
/// Matches read from the index at a time.
const CHUNK: usize = 100;

pub async fn search(
    State(app): State<Arc<AppState>>,
    MaybeAuth(me): MaybeAuth,
    RawQuery(raw): RawQuery,
) -> Result<Json<SearchResults>, ApiError> {
    app.metrics.http_requests.inc();
    let q = query_map(raw)?;
    let parsed = crate::core::query::parse(q.get("q").map_or("", String::as_str))?;
    let room = q.get("room").filter(|r| !r.is_empty()).cloned().or(parsed.room);
    if let Some(r) = &room {
        meshchat_shared::limits::validate_room(r)?;
    }
    let limit = parse_num::<usize>(&q, "limit")?.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let order = match q.get("order").map(String::as_str) {
        None | Some("" | "new") => Order::Newest,
        Some("relevance") => Order::Relevance,
        Some(_) => return Err(ApiError::invalid("order is new or relevance")),
    };
    let who = me.map(|m| m.name).unwrap_or_default();
    let mut query = Query {
        fts: parsed.fts,
        room,
        author: parsed.author,
        after_ms: parsed.after_ms,
        before_ms: parsed.before_ms,
        order,
        from: parse_num::<u64>(&q, "from")?.unwrap_or(0),
        limit: CHUNK,
        deadline: Some(std::time::Instant::now() + SEARCH_BUDGET),
    };
    let mut readers = Readers::new(&app, &who);
    if let Some(r) = &query.room
        && readers.governance(r).await.is_none()
    {
        return Err(ApiError::new(ErrorCode::NotFound, "no such room"));
    }
    let (mut results, mut scanned, mut next) = (Vec::new(), 0, None);
    while results.len() < limit && scanned < MAX_SCAN {
        let found = app.store.search(query.clone()).await.map_err(|_| ApiError::from(ErrorCode::Unavailable))?;
        let (hits, cut) = (found.hits, found.cut);
        let exhausted = hits.len() < CHUNK && !cut;
        for hit in hits {
            scanned += 1;
            query.from = hit.next;
            next = Some(hit.next);
            if readers.may_see(&hit).await {
                results.push(shown(hit));
                if results.len() == limit {
                    break;
                }
            }
        }
        if exhausted && results.len() < limit {
            next = None;
            break;
        }
        if cut {
            if next.is_none() {
                let why =
                    "this search takes too long here: add words, or narrow it to a room (in:) or a person (from:)";
                return Err(ApiError::new(ErrorCode::Unavailable, why));
            }
            break;
        }
    }
    Ok(Json(SearchResults { results, next }))
}

fn shown(hit: Hit) -> SearchHit {
    let m = hit.msg;
    SearchHit {
        thread: meshchat_shared::rooms::thread_root(&m).map(|(root, _)| root),
        parts: crate::core::query::parts(&hit.snippet),
        room: m.room,
        origin: m.origin,
        seq: m.seq,
        ts: m.ts,
        author: m.author,
    }
}

/// Who may read which room, asked once per room and search.
struct Readers<'a> {
    app: &'a AppState,
    who: &'a str,
    rooms: HashMap<String, Option<Arc<Governance>>>,
}

impl<'a> Readers<'a> {
    fn new(app: &'a AppState, who: &'a str) -> Self {
        Readers { app, who, rooms: HashMap::new() }
    }

    async fn governance(&mut self, room: &str) -> Option<Arc<Governance>> {
        if let Some(known) = self.rooms.get(room) {
            return known.clone();
        }
        let gov = govern::readable(&self.app.hub, room, self.who).await.ok().map(|(_, g)| g);
        self.rooms.insert(room.to_owned(), gov.clone());
        gov
    }

    async fn may_see(&mut self, hit: &Hit) -> bool {
        self.governance(&hit.msg.room).await.is_some_and(|g| g.visible(&hit.msg))
    }
}
