//! Web Push subscriptions, kept in the account log like the rest of an
//! account (so whichever node holds a mention can push it), and the mesh's
//! VAPID key, made once and shared the same way.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use meshchat_shared::api::PushSubscribe;

use super::directory::PushSub;
use super::events::AccountEvent;
use super::service::{Accounts, AuthError, Me};
use crate::infra::clock::now_ms;
use crate::trust::webpush::{self, Vapid};

/// Browsers (endpoints) per account that take pushes.
pub const MAX_PUSH: usize = 10;
/// Bytes of an endpoint URL, and of each key.
const MAX_ENDPOINT: usize = 1024;
const MAX_KEY: usize = 128;

impl Accounts {
    /// The mesh's VAPID key: the one in the account log, else the
    /// operator's (`--vapid-key`), else one made now and written there.
    pub async fn vapid(&self) -> Result<Arc<Vapid>, AuthError> {
        if let Some(v) = self.vapid_cached() {
            return Ok(v);
        }
        let pkcs8 = match &self.config().vapid_pkcs8 {
            Some(der) => der.clone(),
            None => Vapid::generate().map_err(|e| AuthError::Unavailable(e.to_string()))?.pkcs8().to_vec(),
        };
        // The operator's key sorts first everywhere (at 0); a made one by time.
        let at = if self.config().vapid_pkcs8.is_some() { 0 } else { now_ms() };
        self.append(AccountEvent::PushKey { pkcs8: B64.encode(&pkcs8), at }).await?;
        self.vapid_cached().ok_or_else(|| AuthError::Unavailable("no VAPID key".into()))
    }

    /// The key the log holds now, parsed once per key; `None` until someone
    /// asked for one (then nobody can have subscribed).
    pub fn vapid_cached(&self) -> Option<Arc<Vapid>> {
        let current = self.read_directory(|d| d.push_key().map(str::to_owned))?;
        let mut cache = self.vapid_cache();
        if let Some((k, v)) = cache.as_ref()
            && *k == current
        {
            return Some(v.clone());
        }
        let v = Arc::new(Vapid::from_pkcs8(&B64.decode(&current).ok()?).ok()?);
        *cache = Some((current, v.clone()));
        Some(v)
    }

    pub async fn subscribe_push(&self, me: &Me, s: PushSubscribe) -> Result<(), AuthError> {
        let bad = |why: &str| Err(AuthError::Invalid(why.to_owned()));
        if s.endpoint.len() > MAX_ENDPOINT || s.p256dh.len() > MAX_KEY || s.auth.len() > MAX_KEY {
            return bad("a push subscription's endpoint is at most 1024 bytes, its keys 128");
        }
        if !endpoint_allowed(&s.endpoint, self.config().push_any_endpoint) {
            return bad("a push endpoint is an https:// URL of a public host");
        }
        webpush::check_keys(&s.p256dh, &s.auth).map_err(|e| AuthError::Invalid(e.to_string()))?;
        if s.key != self.vapid().await?.public_b64() {
            return bad("subscribed with another key: subscribe again with /api/push/key's");
        }
        let (live, known) = self.read_directory(|d| {
            d.get(&me.id).map_or((0, false), |a| {
                (
                    a.push.values().filter(|(_, s)| s.is_some()).count(),
                    a.push.get(&s.endpoint).is_some_and(|(_, x)| x.is_some()),
                )
            })
        });
        if live >= MAX_PUSH && !known {
            let why = format!("an account takes pushes on at most {MAX_PUSH} browsers: turn one off first");
            return Err(AuthError::LimitReached(why));
        }
        let PushSubscribe { endpoint, p256dh, auth, key, preview } = s;
        let (id, session, at) = (me.id.clone(), me.claims.clone(), now_ms());
        self.append(AccountEvent::PushSubscribed { id, endpoint, p256dh, auth, key, preview, session, at }).await
    }

    pub async fn unsubscribe_push(&self, me: &Me, endpoint: &str) -> Result<(), AuthError> {
        self.drop_push(&me.id, endpoint).await
    }

    /// The push service said the subscription is gone (404, 410).
    pub async fn push_gone(&self, name: &str, endpoint: &str) -> Result<(), AuthError> {
        let Some(id) = self.read_directory(|d| d.by_name(name).filter(|a| a.name == name).map(|a| a.id.clone())) else {
            return Ok(());
        };
        self.drop_push(&id, endpoint).await
    }

    async fn drop_push(&self, id: &str, endpoint: &str) -> Result<(), AuthError> {
        let known =
            self.read_directory(|d| d.get(id).is_some_and(|a| a.push.get(endpoint).is_some_and(|(_, s)| s.is_some())));
        if !known {
            return Ok(());
        }
        let e = AccountEvent::PushUnsubscribed { id: id.to_owned(), endpoint: endpoint.to_owned(), at: now_ms() };
        self.append(e).await
    }

    /// Where to push for `name` now: `(endpoint, subscription)`.
    pub fn push_targets(&self, name: &str, key: &str) -> Vec<(String, PushSub)> {
        self.read_directory(|d| {
            d.pushes(name, key, now_ms()).into_iter().map(|(e, s)| (e.to_owned(), s.clone())).collect()
        })
    }
}

/// An https URL of a named public host; with `any` (local tests), also
/// http and private addresses. The node posts to it: it must not be made
/// to reach what only it can reach.
pub fn endpoint_allowed(url: &str, any: bool) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') || url.chars().any(|c| c.is_control() || c == ' ') {
        return false;
    }
    if any {
        return matches!(scheme, "http" | "https");
    }
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(h, p)| if p.chars().all(|c| c.is_ascii_digit()) { h } else { authority });
    let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    let private = match host.parse::<std::net::IpAddr>() {
        Ok(_) => true,
        Err(_) => {
            host == "localhost" || host.ends_with(".localhost") || host.ends_with(".local") || !host.contains('.')
        }
    };
    scheme == "https" && !private
}

#[cfg(test)]
mod tests {
    use super::endpoint_allowed;

    #[test]
    fn only_public_https_endpoints_unless_told() {
        assert!(endpoint_allowed("https://fcm.googleapis.com/fcm/send/abc", false));
        assert!(endpoint_allowed("https://updates.push.services.mozilla.com:443/wpush/v2/x", false));
        for bad in [
            "http://fcm.googleapis.com/x",
            "https://127.0.0.1/x",
            "https://[::1]:8443/x",
            "https://10.0.0.5/x",
            "https://localhost/x",
            "https://metadata/x",
            "https://user@push.example.com/x",
            "ftp://push.example.com/x",
            "https://push.example.com/a b",
            "https:///x",
        ] {
            assert!(!endpoint_allowed(bad, false), "{bad}");
        }
        assert!(endpoint_allowed("http://127.0.0.1:9000/push/1", true));
        assert!(!endpoint_allowed("file:///etc/passwd", true));
    }
}
