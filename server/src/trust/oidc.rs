//! Single sign-on with OpenID Connect: this node as a relying party of the
//! operator's provider, with the authorization code flow and PKCE (the
//! `openidconnect` crate checks the ID token: signature by the provider's
//! keys, issuer, audience, expiry, nonce). What a flow needs between its
//! start and the provider's answer (the PKCE verifier, the nonce) waits
//! here, by the flow's `state`, for ten minutes and is used once; a signed
//! in browser gets a one-time code for its session, not the session in a URL.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, HttpRequest, HttpResponse, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};

use meshchat_shared::api::Session;

use crate::infra::clock::now_ms;
use crate::infra::http::HttpError;

/// How long a flow may take at the provider, and a code waits for its browser.
const FLOW_MS: u64 = 10 * 60_000;
const CODE_MS: u64 = 2 * 60_000;
/// Flows and codes waiting at once: past this, new ones are refused.
const MAX_WAITING: usize = 10_000;
/// A request to the provider takes at most this long.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(15);

/// The operator's provider, as the node's flags name it.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// What the sign-in button says ("Sign in with …").
    pub label: String,
}

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the identity provider cannot be reached or read: {0}")]
    Provider(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("that sign-in is unknown, used or expired: start again")]
    UnknownFlow,
    #[error("the identity provider's answer does not hold: {0}")]
    Refused(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("too many sign-ins are under way: try again in a minute")]
    Busy,
}

fn provider(e: impl std::error::Error + Send + Sync + 'static) -> OidcError {
    OidcError::Provider(Box::new(e))
}

fn refused(e: impl std::error::Error + Send + Sync + 'static) -> OidcError {
    OidcError::Refused(Box::new(e))
}

/// Who the provider says signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub issuer: String,
    pub subject: String,
    /// The name they would like here (`preferred_username`), if any.
    pub name: Option<String>,
}

struct Flow {
    /// What the browser that began it holds (a cookie): the answer is taken
    /// only from that browser, so nobody can sign another person's browser
    /// into their own account with a link.
    browser: String,
    verifier: String,
    nonce: String,
    redirect: String,
    at: u64,
}

pub struct Oidc {
    config: OidcConfig,
    /// The provider's metadata and keys, read once (again after a failure).
    metadata: tokio::sync::OnceCell<CoreProviderMetadata>,
    flows: Mutex<HashMap<String, Flow>>,
    /// One-time codes a browser trades for its session: `(session, at)`.
    codes: Mutex<HashMap<String, (Session, u64)>>,
}

impl Oidc {
    pub fn new(config: OidcConfig) -> Oidc {
        Oidc { config, metadata: Default::default(), flows: Default::default(), codes: Default::default() }
    }

    pub fn label(&self) -> &str {
        &self.config.label
    }

    async fn metadata(&self) -> Result<&CoreProviderMetadata, OidcError> {
        self.metadata
            .get_or_try_init(|| async {
                let issuer = IssuerUrl::new(self.config.issuer.clone()).map_err(provider)?;
                CoreProviderMetadata::discover_async(issuer, &http).await.map_err(provider)
            })
            .await
    }

    async fn client(
        &self,
        redirect: &str,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        OidcError,
    > {
        let md = self.metadata().await?.clone();
        let id = ClientId::new(self.config.client_id.clone());
        let secret = ClientSecret::new(self.config.client_secret.clone());
        let redirect = RedirectUrl::new(redirect.to_owned()).map_err(refused)?;
        Ok(CoreClient::from_provider_metadata(md, id, Some(secret)).set_redirect_uri(redirect))
    }

    /// Where to send the browser to sign in, and the key it must keep (a
    /// cookie) for its answer; the provider sends it back to `redirect`
    /// (this node's callback, as the provider knows it).
    pub async fn start(&self, redirect: &str) -> Result<(String, String), OidcError> {
        let client = self.client(redirect).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        let browser = crate::infra::random_id();
        let flow = Flow {
            browser: browser.clone(),
            verifier: verifier.secret().clone(),
            nonce: nonce.secret().clone(),
            redirect: redirect.into(),
            at: now_ms(),
        };
        let mut flows = self.flows.lock().unwrap_or_else(|p| p.into_inner());
        flows.retain(|_, f| now_ms() < f.at + FLOW_MS);
        if flows.len() >= MAX_WAITING {
            return Err(OidcError::Busy);
        }
        flows.insert(state.secret().clone(), flow);
        Ok((url.to_string(), browser))
    }

    /// The provider's answer (`state`, `code`), in the browser holding
    /// `browser`: who signed in, checked.
    pub async fn finish(&self, state: &str, code: &str, browser: &str) -> Result<Subject, OidcError> {
        let flow = self.flows.lock().unwrap_or_else(|p| p.into_inner()).remove(state);
        let live = |f: &Flow| now_ms() < f.at + FLOW_MS && f.browser == browser;
        let flow = flow.filter(live).ok_or(OidcError::UnknownFlow)?;
        let client = self.client(&flow.redirect).await?;
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(refused)?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier))
            .request_async(&http)
            .await
            .map_err(refused)?;
        let id_token = token.id_token().ok_or(OidcError::UnknownFlow)?;
        let claims = id_token.claims(&client.id_token_verifier(), &Nonce::new(flow.nonce)).map_err(refused)?;
        Ok(Subject {
            issuer: claims.issuer().to_string(),
            subject: claims.subject().to_string(),
            name: claims.preferred_username().map(|u| u.to_string()),
        })
    }

    /// A one-time code for `session`, for the browser to trade.
    pub fn code_for(&self, session: Session) -> Result<String, OidcError> {
        let mut codes = self.codes.lock().unwrap_or_else(|p| p.into_inner());
        codes.retain(|_, (_, at)| now_ms() < *at + CODE_MS);
        if codes.len() >= MAX_WAITING {
            return Err(OidcError::Busy);
        }
        let code = crate::infra::random_id();
        codes.insert(code.clone(), (session, now_ms()));
        Ok(code)
    }

    /// The session a one-time code stands for, once.
    pub fn redeem(&self, code: &str) -> Option<Session> {
        let found = self.codes.lock().unwrap_or_else(|p| p.into_inner()).remove(code);
        found.filter(|(_, at)| now_ms() < *at + CODE_MS).map(|(s, _)| s)
    }
}

/// The provider's endpoints over the node's own HTTP client; no redirects
/// followed (the provider is named by the operator, its answers are read
/// as they come).
async fn http(req: HttpRequest) -> Result<HttpResponse, HttpError> {
    let (parts, body) = req.into_parts();
    let headers: Vec<(String, String)> =
        parts.headers.iter().filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned()))).collect();
    let refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let body = (!body.is_empty()).then_some(body.as_slice());
    let url = parts.uri.to_string();
    let r = crate::infra::http::request_within(PROVIDER_TIMEOUT, parts.method.as_str(), &url, &refs, body).await?;
    let mut out = openidconnect::http::Response::builder().status(r.status);
    for (n, v) in &r.headers {
        out = out.header(n.as_str(), v.as_str());
    }
    out.body(r.body).map_err(HttpError::Request)
}
