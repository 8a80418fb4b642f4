//! Signing the command-line tools in: a token from a file (bots), or a
//! login prompt (people), or a guest's name where the node takes guests.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use meshchat_shared::ErrorCode;
use meshchat_shared::api::{AuthInfo, ErrorBody, Invite, Login, Register, Session};
use thiserror::Error;

use crate::edge::http::secure::page_origin;
use crate::infra::http::{HttpError, Response, TIMEOUT, request_via};
use crate::infra::tls::TlsClient;

#[derive(Debug, Error)]
pub enum SignInError {
    #[error("no node to ask")]
    NoNodes,
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The node's own words: they are written for people.
    #[error("{message}")]
    Refused { status: u16, code: Option<ErrorCode>, message: String },
    #[error("unexpected answer from the node: {0}")]
    Answer(#[from] serde_json::Error),
    #[error("{0}: {1}")]
    File(PathBuf, #[source] std::io::Error),
    #[error("cannot read the password: {0}")]
    Prompt(#[source] std::io::Error),
    #[error("this node needs an account: give --token-file, or sign in at the prompt")]
    NeedsAccount,
    #[error("the two passwords differ")]
    PasswordsDiffer,
    #[error("{0} has an account already: the password was wrong")]
    WrongPassword(String),
    #[error("wrong name or password (no account yet? add --register)")]
    BadCredentials,
}

/// How a tool speaks: as an account (a token) or as a guest (a name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Token(String),
    Guest(String),
}

/// What the user gave on the command line.
#[derive(Debug, Clone, Default)]
pub struct SignIn {
    /// The WebSocket URLs of nodes; the first one answering is asked.
    pub nodes: Vec<String>,
    pub name: Option<String>,
    /// Read the token from here; after a login prompt, keep it here.
    pub token_file: Option<PathBuf>,
    /// Sign in even where guests are welcome.
    pub login: bool,
    /// Create the account first (where the mesh lets people register).
    pub register: bool,
    /// An invitation code, for a mesh that registers by invitation.
    pub invite: Option<String>,
}

/// A node's base URL (`https://host:port`) from its WebSocket URL.
pub(crate) fn base(ws_url: &str) -> Option<String> {
    page_origin(ws_url)
}

pub(crate) async fn call(
    tls: &TlsClient,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<String>,
) -> Result<Response, SignInError> {
    let json = [("Content-Type", "application/json")];
    call_with(tls, (method, url, TIMEOUT), token, &json, body.as_deref().map(str::as_bytes)).await
}

/// [`call`] with these headers and raw bytes (an upload).
pub(crate) async fn call_with(
    tls: &TlsClient,
    (method, url, timeout): (&str, &str, std::time::Duration),
    token: Option<&str>,
    extra: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Response, SignInError> {
    let auth = token.map(|t| format!("Bearer {t}"));
    // Names the terminal client in the person's list of sessions.
    let agent = concat!("meshchat-client/", env!("CARGO_PKG_VERSION"));
    let mut headers = vec![("User-Agent", agent)];
    headers.extend_from_slice(extra);
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    let r = request_via(tls, timeout, method, url, &headers, body).await?;
    if r.status >= 400 {
        let (code, message) = match serde_json::from_slice::<ErrorBody>(&r.body) {
            Ok(e) => (Some(e.error.code), e.error.message),
            Err(_) => (None, format!("the node answered {}", r.status)),
        };
        return Err(SignInError::Refused { status: r.status, code, message });
    }
    Ok(r)
}

/// The first node that answers `/api/auth`: its base URL and what it says.
async fn first_node(tls: &TlsClient, nodes: &[String]) -> Result<(String, AuthInfo), SignInError> {
    let mut last = SignInError::NoNodes;
    for base in nodes.iter().filter_map(|n| base(n)) {
        match call(tls, "GET", &format!("{base}/api/auth"), None, None).await {
            Ok(r) => return Ok((base, serde_json::from_slice(&r.body)?)),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn read_token(path: &Path) -> Result<Option<String>, SignInError> {
    match std::fs::read_to_string(path) {
        Ok(t) if !t.trim().is_empty() => Ok(Some(t.trim().to_owned())),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SignInError::File(path.to_owned(), e)),
    }
}

/// Writes the token readable by its owner only.
fn write_token(path: &Path, token: &str) -> Result<(), SignInError> {
    let err = |e| SignInError::File(path.to_owned(), e);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(err)?;
    f.write_all(format!("{token}\n").as_bytes()).map_err(err)
}

/// A line from the user: at the terminal with a prompt (the password not
/// echoed), or from piped input (scripts).
fn ask(prompt: &str, secret: bool) -> Result<String, SignInError> {
    let line = if std::io::stdin().is_terminal() {
        if secret {
            rpassword::prompt_password(prompt).map_err(SignInError::Prompt)?
        } else {
            eprint!("{prompt}");
            let mut l = String::new();
            std::io::stdin().lock().read_line(&mut l).map_err(SignInError::Prompt)?;
            l
        }
    } else {
        let mut l = String::new();
        std::io::stdin().lock().read_line(&mut l).map_err(SignInError::Prompt)?;
        l
    };
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Decides how to speak: the token file's token; a guest's name where the
/// node takes guests; else a login at the prompt, or a new account (with
/// `--register`, on a mesh with no account yet, or offered at the prompt
/// when a login fails). A new session is kept in the token file.
pub async fn sign_in(s: &SignIn, tls: &TlsClient) -> Result<Identity, SignInError> {
    if let Some(token) = s.token_file.as_deref().map(read_token).transpose()?.flatten() {
        return Ok(Identity::Token(token));
    }
    let (base, info) = first_node(tls, &s.nodes).await?;
    if info.guests
        && !s.login
        && !s.register
        && let Some(name) = &s.name
    {
        return Ok(Identity::Guest(name.clone()));
    }
    let name = match &s.name {
        Some(n) => n.clone(),
        None => ask("name: ", false)?,
    };
    let session = if s.register || info.first {
        if info.first {
            eprintln!("This mesh has no account yet: {name} will be its first, and its admin.");
        }
        register(tls, &base, &info, s, &name, None).await?
    } else {
        let password = ask(&format!("password for {name}: "), true)?;
        match login(tls, &base, &name, &password, None).await {
            Err(SignInError::Refused { code: Some(ErrorCode::BadCredentials), .. }) => {
                offer_account(tls, &base, &info, s, &name, password).await?
            }
            // Two-factor sign-in: the app's code, or a recovery code.
            Err(SignInError::Refused { code: Some(ErrorCode::CodeRequired), .. }) => {
                let code = ask("code from your authenticator app (or a recovery code): ", false)?;
                login(tls, &base, &name, &password, Some(code)).await?
            }
            other => other?,
        }
    };
    if let Some(path) = &s.token_file {
        write_token(path, &session.token)?;
    }
    Ok(Identity::Token(session.token))
}

async fn login(
    tls: &TlsClient,
    base: &str,
    name: &str,
    password: &str,
    code: Option<String>,
) -> Result<Session, SignInError> {
    let body = serde_json::to_string(&Login { name: name.to_owned(), password: password.to_owned(), code })?;
    let r = call(tls, "POST", &format!("{base}/api/login"), None, Some(body)).await?;
    Ok(serde_json::from_slice(&r.body)?)
}

/// After a refused login, at a terminal where the mesh lets people
/// register: the name may simply have no account yet (the node does not
/// say which), so offer to create it with the password just typed.
async fn offer_account(
    tls: &TlsClient,
    base: &str,
    info: &AuthInfo,
    s: &SignIn,
    name: &str,
    password: String,
) -> Result<Session, SignInError> {
    if !std::io::stdin().is_terminal() || info.registration == "closed" {
        return Err(SignInError::BadCredentials);
    }
    eprintln!("wrong name or password.");
    let yes = ask(&format!("No account named {name} yet? Create it with that password [y/N]: "), false)?;
    if !matches!(yes.trim(), "y" | "Y" | "yes") {
        return Err(SignInError::BadCredentials);
    }
    match register(tls, base, info, s, name, Some(password)).await {
        Err(SignInError::Refused { code: Some(ErrorCode::NameTaken), .. }) => {
            Err(SignInError::WrongPassword(name.to_owned()))
        }
        other => other,
    }
}

/// `POST /api/register`: the password asked (twice at a terminal) unless
/// given, the invitation code asked where the mesh needs one.
async fn register(
    tls: &TlsClient,
    base: &str,
    info: &AuthInfo,
    s: &SignIn,
    name: &str,
    password: Option<String>,
) -> Result<Session, SignInError> {
    let interactive = std::io::stdin().is_terminal();
    let password = match password {
        Some(p) => p,
        None => ask(&format!("new password for {name} (8 characters or more): "), true)?,
    };
    if interactive && ask("the same password again: ", true)? != password {
        return Err(SignInError::PasswordsDiffer);
    }
    let invite = match &s.invite {
        Some(code) => Some(code.clone()),
        None if info.registration == "invite" && !info.first => {
            Some(ask("invitation code (an admin makes one with `meshchat invite`): ", false)?)
        }
        None => None,
    }
    .map(|given| meshchat_shared::api::invite_code(&given).unwrap_or(given));
    let body = serde_json::to_string(&Register { name: name.to_owned(), password, invite })?;
    let r = call(tls, "POST", &format!("{base}/api/register"), None, Some(body)).await?;
    eprintln!("Account {name} created.");
    Ok(serde_json::from_slice(&r.body)?)
}

/// `meshchat invite`: a single-use invitation from an admin.
pub async fn invite(s: &SignIn, tls: &TlsClient) -> Result<Invite, SignInError> {
    let body = signed_in_call(s, tls, "POST", "/api/invites", None).await?;
    Ok(serde_json::from_slice(&body)?)
}

/// One call of the API as the signed-in account (signed in first, at the
/// prompt if need be): the answer's bytes.
pub async fn signed_in_call(
    s: &SignIn,
    tls: &TlsClient,
    method: &str,
    path: &str,
    body: Option<String>,
) -> Result<Vec<u8>, SignInError> {
    let Identity::Token(token) = sign_in(&SignIn { login: true, register: false, ..s.clone() }, tls).await? else {
        return Err(SignInError::NeedsAccount);
    };
    let (base, _) = first_node(tls, &s.nodes).await?;
    Ok(call(tls, method, &format!("{base}{path}"), Some(&token), body).await?.body)
}

/// An upload waits this long for its answer (a room's import replays its
/// whole history first).
pub(crate) const UPLOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// Uploads `bytes` as a file named `name` to `path` (`POST`), signed in.
pub async fn signed_in_upload(
    s: &SignIn,
    tls: &TlsClient,
    path: &str,
    (name, mime): (&str, &str),
    bytes: &[u8],
) -> Result<Vec<u8>, SignInError> {
    let Identity::Token(token) = sign_in(&SignIn { login: true, register: false, ..s.clone() }, tls).await? else {
        return Err(SignInError::NeedsAccount);
    };
    let (base, _) = first_node(tls, &s.nodes).await?;
    // The header that makes a body an upload (no form can set it).
    let headers = [("Content-Type", mime), ("X-File-Name", name)];
    let url = format!("{base}{path}");
    Ok(call_with(tls, ("POST", &url, UPLOAD_TIMEOUT), Some(&token), &headers, Some(bytes)).await?.body)
}
