//! API tokens: named, long-lived tokens for bots, made, listed and
//! revoked by their account (each lives in every node's account log).

use super::events::AccountEvent;
use super::service::{Accounts, AuthError, MAX_TOKENS, Me};
use super::token::{self, Claims, Kind};
use crate::infra::clock::now_ms;
use crate::infra::random_id;

impl Accounts {
    /// A named token for a bot: `(token, id)`.
    pub async fn create_token(&self, me: &Me, label: &str) -> Result<(String, String), AuthError> {
        let label = label.trim();
        if label.is_empty() || label.chars().count() > 64 || label.chars().any(char::is_control) {
            return Err(AuthError::Invalid("a token's label must be 1-64 characters".into()));
        }
        let live = self.directory().get(&me.id).map_or(0, |a| a.tokens.values().filter(|t| !t.revoked).count());
        if live >= MAX_TOKENS {
            let why = format!("an account has at most {MAX_TOKENS} API tokens: revoke one first");
            return Err(AuthError::LimitReached(why));
        }
        if self.tokens_made.check_key(&me.id).is_err() {
            return Err(AuthError::RateLimited);
        }
        let id = random_id();
        let now = now_ms();
        let created = AccountEvent::TokenCreated { id: me.id.clone(), token: id.clone(), label: label.into(), at: now };
        self.append(created).await?;
        let claims = Claims {
            kind: Kind::Api,
            account: me.id.clone(),
            id: id.clone(),
            issued: now,
            expires: u64::MAX,
            issuer: self.me.clone(),
        };
        let token = token::encode(&claims, &*self.keys).ok_or_else(|| AuthError::Unavailable("cannot sign".into()))?;
        Ok((token, id))
    }

    /// The account's API tokens: id, label, created; not the revoked ones.
    pub fn tokens(&self, me: &Me) -> Vec<(String, String, u64)> {
        let d = self.directory();
        let Some(a) = d.get(&me.id) else { return Vec::new() };
        a.tokens.iter().filter(|(_, t)| !t.revoked).map(|(id, t)| (id.clone(), t.label.clone(), t.at)).collect()
    }

    pub async fn revoke_token(&self, me: &Me, id: &str) -> Result<(), AuthError> {
        let known = self.directory().get(&me.id).is_some_and(|a| a.tokens.contains_key(id));
        if !known {
            return Err(AuthError::Invalid("no such token".into()));
        }
        self.append(AccountEvent::TokenRevoked { id: me.id.clone(), token: id.to_owned() }).await
    }
}
