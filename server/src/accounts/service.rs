//! The account operations, as routes and sessions call them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use meshchat_shared::{ErrorCode, RoomVector};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::directory::{Account, Denied, Directory, Revoked, name_key};
use super::events::{AUTHOR, AccountEvent, ROOM, Role};
use super::password::{Hasher, PasswordError};
use super::registry::{ClaimError, Registry};
use super::throttle::Throttle;
use super::token::{self, Claims, Keys, Kind, random_id};
use super::{AccountsConfig, Registration};
use crate::edge::conn::{ConnHandle, close};
use crate::infra::clock::now_ms;
use crate::room::{Hub, RoomHandle, system_log};
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    #[error("{0}")]
    Invalid(String),
    #[error("that name is taken")]
    NameTaken,
    #[error("wrong name or password")]
    BadCredentials,
    #[error("too many attempts; wait a while")]
    RateLimited,
    #[error("this node does not take new accounts without an invitation")]
    RegistrationClosed,
    #[error("not signed in, or the session has ended")]
    Unauthorized,
    #[error("only an admin may do that")]
    Forbidden,
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    LimitReached(String),
    #[error("this account was deactivated by an admin")]
    Deactivated,
    #[error("{0}")]
    CodeRequired(String),
}

impl AuthError {
    pub fn code(&self) -> ErrorCode {
        match self {
            AuthError::Invalid(_) => ErrorCode::Invalid,
            AuthError::NameTaken => ErrorCode::NameTaken,
            AuthError::BadCredentials => ErrorCode::BadCredentials,
            AuthError::RateLimited => ErrorCode::RateLimited,
            AuthError::RegistrationClosed => ErrorCode::RegistrationClosed,
            AuthError::Unauthorized => ErrorCode::Unauthorized,
            AuthError::Forbidden | AuthError::Deactivated => ErrorCode::Forbidden,
            AuthError::Unavailable(_) => ErrorCode::Unavailable,
            AuthError::LimitReached(_) => ErrorCode::LimitReached,
            AuthError::CodeRequired(_) => ErrorCode::CodeRequired,
        }
    }
}

impl From<PasswordError> for AuthError {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::Length => AuthError::Invalid(e.to_string()),
            PasswordError::Busy | PasswordError::Hash(_) => AuthError::Unavailable(e.to_string()),
        }
    }
}

impl From<ClaimError> for AuthError {
    fn from(e: ClaimError) -> Self {
        AuthError::Unavailable(format!("cannot make sure the name is unique: {e}"))
    }
}

/// A session's answer to `register` and `login`.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub token: String,
    pub name: String,
    pub role: Role,
}

/// Who is signing in: their address (for throttling) and User-Agent
/// (for the list of sessions).
#[derive(Debug, Clone)]
pub struct Caller {
    pub ip: IpAddr,
    pub agent: String,
}

/// Who a valid token speaks for.
#[derive(Debug, Clone)]
pub struct Me {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub claims: Claims,
}

/// A connection signed in with a session or token: closed when it is revoked.
struct Live {
    token: String,
    issued: u64,
    conn: ConnHandle,
}

pub struct Accounts {
    config: AccountsConfig,
    pub(super) me: String,
    pub(super) keys: Arc<dyn Keys>,
    hasher: Hasher,
    directory: RwLock<Directory>,
    pub(super) registry: Registry,
    log: RoomHandle,
    /// Where the log's texts of deleted accounts are erased.
    pub(super) store: Store,
    /// Failed sign-ins per name and per address.
    failures_by_name: Throttle<String>,
    failures_by_ip: Throttle<IpAddr>,
    /// Wrong old passwords per account: a stolen session must not guess.
    password_tries: Throttle<String>,
    /// API tokens made per account (each stays in every node's account log).
    pub(super) tokens_made: DefaultKeyedRateLimiter<String>,
    /// Registrations per address: each costs a hash and a mesh round trip.
    registrations: DefaultKeyedRateLimiter<IpAddr>,
    live: Mutex<HashMap<String, Vec<Live>>>,
    /// Uses of sessions recorded lately, by session id: at most one
    /// `SessionSeen` an hour each, even before the log has applied it.
    pub(super) seen_lately: Mutex<HashMap<String, u64>>,
    /// The last TOTP step taken here per account: a code works once.
    pub(super) steps_used: Mutex<HashMap<String, u64>>,
    /// The VAPID key parsed, with the log's text of it.
    vapid: Mutex<Option<(String, Arc<crate::trust::webpush::Vapid>)>>,
    /// The mesh's retention policy, for the rooms (as the log has it).
    retention: tokio::sync::watch::Sender<u32>,
    /// Names whose profile (picture, availability…) just changed here,
    /// for the connections that watch them.
    pub(super) profile_changes: tokio::sync::broadcast::Sender<super::profile::ProfileChange>,
    /// Bumped by every picture set applied here: the pictures it replaced
    /// are swept (`edge::http::avatar`), apart from the profile changes
    /// connections watch (a set that loses changes nothing shown).
    pub(super) pictures_set: tokio::sync::watch::Sender<u64>,
}

/// Live API tokens per account.
pub const MAX_TOKENS: usize = 50;

fn quota(burst: u32, every: Duration) -> Quota {
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(every).unwrap_or_else(|| Quota::per_minute(burst)).allow_burst(burst)
}

impl Accounts {
    /// Loads the account log from the store and follows it from then on.
    pub async fn start(
        config: AccountsConfig,
        me: &str,
        keys: Arc<dyn Keys>,
        registry: Registry,
        hub: &Arc<Hub>,
        store: Store,
    ) -> Result<Arc<Accounts>, StoreError> {
        let log = hub.room(ROOM);
        let accounts = Arc::new(Accounts {
            config: config.clone(),
            me: me.to_owned(),
            keys,
            hasher: Hasher::default(),
            directory: RwLock::new(Directory::new()),
            registry,
            log: log.clone(),
            store: store.clone(),
            // Failed sign-ins: 10 per name, then one a minute; 30 per
            // address, then one every 20 s.
            failures_by_name: Throttle::new(10, Duration::from_secs(60)),
            failures_by_ip: Throttle::new(30, Duration::from_secs(20)),
            // Wrong old passwords: 5 per account, then one a minute.
            password_tries: Throttle::new(5, Duration::from_secs(60)),
            // API tokens: 10 at once (by default), then one every 6 minutes.
            tokens_made: RateLimiter::keyed(quota(config.tokens_at_once, Duration::from_secs(360))),
            registrations: RateLimiter::keyed(quota(
                config.registrations_per_hour,
                Duration::from_secs(3600) / config.registrations_per_hour.max(1),
            )),
            live: Mutex::new(HashMap::new()),
            seen_lately: Mutex::new(HashMap::new()),
            steps_used: Mutex::new(HashMap::new()),
            vapid: Mutex::new(None),
            retention: hub.retention(),
            profile_changes: tokio::sync::broadcast::channel(super::profile::PROFILE_CHANGES).0,
            pictures_set: tokio::sync::watch::Sender::new(0),
        });
        let applied = accounts.catch_up(&store, RoomVector::new()).await?;
        tokio::spawn(follow(Arc::downgrade(&accounts), store, log, applied));
        Ok(accounts)
    }

    /// Applies the log's events beyond `applied`; returns what is applied now.
    async fn catch_up(&self, store: &Store, applied: RoomVector) -> Result<RoomVector, StoreError> {
        system_log::catch_up(store, &self.log, applied, |m| match serde_json::from_str::<AccountEvent>(&m.body) {
            Ok(e) => {
                self.apply(e.clone());
                self.erase_after(m, &e);
            }
            // An event of a deleted account, erased here already.
            Err(_) if meshchat_shared::rooms::is_redacted(&m.body) => {}
            Err(e) => tracing::warn!(origin = %m.origin, seq = m.seq, "unreadable account event: {e}"),
        })
        .await
    }

    /// Applies an event here and closes the connections it signs out.
    fn apply(&self, e: AccountEvent) {
        // Only while someone watches (not while the log is read at start).
        let watched = self.profile_changes.receiver_count() > 0;
        let changed = super::profile::changed(&e).filter(|_| watched).map(|id| (id.to_owned(), self.shown_profile(id)));
        let picture = matches!(e, AccountEvent::Avatar { .. });
        let (revoked, days) = self.directory.write().map(|mut d| (d.apply(e), d.retention_days())).unwrap_or_default();
        // Told once: the log applies again what this node applied as it wrote.
        if let Some((id, before)) = changed
            && self.shown_profile(&id) != before
        {
            self.tell_profile_changed(&id);
        }
        self.retention.send_if_modified(|d| std::mem::replace(d, days) != days);
        if picture {
            self.pictures_set.send_modify(|n| *n += 1);
        }
        for r in revoked {
            self.enforce(&r);
        }
    }

    fn enforce(&self, r: &Revoked) {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        for conns in live.values_mut() {
            conns.retain(|l| !l.conn.is_closed());
        }
        live.retain(|_, v| !v.is_empty());
        let hit = |account: &str, l: &Live| match r {
            Revoked::Session(id) | Revoked::Token(id) => l.token == *id,
            Revoked::Account { id, before } => account == id && l.issued < *before,
        };
        for (account, conns) in live.iter() {
            for l in conns.iter().filter(|l| hit(account, l)) {
                l.conn.close(close::POLICY, "signed out");
            }
        }
    }

    /// Writes an event to the log (durable here) and applies it.
    pub(super) async fn append(&self, e: AccountEvent) -> Result<(), AuthError> {
        let body = serde_json::to_string(&e).map_err(|e| AuthError::Unavailable(e.to_string()))?;
        match system_log::append(&self.log, AUTHOR, body).await {
            Ok(()) => {
                self.apply(e);
                Ok(())
            }
            Err(_) => Err(AuthError::Unavailable("the account log did not take the change".into())),
        }
    }

    fn prune(&self) {
        if let Ok(mut d) = self.directory.write() {
            d.prune(now_ms());
        }
        self.failures_by_name.prune();
        self.failures_by_ip.prune();
        self.password_tries.prune();
        self.registrations.retain_recent();
        self.tokens_made.retain_recent();
    }

    pub(super) fn directory(&self) -> std::sync::RwLockReadGuard<'_, Directory> {
        self.directory.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads the directory through `f` (the lock is not held beyond it).
    pub(super) fn read_directory<T>(&self, f: impl FnOnce(&Directory) -> T) -> T {
        f(&self.directory())
    }

    pub(super) fn vapid_cache(&self) -> std::sync::MutexGuard<'_, Option<(String, Arc<crate::trust::webpush::Vapid>)>> {
        self.vapid.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn log(&self) -> &RoomHandle {
        &self.log
    }

    pub fn config(&self) -> &AccountsConfig {
        &self.config
    }

    /// Does an account have this name (or one that looks like it)?
    /// Account names starting with `prefix`, for autocompletion.
    pub fn names_starting(&self, prefix: &str) -> Vec<String> {
        self.directory().names_starting(prefix, 20)
    }

    /// The name of the account called `name` (as it was registered).
    pub fn account_name(&self, name: &str) -> Option<String> {
        self.directory().by_name(name).map(|a| a.name.clone())
    }

    /// Claims `key` for `value` with a majority of the nodes; the value
    /// chosen (ours, or one claimed before).
    pub async fn claim(&self, key: &str, value: &str) -> Result<String, AuthError> {
        Ok(self.registry.claim(key, value).await?)
    }

    pub fn is_account_name(&self, name: &str) -> bool {
        self.directory().by_name(name).is_some()
    }

    pub fn count(&self) -> usize {
        self.directory().len()
    }

    /// A new session, listed (with `agent`, the caller's User-Agent made a
    /// label) where the person can see and end it.
    pub(super) async fn issue(&self, id: &str, name: &str, role: Role, agent: &str) -> Result<SignedIn, AuthError> {
        let now = now_ms();
        let claims = Claims {
            kind: Kind::Session,
            account: id.to_owned(),
            id: random_id(),
            issued: now,
            expires: now + self.config.session_ttl.as_millis() as u64,
            issuer: self.me.clone(),
        };
        let token = token::encode(&claims, &*self.keys).ok_or_else(|| AuthError::Unavailable("cannot sign".into()))?;
        self.append(AccountEvent::SessionStarted {
            id: id.to_owned(),
            session: claims.id.clone(),
            agent: super::sessions::agent_label(agent),
            node: self.me.clone(),
            at: now,
            expires: claims.expires,
        })
        .await?;
        Ok(SignedIn { token, name: name.to_owned(), role })
    }

    pub async fn register(
        &self,
        name: &str,
        password: String,
        invite: Option<&str>,
        from: &Caller,
    ) -> Result<SignedIn, AuthError> {
        let ip = from.ip;
        let name = crate::core::names::canonical(name).map_err(|e| AuthError::Invalid(e.to_string()))?;
        super::password::validate(&password)?;
        self.registrations.check_key(&ip).map_err(|_| AuthError::RateLimited)?;
        let first = self.directory().is_empty();
        let key = name_key(&name);
        // The mesh's first account needs no invitation.
        let invite_hash = match (self.registration(), first) {
            (_, true) | (Registration::Open, _) => None,
            (Registration::Closed, false) => return Err(AuthError::RegistrationClosed),
            (Registration::Invite, false) => {
                let code = invite.ok_or(AuthError::RegistrationClosed)?;
                let h = sha256_hex(code);
                if self.directory().invite(&h, now_ms()).is_none() {
                    return Err(AuthError::Invalid("that invitation is unknown or has expired".into()));
                }
                Some(h)
            }
        };
        if self.is_account_name(&name) {
            return Err(AuthError::NameTaken);
        }
        if let Some(h) = invite_hash {
            // Single use across the mesh: the invitation is claimed for this name.
            let chosen = self.registry.claim(&format!("invite:{h}"), &key).await?;
            if chosen != key {
                return Err(AuthError::Invalid("that invitation was used already".into()));
            }
        }
        let hash = self.hasher.hash(password).await?;
        let (id, role) = self.create(&name, hash, first).await?;
        self.issue(&id, &name, role, &from.agent).await
    }

    /// Makes the account `name` (`hash`: its password's, empty for none):
    /// the name claimed mesh-wide, the mesh's first account its admin.
    pub(super) async fn create(&self, name: &str, hash: String, first: bool) -> Result<(String, Role), AuthError> {
        let (id, at, key) = (random_id(), now_ms(), name_key(name));
        let claimed =
            AccountEvent::Created { id: id.clone(), name: name.to_owned(), hash: hash.clone(), role: Role::Member, at };
        let value = serde_json::to_string(&claimed).map_err(|e| AuthError::Unavailable(e.to_string()))?;
        let chosen = self.registry.claim(&format!("name:{key}"), &value).await?;
        if chosen != value {
            // Someone else's registration won; make sure its account exists.
            if let Ok(theirs @ AccountEvent::Created { .. }) = serde_json::from_str::<AccountEvent>(&chosen)
                && !self.is_account_name(name)
            {
                let _ = self.append(theirs).await;
            }
            return Err(AuthError::NameTaken);
        }
        let role =
            if first && self.registry.claim("first-admin", &id).await? == id { Role::Admin } else { Role::Member };
        self.append(AccountEvent::Created { id: id.clone(), name: name.to_owned(), hash, role, at }).await?;
        Ok((id, role))
    }

    /// Each try takes one of the name's and one of the address's tries
    /// before the password is checked, and gives them back if it is right.
    /// With two-factor sign-in on, `code` is the app's code or a recovery
    /// code: a wrong one counts as a failed try; none asked for is not one.
    pub async fn login(
        &self,
        name: &str,
        password: String,
        code: Option<&str>,
        from: &Caller,
    ) -> Result<SignedIn, AuthError> {
        let ip = from.ip;
        let key = name_key(name);
        if !self.failures_by_name.reserve(&key) {
            return Err(AuthError::RateLimited);
        }
        if !self.failures_by_ip.reserve(&ip) {
            self.failures_by_name.give_back(&key);
            return Err(AuthError::RateLimited);
        }
        // A deleted account has no password: checked against the decoy, in
        // the same time as any other.
        let account = self.directory().by_name(name).filter(|a| !a.erased).cloned();
        let hash = account.as_ref().map(|a| a.hash.1.clone());
        let checked = self.hasher.verify(password, hash).await;
        let give_back = || {
            self.failures_by_name.give_back(&key);
            self.failures_by_ip.give_back(&ip);
        };
        if checked.is_err() {
            give_back();
        }
        let a = match (checked?, account) {
            (true, Some(a)) => a,
            _ => return Err(AuthError::BadCredentials),
        };
        // Said only to who knows the password.
        if !a.active.1 {
            give_back();
            return Err(AuthError::Deactivated);
        }
        match self.second_factor(&a, code).await {
            Ok(()) => give_back(),
            // Asked for the code: not a failed try.
            Err(AuthError::CodeRequired(m)) if code.is_none_or(|c| c.trim().is_empty()) => {
                give_back();
                return Err(AuthError::CodeRequired(m));
            }
            Err(e) => return Err(e),
        }
        self.issue(&a.id, &a.name, a.role.1, &from.agent).await
    }

    /// The account a token speaks for, if it is good now: `Unauthorized`,
    /// or `Unavailable` when another node issued it for an account this
    /// one has not heard of yet (the client tries again, or elsewhere).
    pub fn authenticate(&self, token: &str) -> Result<Me, AuthError> {
        let claims = token::decode(token, &*self.keys).ok_or(AuthError::Unauthorized)?;
        let d = self.directory();
        match d.check(&claims, now_ms()) {
            Ok(a) => {
                let me = Me { id: a.id.clone(), name: a.name.clone(), role: a.role.1, claims };
                let last = a.sessions.get(&me.claims.id).map(|s| s.last);
                drop(d);
                self.seen(&me, last);
                Ok(me)
            }
            Err(Denied::Ended) => Err(AuthError::Unauthorized),
            Err(Denied::Unknown) => {
                Err(AuthError::Unavailable("this node has not caught up with that account yet".into()))
            }
        }
    }

    /// Closes `conn` when the session (or token) it signed in with ends.
    pub fn watch(&self, me: &Me, conn: ConnHandle) {
        let live = Live { token: me.claims.id.clone(), issued: me.claims.issued, conn };
        self.live.lock().unwrap_or_else(|p| p.into_inner()).entry(me.id.clone()).or_default().push(live);
    }

    pub async fn logout(&self, me: &Me) -> Result<(), AuthError> {
        match me.claims.kind {
            Kind::Session => {
                self.append(AccountEvent::RevokeSession { session: me.claims.id.clone(), until: me.claims.expires })
                    .await
            }
            Kind::Api => self.revoke_token(me, &me.claims.id).await,
        }
    }

    /// A new password; every other session of the account ends. Returns a
    /// new session for the caller.
    pub async fn change_password(
        &self,
        me: &Me,
        old: String,
        new: String,
        from: &Caller,
    ) -> Result<SignedIn, AuthError> {
        super::password::validate(&new)?;
        self.check_own_password(me, old).await?;
        let account = self.directory().get(&me.id).cloned().ok_or(AuthError::Unauthorized)?;
        self.set_password(&account, new, from).await
    }

    /// The caller's own password, guessed no faster than 5 tries, then one
    /// a minute: a stolen session must not find it.
    pub(super) async fn check_own_password(&self, me: &Me, password: String) -> Result<(), AuthError> {
        if !self.password_tries.reserve(&me.id) {
            return Err(AuthError::RateLimited);
        }
        let current = self.directory().get(&me.id).map(|a| a.hash.1.clone());
        let checked = self.hasher.verify(password, current).await;
        if !matches!(checked, Ok(false)) {
            self.password_tries.give_back(&me.id);
        }
        if checked? { Ok(()) } else { Err(AuthError::BadCredentials) }
    }

    /// A new password for `a`; every session of it ends. Returns a new
    /// session for the caller.
    pub(super) async fn set_password(&self, a: &Account, new: String, from: &Caller) -> Result<SignedIn, AuthError> {
        let hash = self.hasher.hash(new).await?;
        let now = now_ms();
        self.append(AccountEvent::Password { id: a.id.clone(), hash, at: now }).await?;
        self.append(AccountEvent::RevokeAll { id: a.id.clone(), before: now + 1 }).await?;
        // Issued after the revocation, so it lives on.
        tokio::time::sleep(Duration::from_millis(2)).await;
        self.issue(&a.id, &a.name, a.role.1, &from.agent).await
    }
}

/// Applies the account log as it grows (from peers, after restarts).
async fn follow(accounts: std::sync::Weak<Accounts>, store: Store, log: RoomHandle, mut applied: RoomVector) {
    let mut status = log.watch();
    let mut prune = tokio::time::interval(Duration::from_secs(600));
    loop {
        tokio::select! {
            r = status.changed() => if r.is_err() { return },
            _ = prune.tick() => {
                if let Some(a) = accounts.upgrade() {
                    a.prune();
                }
                continue;
            }
        }
        let Some(a) = accounts.upgrade() else { return };
        match a.catch_up(&store, applied.clone()).await {
            Ok(v) => applied = v,
            Err(e) => tracing::warn!(error = %e, "cannot read the account log"),
        }
    }
}

pub(super) fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}
