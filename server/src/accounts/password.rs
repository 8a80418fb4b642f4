//! Passwords: only argon2id hashes are kept (OWASP's minimum: 19 MiB,
//! two passes, one lane). Each hash costs 19 MiB and tens of milliseconds,
//! so only a few run at once and only a few more may wait: a login flood
//! gets `unavailable`, not the node's memory.

use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use thiserror::Error;
use tokio::sync::{OnceCell, Semaphore};

/// Password length, in characters.
pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 256;
/// Hashes computed at once, and waiting beyond those.
const AT_ONCE: usize = 2;
const WAITING: usize = 32;

#[derive(Debug, Error)]
pub enum PasswordError {
    #[error("password must be {MIN_CHARS}-{MAX_CHARS} characters")]
    Length,
    #[error("too many passwords being checked; try again")]
    Busy,
    #[error("password hashing failed: {0}")]
    Hash(String),
}

pub fn validate(password: &str) -> Result<(), PasswordError> {
    let n = password.chars().count();
    if (MIN_CHARS..=MAX_CHARS).contains(&n) { Ok(()) } else { Err(PasswordError::Length) }
}

fn argon2() -> Argon2<'static> {
    // OWASP: m = 19 MiB, t = 2, p = 1.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub struct Hasher {
    running: Semaphore,
    queued: AtomicUsize,
    /// A hash of nothing anyone knows: checked against when the name is
    /// unknown, so the answer takes as long as for a wrong password.
    decoy: OnceCell<String>,
}

impl Default for Hasher {
    fn default() -> Self {
        Hasher { running: Semaphore::new(AT_ONCE), queued: AtomicUsize::new(0), decoy: OnceCell::new() }
    }
}

impl Hasher {
    /// Runs `f` on a blocking thread once a slot is free.
    async fn bounded<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, PasswordError> {
        if self.queued.fetch_add(1, Ordering::AcqRel) >= AT_ONCE + WAITING {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(PasswordError::Busy);
        }
        let result = async {
            let _permit = self.running.acquire().await.map_err(|_| PasswordError::Busy)?;
            tokio::task::spawn_blocking(f).await.map_err(|e| PasswordError::Hash(e.to_string()))
        }
        .await;
        self.queued.fetch_sub(1, Ordering::AcqRel);
        result
    }

    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        validate(&password)?;
        self.bounded(move || {
            let salt =
                SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| PasswordError::Hash(e.to_string()))?;
            argon2()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| PasswordError::Hash(e.to_string()))
        })
        .await?
    }

    /// Does `password` match `phc`? With `None` (no such account), checks
    /// against the decoy, so both answers take the same time.
    pub async fn verify(&self, password: String, phc: Option<String>) -> Result<bool, PasswordError> {
        let real = phc.is_some();
        let phc = match phc {
            Some(p) => p,
            None => self.decoy.get_or_try_init(|| self.hash(random_password())).await?.clone(),
        };
        let ok = self
            .bounded(move || {
                PasswordHash::new(&phc).is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
            })
            .await?;
        Ok(ok && real)
    }
}

fn random_password() -> String {
    super::token::random_id()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let h = Hasher::default();
        let phc = h.hash("correct horse".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(h.verify("correct horse".into(), Some(phc.clone())).await.unwrap());
        assert!(!h.verify("wrong horse!".into(), Some(phc)).await.unwrap());
        assert!(!h.verify("correct horse".into(), None).await.unwrap(), "no account");
        assert!(matches!(h.hash("short".into()).await, Err(PasswordError::Length)));
        assert!(matches!(h.hash("x".repeat(257)).await, Err(PasswordError::Length)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_is_turned_away_not_queued_without_bound() {
        let h = std::sync::Arc::new(Hasher::default());
        let tasks: Vec<_> = (0..60)
            .map(|_| {
                let h = h.clone();
                tokio::spawn(async move { h.hash("a long enough password".into()).await })
            })
            .collect();
        let mut busy = 0;
        for t in tasks {
            if matches!(t.await.unwrap(), Err(PasswordError::Busy)) {
                busy += 1;
            }
        }
        assert!(busy >= 60 - AT_ONCE - WAITING, "{busy} turned away");
    }
}
