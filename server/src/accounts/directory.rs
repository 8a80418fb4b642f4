//! The accounts as this node knows them: the account log, applied.
//!
//! Pure state: events in, answers out. Events may come in any order (an
//! account's password change before its creation, on a node that was
//! away): those about an account not created yet wait for it.

use std::collections::{BTreeMap, HashMap};

use meshchat_shared::profile::{Availability, ProfileFields};

use super::events::{AccountEvent, Role};
use super::token::{Claims, Kind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub name: String,
    /// The password hash and when it was set.
    pub hash: (u64, String),
    pub role: (u64, Role),
    /// Sessions issued before this are dead.
    pub revoke_before: u64,
    /// API tokens by id: label, created, revoked.
    pub tokens: BTreeMap<String, ApiToken>,
    /// Web Push subscriptions by endpoint: when last set, and what (`None`:
    /// removed, kept so that an older subscribe arriving later loses).
    pub push: BTreeMap<String, (u64, Option<PushSub>)>,
    /// The profile and when it was set.
    pub profile: (u64, ProfileFields),
    /// The picture and when it was set.
    pub avatar: (u64, Option<super::events::AvatarRef>),
    /// Pictures a later set replaced, in whatever order the sets came:
    /// the node that made each deletes it (`edge::http::avatar::sweep`).
    pub superseded: Vec<super::events::AvatarRef>,
    /// Deactivated by an admin (`false`), and when that was last set.
    pub active: (u64, bool),
    /// Sessions begun and tokens used, by id: where, and first and last use.
    pub sessions: BTreeMap<String, SessionInfo>,
    /// Two-factor sign-in, when last set: the TOTP secret (base32) and the
    /// SHA-256 of each recovery code; `None` when off.
    pub two_factor: (u64, Option<(String, Vec<String>)>),
    /// Recovery codes used (their SHA-256).
    pub recovery_used: std::collections::BTreeSet<String>,
    /// Deleted by its person: nothing of it is kept but its id and name.
    pub erased: bool,
    /// Signs in through the identity provider as this subject (its hash).
    pub sso: Option<String>,
}

impl Account {
    fn new(id: String, name: String, hash: String, role: Role, at: u64) -> Account {
        Account {
            id,
            name,
            hash: (at, hash),
            role: (at, role),
            revoke_before: 0,
            tokens: BTreeMap::new(),
            push: BTreeMap::new(),
            profile: (0, ProfileFields::default()),
            avatar: (0, None),
            superseded: Vec::new(),
            active: (0, true),
            sessions: BTreeMap::new(),
            two_factor: (0, None),
            recovery_used: Default::default(),
            erased: false,
            sso: None,
        }
    }

    /// Forgets everything of the account but who it was: it can never sign
    /// in again, and no later event of it applies.
    fn erase(&mut self) {
        let (id, name) = (std::mem::take(&mut self.id), std::mem::take(&mut self.name));
        *self = Account::new(id, name, String::new(), Role::Member, u64::MAX);
        (self.active, self.revoke_before, self.erased) = ((u64::MAX, false), u64::MAX, true);
    }
}

/// One session (or API token) as the list of where one is signed in shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionInfo {
    /// "Firefox on Linux", "meshchat terminal": a label of the node's words.
    pub agent: String,
    /// The node that began it.
    pub node: String,
    pub started: u64,
    pub expires: u64,
    pub last: u64,
}

/// An admin's action, as the audit log shows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AuditEntry {
    pub at: u64,
    pub by: String,
    pub action: String,
    pub target: String,
}

/// How many audit entries a node keeps in memory (the log keeps them all).
pub const AUDIT_KEPT: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSub {
    pub p256dh: String,
    pub auth: String,
    pub key: String,
    pub preview: bool,
    pub session: Claims,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub label: String,
    pub at: u64,
    pub revoked: bool,
}

/// A session or token that must stop working now: its connections close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    Session(String),
    /// Every session of the account issued before `before`.
    Account {
        id: String,
        before: u64,
    },
    Token(String),
}

/// Why a validly signed token does not work here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// A node of the mesh issued it for an account (or API token) this node
    /// has not heard of yet: this node is behind, not the token bad.
    Unknown,
    /// Expired, logged out, or revoked.
    Ended,
}

#[derive(Debug, Default)]
pub struct Directory {
    accounts: HashMap<String, Account>,
    /// The confusable skeleton of each name: its uniqueness key.
    by_key: HashMap<String, String>,
    /// Sessions logged out, until they would have expired anyway.
    revoked: HashMap<String, u64>,
    invites: HashMap<String, (u64, String)>,
    /// Events about accounts not created here yet.
    waiting: Vec<AccountEvent>,
    /// The mesh's VAPID key: `(at, pkcs8)`, the smallest seen.
    push_key: Option<(u64, String)>,
    /// Admins' actions, oldest first, the latest [`AUDIT_KEPT`].
    audit: Vec<AuditEntry>,
    /// Sign-up rules set at run time: `(at, registration, guests,
    /// admins need two-factor sign-in)`.
    settings: Option<(u64, String, bool, bool)>,
    /// The mesh's retention policy: `(at, days)`, the latest.
    retention: Option<(u64, u32)>,
    /// Invitations withdrawn (kept so that the invitation, arriving
    /// after, stays withdrawn).
    invites_revoked: std::collections::HashSet<String>,
    /// Password reset links by code hash: `(expires, account id)`.
    resets: HashMap<String, (u64, String)>,
}

/// The uniqueness key of a name: names that look alike share it.
pub fn name_key(name: &str) -> String {
    crate::core::names::skeleton(name)
}

impl Directory {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one event; returns what stops working because of it.
    pub fn apply(&mut self, event: AccountEvent) -> Vec<Revoked> {
        match event {
            AccountEvent::Created { id, name, hash, role, at } => {
                if self.accounts.contains_key(&id) {
                    return Vec::new();
                }
                self.by_key.insert(name_key(&name), id.clone());
                self.accounts.insert(id.clone(), Account::new(id.clone(), name, hash, role, at));
                // Whatever waited for this account applies now.
                let (mine, rest): (Vec<_>, Vec<_>) =
                    std::mem::take(&mut self.waiting).into_iter().partition(|e| account_of(e) == Some(id.as_str()));
                self.waiting = rest;
                mine.into_iter().flat_map(|e| self.apply(e)).collect()
            }
            AccountEvent::Erased { id, name, .. } => {
                // Its `created` may be erased already (a restart): the name
                // stays taken all the same.
                if !self.accounts.contains_key(&id) {
                    self.by_key.insert(name_key(&name), id.clone());
                    self.accounts.insert(id.clone(), Account::new(id.clone(), name, String::new(), Role::Member, 0));
                }
                self.waiting.retain(|e| account_of(e) != Some(id.as_str()));
                if let Some(a) = self.accounts.get_mut(&id) {
                    a.erase();
                }
                vec![Revoked::Account { id, before: u64::MAX }]
            }
            AccountEvent::RevokeSession { session, until } => {
                let u = self.revoked.entry(session.clone()).or_insert(until);
                *u = (*u).max(until);
                vec![Revoked::Session(session)]
            }
            AccountEvent::Invite { code_hash, by, expires } => {
                if !self.invites_revoked.contains(&code_hash) {
                    self.invites.insert(code_hash, (expires, by));
                }
                Vec::new()
            }
            AccountEvent::InviteRevoked { code_hash } => {
                self.invites.remove(&code_hash);
                self.invites_revoked.insert(code_hash);
                Vec::new()
            }
            AccountEvent::Audit { by, action, target, at } => {
                let entry = AuditEntry { at, by, action, target };
                let i = self.audit.partition_point(|e| *e < entry);
                if self.audit.get(i) != Some(&entry) {
                    self.audit.insert(i, entry);
                }
                if self.audit.len() > AUDIT_KEPT {
                    self.audit.remove(0);
                }
                Vec::new()
            }
            AccountEvent::Settings { registration, guests, admins_need_two_factor, at } => {
                let new = (at, registration, guests, admins_need_two_factor);
                if self.settings.as_ref().is_none_or(|old| new > *old) {
                    self.settings = Some(new);
                }
                Vec::new()
            }
            AccountEvent::Retention { days, at } => {
                if self.retention.is_none_or(|old| (at, days) > old) {
                    self.retention = Some((at, days));
                }
                Vec::new()
            }
            AccountEvent::ResetLink { code_hash, id, expires } => {
                self.resets.insert(code_hash, (expires, id));
                Vec::new()
            }
            AccountEvent::PushKey { pkcs8, at } => {
                if self.push_key.as_ref().is_none_or(|k| (at, &pkcs8) < (k.0, &k.1)) {
                    self.push_key = Some((at, pkcs8));
                }
                Vec::new()
            }
            e => match account_of(&e).and_then(|id| self.accounts.get_mut(id)) {
                Some(a) => apply_to(a, e),
                None => {
                    self.waiting.push(e);
                    Vec::new()
                }
            },
        }
    }

    pub fn get(&self, id: &str) -> Option<&Account> {
        self.accounts.get(id)
    }

    /// The account whose name looks like `name`, if any.
    /// The account that signs in as this subject of the identity provider.
    pub fn by_sso(&self, subject: &str) -> Option<&Account> {
        self.accounts.values().find(|a| a.sso.as_deref() == Some(subject))
    }

    pub fn by_name(&self, name: &str) -> Option<&Account> {
        self.by_key.get(&name_key(name)).and_then(|id| self.accounts.get(id))
    }

    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    /// Up to `limit` account names starting with `prefix` (any case), sorted.
    pub fn names_starting(&self, prefix: &str, limit: usize) -> Vec<String> {
        let prefix = prefix.to_lowercase();
        let mut names: Vec<String> = self
            .accounts
            .values()
            .filter(|a| a.name.to_lowercase().starts_with(&prefix))
            .map(|a| a.name.clone())
            .collect();
        names.sort();
        names.truncate(limit);
        names
    }

    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// The invitation with this code hash, if it exists and has not expired.
    pub fn invite(&self, code_hash: &str, now: u64) -> Option<&(u64, String)> {
        self.invites.get(code_hash).filter(|(expires, _)| *expires > now)
    }

    /// The invitations that work at `now`: `(code hash, expires, by whom)`,
    /// soonest to expire first.
    pub fn invites(&self, now: u64) -> Vec<(&str, u64, &str)> {
        let mut all: Vec<(&str, u64, &str)> = self
            .invites
            .iter()
            .filter(|(_, (expires, _))| *expires > now)
            .map(|(h, (expires, by))| (h.as_str(), *expires, by.as_str()))
            .collect();
        all.sort_by_key(|(h, e, _)| (*e, *h));
        all
    }

    /// The account a password reset link with this code hash is for, if
    /// it exists and has not expired.
    pub fn reset_link(&self, code_hash: &str, now: u64) -> Option<&Account> {
        let (_, id) = self.resets.get(code_hash).filter(|(expires, _)| *expires > now)?;
        self.accounts.get(id)
    }

    /// The audit log, newest first, at most `limit` entries.
    pub fn audit(&self, limit: usize) -> Vec<AuditEntry> {
        self.audit.iter().rev().take(limit).cloned().collect()
    }

    /// The sign-up rules an admin set at run time, if any: `(registration,
    /// guests, admins need two-factor sign-in)`.
    pub fn settings(&self) -> Option<(&str, bool, bool)> {
        self.settings.as_ref().map(|(_, r, g, a)| (r.as_str(), *g, *a))
    }

    /// The mesh's retention policy in days (0: messages are kept).
    pub fn retention_days(&self) -> u32 {
        self.retention.map_or(0, |(_, d)| d)
    }

    /// Every account, by name.
    /// Whether `hash` is an account's picture now.
    /// See [`Accounts::superseded_pictures`](super::Accounts::superseded_pictures).
    pub fn superseded_pictures(&self, origin: &str) -> Vec<(String, super::events::AvatarRef)> {
        let live = self.accounts.values().filter(|a| !a.erased);
        live.flat_map(|a| {
            let old = a.superseded.iter().filter(|r| r.origin == origin && a.avatar.1.as_ref() != Some(*r));
            old.map(|r| (a.name.clone(), r.clone()))
        })
        .collect()
    }

    pub fn is_avatar(&self, hash: &str) -> bool {
        self.accounts.values().any(|a| a.avatar.1.as_ref().is_some_and(|r| r.hash == hash))
    }

    pub fn all(&self) -> Vec<&Account> {
        let mut all: Vec<&Account> = self.accounts.values().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// The account's sessions that still work at `now` (not API tokens).
    pub fn live_sessions<'a>(
        &'a self,
        a: &'a Account,
        now: u64,
    ) -> impl Iterator<Item = (&'a String, &'a SessionInfo)> {
        a.sessions.iter().filter(move |(id, s)| {
            !a.tokens.contains_key(*id)
                && s.expires > now
                && s.started >= a.revoke_before
                && !self.revoked.contains_key(*id)
        })
    }

    /// The account a (validly signed) token speaks for, if it is still
    /// good at `now`.
    pub fn check(&self, c: &Claims, now: u64) -> Result<&Account, Denied> {
        let a = self.accounts.get(&c.account).ok_or(Denied::Unknown)?;
        if c.issued < a.revoke_before || !a.active.1 {
            return Err(Denied::Ended);
        }
        let good = match c.kind {
            Kind::Session => c.expires > now && !self.revoked.contains_key(&c.id),
            Kind::Api => !a.tokens.get(&c.id).ok_or(Denied::Unknown)?.revoked,
        };
        if good { Ok(a) } else { Err(Denied::Ended) }
    }

    /// The mesh's VAPID key (PKCS#8, base64url), once one was made.
    pub fn push_key(&self) -> Option<&str> {
        self.push_key.as_ref().map(|(_, k)| k.as_str())
    }

    /// The live push subscriptions of the account named `name`: made with
    /// `key`, under a session that still works at `now`; by endpoint.
    /// None while the person has set "do not disturb".
    pub fn pushes(&self, name: &str, key: &str, now: u64) -> Vec<(&str, &PushSub)> {
        let Some(a) = self.by_name(name).filter(|a| a.name == name) else { return Vec::new() };
        if a.profile.1.availability == Availability::Dnd {
            return Vec::new();
        }
        a.push
            .iter()
            .filter_map(|(e, (_, s))| Some((e.as_str(), s.as_ref()?)))
            .filter(|(_, s)| s.key == key && self.check(&s.session, now).is_ok())
            .collect()
    }

    /// Forgets logged-out sessions that have expired anyway.
    pub fn prune(&mut self, now: u64) {
        self.revoked.retain(|_, until| *until > now);
        self.invites.retain(|_, (expires, _)| *expires > now);
        self.resets.retain(|_, (expires, _)| *expires > now);
        for a in self.accounts.values_mut() {
            let tokens = &a.tokens;
            a.sessions.retain(|id, s| tokens.contains_key(id) || s.expires > now);
        }
    }
}

/// The latest word on an endpoint wins; at the same time, a removal.
fn set_push(a: &mut Account, endpoint: String, at: u64, sub: Option<PushSub>) {
    let newer =
        a.push.get(&endpoint).is_none_or(|(was, old)| at > *was || (at == *was && old.is_some() && sub.is_none()));
    if newer {
        a.push.insert(endpoint, (at, sub));
    }
}

pub(super) fn account_of(e: &AccountEvent) -> Option<&str> {
    match e {
        AccountEvent::Created { id, .. }
        | AccountEvent::Password { id, .. }
        | AccountEvent::RevokeAll { id, .. }
        | AccountEvent::Role { id, .. }
        | AccountEvent::TokenCreated { id, .. }
        | AccountEvent::TokenRevoked { id, .. }
        | AccountEvent::PushSubscribed { id, .. }
        | AccountEvent::PushUnsubscribed { id, .. }
        | AccountEvent::Profile { id, .. }
        | AccountEvent::Avatar { id, .. }
        | AccountEvent::SessionStarted { id, .. }
        | AccountEvent::SessionSeen { id, .. }
        | AccountEvent::Active { id, .. }
        | AccountEvent::TwoFactor { id, .. }
        | AccountEvent::Erased { id, .. }
        | AccountEvent::SsoLinked { id, .. }
        | AccountEvent::RecoveryUsed { id, .. } => Some(id),
        AccountEvent::RevokeSession { .. }
        | AccountEvent::Invite { .. }
        | AccountEvent::InviteRevoked { .. }
        | AccountEvent::PushKey { .. }
        | AccountEvent::Audit { .. }
        | AccountEvent::Settings { .. }
        | AccountEvent::Retention { .. }
        | AccountEvent::ResetLink { .. } => None,
    }
}

fn apply_to(a: &mut Account, e: AccountEvent) -> Vec<Revoked> {
    if a.erased {
        return Vec::new();
    }
    match e {
        AccountEvent::Password { hash, at, .. } => {
            if at >= a.hash.0 {
                a.hash = (at, hash);
            }
            Vec::new()
        }
        AccountEvent::RevokeAll { before, .. } => {
            a.revoke_before = a.revoke_before.max(before);
            vec![Revoked::Account { id: a.id.clone(), before: a.revoke_before }]
        }
        AccountEvent::Role { role, at, .. } => {
            if at >= a.role.0 {
                a.role = (at, role);
            }
            Vec::new()
        }
        AccountEvent::TokenCreated { token, label, at, .. } => {
            // Its revocation may have come first: keep that, take the rest.
            let t = a.tokens.entry(token).or_insert(ApiToken { label: String::new(), at: 0, revoked: false });
            t.label = label;
            t.at = at;
            Vec::new()
        }
        AccountEvent::TokenRevoked { token, .. } => {
            let t = a.tokens.entry(token.clone()).or_insert(ApiToken { label: String::new(), at: 0, revoked: true });
            t.revoked = true;
            vec![Revoked::Token(token)]
        }
        AccountEvent::PushSubscribed { endpoint, p256dh, auth, key, preview, session, at, .. } => {
            let sub = PushSub { p256dh, auth, key, preview, session };
            set_push(a, endpoint, at, Some(sub));
            Vec::new()
        }
        AccountEvent::PushUnsubscribed { endpoint, at, .. } => {
            set_push(a, endpoint, at, None);
            Vec::new()
        }
        AccountEvent::SessionStarted { session, agent, node, at, expires, .. } => {
            let s = a.sessions.entry(session).or_default();
            (s.agent, s.node, s.started, s.expires) = (agent, node, at, expires);
            s.last = s.last.max(at);
            Vec::new()
        }
        AccountEvent::SessionSeen { session, at, .. } => {
            let s = a.sessions.entry(session).or_default();
            s.last = s.last.max(at);
            Vec::new()
        }
        AccountEvent::Active { active, at, .. } => {
            // At the same time, deactivated wins.
            if at > a.active.0 || (at == a.active.0 && !active) {
                a.active = (at, active);
            }
            if a.active.1 { Vec::new() } else { vec![Revoked::Account { id: a.id.clone(), before: u64::MAX }] }
        }
        AccountEvent::TwoFactor { secret, recovery, at, .. } => {
            // At the same time, off wins.
            if at > a.two_factor.0 || (at == a.two_factor.0 && secret.is_none()) {
                a.two_factor = (at, secret.map(|s| (s, recovery)));
            }
            Vec::new()
        }
        AccountEvent::RecoveryUsed { code_hash, .. } => {
            a.recovery_used.insert(code_hash);
            Vec::new()
        }
        AccountEvent::SsoLinked { subject, .. } => {
            a.sso = Some(subject);
            Vec::new()
        }
        AccountEvent::Profile { profile, at, .. } => {
            // At the same time, the larger wins, so every node keeps one.
            let key = |p: &ProfileFields| serde_json::to_string(p).unwrap_or_default();
            if at > a.profile.0 || (at == a.profile.0 && key(&profile) > key(&a.profile.1)) {
                a.profile = (at, profile);
            }
            Vec::new()
        }
        AccountEvent::Avatar { avatar, at, .. } => {
            // The same set again (a node applies its own as it writes it,
            // then from its log) changes nothing.
            if (at, &avatar) == (a.avatar.0, &a.avatar.1) {
                return Vec::new();
            }
            let wins = at > a.avatar.0
                || (at == a.avatar.0 && avatar.as_ref().map(|r| &r.hash) > a.avatar.1.as_ref().map(|r| &r.hash));
            let replaced = if wins { std::mem::replace(&mut a.avatar, (at, avatar)).1 } else { avatar };
            if let Some(r) = replaced.filter(|r| !a.superseded.contains(r)) {
                a.superseded.push(r);
            }
            Vec::new()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
#[path = "directory_tests.rs"]
mod tests;
