//! What happens to accounts, as events of a log every node replicates.
//!
//! The events live as messages of an internal room (`!accounts`, a name no
//! client can use), so the room machinery carries them: durable before
//! anyone hears of them, replicated to every node, caught up after a
//! restart or a partition. They are written so that applying them in any
//! order gives the same result (last writer wins by time, sets grow), since
//! nodes receive them in different orders.

use serde::{Deserialize, Serialize};

use super::token::Claims;

/// The internal room of account events; its name breaks the room rule on
/// purpose, so no client can join, read or post to it.
pub const ROOM: &str = "!accounts";
/// The author of account events.
pub const AUTHOR: &str = "meshchat";
/// The internal room of people's pictures: each a `file` event of its
/// person, so the files machinery keeps, replicates and removes it.
pub const AVATARS: &str = "!avatars";

/// A person's picture: the file event that shares it, and its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvatarRef {
    pub origin: String,
    pub seq: u64,
    pub hash: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AccountEvent {
    /// A new account; its name was claimed by a majority first.
    Created {
        id: String,
        name: String,
        hash: String,
        role: Role,
        at: u64,
    },
    /// A new password (argon2id PHC string); the latest `at` wins.
    Password {
        id: String,
        hash: String,
        at: u64,
    },
    /// Every session of the account issued before `before` is dead
    /// (password changed, or "sign out everywhere").
    RevokeAll {
        id: String,
        before: u64,
    },
    /// One session is dead (logout); remembered until it would expire anyway.
    RevokeSession {
        session: String,
        until: u64,
    },
    /// An admin set a role; the latest `at` wins.
    Role {
        id: String,
        role: Role,
        at: u64,
    },
    /// An API token for a bot, named by its owner.
    TokenCreated {
        id: String,
        token: String,
        label: String,
        at: u64,
    },
    TokenRevoked {
        id: String,
        token: String,
    },
    /// An invitation to register; only the SHA-256 of its code is kept.
    Invite {
        code_hash: String,
        by: String,
        expires: u64,
    },
    /// An admin withdrew an invitation before it was used.
    InviteRevoked {
        code_hash: String,
    },
    /// A browser of the account takes Web Push notifications. It pushes
    /// for as long as the session it was made under lives (a sign-out ends
    /// it everywhere); per endpoint, the latest `at` wins.
    PushSubscribed {
        id: String,
        endpoint: String,
        p256dh: String,
        auth: String,
        /// The VAPID public key the browser subscribed with.
        key: String,
        /// The message's text may travel in the push (else only who and where).
        preview: bool,
        session: Claims,
        at: u64,
    },
    PushUnsubscribed {
        id: String,
        endpoint: String,
        at: u64,
    },
    /// The person's profile, whole; the latest `at` wins.
    Profile {
        id: String,
        profile: meshchat_shared::profile::ProfileFields,
        at: u64,
    },
    /// The person's picture (`None`: removed); the latest `at` wins. The
    /// picture itself is a file event of theirs in [`AVATARS`].
    Avatar {
        id: String,
        avatar: Option<AvatarRef>,
        at: u64,
    },
    /// A session began (sign-up, sign-in, a new password), for the list
    /// of where one is signed in. `agent` is a label the node made from
    /// the request's User-Agent ("Firefox on Linux"), never its text.
    SessionStarted {
        id: String,
        session: String,
        agent: String,
        node: String,
        at: u64,
        expires: u64,
    },
    /// A session or API token was used at `at` (recorded at most hourly).
    SessionSeen {
        id: String,
        session: String,
        at: u64,
    },
    /// An admin deactivated (or reactivated) an account; the latest `at`
    /// wins. A deactivated account's tokens all fail and it cannot sign in;
    /// its name stays taken and its messages stay.
    Active {
        id: String,
        active: bool,
        at: u64,
    },
    /// The person deleted their account. Every node erases, from its copy
    /// of this log, the text of each earlier event of the account (password
    /// hashes, profile, two-factor secret, push keys, sessions' labels) and
    /// of any that arrives later; the name stays taken, the account cannot
    /// sign in, and its messages in rooms stay.
    Erased {
        id: String,
        name: String,
        at: u64,
    },
    /// The account signs in through the operator's identity provider as
    /// this subject: the SHA-256 of its issuer and subject (nothing of the
    /// provider's is kept in the log but that).
    SsoLinked {
        id: String,
        subject: String,
        at: u64,
    },
    /// An admin's action, for the audit log admins read.
    Audit {
        by: String,
        action: String,
        target: String,
        at: u64,
    },
    /// The mesh's sign-up rules as an admin set them at run time; the
    /// latest `at` wins over the nodes' flags.
    Settings {
        registration: String,
        guests: bool,
        /// Admins' actions need two-factor sign-in turned on.
        #[serde(default)]
        admins_need_two_factor: bool,
        at: u64,
    },
    /// The mesh's retention policy as an admin set it: messages older
    /// than `days` leave every room that has no policy of its own (0:
    /// kept); the latest `at` wins.
    Retention {
        days: u32,
        at: u64,
    },
    /// A password reset link an admin made for an account: only the
    /// SHA-256 of its code is kept; single use across the mesh (claimed).
    ResetLink {
        code_hash: String,
        id: String,
        expires: u64,
    },
    /// Two-factor sign-in turned on (`secret`: the TOTP secret, base32,
    /// with the SHA-256 of each recovery code) or off (`None`); the latest
    /// `at` wins.
    TwoFactor {
        id: String,
        secret: Option<String>,
        #[serde(default)]
        recovery: Vec<String>,
        at: u64,
    },
    /// A recovery code was used (its SHA-256): never again, on any node.
    RecoveryUsed {
        id: String,
        code_hash: String,
    },
    /// The mesh's VAPID key pair (PKCS#8, base64url): the one with the
    /// smallest `(at, pkcs8)` is every node's, whichever came first here.
    PushKey {
        pkcs8: String,
        at: u64,
    },
}
