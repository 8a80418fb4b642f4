//! JSON bodies of the HTTP routes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;
use crate::frames::NodeInfo;
use crate::message::Message;
use crate::vector::RoomVector;

/// `GET /api/health`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub node: String,
    pub status: String,
    /// Every configured peer and whether its mesh link is up.
    pub peers: BTreeMap<String, PeerState>,
    pub uptime_s: u64,
    /// Extension: rooms with at least one message on this node.
    #[serde(default)]
    pub rooms: u64,
    /// Extension: a digest of every room's vector here; two nodes with the
    /// same digest hold the same messages.
    #[serde(default)]
    pub digest: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerState {
    Up,
    Down,
}

/// `GET /api/nodes`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nodes {
    pub nodes: Vec<NodeInfo>,
}

/// `GET /api/rooms?limit=&after=`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rooms {
    /// In name order, at most `limit` (1,000 at most and by default).
    pub rooms: Vec<RoomSummary>,
    /// Extension: there are more; pass this as `after` for the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSummary {
    pub room: String,
    /// How many messages the room holds.
    pub messages: u64,
    /// How many names are online in the room, on any node.
    pub members: u64,
}

/// `GET /api/rooms/{room}/messages`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagesPage {
    /// Ascending by `(ts, origin, seq)`.
    pub messages: Vec<Message>,
    /// Older messages exist before the first one.
    pub more: bool,
}

/// `POST /api/rooms/{room}/messages`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostMessage {
    /// A guest's name; ignored for a signed-in caller (the token says who).
    #[serde(default)]
    pub name: String,
    pub id: String,
    pub body: String,
}

/// The answer to a `POST`: the stored message (the original one for a repeat).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posted {
    pub msg: Message,
}

/// `GET /api/rooms/{room}/poll`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Poll {
    pub messages: Vec<Message>,
    /// What the client holds after taking `messages`; the next `since`.
    pub vector: RoomVector,
    /// Extension: as `synced.gap`, the node sent only the latest messages.
    #[serde(default)]
    pub gap: bool,
}

/// `POST /api/register` (protocol 1.1); `invite` where registration is by invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Register {
    pub name: String,
    pub password: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite: Option<String>,
}

/// `POST /api/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    pub name: String,
    pub password: String,
    /// Extension: the authenticator app's code (or a recovery code), for
    /// an account with two-factor sign-in (`401 code_required` without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// The answer to `register` and `login`: a session token valid on every node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub token: String,
    pub name: String,
    /// `admin` or `member`.
    pub role: String,
}

/// `GET /api/me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub name: String,
    pub role: String,
    /// Extension: two-factor sign-in is on.
    #[serde(default)]
    pub two_factor: bool,
}

/// `POST /api/password` (extension): a new password; every other session
/// ends, and the answer is a new session for the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangePassword {
    pub old: String,
    pub new: String,
}

/// `POST /api/tokens` (extension): a named API token for a bot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: String,
    pub label: String,
    pub created: u64,
    /// Only in the answer to its creation: it is never shown again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// When it was last used (to the hour), if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<u64>,
}

/// `GET /api/sessions` (extension): where the caller is signed in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sessions {
    pub sessions: Vec<SessionEntry>,
    pub tokens: Vec<ApiToken>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEntry {
    pub id: String,
    /// "Firefox on Linux", "meshchat terminal": the node's words for the
    /// device it began on.
    pub agent: String,
    /// The node that began it.
    pub node: String,
    /// Milliseconds since the Unix epoch, as every time here.
    pub started: u64,
    /// Last used, to the hour.
    pub last: u64,
    pub expires: u64,
    /// The session asking.
    pub current: bool,
}

/// `POST /api/sessions/others` (extension): how many sessions ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ended {
    pub ended: usize,
}

/// `GET /api/admin/people` (extension, admins).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct People {
    pub people: Vec<Person>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub name: String,
    /// `admin` or `member`.
    pub role: String,
    /// False once an admin deactivated the account.
    pub active: bool,
    /// Sessions that still work.
    pub sessions: usize,
    /// Deleted by its person (extension).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<u64>,
}

/// `POST /api/admin/people/{name}/active` (extension, admins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetActive {
    pub active: bool,
}

/// `GET /api/admin/audit` (extension, admins): newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audit {
    pub entries: Vec<AuditEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: u64,
    /// The admin's name.
    pub by: String,
    /// "deactivate", "role admin", "registration invite, guests off", ...
    pub action: String,
    /// The account acted on, if any.
    pub target: String,
}

/// `POST /api/admin/settings` (extension, admins): the mesh's sign-up rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignUpSettings {
    /// `open`, `invite` or `closed`.
    pub registration: String,
    pub guests: bool,
    /// Admins must turn two-factor sign-in on to act as admins.
    #[serde(default)]
    pub admins_need_two_factor: bool,
}

/// `POST /api/2fa/setup` (extension): a secret to enrol an authenticator
/// app with; nothing changes until `/api/2fa/enable`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwoFactorSetup {
    /// Base32, for typing into the app.
    pub secret: String,
    /// `otpauth://totp/...`, what the QR code holds.
    pub uri: String,
    /// The QR code as an SVG image (made by the node).
    pub svg: String,
}

/// `POST /api/2fa/enable` (extension).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnableTwoFactor {
    pub secret: String,
    /// A code the app shows now.
    pub code: String,
    pub password: String,
}

/// The answer to `/api/2fa/enable`: ten single-use recovery codes, shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryCodes {
    pub codes: Vec<String>,
}

/// `POST /api/2fa/disable` (extension).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordOnly {
    pub password: String,
}

/// `POST /api/admin/people/{name}/reset` (extension, admins): a link that
/// sets a new password once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetLink {
    pub code: String,
    /// The app's page for it.
    pub url: String,
    pub expires: u64,
}

/// `POST /api/reset` (extension): a new password with a reset link's code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UseResetLink {
    pub code: String,
    pub password: String,
}

/// `GET /api/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokens {
    pub tokens: Vec<ApiToken>,
}

/// `POST /api/invites` (extension, admins): a single-use invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    pub code: String,
    /// The app's sign-up page with the invitation filled in.
    pub url: String,
    /// Milliseconds since the Unix epoch.
    pub expires: u64,
}

/// `GET /api/admin/invites` (extension, admins): invitations that still work.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invites {
    pub invites: Vec<InviteEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteEntry {
    /// The SHA-256 of its code (the code itself is not kept): what
    /// `DELETE /api/admin/invites/{id}` names.
    pub id: String,
    pub expires: u64,
    /// The admin who made it.
    pub by: String,
}

/// `POST /api/users/{name}/role` (extension, admins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRole {
    pub role: String,
}

/// `GET /api/auth` (extension): how this node takes people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthInfo {
    /// Name-only `hello` is allowed (for names of no account).
    pub guests: bool,
    /// `open`, `invite` or `closed`.
    pub registration: String,
    /// No account exists yet: the first to register becomes the admin.
    pub first: bool,
    /// Extension: admins must turn two-factor sign-in on to act as admins.
    #[serde(default)]
    pub admins_need_two_factor: bool,
    /// Extension: the mesh's retention policy in days (0: messages are
    /// kept); a room may have its own.
    #[serde(default)]
    pub retention_days: u32,
    /// Extension: single sign-on is set up: what its button says (empty:
    /// none). The browser goes to `/api/sso/start`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sso: String,
}

/// `POST /api/sso/redeem` (extension): the one-time code single sign-on
/// left in the app's address (`#sso=CODE`), for the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoRedeem {
    pub code: String,
}

/// The body of every refused HTTP request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
}

/// Extension: `POST /api/rooms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRoom {
    pub room: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub topic: String,
    #[serde(default)]
    pub private: bool,
}

/// Extension: `POST /api/rooms/{room}/actions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomAction {
    /// Idempotent like a message id.
    pub id: String,
    pub action: crate::rooms::RoomEvent,
}

/// Extension: `POST /api/dm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartDm {
    /// The other people (not the caller).
    pub users: Vec<String>,
}

/// Extension: `GET /api/directory`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    pub rooms: Vec<crate::rooms::DirectoryEntry>,
}

/// Extension: `GET /api/users?q=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Users {
    pub users: Vec<String>,
}

/// Extension: `GET /api/me/rooms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyRooms {
    pub rooms: Vec<crate::rooms::RoomInfo>,
}

/// The code of an invitation as people pass it on: the code itself, or
/// the link an admin shared (`…/#invite=CODE`); `None` when there is no
/// code of the shape the nodes make (letters, digits, `-`, `_`).
pub fn invite_code(given: &str) -> Option<String> {
    let given = given.trim();
    let code = match given.split(['#', '?', '&']).find_map(|kv| kv.strip_prefix("invite=")) {
        Some(code) => code,
        None if !given.contains(['#', '?', '&', '=', '/']) => given,
        None => return None,
    };
    let ok =
        !code.is_empty() && code.len() <= 128 && code.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
    ok.then(|| code.to_owned())
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody { error: ErrorDetail { code, message: message.into() } }
    }
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;

/// `GET /api/search?q=&room=&order=&from=&limit=`: messages of rooms the
/// caller may read whose text matches, newest first (`order=new`, the
/// default) or best first (`order=relevance`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResults {
    pub results: Vec<SearchHit>,
    /// There may be more: pass this as `from` for the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    pub room: String,
    pub origin: String,
    pub seq: u64,
    pub ts: u64,
    pub author: String,
    /// The message's current text around the matching words, in parts;
    /// `hit` marks a matching word. Plain text, never markup.
    pub parts: Vec<SnippetPart>,
    /// Extension: a reply in a thread: its root's `[origin, seq]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<(String, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnippetPart {
    pub text: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hit: bool,
}

/// `GET /api/mesh` (admins): the mesh as one node sees it, for the mesh map
/// and `meshchat status`. Ask every node for the whole picture.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeshView {
    pub node: String,
    pub uptime_s: u64,
    /// WebSockets and long polls open on this node.
    pub clients: u64,
    /// Messages stored here since it started (its own and its peers'):
    /// two samples give messages per second.
    pub stored: u64,
    /// Ranges of rooms sent to peers that lacked them (anti-entropy repairs).
    pub repairs: u64,
    /// A digest of every room's vector; equal digests, identical rooms.
    pub digest: String,
    pub links: Vec<LinkView>,
    /// Rooms a peer holds more of than this node, and the longest it lasted.
    pub rooms_behind: u64,
    pub lag_seconds: u64,
    /// The rooms behind the longest.
    pub lagging: Vec<RoomLagView>,
    /// The rooms that changed last, and those asked for (`?rooms=a,b`).
    pub rooms: Vec<RoomVectorView>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkView {
    pub peer: String,
    pub up: bool,
    /// Round-trip time of the QUIC connection while up, in microseconds.
    pub rtt_us: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomLagView {
    pub room: String,
    pub messages: u64,
    pub seconds: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomVectorView {
    pub room: String,
    /// Highest seq held per origin node.
    pub vector: BTreeMap<String, u64>,
}

/// `GET /api/push/key`: the mesh's VAPID public key (base64url), the
/// `applicationServerKey` a browser subscribes with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushKey {
    pub key: String,
}

/// `POST /api/push/subscriptions`: this browser takes Web Push
/// notifications of mentions and direct messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSubscribe {
    /// The push service's URL for this browser (`PushSubscription.endpoint`).
    pub endpoint: String,
    /// `PushSubscription.getKey("p256dh")` and `("auth")`, base64url.
    pub p256dh: String,
    pub auth: String,
    /// The `applicationServerKey` it subscribed with (from `/api/push/key`).
    pub key: String,
    /// The message's text may be in the push; without it, only who wrote
    /// where.
    #[serde(default)]
    pub preview: bool,
}

/// `DELETE /api/push/subscriptions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushUnsubscribe {
    pub endpoint: String,
}

/// `GET /api/admin/rooms?q=` (extension, admins): the rooms this node
/// holds, busiest first. A private room or a conversation shows its name
/// and size only: never its title, topic or members' names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminRooms {
    pub rooms: Vec<AdminRoom>,
    /// More rooms matched than one answer holds.
    #[serde(default)]
    pub more: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminRoom {
    pub room: String,
    /// Empty for a private room or a conversation.
    #[serde(default)]
    pub title: String,
    pub private: bool,
    pub dm: bool,
    /// Created (with an owner and members); `false` for an open room.
    pub governed: bool,
    pub archived: bool,
    /// The room's own retention in days (0: the mesh's).
    #[serde(default)]
    pub retention_days: u32,
    pub members: u64,
    /// Messages shown in it (events included).
    pub messages: u64,
    /// `ts` of its latest message (0: none).
    pub last: u64,
}

/// `POST /api/admin/rooms/{room}/archive` (extension, admins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetArchived {
    pub archived: bool,
}

/// `POST /api/admin/retention` and `POST /api/admin/rooms/{room}/retention`
/// (extension, admins): keep messages for `days` (0: the mesh keeps them;
/// a room follows the mesh's policy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRetention {
    pub days: u32,
}
