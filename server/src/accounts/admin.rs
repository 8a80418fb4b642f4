//! What admins do to accounts and to the mesh's sign-up rules: roles,
//! invitations, deactivation, password reset links, registration mode.
//! Every action is checked here (whichever route or command asks) and
//! recorded in the audit log, which replicates with the account log.

use meshchat_shared::api::{AuditEntry, InviteEntry, Person, SignUpSettings};

use super::Registration;
use super::directory::Account;
use super::events::{AccountEvent, Role};
use super::service::{Accounts, AuthError, Caller, Me, SignedIn, sha256_hex};
use super::token::random_id;
use crate::infra::clock::now_ms;

/// How long a password reset link works.
pub const RESET_TTL_MS: u64 = 24 * 3_600_000;
/// At most this many people in one answer of the people list.
pub const MAX_PEOPLE: usize = 200;

impl Accounts {
    /// An admin, with two-factor sign-in on where the mesh asks for it.
    fn admin_only(&self, me: &Me) -> Result<(), AuthError> {
        if me.role != Role::Admin {
            return Err(AuthError::Forbidden);
        }
        if self.admins_need_two_factor() && !self.has_two_factor(me) {
            return Err(AuthError::Forbidden);
        }
        Ok(())
    }

    /// Whether `me` acts as an admin of the mesh (in rooms, the mesh map,
    /// the console): the one rule every path asks.
    pub fn acts_as_admin(&self, me: &Me) -> bool {
        self.admin_only(me).is_ok()
    }

    /// Records an admin's action on a room (archive, delete) in the audit log.
    pub async fn audit_room(&self, me: &Me, action: &str, room: &str) -> Result<(), AuthError> {
        self.admin_only(me)?;
        self.audit(me, action, room).await
    }

    /// Whether admins must turn two-factor sign-in on to act as admins.
    pub fn admins_need_two_factor(&self) -> bool {
        self.read_directory(|d| d.settings().is_some_and(|(_, _, a)| a))
    }

    /// Records an admin's action in the audit log.
    async fn audit(&self, me: &Me, action: &str, target: &str) -> Result<(), AuthError> {
        let (by, action, target) = (me.name.clone(), action.to_owned(), target.to_owned());
        self.append(AccountEvent::Audit { by, action, target, at: now_ms() }).await
    }

    fn account_named(&self, name: &str) -> Result<Account, AuthError> {
        self.read_directory(|d| d.by_name(name).filter(|a| a.name == name).cloned())
            .ok_or_else(|| AuthError::Invalid("no such account".into()))
    }

    /// A single-use invitation (admins only): `(code, expires)`.
    pub async fn create_invite(&self, me: &Me) -> Result<(String, u64), AuthError> {
        self.admin_only(me)?;
        let code = random_id();
        let expires = now_ms() + self.config().invite_ttl.as_millis() as u64;
        self.append(AccountEvent::Invite { code_hash: sha256_hex(&code), by: me.id.clone(), expires }).await?;
        self.audit(me, "invite", "").await?;
        Ok((code, expires))
    }

    /// The invitations not used, withdrawn or expired (admins only).
    pub fn invites(&self, me: &Me) -> Result<Vec<InviteEntry>, AuthError> {
        self.admin_only(me)?;
        Ok(self.read_directory(|d| {
            d.invites(now_ms())
                .into_iter()
                .map(|(hash, expires, by)| InviteEntry {
                    id: hash.to_owned(),
                    expires,
                    by: d.get(by).map_or_else(String::new, |a| a.name.clone()),
                })
                .collect()
        }))
    }

    /// Withdraws an invitation on every node (admins only).
    pub async fn revoke_invite(&self, me: &Me, id: &str) -> Result<(), AuthError> {
        self.admin_only(me)?;
        let known = self.read_directory(|d| d.invites(now_ms()).iter().any(|(h, _, _)| *h == id));
        if !known {
            return Err(AuthError::Invalid("no such invitation".into()));
        }
        self.append(AccountEvent::InviteRevoked { code_hash: id.to_owned() }).await?;
        self.audit(me, "revoke invite", "").await
    }

    /// Makes an account an admin or a member (admins only).
    pub async fn set_role(&self, me: &Me, name: &str, role: Role) -> Result<(), AuthError> {
        self.admin_only(me)?;
        let a = self.account_named(name)?;
        self.append(AccountEvent::Role { id: a.id, role, at: now_ms() }).await?;
        self.audit(me, &format!("role {}", role.as_str()), &a.name).await
    }

    /// Deactivates (or reactivates) an account (admins only). Deactivated:
    /// every session and token of it ends on every node, sign-in is refused,
    /// its name stays taken and its messages stay. Sessions from before a
    /// deactivation never come back with the account.
    pub async fn set_active(&self, me: &Me, name: &str, active: bool) -> Result<(), AuthError> {
        self.admin_only(me)?;
        let a = self.account_named(name)?;
        if a.id == me.id {
            return Err(AuthError::Invalid("an admin cannot deactivate themselves".into()));
        }
        let now = now_ms();
        self.append(AccountEvent::Active { id: a.id.clone(), active, at: now }).await?;
        if !active {
            self.append(AccountEvent::RevokeAll { id: a.id.clone(), before: now + 1 }).await?;
        }
        self.audit(me, if active { "reactivate" } else { "deactivate" }, &a.name).await
    }

    /// The people of the mesh whose name contains `query` (any case), for
    /// the admin console: role, state, sessions, last seen.
    pub fn people(&self, me: &Me, query: &str) -> Result<Vec<Person>, AuthError> {
        self.admin_only(me)?;
        let (q, now) = (query.to_lowercase(), now_ms());
        Ok(self.read_directory(|d| {
            d.all()
                .into_iter()
                .filter(|a| a.name.to_lowercase().contains(&q))
                .take(MAX_PEOPLE)
                .map(|a| {
                    let live: Vec<_> = d.live_sessions(a, now).collect();
                    Person {
                        name: a.name.clone(),
                        role: a.role.1.as_str().into(),
                        active: a.active.1,
                        sessions: live.len(),
                        deleted: a.erased,
                        last_seen: a.sessions.values().map(|s| s.last).max().filter(|l| *l > 0),
                    }
                })
                .collect()
        }))
    }

    /// The audit log, newest first (admins only).
    pub fn audit_log(&self, me: &Me, limit: usize) -> Result<Vec<AuditEntry>, AuthError> {
        self.admin_only(me)?;
        Ok(self.read_directory(|d| {
            d.audit(limit)
                .into_iter()
                .map(|e| AuditEntry { at: e.at, by: e.by, action: e.action, target: e.target })
                .collect()
        }))
    }

    /// A password reset link's code for the account `name` (admins only):
    /// works once, on any node, for a day. `(code, expires)`.
    pub async fn create_reset_link(&self, me: &Me, name: &str) -> Result<(String, u64), AuthError> {
        self.admin_only(me)?;
        let a = self.account_named(name)?;
        let (code, expires) = (random_id(), now_ms() + RESET_TTL_MS);
        self.append(AccountEvent::ResetLink { code_hash: sha256_hex(&code), id: a.id, expires }).await?;
        self.audit(me, "reset link", &a.name).await?;
        Ok((code, expires))
    }

    /// Sets a new password with a reset link: once across the mesh (the
    /// code is claimed by a majority); every other session ends.
    pub async fn use_reset_link(&self, code: &str, password: String, from: &Caller) -> Result<SignedIn, AuthError> {
        super::password::validate(&password)?;
        let h = sha256_hex(code);
        let unknown = || AuthError::Invalid("that reset link is unknown, used or expired".into());
        let a = self.read_directory(|d| d.reset_link(&h, now_ms()).cloned()).ok_or_else(unknown)?;
        if !a.active.1 {
            return Err(AuthError::Deactivated);
        }
        let mine = random_id();
        if self.claim(&format!("reset:{h}"), &mine).await? != mine {
            return Err(unknown());
        }
        self.set_password(&a, password, from).await
    }

    /// The registration mode in force: an admin's, else the node's flag.
    pub fn registration(&self) -> Registration {
        let set = self.read_directory(|d| d.settings().map(|(r, _, _)| r.to_owned()));
        set.and_then(|r| parse_registration(&r)).unwrap_or(self.config().registration)
    }

    /// Whether name-only guests are taken: an admin's word, else the flag.
    pub fn guests(&self) -> bool {
        self.read_directory(|d| d.settings().map(|(_, g, _)| g)).unwrap_or(self.config().guests)
    }

    /// The mesh's retention policy in days (0: messages are kept).
    pub fn retention_days(&self) -> u32 {
        self.read_directory(|d| d.retention_days())
    }

    /// Sets the mesh's retention policy (admins only): every room without
    /// a policy of its own deletes what is older, on every node.
    pub async fn set_retention(&self, me: &Me, days: u32) -> Result<(), AuthError> {
        self.admin_only(me)?;
        if days > meshchat_shared::limits::MAX_RETENTION_DAYS {
            let most = meshchat_shared::limits::MAX_RETENTION_DAYS;
            return Err(AuthError::Invalid(format!("retention is at most {most} days")));
        }
        self.append(AccountEvent::Retention { days, at: now_ms() }).await?;
        let what = if days == 0 { "retention off".to_owned() } else { format!("retention {days} days") };
        self.audit(me, &what, "").await
    }

    /// Changes the sign-up rules of every node at once (admins only).
    pub async fn set_settings(&self, me: &Me, rules: &SignUpSettings) -> Result<(), AuthError> {
        self.admin_only(me)?;
        let (registration, guests, two) = (rules.registration.as_str(), rules.guests, rules.admins_need_two_factor);
        if two && !self.has_two_factor(me) {
            return Err(AuthError::Invalid("turn two-factor sign-in on for yourself first".into()));
        }
        let mode = parse_registration(registration)
            .ok_or_else(|| AuthError::Invalid("registration must be open, invite or closed".into()))?;
        let registration = registration_name(mode).to_owned();
        let on = |b: bool| if b { "on" } else { "off" };
        let what = format!("registration {registration}, guests {}, admins' two-factor {}", on(guests), on(two));
        let event = AccountEvent::Settings { registration, guests, admins_need_two_factor: two, at: now_ms() };
        self.append(event).await?;
        self.audit(me, &what, "").await
    }
}

pub fn parse_registration(s: &str) -> Option<Registration> {
    match s {
        "open" => Some(Registration::Open),
        "invite" => Some(Registration::Invite),
        "closed" => Some(Registration::Closed),
        _ => None,
    }
}

pub fn registration_name(r: Registration) -> &'static str {
    match r {
        Registration::Open => "open",
        Registration::Invite => "invite",
        Registration::Closed => "closed",
    }
}
