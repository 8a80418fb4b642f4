//! Outbound HTTP/1.1 over TCP or TLS, on hyper's own client: a node
//! joining, `invite-node`, `meshchat status`, the terminal client's sign-in,
//! the launcher and the tests. Bodies are bounded and every request has a
//! deadline.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use thiserror::Error;

use super::tls::{ConnectError, TlsClient, open};

#[derive(Debug, Error)]
pub enum HttpError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("request failed: {0}")]
    Http(#[from] hyper::Error),
    #[error("bad request: {0}")]
    Request(#[source] hyper::http::Error),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the answer is over {} MiB", MAX_BODY >> 20)]
    TooLarge,
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// How long a request may take in all (long polls last up to a minute).
pub const TIMEOUT: Duration = Duration::from_secs(90);

pub async fn get(url: &str) -> Result<Response, HttpError> {
    request("GET", url, &[], None).await
}

pub async fn post_json(url: &str, body: &str) -> Result<Response, HttpError> {
    request("POST", url, &[("Content-Type", "application/json")], Some(body.as_bytes())).await
}

/// One request; `headers` are added to `Host`, `Content-Length` and
/// `Connection: close`.
pub async fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Response, HttpError> {
    request_within(TIMEOUT, method, url, headers, body).await
}

pub async fn request_within(
    timeout: Duration,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Response, HttpError> {
    request_via(&TlsClient::public(), timeout, method, url, headers, body).await
}

/// Bytes of a response body, at most: a node (or something posing as one)
/// cannot make a tool hold more.
pub const MAX_BODY: usize = 64 << 20;

/// A request to `http://` or `https://` (trusting what `tls` trusts), on
/// hyper's HTTP/1.1 client: one request per connection.
pub async fn request_via(
    tls: &TlsClient,
    timeout: Duration,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Response, HttpError> {
    let req = build(method, url, headers, body)?;
    let exchange = async {
        let io = TokioIo::new(open(url, tls).await?);
        let (mut send, conn) = hyper::client::conn::http1::handshake(io).await?;
        // The connection is driven beside the request and ends with it.
        let driver = tokio::spawn(conn);
        let res = send.send_request(req).await?;
        let status = res.status().as_u16();
        let headers = res
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let body = Limited::new(res.into_body(), MAX_BODY).collect().await.map_err(|_| HttpError::TooLarge)?;
        driver.abort();
        Ok::<_, HttpError>(Response { status, headers, body: body.to_bytes().to_vec() })
    };
    tokio::time::timeout(timeout, exchange).await.map_err(|_| HttpError::Timeout(timeout))?
}

fn build(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<hyper::Request<Full<Bytes>>, HttpError> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (host, path) = match rest.split_once('/') {
        Some((h, p)) => (h, format!("/{p}")),
        None => (rest, "/".to_owned()),
    };
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, host)
        .header(hyper::header::CONNECTION, "close");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let body = Full::new(Bytes::copy_from_slice(body.unwrap_or_default()));
    req.body(body).map_err(HttpError::Request)
}
