//! Signing in through the operator's identity provider: an account is
//! linked to the provider's subject (by the SHA-256 of issuer and subject,
//! claimed mesh-wide so that two nodes signing one person in at once make
//! one account); a first sign-in makes the account under the name the
//! provider prefers, claimed mesh-wide as any name. Such an account has no
//! password: it signs in only through the provider (or an API token).

use super::directory::name_key;
use super::events::AccountEvent;
use super::service::{Accounts, AuthError, Caller, SignedIn};
use crate::infra::clock::now_ms;
use crate::trust::oidc::Subject;

impl Accounts {
    /// Signs in who the provider vouched for, making their account on
    /// their first visit (whatever the registration mode: the provider
    /// decides who may come).
    pub async fn sso_sign_in(&self, who: &Subject, from: &Caller) -> Result<SignedIn, AuthError> {
        let subject = super::service::sha256_hex(&format!("{}\n{}", who.issuer, who.subject));
        let linked = self.read_directory(|d| d.by_sso(&subject).cloned());
        let account = match linked {
            Some(a) => a,
            None => self.link_new(who, &subject).await?,
        };
        if account.erased {
            return Err(AuthError::BadCredentials);
        }
        if !account.active.1 {
            return Err(AuthError::Deactivated);
        }
        self.issue(&account.id, &account.name, account.role.1, &from.agent).await
    }

    /// The account of a subject seen for the first time.
    async fn link_new(&self, who: &Subject, subject: &str) -> Result<super::Account, AuthError> {
        let wanted = who.name.clone().unwrap_or_else(|| who.subject.clone());
        let name = crate::core::names::canonical(&wanted)
            .map_err(|e| AuthError::Invalid(format!("the name {wanted:?} the identity provider gives: {e}")))?;
        if self.is_account_name(&name) {
            let why = format!("an account named {name} exists already here: ask an admin to rename one of you");
            return Err(AuthError::Invalid(why));
        }
        // One account per subject, whichever node is asked first.
        let mine = format!("{}:{}", name_key(&name), now_ms());
        if self.claim(&format!("sso:{subject}"), &mine).await? != mine {
            return Err(AuthError::Unavailable("another node is signing this person in: try again".into()));
        }
        let first = self.read_directory(|d| d.is_empty());
        let (id, _) = self.create(&name, String::new(), first).await?;
        self.append(AccountEvent::SsoLinked { id: id.clone(), subject: subject.to_owned(), at: now_ms() }).await?;
        self.read_directory(|d| d.get(&id).cloned())
            .ok_or_else(|| AuthError::Unavailable("the account is not here yet".into()))
    }
}
