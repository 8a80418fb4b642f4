//! Profiles, kept in the account log like the rest of an account, so that
//! every node shows the same one a moment after it is set anywhere.

use meshchat_shared::profile::{self, MAX_PROFILES_ASKED, Profile, ProfileFields};

use super::events::{AccountEvent, AvatarRef};
use super::service::{Accounts, AuthError, Me};
use crate::infra::clock::now_ms;

/// Profile changes a slow connection may fall behind by before it skips
/// some (it asks again with its next `watch`).
pub(super) const PROFILE_CHANGES: usize = 256;

/// A profile that changed, as the connections watching it are told: the
/// `profile` frame made once, whoever watches.
#[derive(Debug, Clone)]
pub struct ProfileChange {
    pub name: std::sync::Arc<str>,
    pub frame: crate::edge::conn::Frame,
}

/// The account whose profile an event changes, if it changes one.
pub(super) fn changed(e: &AccountEvent) -> Option<&str> {
    match e {
        AccountEvent::Profile { id, .. } | AccountEvent::Avatar { id, .. } | AccountEvent::Erased { id, .. } => {
            Some(id)
        }
        _ => None,
    }
}

impl Accounts {
    /// Names whose profile changes from now on.
    pub fn profile_changes(&self) -> tokio::sync::broadcast::Receiver<ProfileChange> {
        self.profile_changes.subscribe()
    }

    /// What of account `id` a profile shows (to see whether an event changed it).
    pub(super) fn shown_profile(&self, id: &str) -> Option<(ProfileFields, Option<AvatarRef>, bool)> {
        self.read_directory(|d| d.get(id).map(|a| (a.profile.1.clone(), a.avatar.1.clone(), a.erased)))
    }

    /// Tells the connections watching account `id` that its profile
    /// changed: its frame made once, by the function `GET /api/profiles`
    /// answers with (nothing to make while nobody listens: at start).
    pub(super) fn tell_profile_changed(&self, id: &str) {
        if self.profile_changes.receiver_count() == 0 {
            return;
        }
        let Some(name) = self.read_directory(|d| d.get(id).map(|a| a.name.clone())) else { return };
        let Some(profile) = self.profiles(std::slice::from_ref(&name)).ok().and_then(|mut p| p.pop()) else {
            return;
        };
        let frame = meshchat_shared::ServerFrame::Profile { profile }.to_json().into();
        let _ = self.profile_changes.send(ProfileChange { name: name.into(), frame });
    }

    /// Sets the caller's profile, whole. A display name is a name as names
    /// are (NFC, nothing hidden) and must not look like another person's
    /// account name: nobody shows up as someone else.
    pub async fn set_profile(&self, me: &Me, mut p: ProfileFields) -> Result<(), AuthError> {
        profile::validate(&p).map_err(|e| AuthError::Invalid(e.to_string()))?;
        if !p.display.is_empty() {
            p.display = meshchat_core::names::canonical(&p.display).map_err(|e| AuthError::Invalid(e.to_string()))?;
            let other = self.read_directory(|d| d.by_name(&p.display).is_some_and(|a| a.id != me.id));
            if other {
                return Err(AuthError::Invalid("that display name looks like another person's name".into()));
            }
        }
        self.append(AccountEvent::Profile { id: me.id.clone(), profile: p, at: now_ms() }).await
    }

    /// Sets (or, with `None`, removes) the caller's picture.
    pub async fn set_avatar(&self, me: &Me, avatar: Option<AvatarRef>) -> Result<(), AuthError> {
        self.append(AccountEvent::Avatar { id: me.id.clone(), avatar, at: now_ms() }).await
    }

    /// The caller's picture, if set.
    pub fn avatar_of(&self, me: &Me) -> Option<AvatarRef> {
        self.read_directory(|d| d.get(&me.id).and_then(|a| a.avatar.1.clone()))
    }

    /// Pictures the account log replaced that node `origin` made, with
    /// whose they were (never anyone's current one): that node deletes them.
    pub fn superseded_pictures(&self, origin: &str) -> Vec<(String, AvatarRef)> {
        self.read_directory(|d| d.superseded_pictures(origin))
    }

    /// Changes with every picture set applied here.
    pub fn pictures_set(&self) -> tokio::sync::watch::Receiver<u64> {
        self.pictures_set.subscribe()
    }

    /// Whether `hash` is someone's picture now (only those are served).
    pub fn is_avatar(&self, hash: &str) -> bool {
        self.read_directory(|d| d.is_avatar(hash))
    }

    /// The profiles of the accounts among `names`, as others see them now
    /// (an expired status gone); names of no account are left out.
    pub fn profiles(&self, names: &[String]) -> Result<Vec<Profile>, AuthError> {
        if names.len() > MAX_PROFILES_ASKED {
            return Err(AuthError::Invalid(format!("at most {MAX_PROFILES_ASKED} names at a time")));
        }
        let now = now_ms();
        Ok(self.read_directory(|d| {
            names
                .iter()
                .filter_map(|n| d.by_name(n).filter(|a| a.name == *n))
                .map(|a| Profile {
                    name: a.name.clone(),
                    fields: a.profile.1.clone().at(now),
                    deleted: a.erased,
                    last_seen: a.sessions.values().map(|s| s.last).max().filter(|l| *l > 0),
                    avatar: a.avatar.1.as_ref().map(|r| r.hash.clone()).unwrap_or_default(),
                })
                .collect()
        }))
    }
}
