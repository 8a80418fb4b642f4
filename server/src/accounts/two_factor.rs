//! Two-factor sign-in: a TOTP secret (RFC 6238, by `totp-rs`: SHA-1, six
//! digits, 30 s, one step of skew, what every authenticator app reads)
//! enrolled from a QR code, and ten single-use recovery codes. Once on,
//! every node asks for a code at sign-in: the secret travels in the
//! account log. A recovery code is claimed by a majority of the nodes, so
//! it works once across the mesh; a TOTP step is taken once per node.

use meshchat_shared::api::TwoFactorSetup;
use totp_rs::{Algorithm, Builder, Secret, Totp};

use super::directory::Account;
use super::events::AccountEvent;
use super::service::{Accounts, AuthError, Me, sha256_hex};
use super::token::random_id;
use crate::infra::clock::now_ms;

pub const RECOVERY_CODES: usize = 10;

fn totp(secret_b32: &str, name: &str) -> Result<Totp, AuthError> {
    let bad = || AuthError::Invalid("not a secret this node made".into());
    let secret = Secret::try_from_base32(secret_b32).map_err(|_| bad())?;
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_account_name(name)
        .with_issuer(Some("meshchat"))
        .build()
        .map_err(|_| bad())
}

/// A recovery code as people type it: case, spaces and dashes aside.
fn recovery_key(code: &str) -> String {
    sha256_hex(&code.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_lowercase())
}

/// `xxxx-xxxx-xxxx`: 48 random bits, easy to copy out by hand.
fn recovery_code() -> String {
    let hex = random_id();
    format!("{}-{}-{}", &hex[0..4], &hex[4..8], &hex[8..12])
}

impl Accounts {
    /// A new secret to enrol with: nothing is kept until a code from the
    /// app proves it holds it ([`Accounts::enable_two_factor`]).
    pub fn two_factor_setup(&self, me: &Me) -> Result<TwoFactorSetup, AuthError> {
        // 160 bits, as RFC 4226 recommends for HMAC-SHA-1.
        let secret = Secret::from(rand::random::<[u8; 20]>().to_vec()).to_base32();
        let uri = totp(&secret, &me.name)?.to_url().map_err(|_| AuthError::Invalid("cannot make the link".into()))?;
        let qr = qrcode::QrCode::new(uri.as_bytes()).map_err(|_| AuthError::Invalid("cannot draw the code".into()))?;
        let svg = qr.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).build();
        Ok(TwoFactorSetup { secret, uri, svg })
    }

    /// Turns two-factor sign-in on, with the password and a code of the
    /// app that holds `secret`; the recovery codes, shown once.
    pub async fn enable_two_factor(
        &self,
        me: &Me,
        secret: &str,
        code: &str,
        password: String,
    ) -> Result<Vec<String>, AuthError> {
        self.check_own_password(me, password).await?;
        if totp(secret, &me.name)?.check(code.trim(), now_ms() / 1000).is_none() {
            return Err(AuthError::Invalid("that code does not match: try the next one".into()));
        }
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
        let recovery = codes.iter().map(|c| recovery_key(c)).collect();
        let id = me.id.clone();
        self.append(AccountEvent::TwoFactor { id, secret: Some(secret.to_owned()), recovery, at: now_ms() }).await?;
        Ok(codes)
    }

    /// Turns two-factor sign-in off, with the password.
    pub async fn disable_two_factor(&self, me: &Me, password: String) -> Result<(), AuthError> {
        self.check_own_password(me, password).await?;
        let id = me.id.clone();
        self.append(AccountEvent::TwoFactor { id, secret: None, recovery: Vec::new(), at: now_ms() }).await
    }

    /// At sign-in, after the password: nothing to do without two-factor;
    /// else a TOTP code of a step not taken here yet, or an unused
    /// recovery code (claimed across the mesh, then marked used).
    pub(super) async fn second_factor(&self, a: &Account, code: Option<&str>) -> Result<(), AuthError> {
        let Some((secret, recovery)) = &a.two_factor.1 else { return Ok(()) };
        let code = code.map(str::trim).filter(|c| !c.is_empty());
        let Some(code) = code else { return Err(AuthError::CodeRequired("enter the code from your app".into())) };
        let wrong = || AuthError::CodeRequired("that code is wrong or was used".into());
        if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
            let step = totp(secret, &a.name)?.check(code, now_ms() / 1000).ok_or_else(wrong)?;
            {
                let mut used = self.steps_used.lock().unwrap_or_else(|p| p.into_inner());
                if used.get(&a.id).is_some_and(|last| step <= *last) {
                    return Err(wrong());
                }
                used.insert(a.id.clone(), step);
            }
            // Once across the mesh: a code seen over someone's shoulder
            // does not sign in on another node within its 30 seconds.
            let mine = random_id();
            if self.claim(&format!("totp:{}:{step}", a.id), &mine).await? != mine {
                return Err(wrong());
            }
            return Ok(());
        }
        let key = recovery_key(code);
        if !recovery.contains(&key) || a.recovery_used.contains(&key) {
            return Err(wrong());
        }
        let mine = random_id();
        if self.claim(&format!("recovery:{key}"), &mine).await? != mine {
            return Err(wrong());
        }
        self.append(AccountEvent::RecoveryUsed { id: a.id.clone(), code_hash: key }).await
    }

    /// Whether the account has two-factor sign-in on.
    pub fn has_two_factor(&self, me: &Me) -> bool {
        self.read_directory(|d| d.get(&me.id).is_some_and(|a| a.two_factor.1.is_some()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_of_rfc_6238_check_and_recovery_codes_forgive_their_typing() {
        // RFC 6238 appendix B's SHA-1 secret and first vector (59 s), as 6 digits.
        let secret = Secret::from(b"12345678901234567890".to_vec()).to_base32();
        let t = totp(&secret, "ada").unwrap();
        assert_eq!(t.check("287082", 59), Some(1));
        assert_eq!(t.check("287082", 59 + 90), None, "three steps later");
        assert!(totp("not base32!", "ada").is_err());
        let code = recovery_code();
        assert_eq!(code.len(), 14);
        assert_eq!(recovery_key(&code), recovery_key(&format!(" {} ", code.to_uppercase().replace('-', " "))));
    }
}
