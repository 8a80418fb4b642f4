//! Room requests on behalf of a user, the same for the WebSocket and HTTP:
//! create a room, act on one (invite, kick, ban, topic…), start a direct
//! conversation, and the read check every path makes.
//!
//! A request becomes an event of the room's log, sent like a message; the
//! room's state machine checks it against the room as it is and every node
//! checks it again as it applies the log.

use std::sync::Arc;

use meshchat_shared::rooms::{EVENT_PREFIX, RoomEvent, RoomInfo, StoredEvent, dm_room, is_event_id};
use meshchat_shared::{ErrorCode, Message};
use tokio::sync::oneshot;

use crate::accounts::Accounts;
use crate::edge::guard::Guard;
use crate::room::{AckTo, Governance, Hub, RoomCmd, RoomHandle};
use crate::store::Store;

/// Who asks: a name, and whether it is an admin of the mesh.
#[derive(Debug, Clone)]
pub struct Asker {
    pub name: Arc<str>,
    pub admin: bool,
    /// Signed in (guests may chat but not create rooms or start DMs).
    pub account: bool,
}

impl Asker {
    /// A signed-in person; an admin of the mesh only as `accounts` says
    /// one acts as admin (two-factor sign-in on, where the mesh asks).
    pub fn of(accounts: &Accounts, me: &crate::accounts::Me) -> Asker {
        Asker { name: me.name.as_str().into(), admin: accounts.acts_as_admin(me), account: true }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    #[error("there is no room by that name")]
    NotFound,
    #[error("a room by that name exists already")]
    Taken,
    #[error("names starting with dm- are kept for direct messages")]
    Reserved,
    #[error("sign in to do that")]
    Guest,
    #[error("{0}")]
    NoSuchUser(String),
    #[error("the mesh cannot agree on the name right now (too few nodes answer); try again")]
    Unavailable,
    #[error("{}", .0.describe())]
    Refused(ErrorCode),
}

impl RoomError {
    pub fn code(&self) -> ErrorCode {
        match self {
            RoomError::NotFound => ErrorCode::NotFound,
            RoomError::Taken => ErrorCode::NameTaken,
            RoomError::Reserved => ErrorCode::Invalid,
            RoomError::Guest => ErrorCode::Unauthorized,
            RoomError::NoSuchUser(_) => ErrorCode::Invalid,
            RoomError::Unavailable => ErrorCode::Unavailable,
            RoomError::Refused(c) => *c,
        }
    }
}

/// Finds or starts the actor of a room a request names, making the room
/// only within the caller's limits (rooms per address, rooms in all): the
/// same for the WebSocket and HTTP.
#[derive(Clone)]
pub struct Opener {
    pub hub: Arc<Hub>,
    pub guard: Arc<Guard>,
    pub ip: std::net::IpAddr,
}

impl Opener {
    /// Does the room exist here (created, or an open room someone used)?
    fn exists(&self, room: &str) -> bool {
        self.hub.index().knows(room) || self.hub.open(room).is_some()
    }

    /// The room's handle, made if need be within the caller's limits.
    pub fn open(&self, room: &str) -> Result<RoomHandle, RoomError> {
        let (guard, ip) = (&self.guard, self.ip);
        self.hub
            .open_or_create(room, |rooms| guard.create_room(ip, rooms))
            .map_err(|_| RoomError::Refused(ErrorCode::LimitReached))
    }
}

/// The room's governance, if the room exists here and `who` may read it;
/// a room `who` may not read is as good as absent (its name is not told).
pub async fn readable(hub: &Arc<Hub>, room: &str, who: &str) -> Result<(RoomHandle, Arc<Governance>), RoomError> {
    // The nodes' own rooms (`!accounts`, `!mesh`, `!avatars`) are read by
    // the nodes, never by a person, whatever the path.
    if meshchat_shared::limits::is_system_room(room) {
        return Err(RoomError::NotFound);
    }
    let handle = hub.open(room).ok_or(RoomError::NotFound)?;
    let gov = handle.governance().await.map_err(RoomError::Refused)?;
    if gov.can_read(who) { Ok((handle, gov)) } else { Err(RoomError::NotFound) }
}

/// Makes an event that names a message ready to send: names the copy every
/// node shows, and says whether it is `who`'s own (for an edit or a delete).
///
/// A send taken by two nodes (a retry while the first was paused) is kept
/// once: the copy earlier in room order shows, the other is hidden, and
/// its author may have been answered with either. An event naming the
/// hidden copy is moved to the shown one, or a delete would leave the text
/// everyone sees. The node checks ownership in its store and marks the
/// event `own`; other nodes trust the mark as they trust the signature.
/// A delete of a reply in a thread is marked with that thread's root
/// (`in_thread`): its text is erased, and clients still know where its
/// tombstone belongs.
pub async fn aim(store: &Store, room: &str, mut event: RoomEvent, who: &str) -> Result<(RoomEvent, Marks), RoomError> {
    let Some((origin, seq)) = event.target_mut() else {
        return Ok((event, Marks::default()));
    };
    let unavailable = |_| RoomError::Refused(ErrorCode::Unavailable);
    let mut found = store.range(room, origin, seq.saturating_sub(1), *seq).await.map_err(unavailable)?;
    if found.is_empty() {
        // A peer's message reaches members before this node has stored it
        // (its append is queued by then): one acted on at once waits for
        // that commit. (A target that does not exist costs one wait.)
        store.flush().await.map_err(unavailable)?;
        found = store.range(room, origin, seq.saturating_sub(1), *seq).await.map_err(unavailable)?;
    }
    let Some(target) = found.into_iter().next().map(|s| s.msg) else {
        return Ok((event, Marks::default()));
    };
    // `find` prefers the shown copy of the target's key.
    let shown = store.find(room, &target.author, &target.id).await.map_err(unavailable)?;
    if let Some(twin) = shown.filter(|t| (&t.origin, t.seq) != (&target.origin, target.seq)) {
        (*origin, *seq) = (twin.origin.clone(), twin.seq);
    }
    let own = matches!(event, RoomEvent::Edited { .. } | RoomEvent::Deleted { .. })
        && (target.author == who && !is_event_id(&target.id) || is_own_reply(&target, who));
    let in_thread = match (&event, meshchat_shared::rooms::thread_root(&target)) {
        (RoomEvent::Deleted { .. }, Some((root, false))) => Some(root),
        _ => None,
    };
    Ok((event, Marks { own, in_thread }))
}

/// What the node that takes an event marks it with (see [`StoredEvent`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Marks {
    pub own: bool,
    pub in_thread: Option<(String, u64)>,
}

/// The message an event names, if it names one.
/// A reply or a file is an event message: its author owns it like a message.
fn is_own_reply(msg: &Message, who: &str) -> bool {
    msg.author == who
        && serde_json::from_str::<StoredEvent>(&msg.body)
            .is_ok_and(|e| matches!(e.event, RoomEvent::Reply { .. } | RoomEvent::File { .. }))
}

/// Makes an action ready to send, the same for the WebSocket and HTTP:
/// names in it are accounts' names, and an event that names a message is
/// aimed at the copy every node shows (see [`aim`]).
pub async fn prepare(
    accounts: &Accounts,
    store: &Store,
    room: &str,
    action: RoomEvent,
    who: &str,
) -> Result<(RoomEvent, Marks), RoomError> {
    let action = canonical_action(accounts, action)?;
    aim(store, room, action, who).await
}

/// Sends an action of `who` into the room's log, its answer to `to`: the
/// one way a person's action enters a room, from the WebSocket and HTTP
/// alike, under the per-person limit on events ([`Guard::event`]).
pub fn submit(
    handle: &RoomHandle,
    guard: &Guard,
    who: &Asker,
    id: &str,
    (event, marks): (RoomEvent, Marks),
    to: AckTo,
) -> Result<(), RoomError> {
    guard.event(&who.name).map_err(|_| RoomError::Refused(ErrorCode::RateLimited))?;
    send_event(handle, who, id, event, marks, to)
}

/// [`submit`], waiting for the stored event message (HTTP).
pub async fn act(
    handle: &RoomHandle,
    guard: &Guard,
    who: &Asker,
    id: &str,
    prepared: (RoomEvent, Marks),
) -> Result<Arc<Message>, RoomError> {
    let (tx, rx) = oneshot::channel();
    submit(handle, guard, who, id, prepared, AckTo::Http(tx))?;
    rx.await.map_err(|_| RoomError::Refused(ErrorCode::Unavailable))?.map_err(RoomError::Refused)
}

/// An admin archives, takes out of the archive, sets the retention of or
/// deletes a room from the console: one it need not be able to read (a private room is listed to
/// admins by name and size only). The same event and fold as an owner's,
/// under the admin's rank; no other action goes this way.
pub async fn admin_act(
    hub: &Arc<Hub>,
    guard: &Guard,
    who: &Asker,
    room: &str,
    event: RoomEvent,
) -> Result<(), RoomError> {
    if !who.admin {
        return Err(RoomError::Refused(ErrorCode::Forbidden));
    }
    if !matches!(event, RoomEvent::Archived { .. } | RoomEvent::Retention { .. } | RoomEvent::RoomDeleted) {
        return Err(RoomError::Refused(ErrorCode::Invalid));
    }
    let handle = hub.open(room).ok_or(RoomError::NotFound)?;
    let id = format!("admin-{}", crate::infra::random_id());
    act(&handle, guard, who, &id, (event, Marks::default())).await.map(drop)
}

/// `name` deleted their account under a policy that erases what they
/// wrote: an `author_erased` event of theirs in every room they wrote in
/// (every node then erases their texts there, whenever it hears). Returns
/// how many rooms took it; a room that did not is logged.
pub async fn erase_author(hub: &Arc<Hub>, store: &Store, name: &str) -> Result<usize, RoomError> {
    let rooms = store.rooms_written_in(name).await.map_err(|_| RoomError::Unavailable)?;
    let who = Asker { name: name.into(), admin: false, account: true };
    let mut done = 0;
    for room in rooms {
        let Some(handle) = hub.open(&room) else { continue };
        match make(&handle, &who, "author-erased", RoomEvent::AuthorErased { user: name.to_owned() }).await {
            Ok(_) => done += 1,
            Err(e) => tracing::warn!(%room, error = %e, "cannot erase a deleted account's messages here"),
        }
    }
    Ok(done)
}

/// An event the node makes for `who` (a room's creation), waited for.
async fn make(handle: &RoomHandle, who: &Asker, id: &str, event: RoomEvent) -> Result<Arc<Message>, RoomError> {
    let (tx, rx) = oneshot::channel();
    send_event(handle, who, id, event, Marks::default(), AckTo::Http(tx))?;
    rx.await.map_err(|_| RoomError::Refused(ErrorCode::Unavailable))?.map_err(RoomError::Refused)
}

fn send_event(
    handle: &RoomHandle,
    who: &Asker,
    id: &str,
    event: RoomEvent,
    marks: Marks,
    to: AckTo,
) -> Result<(), RoomError> {
    let stored = StoredEvent { event, admin: who.admin, own: marks.own, in_thread: marks.in_thread };
    let body = serde_json::to_string(&stored).unwrap_or_default();
    let id = format!("{EVENT_PREFIX}{id}");
    handle.send(RoomCmd::Send { to, author: who.name.clone(), id, body }).map_err(RoomError::Refused)
}

/// Names users by their accounts' names; refuses names of no account.
pub fn accounts_named(accounts: &Accounts, users: &[String]) -> Result<Vec<String>, RoomError> {
    users
        .iter()
        .map(|u| accounts.account_name(u).ok_or_else(|| RoomError::NoSuchUser(format!("nobody is called {u}"))))
        .collect()
}

/// Creates a room `who` owns; its name is claimed by a majority of the
/// nodes first, so two people cannot create one name at once. A name in
/// use (a created room, or an open one people use: only admins moderate
/// those) is taken; a direct conversation's (`dm-…`) is never free.
pub async fn create(
    opener: &Opener,
    accounts: &Accounts,
    who: &Asker,
    room: &str,
    created: RoomEvent,
) -> Result<RoomInfo, RoomError> {
    if !who.account {
        return Err(RoomError::Guest);
    }
    if room.starts_with(meshchat_shared::rooms::DM_PREFIX) {
        return Err(RoomError::Reserved);
    }
    if opener.exists(room) {
        return Err(RoomError::Taken);
    }
    let handle = opener.open(room)?;
    let mine = format!("{}:{}", who.name, crate::infra::clock::now_ms());
    match accounts.claim(&format!("room:{room}"), &mine).await {
        Ok(chosen) if chosen == mine => {}
        Ok(_) => return Err(RoomError::Taken),
        Err(_) => return Err(RoomError::Unavailable),
    }
    make(&handle, who, &format!("created-{mine}"), created).await?;
    let gov = handle.governance().await.map_err(RoomError::Refused)?;
    Ok(gov.info(room, &who.name))
}

/// The direct conversation of `who` and `others`, started if need be. It
/// is found by its people: the room of their name is theirs only if its
/// governance lists exactly them (the fold lets no other room take it).
pub async fn dm(opener: &Opener, accounts: &Accounts, who: &Asker, others: &[String]) -> Result<RoomInfo, RoomError> {
    if !who.account {
        return Err(RoomError::Guest);
    }
    let mut people = accounts_named(accounts, others)?;
    people.push(who.name.to_string());
    people.sort();
    people.dedup();
    if people.len() < 2 {
        return Err(RoomError::NoSuchUser("a direct message needs someone else".into()));
    }
    let room = dm_room(&people);
    let handle = opener.open(&room)?;
    let gov = handle.governance().await.map_err(RoomError::Refused)?;
    if !gov.is_governed() {
        // The same name and the same people whoever starts it, on any
        // node: two starts at once end as one conversation.
        let created =
            RoomEvent::Created { title: String::new(), topic: String::new(), private: true, dm: people.clone() };
        match make(&handle, who, "dm", created).await {
            Ok(_) | Err(RoomError::Refused(ErrorCode::Forbidden)) => {}
            Err(e) => return Err(e),
        }
    }
    let gov = handle.governance().await.map_err(RoomError::Refused)?;
    if gov.dm_people() != people.as_slice() || !gov.can_read(&who.name) {
        return Err(RoomError::NotFound);
    }
    Ok(gov.info(&room, &who.name))
}

/// Names in an action are accounts' names, as typed by someone.
pub fn canonical_action(accounts: &Accounts, action: RoomEvent) -> Result<RoomEvent, RoomError> {
    let name = |u: String| -> Result<String, RoomError> {
        // Someone banned by name need not have an account (a guest).
        Ok(accounts.account_name(&u).unwrap_or(u))
    };
    Ok(match action {
        RoomEvent::Invited { user } => RoomEvent::Invited { user: accounts_named(accounts, &[user])?.remove(0) },
        RoomEvent::Kicked { user, reason } => RoomEvent::Kicked { user: name(user)?, reason },
        RoomEvent::Banned { user, reason } => RoomEvent::Banned { user: name(user)?, reason },
        RoomEvent::Unbanned { user } => RoomEvent::Unbanned { user: name(user)? },
        RoomEvent::Role { user, role } => RoomEvent::Role { user: name(user)?, role },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use meshchat_shared::Message;
    use meshchat_shared::rooms::RoomEvent;

    use crate::infra::metrics::Metrics;
    use crate::store::{Store, Stored, Sync};

    /// A peer's message reaches members before this node has stored it: its
    /// author editing it at once edits their own message.
    #[tokio::test]
    async fn an_event_may_name_a_message_still_on_its_way_to_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "n1", Sync::Full, Arc::new(Metrics::default())).unwrap();
        let msg = Message { author: "alice".into(), id: "m".into(), ..Message::sample("r", "n2", 1) };
        let stored = store.append(vec![Stored { msg: Arc::new(msg), hidden: false, proof: None }]).await.unwrap();
        let edit = RoomEvent::Edited { origin: "n2".into(), seq: 1, body: "better".into() };
        let (_, marks) = super::aim(&store, "r", edit, "alice").await.unwrap();
        assert!(marks.own, "alice's own message, though not committed when she acted");
        stored.await.unwrap().unwrap();
    }
}
