//! Accounts: register, sign in, sessions that work on every node, API
//! tokens for bots, invitations, roles.
//!
//! - [`events`]: what happens to accounts, kept as a replicated log (an
//!   internal room), applied in any order to the same result.
//! - [`directory`]: the log applied: accounts by id and by name.
//! - [`registry`]: claims agreed by a majority of the nodes, so that one
//!   name never belongs to two accounts (nor an invite serve twice).
//! - [`password`]: argon2id, a few at a time.
//! - [`token`]: tokens signed by the issuing node, checkable anywhere.
//! - `throttle`: failed sign-ins per name and per address.
//! - `profile`: display names, statuses, time zones, availability and
//!   pictures, and the changes watched over the WebSocket.
//! - `service`: the operations, as the HTTP routes and sessions call them.
//! - `sessions`: where one is signed in: listed, ended.
//! - `api_tokens`: named tokens for bots: made, listed, revoked.
//! - `two_factor`: TOTP codes and recovery codes at sign-in.
//! - `admin`: what admins do (roles, deactivation, reset links, sign-up
//!   rules), each recorded in the audit log.

mod admin;
mod api_tokens;
pub mod directory;
mod erase;
pub mod events;
pub mod password;
mod profile;
mod push;
pub mod registry;
mod service;
mod sessions;
mod sso;
mod throttle;
pub mod token;
mod two_factor;

use std::time::Duration;

pub use admin::{parse_registration, registration_name};
pub use directory::{Account, Directory, Revoked};
pub use events::{AccountEvent, Role};
pub use profile::ProfileChange;
pub use registry::{ClaimError, ClaimNet, Registry};
pub use service::{Accounts, AuthError, Caller, MAX_TOKENS, Me, SignedIn};

/// Who may create an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Registration {
    #[default]
    Open,
    /// With an invitation from an admin (the mesh's first account needs none).
    Invite,
    /// Nobody but the mesh's first account.
    Closed,
}

/// The operator's policy for what a deleted account wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DeletedMessages {
    /// Kept under the name (which stays taken), as by a deleted user.
    #[default]
    Keep,
    /// Erased from every room on every node: messages, replies, edits, files.
    Erase,
}

#[derive(Debug, Clone)]
pub struct AccountsConfig {
    pub registration: Registration,
    /// Name-only `hello` as in protocol version 1, for names of no account.
    pub guests: bool,
    pub session_ttl: Duration,
    pub invite_ttl: Duration,
    /// Registrations from one address per hour (each costs a hash and a
    /// round of the mesh).
    pub registrations_per_hour: u32,
    /// API tokens one account may make at once (then one every 6 minutes):
    /// each stays in every node's account log.
    pub tokens_at_once: u32,
    /// The operator's VAPID key (PKCS#8 DER), the same on every node;
    /// without one, the mesh makes one when first asked.
    pub vapid_pkcs8: Option<Vec<u8>>,
    /// Push endpoints may be http:// and private addresses (a local push
    /// service in tests); never in production.
    pub push_any_endpoint: bool,
    /// What happens to what a person wrote when they delete their account.
    pub deleted_messages: DeletedMessages,
    /// Single sign-on through the operator's identity provider.
    pub sso: Option<crate::trust::oidc::OidcConfig>,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        AccountsConfig {
            registration: Registration::Open,
            guests: false,
            session_ttl: Duration::from_secs(30 * 86_400),
            invite_ttl: Duration::from_secs(7 * 86_400),
            registrations_per_hour: 20,
            tokens_at_once: 10,
            vapid_pkcs8: None,
            push_any_endpoint: false,
            deleted_messages: DeletedMessages::Keep,
            sso: None,
        }
    }
}
