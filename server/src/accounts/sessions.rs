//! Where a person is signed in: each session listed with the device it
//! began on, the node, first and last use; ended one at a time or all but
//! the current one. API tokens are listed the same way.

use meshchat_shared::api::{ApiToken, SessionEntry, Sessions};

use super::events::{AUTHOR, AccountEvent};
use super::service::{Accounts, AuthError, Me};
use super::token::Kind;
use crate::infra::clock::now_ms;
use crate::room::system_log;

/// A use of a session is recorded at most this often: the list says
/// "last used" to the hour, and the account log does not grow per request.
pub const SEEN_EVERY_MS: u64 = 3_600_000;
/// A connection's end is recorded at most this often a session: a
/// person's "last seen" to ten minutes, for what they left.
pub const LEFT_EVERY_MS: u64 = 600_000;

impl Accounts {
    /// Records, at most hourly, that `me`'s session or token was used;
    /// `last` is the use the log knows of (`None`: not listed).
    pub(super) fn seen(&self, me: &Me, last: Option<u64>) {
        self.record_use(me, last, SEEN_EVERY_MS);
    }

    /// Records that a connection of `me` ended now (their last seen), at
    /// most every [`LEFT_EVERY_MS`] a session on this node.
    pub fn left(&self, me: &Me) {
        let listed = self.read_directory(|d| d.get(&me.id).is_some_and(|a| a.sessions.contains_key(&me.claims.id)));
        if listed {
            self.record_use(me, Some(0), LEFT_EVERY_MS);
        }
    }

    /// Records a use of `me`'s session or token unless one was recorded
    /// within `every` ms (by the log, or by this node lately).
    fn record_use(&self, me: &Me, last: Option<u64>, every: u64) {
        let now = now_ms();
        let listed = last.is_some() || me.claims.kind == Kind::Api;
        if !listed || last.is_some_and(|l| now < l.saturating_add(every)) {
            return;
        }
        {
            let mut lately = self.seen_lately.lock().unwrap_or_else(|p| p.into_inner());
            if lately.get(&me.claims.id).is_some_and(|t| now < t + every) {
                return;
            }
            lately.retain(|_, t| now < *t + SEEN_EVERY_MS);
            lately.insert(me.claims.id.clone(), now);
        }
        let event = AccountEvent::SessionSeen { id: me.id.clone(), session: me.claims.id.clone(), at: now };
        let (Ok(body), Ok(rt)) = (serde_json::to_string(&event), tokio::runtime::Handle::try_current()) else {
            return;
        };
        // The log's follower applies it here too, once durable.
        let log = self.log().clone();
        rt.spawn(async move {
            if let Err(code) = system_log::append(&log, AUTHOR, body).await {
                tracing::debug!(?code, "a session's use was not recorded");
            }
        });
    }

    /// The caller's live sessions (the current one marked) and API tokens.
    pub fn sessions(&self, me: &Me) -> Sessions {
        let now = now_ms();
        self.read_directory(|d| {
            let Some(a) = d.get(&me.id) else { return Sessions::default() };
            let mut sessions: Vec<SessionEntry> = d
                .live_sessions(a, now)
                .map(|(id, s)| SessionEntry {
                    id: id.clone(),
                    agent: s.agent.clone(),
                    node: s.node.clone(),
                    started: s.started,
                    last: s.last,
                    expires: s.expires,
                    current: *id == me.claims.id,
                })
                .collect();
            sessions.sort_by_key(|s| std::cmp::Reverse((s.current, s.last)));
            let tokens = a
                .tokens
                .iter()
                .filter(|(_, t)| !t.revoked)
                .map(|(id, t)| ApiToken {
                    id: id.clone(),
                    label: t.label.clone(),
                    created: t.at,
                    token: None,
                    last_used: a.sessions.get(id).map(|s| s.last).filter(|l| *l > 0),
                })
                .collect();
            Sessions { sessions, tokens }
        })
    }

    /// Ends one of the caller's sessions (or API tokens), on every node.
    pub async fn end_session(&self, me: &Me, id: &str) -> Result<(), AuthError> {
        if self.read_directory(|d| d.get(&me.id).is_some_and(|a| a.tokens.contains_key(id))) {
            return self.revoke_token(me, id).await;
        }
        let now = now_ms();
        let until = self.read_directory(|d| {
            let a = d.get(&me.id)?;
            d.live_sessions(a, now).find(|(s, _)| s.as_str() == id).map(|(_, s)| s.expires)
        });
        let until = until.ok_or_else(|| AuthError::Invalid("no such session".into()))?;
        self.append(AccountEvent::RevokeSession { session: id.to_owned(), until }).await
    }

    /// Ends every session of the caller's but the current one; how many.
    pub async fn end_other_sessions(&self, me: &Me) -> Result<usize, AuthError> {
        let now = now_ms();
        let others: Vec<(String, u64)> = self.read_directory(|d| {
            let Some(a) = d.get(&me.id) else { return Vec::new() };
            d.live_sessions(a, now)
                .filter(|(id, _)| **id != me.claims.id)
                .map(|(id, s)| (id.clone(), s.expires))
                .collect()
        });
        for (session, until) in &others {
            self.append(AccountEvent::RevokeSession { session: session.clone(), until: *until }).await?;
        }
        Ok(others.len())
    }
}

/// A short label for a User-Agent, in the node's own words: what the list
/// of sessions shows ("Firefox on Linux"); nothing of the header's text.
pub fn agent_label(ua: &str) -> String {
    const APPS: [(&str, &str); 9] = [
        ("meshchat-client", "meshchat terminal"),
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
        ("python", "Python"),
    ];
    const SYSTEMS: [(&str, &str); 7] = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("CrOS", "ChromeOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ];
    let app = APPS.iter().find(|(k, _)| ua.contains(k)).map_or("unknown app", |(_, v)| v);
    match SYSTEMS.iter().find(|(k, _)| ua.contains(k)) {
        Some((_, os)) => format!("{app} on {os}"),
        None => app.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::agent_label;

    #[test]
    fn user_agents_become_labels_in_our_words() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(agent_label(firefox), "Firefox on Linux");
        let chrome = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36";
        assert_eq!(agent_label(chrome), "Chrome on Android");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605 Version/17.0 Safari/604.1";
        assert_eq!(agent_label(safari), "Safari on iOS");
        assert_eq!(agent_label("meshchat-client/0.1"), "meshchat terminal");
        assert_eq!(agent_label("<script>alert(1)</script>"), "unknown app");
    }
}
