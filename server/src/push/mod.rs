//! Web Push: a mention, a direct message or a reply in a thread one follows
//! reaches the browsers of the people it is for, even with every tab closed. The node that accepted
//! the message pushes it, once it is durable there, so a message is pushed
//! once whichever nodes hold it. Rooms hand this node's committed messages
//! to one task ([`Pusher`], a [`crate::room::OnCommit`]), which finds who
//! is named, may read the room and has subscriptions, and posts to their
//! push services (RFC 8030), encrypted for each browser (RFC 8291) and
//! signed with the mesh's VAPID key (RFC 8292). A subscription the service
//! says is gone (404, 410) is removed from the account.

use std::sync::Arc;
use std::time::Duration;

use meshchat_shared::Message;
use meshchat_shared::client::shown_text;
use meshchat_shared::client::threads::follows;
use meshchat_shared::rooms::thread_root;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::accounts::Accounts;
use crate::infra::metrics::Metrics;
use crate::room::{Governance, OnCommit};
use crate::store::Store;
use crate::trust::webpush::{self, Vapid};

/// Messages waiting for the sender; beyond it, pushes are dropped (and
/// counted): a push is a courtesy, the message itself is stored.
const QUEUE: usize = 1024;
/// Requests to push services at once, and how long each may take.
const AT_ONCE: usize = 16;
const TIMEOUT: Duration = Duration::from_secs(10);
/// People one message may push to (mentions past it are not pushed).
const MAX_RECIPIENTS: usize = 20;
/// Characters of a message's text in a push that carries it.
const PREVIEW_CHARS: usize = 200;
/// How long a push service keeps a push for a browser that is away.
const TTL_SECS: &str = "86400";

struct Job {
    room: Arc<str>,
    gov: Option<Arc<Governance>>,
    msg: Arc<Message>,
}

/// Rooms' handle on the sender. Cheap to clone.
#[derive(Clone)]
pub struct Pusher {
    tx: mpsc::Sender<Job>,
    metrics: Arc<Metrics>,
}

/// The sender's end, started once the accounts are.
pub struct Receiver(mpsc::Receiver<Job>);

pub fn channel(metrics: Arc<Metrics>) -> (Pusher, Receiver) {
    let (tx, rx) = mpsc::channel(QUEUE);
    (Pusher { tx, metrics }, Receiver(rx))
}

impl OnCommit for Pusher {
    fn committed(&self, room: &str, gov: Option<&Arc<Governance>>, msgs: &[Arc<Message>]) {
        // Internal rooms (the account log) are nobody's conversation.
        if room.starts_with('!') {
            return;
        }
        let room: Arc<str> = room.into();
        for msg in msgs {
            let job = Job { room: room.clone(), gov: gov.cloned(), msg: msg.clone() };
            if self.tx.try_send(job).is_err() {
                self.metrics.pushes_dropped.inc();
            }
        }
    }
}

/// What the sender needs besides its queue.
pub struct PushCtx {
    pub accounts: Arc<Accounts>,
    /// Where a thread's root and replies are read (who follows it).
    pub store: Store,
    pub metrics: Arc<Metrics>,
    /// Who the node is to push services (a `mailto:` or the node's URL).
    pub subject: String,
    pub shutdown: CancellationToken,
}

pub fn start(rx: Receiver, ctx: PushCtx) {
    tokio::spawn(run(rx.0, Arc::new(ctx)));
}

async fn run(mut rx: mpsc::Receiver<Job>, ctx: Arc<PushCtx>) {
    let slots = Arc::new(Semaphore::new(AT_ONCE));
    loop {
        let job = tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            job = rx.recv() => match job { Some(j) => j, None => return },
        };
        // Nobody ever asked for the key: nobody can have subscribed.
        let Some(vapid) = ctx.accounts.vapid_cached() else { continue };
        let text = shown_text(&job.msg);
        // Nothing to say, or nobody while the room's rules are not known here.
        let Some(gov) = job.gov.clone().filter(|_| !text.is_empty()) else { continue };
        let mut names = named_or_dm(&gov, &text, &ctx.accounts);
        if let Some((root, _)) = thread_root(&job.msg) {
            names.extend(followers(&ctx, &job.room, &root).await);
        }
        let names = recipients(&gov, &job.msg.author, names);
        if names.is_empty() {
            continue;
        }
        // Once per message: the two bodies a browser may get, and the key.
        let payload = payload(&job, &text);
        let (with_text, without_text) = (Arc::new(payload.with_text()), Arc::new(payload.without_text()));
        let key = vapid.public_b64();
        for name in names {
            for (endpoint, sub) in ctx.accounts.push_targets(&name, &key) {
                let body = if sub.preview { with_text.clone() } else { without_text.clone() };
                let Ok(permit) = slots.clone().acquire_owned().await else { return };
                let (ctx, vapid, name) = (ctx.clone(), vapid.clone(), name.clone());
                tokio::spawn(async move {
                    send(&ctx, &vapid, &name, &endpoint, &sub.p256dh, &sub.auth, body.as_bytes()).await;
                    drop(permit);
                });
            }
        }
    }
}

/// Who a message is for by itself: in a direct conversation, its other
/// people; elsewhere, the accounts it mentions.
fn named_or_dm(gov: &Governance, text: &str, accounts: &Accounts) -> Vec<String> {
    match gov.is_dm() {
        true => gov.dm_people().to_vec(),
        false => named(text)
            .filter_map(|n| accounts.account_name(&n))
            .filter(|n| meshchat_shared::rooms::mentions(text, n))
            .collect(),
    }
}

/// Who follows the thread of `root` by the apps' own rule: among its
/// root's author, those who replied and the accounts named in either.
async fn followers(ctx: &PushCtx, room: &str, root: &(String, u64)) -> Vec<String> {
    let Ok(Some((first, held))) = ctx.store.thread(room, &root.0, root.1).await else { return Vec::new() };
    let replies: Vec<&Message> = held.iter().filter(|m| thread_root(m).is_some_and(|(t, _)| t == *root)).collect();
    let root_text = shown_text(&first);
    let mut who: Vec<String> =
        std::iter::once(first.author.clone()).chain(replies.iter().map(|m| m.author.clone())).collect();
    for text in std::iter::once(root_text.clone()).chain(replies.iter().map(|m| shown_text(m))) {
        who.extend(named(&text).filter_map(|n| ctx.accounts.account_name(&n)));
    }
    who.sort();
    who.dedup();
    who.retain(|w| follows(Some(&first), &root_text, &replies, w));
    who
}

/// Who a message is pushed to, of `names`: those who may read the room,
/// never its author, [`MAX_RECIPIENTS`] at most.
fn recipients(gov: &Governance, author: &str, mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names.dedup();
    names.retain(|n| n != author && gov.can_read(n));
    names.truncate(MAX_RECIPIENTS);
    names
}

/// The words after an `@` in `text`: the names it may mention.
fn named(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split('@').skip(1).take(MAX_RECIPIENTS * 2).filter_map(|rest| {
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.')).collect();
        let name = name.trim_end_matches('.').to_owned();
        (!name.is_empty()).then_some(name)
    })
}

/// A push's JSON, with or without the message's text.
struct Payload {
    room: String,
    author: String,
    dm: bool,
    text: String,
}

fn payload(job: &Job, text: &str) -> Payload {
    let text: String = text.chars().take(PREVIEW_CHARS).collect();
    let dm = job.gov.as_deref().is_some_and(|g| g.is_dm());
    Payload { room: job.room.to_string(), author: job.msg.author.clone(), dm, text }
}

impl Payload {
    fn with_text(&self) -> String {
        self.json(Some(&self.text))
    }

    fn without_text(&self) -> String {
        self.json(None)
    }

    fn json(&self, text: Option<&str>) -> String {
        let mut v = serde_json::json!({ "room": self.room, "author": self.author, "dm": self.dm });
        if let Some(t) = text {
            v["text"] = t.into();
        }
        v.to_string()
    }
}

async fn send(ctx: &PushCtx, vapid: &Vapid, name: &str, endpoint: &str, p256dh: &str, auth: &str, payload: &[u8]) {
    let exp = crate::infra::clock::now_ms() / 1000 + 12 * 3600;
    let (Ok(body), Ok(authorization)) =
        (webpush::encrypt(payload, p256dh, auth), vapid.authorization(endpoint, &ctx.subject, exp))
    else {
        ctx.metrics.pushes_failed.inc();
        return;
    };
    let headers = [
        ("Authorization", authorization.as_str()),
        ("Content-Encoding", "aes128gcm"),
        ("Content-Type", "application/octet-stream"),
        ("TTL", TTL_SECS),
        ("Urgency", "high"),
    ];
    match crate::infra::http::request_within(TIMEOUT, "POST", endpoint, &headers, Some(&body)).await {
        Ok(r) if (200..300).contains(&r.status) => {
            ctx.metrics.pushes_sent.inc();
        }
        Ok(r) if r.status == 404 || r.status == 410 => {
            ctx.metrics.pushes_failed.inc();
            tracing::debug!(status = r.status, "a push subscription is gone");
            if let Err(e) = ctx.accounts.push_gone(name, endpoint).await {
                tracing::warn!(error = %e, "cannot remove a push subscription that is gone");
            }
        }
        Ok(r) => {
            ctx.metrics.pushes_failed.inc();
            tracing::debug!(status = r.status, "a push service refused a push");
        }
        Err(e) => {
            ctx.metrics.pushes_failed.inc();
            tracing::debug!(error = %e, "a push service did not answer");
        }
    }
}

/// The node's page as push services see it: its WebSocket URL's origin,
/// over http(s).
pub fn subject_of(public_url: &str) -> String {
    let origin = webpush::origin(public_url);
    match origin.split_once("://") {
        Some(("wss", rest)) => format!("https://{rest}"),
        Some(("ws", rest)) => format!("http://{rest}"),
        _ => origin,
    }
}

#[cfg(test)]
mod tests {
    use super::named;

    #[test]
    fn names_after_an_at() {
        let n: Vec<String> = named("hi @bob and @carol-x. mail a@b.c, @ alone, @dave.").collect();
        assert_eq!(n, ["bob", "carol-x", "b.c", "dave"]);
    }
}
