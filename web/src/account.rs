//! Who is using the app, as plain Rust: the saved session, the sign-in
//! screen's choices and checks, errors in words. Unit-tested natively.

use crate::i18n::t;
use meshchat_shared::ErrorCode;
use meshchat_shared::api::AuthInfo;
use meshchat_shared::limits::validate_name;
use serde::{Deserialize, Serialize};

/// A signed-in session as this browser keeps it: the token works on every
/// node, so it survives reloads and moves between nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub token: String,
    pub name: String,
    /// `admin` or `member`.
    pub role: String,
}

impl Session {
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }
}

/// Who the app speaks as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    Account(Session),
    /// A name-only guest, where the nodes take guests.
    Guest(String),
}

impl Who {
    pub fn name(&self) -> &str {
        match self {
            Who::Account(s) => &s.name,
            Who::Guest(n) => n,
        }
    }

    pub fn token(&self) -> Option<&str> {
        match self {
            Who::Account(s) => Some(&s.token),
            Who::Guest(_) => None,
        }
    }
}

/// The sign-in screen's tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    SignIn,
    SignUp,
    Guest,
}

/// What the screen offers: sign-up unless registration is closed (the very
/// first account may always register), guests where the node takes them.
pub fn tabs(info: &AuthInfo) -> Vec<Tab> {
    let mut tabs = vec![Tab::SignIn];
    if info.registration != "closed" || info.first {
        tabs.push(Tab::SignUp);
    }
    if info.guests {
        tabs.push(Tab::Guest);
    }
    tabs
}

/// The tab to open with: sign-up for an invitation or an empty mesh.
pub fn first_tab(info: &AuthInfo, invited: bool) -> Tab {
    if (invited || info.first) && tabs(info).contains(&Tab::SignUp) { Tab::SignUp } else { Tab::SignIn }
}

/// The invitation code in a link's fragment: `#invite=CODE`.
pub fn invite_from_hash(hash: &str) -> Option<String> {
    meshchat_shared::api::invite_code(hash)
}

/// The code of an admin's password reset link: `#reset=CODE`.
pub fn reset_from_hash(hash: &str) -> Option<String> {
    hash.strip_prefix("#reset=").and_then(meshchat_shared::api::invite_code)
}

/// What single sign-on left in the address: a one-time code to trade for
/// the session (`#sso=CODE`), or why it failed (`#sso-error=WORDS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsoReturn {
    Code(String),
    Failed(String),
}

pub fn sso_from_hash(hash: &str) -> Option<SsoReturn> {
    if let Some(code) = hash.strip_prefix("#sso=") {
        return meshchat_shared::api::invite_code(code).map(SsoReturn::Code);
    }
    let words = hash.strip_prefix("#sso-error=")?;
    let words = percent_encoding::percent_decode_str(words).decode_utf8_lossy();
    Some(SsoReturn::Failed(words.chars().filter(|c| !c.is_control()).take(300).collect()))
}

/// 8-256 characters, as the nodes require.
pub fn check_password(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < 8 {
        return Err(t().password_short.into());
    }
    if n > 256 {
        return Err(t().password_long.into());
    }
    Ok(())
}

pub fn check_name(name: &str) -> Result<(), String> {
    validate_name(name).map_err(|e| crate::i18n::invalid(&e))
}

/// A refusal of the sign-in routes, in words for the form.
pub fn explain(code: ErrorCode, message: &str) -> String {
    match code {
        ErrorCode::BadCredentials => t().wrong_credentials.into(),
        ErrorCode::RateLimited => t().too_many_attempts.into(),
        ErrorCode::NameTaken => t().name_taken.into(),
        ErrorCode::RegistrationClosed => t().invitation_only.into(),
        ErrorCode::Unavailable => t().cannot_create_accounts.into(),
        ErrorCode::Unauthorized => t().session_ended.into(),
        _ => crate::i18n::explain(code, message),
    }
}

/// The HTTP base of a node's WebSocket URL: `wss://h:p/ws` → `https://h:p`.
pub fn http_base(ws_url: &str) -> String {
    let base = ws_url.strip_suffix("/ws").unwrap_or(ws_url);
    match base.split_once("://") {
        Some(("wss", rest)) => format!("https://{rest}"),
        Some((_, rest)) => format!("http://{rest}"),
        None => format!("http://{base}"),
    }
}

/// Where to ask the account routes: the page's own node (`""`, same
/// origin) first, then every other node this browser has met, since its
/// own may be the one that is down.
pub fn bases(own_ws: &str, nodes: &[meshchat_shared::NodeInfo]) -> Vec<String> {
    let mut bases = vec![String::new()];
    for n in nodes {
        if !n.url.is_empty() && n.url != own_ws && !bases.contains(&http_base(&n.url)) {
            bases.push(http_base(&n.url));
        }
    }
    bases
}

/// What to say when a request got no answer at all.
pub fn no_answer() -> String {
    t().no_answer.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(guests: bool, registration: &str, first: bool) -> AuthInfo {
        AuthInfo {
            guests,
            registration: registration.into(),
            first,
            admins_need_two_factor: false,
            retention_days: 0,
            sso: String::new(),
        }
    }

    #[test]
    fn single_sign_on_leaves_a_code_or_words_in_the_address() {
        assert_eq!(sso_from_hash("#sso=abc-123"), Some(SsoReturn::Code("abc-123".into())));
        assert_eq!(sso_from_hash("#sso=a/b"), None, "not a code");
        assert_eq!(
            sso_from_hash("#sso-error=the%20provider%20said%20no%1B%5B31m"),
            Some(SsoReturn::Failed("the provider said no[31m".into())),
            "decoded, control characters dropped"
        );
        assert_eq!(sso_from_hash("#invite=x"), None);
    }

    #[test]
    fn the_screen_offers_what_the_node_allows() {
        assert_eq!(tabs(&info(false, "open", false)), [Tab::SignIn, Tab::SignUp]);
        assert_eq!(tabs(&info(false, "closed", false)), [Tab::SignIn]);
        assert_eq!(tabs(&info(false, "closed", true)), [Tab::SignIn, Tab::SignUp], "the first account may register");
        assert_eq!(tabs(&info(true, "invite", false)), [Tab::SignIn, Tab::SignUp, Tab::Guest]);
    }

    #[test]
    fn invitations_and_empty_meshes_open_on_sign_up() {
        assert_eq!(first_tab(&info(false, "invite", false), true), Tab::SignUp);
        assert_eq!(first_tab(&info(false, "open", true), false), Tab::SignUp);
        assert_eq!(first_tab(&info(false, "open", false), false), Tab::SignIn);
        assert_eq!(first_tab(&info(false, "closed", false), true), Tab::SignIn, "no sign-up to open");
    }

    #[test]
    fn an_invitation_comes_from_the_fragment_and_nothing_else() {
        assert_eq!(invite_from_hash("#invite=abc-DEF_123").as_deref(), Some("abc-DEF_123"));
        assert_eq!(invite_from_hash("#x=1&invite=abc").as_deref(), Some("abc"));
        assert_eq!(invite_from_hash("#invite="), None);
        assert_eq!(invite_from_hash("#invite=<script>"), None);
        assert_eq!(invite_from_hash(""), None);
    }

    #[test]
    fn passwords_and_names_are_checked_before_asking_the_node() {
        assert!(check_password("short").is_err());
        assert!(check_password("long enough").is_ok());
        assert!(check_password(&"p".repeat(257)).is_err());
        assert!(check_name("ada").is_ok());
        assert!(check_name(" ada").is_err());
    }

    #[test]
    fn refusals_read_as_words() {
        assert_eq!(explain(ErrorCode::BadCredentials, "wrong name or password"), "Wrong name or password.");
        assert!(explain(ErrorCode::Invalid, "that invitation was used already").contains("used already"));
    }

    #[test]
    fn the_own_node_is_asked_first_then_the_others() {
        let node = |id: &str, url: &str| meshchat_shared::NodeInfo { id: id.into(), url: url.into(), up: true };
        assert_eq!(http_base("wss://chat.example:443/ws"), "https://chat.example:443");
        assert_eq!(http_base("ws://127.0.0.1:8080/ws"), "http://127.0.0.1:8080");
        let nodes = [node("n1", "ws://a:1/ws"), node("n2", "ws://b:2/ws"), node("n3", "ws://b:2/ws")];
        assert_eq!(bases("ws://a:1/ws", &nodes), ["", "http://b:2"]);
        assert_eq!(bases("ws://a:1/ws", &[]), [""]);
    }

    #[test]
    fn who_gives_name_and_token() {
        let s = Session { token: "t".into(), name: "Ada".into(), role: "admin".into() };
        assert!(s.is_admin());
        assert_eq!((Who::Account(s).token(), Who::Guest("g".into()).token()), (Some("t"), None));
    }
}
