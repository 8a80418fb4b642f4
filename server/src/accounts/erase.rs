//! A person deletes their account. The account log keeps an `erased`
//! event (id and name: the name stays taken); every node then erases, from
//! its copy of the log, the text of each other event of that account —
//! password hashes, profile, two-factor secret, push keys, sessions'
//! labels — including any that reaches it later (an event made elsewhere
//! at the same moment), and the password hash its name claim kept. Their
//! messages in rooms stay, under their name; their pictures (files in
//! `!avatars`) go.

use meshchat_shared::Message;

use super::directory::{account_of, name_key};
use super::events::{AVATARS, AccountEvent, ROOM, Role};
use super::service::{Accounts, AuthError, Me};
use crate::infra::clock::now_ms;

impl Accounts {
    /// Deletes the caller's account, with their password: every session
    /// ends on every node at once and the account never signs in again.
    pub async fn delete_account(&self, me: &Me, password: String) -> Result<(), AuthError> {
        self.check_own_password(me, password).await?;
        let another_admin = self.read_directory(|d| {
            d.all().iter().any(|a| a.id != me.id && a.role.1 == Role::Admin && a.active.1 && !a.erased)
        });
        if me.role == Role::Admin && !another_admin {
            let why = "the mesh's last admin cannot delete their account: make someone else an admin first";
            return Err(AuthError::Invalid(why.into()));
        }
        self.append(AccountEvent::Erased { id: me.id.clone(), name: me.name.clone(), at: now_ms() }).await
    }

    /// After the log applied `m` (`e`): erases what a deleted account left.
    pub(super) fn erase_after(&self, m: &Message, e: &AccountEvent) {
        let store = self.store.clone();
        match e {
            AccountEvent::Erased { id, name, .. } => {
                let (id, key, registry) = (id.clone(), format!("name:{}", name_key(name)), self.registry.clone());
                let author = name.clone();
                tokio::spawn(async move {
                    erase_logged(&store, &id).await;
                    // Their pictures, files and all, on every node.
                    let pictures = crate::store::Erasing { keys: Vec::new(), authors: vec![author] };
                    if let Err(e) = store.redact(AVATARS, pictures).await {
                        tracing::warn!(error = %e, "cannot erase a deleted account's pictures");
                    }
                    registry.rewrite(&key, Box::new(move |v| without_hash(v, &id))).await;
                });
            }
            other => {
                let Some(id) = account_of(other) else { return };
                if self.read_directory(|d| d.get(id).is_some_and(|a| a.erased)) {
                    let target = vec![(m.origin.clone(), m.seq)];
                    tokio::spawn(async move { redact(&store, target).await });
                }
            }
        }
    }
}

/// Erases every event of account `id` in this node's log but `erased`.
async fn erase_logged(store: &crate::store::Store, id: &str) {
    let held = match store.holding(ROOM, &format!("\"id\":\"{id}\"")).await {
        Ok(h) => h,
        Err(e) => return tracing::warn!(error = %e, "cannot read the account log to erase an account"),
    };
    let targets = held
        .into_iter()
        .filter(|(_, _, body)| {
            serde_json::from_str::<AccountEvent>(body)
                .is_ok_and(|e| account_of(&e) == Some(id) && !matches!(e, AccountEvent::Erased { .. }))
        })
        .map(|(origin, seq, _)| (origin, seq))
        .collect();
    redact(store, targets).await;
}

async fn redact(store: &crate::store::Store, targets: Vec<(String, u64)>) {
    let erasing = crate::store::Erasing { keys: targets, authors: Vec::new() };
    if let Err(e) = store.redact(ROOM, erasing).await {
        tracing::warn!(error = %e, "cannot erase a deleted account's events");
    }
}

/// The name claim's value with the account's password hash gone.
fn without_hash(value: &str, id: &str) -> Option<String> {
    match serde_json::from_str::<AccountEvent>(value).ok()? {
        AccountEvent::Created { id: i, name, hash, role, at } if i == id && !hash.is_empty() => {
            serde_json::to_string(&AccountEvent::Created { id: i, name, hash: String::new(), role, at }).ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_claim_loses_its_hash_and_nothing_else() {
        let created = AccountEvent::Created {
            id: "a1".into(),
            name: "bob".into(),
            hash: "$argon2id$v=19$secret".into(),
            role: Role::Member,
            at: 7,
        };
        let v = serde_json::to_string(&created).unwrap();
        let new = without_hash(&v, "a1").unwrap();
        assert!(!new.contains("argon2") && new.contains("\"name\":\"bob\""), "{new}");
        assert_eq!(without_hash(&new, "a1"), None, "once is enough");
        assert_eq!(without_hash(&v, "someone else"), None);
    }
}
