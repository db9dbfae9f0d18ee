//! Signed requests: the [`Signer`] both clients share, the retry loop, and the low-level
//! [`SignedRequest`] builder.
//!
//! With the non-default `tamper` feature, the builder is also the SDK's test-support API. The server's end-to-end tests need to send
//! requests an honest client never would: a replayed nonce, a timestamp 301 seconds off, a body
//! changed after signing, a query string. [`SignedRequest`] signs exactly like the typed
//! methods, but lets each part be fixed or tampered with, and [`PreparedRequest::send`] makes
//! exactly one attempt (no retry) and hands back the raw status, headers and body.
//!
//! ```no_run
//! # async fn demo(client: &signet_client::MachineClient) -> Result<(), signet_client::ClientError> {
//! use signet_client::api::route::machine as route;
//!
//! let now = signet_client::unix_now();
//! let stale = client.signed("GET", route::SECRETS).timestamp(now - 301).build()?;
//! assert_eq!(stale.send().await?.status, 401);
//!
//! let once = client.signed("GET", route::SECRETS).build()?;
//! assert_eq!(once.send().await?.status, 200);
//! assert_eq!(once.send().await?.status, 401); // the same nonce again: a replay
//!
//! let mut tampered = client.signed("POST", route::SECRETS_LIST).json(&serde_json::json!({"projectId": "proj_0123456789"})).build()?;
//! tampered.body = br#"{"projectId":"proj_9876543210"}"#.to_vec();
//! assert_eq!(tampered.send().await?.status, 401);
//! # Ok(()) }
//! ```

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::Signer as _;
#[cfg(feature = "tamper")]
use http_body_util::{BodyExt as _, Full};
#[cfg(feature = "tamper")]
use hyper::body::Bytes;
use signet_proto::web_url::WebUrl;
use signet_proto::{
    BodyHash, CanonicalPath, HEADER_MACHINE_ID, HEADER_NONCE, HEADER_OPERATOR_ID, HEADER_SIGNATURE,
    HEADER_TIMESTAMP, MachineId, Method, Nonce, OperatorId, SecretSeed, SignedHeaders, Timestamp,
};
use zeroize::{Zeroize as _, Zeroizing};

use crate::error::ClientError;
use crate::retry::{self, RetryCause};
use crate::trust;

/// The `User-Agent` of every request.
pub(crate) const USER_AGENT: &str = concat!("signet-client/", env!("CARGO_PKG_VERSION"));

/// Seconds since the Unix epoch by the system clock, as signed into `X-Timestamp`.
pub fn unix_now() -> i64 {
    // A clock before 1970 is treated as 1970; the server will then refuse the timestamp.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Who signs a request, which decides the header that names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// A machine, named in `X-Machine-Id` on machine routes.
    Machine(MachineId),
    /// An operator, named in `X-Operator-Id` on admin routes.
    Operator(OperatorId),
}

impl Principal {
    /// The header that carries the principal's id.
    pub fn header(&self) -> &'static str {
        match self {
            Self::Machine(_) => HEADER_MACHINE_ID,
            Self::Operator(_) => HEADER_OPERATOR_ID,
        }
    }

    /// The id as sent.
    pub fn id(&self) -> String {
        match self {
            Self::Machine(id) => id.to_string(),
            Self::Operator(id) => id.to_string(),
        }
    }
}

/// Timeout and retry settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// The limit for one attempt, from connecting to the end of the body. Default 15 s, as in
    /// the SikkerKey SDKs.
    pub timeout: Duration,
    /// How many times a call is retried after its first attempt. Default 3, as in the
    /// SikkerKey SDKs. Only 429, 503 and network failures are retried.
    pub retries: usize,
    /// The least pause before the first retry. Each pause is jittered up to twice its least,
    /// and each next least is twice the previous one. Default 700 ms: the pauses then average
    /// about 1, 2 and 4 s, the SikkerKey SDKs' fixed ones.
    pub first_pause: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(15),
            retries: 3,
            first_pause: Duration::from_millis(700),
        }
    }
}

impl ClientOptions {
    /// The same settings without retries.
    pub fn without_retries(mut self) -> Self {
        self.retries = 0;
        self
    }
}

/// Which network failures a call may retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryNetwork {
    /// Every failure: the route only reads, so a repeat is harmless.
    Always,
    /// Only a failure to connect, when the request certainly never reached the server: an
    /// admin write that timed out may have been applied, and must not be sent twice.
    ConnectOnly,
}

/// A principal's key, its server, and an HTTP client: everything needed to sign and send.
#[derive(Debug)]
pub struct Signer {
    principal: Principal,
    seed: SecretSeed,
    base_url: String,
    http: reqwest::Client,
    /// For streams: no bound on the whole exchange, only on silence (made on first use).
    streaming: std::sync::OnceLock<reqwest::Client>,
    options: ClientOptions,
}

impl Signer {
    /// A signer for `principal` against `api_url`, which must be https:// or http:// to a
    /// loopback host. A trailing slash is dropped, so paths join cleanly.
    pub fn new(
        principal: Principal,
        seed: SecretSeed,
        api_url: &str,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        let base_url = checked_base_url(api_url)?;
        let http = http_client(options.timeout)?;
        Ok(Self {
            principal,
            seed,
            base_url,
            http,
            streaming: std::sync::OnceLock::new(),
            options,
        })
    }

    /// Signs a GET to `path` and sends it once on the streaming client, which bounds connecting
    /// and each silence (`idle`) but not the whole exchange. Returns the response at its headers,
    /// whatever its status, with the body still to read.
    pub(crate) async fn open_stream(
        &self,
        path: &str,
        idle: Duration,
    ) -> Result<reqwest::Response, ClientError> {
        let http = match self.streaming.get() {
            Some(c) => c.clone(),
            None => {
                let c = client_builder()?
                    .connect_timeout(self.options.timeout)
                    .read_timeout(idle)
                    .build()
                    .map_err(ClientError::transport)?;
                self.streaming.get_or_init(|| c).clone()
            }
        };
        let prepared = self.signed("GET", path).build()?;
        let url = reqwest::Url::parse(&format!("{}{}", self.base_url, prepared.path))
            .map_err(|_| ClientError::InvalidRequest { what: "URL" })?;
        let mut req = http.get(url).header("accept", "text/event-stream");
        for (name, value) in &prepared.headers {
            req = req.header(name.as_str(), value.as_str());
        }
        req.send().await.map_err(network_error)
    }

    /// Who signs.
    pub fn principal(&self) -> Principal {
        self.principal
    }

    /// The server's base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The timeout and retry settings.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// Starts a signed request (see [`SignedRequest`]).
    pub fn signed(&self, method: &str, path: &str) -> SignedRequest<'_> {
        SignedRequest::new(self, method, path)
    }

    /// Signs and sends one request with `overrides`, once, without retry, and returns the raw
    /// response whatever its status (test-support).
    #[cfg(feature = "tamper")]
    pub async fn send_signed(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
        overrides: SignOverrides,
    ) -> Result<RawResponse, ClientError> {
        self.signed(method, path)
            .body(body)
            .overrides(overrides)
            .build()?
            .send()
            .await
    }

    /// Sends a signed request, re-signed with a fresh timestamp and nonce on every attempt, and
    /// retried on 429, 503 and (per `network`) network failures other than a refused TLS
    /// handshake, after jittered, doubling pauses,
    /// telling the program once when retrying starts ([`crate::on_retry`]). Success is exactly
    /// 200, as on every signed route; the 200 response is returned.
    pub(crate) async fn call(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        network: RetryNetwork,
    ) -> Result<RawResponse, ClientError> {
        let mut pauses = retry::pauses(self.options.first_pause, self.options.retries);
        let mut retrying = false;
        loop {
            let prepared = self.signed(method, path).body(body.to_vec()).build()?;
            let outcome = prepared.send().await;
            drop(prepared);
            let pause = pauses.next();
            let cause = match (outcome, pause) {
                (Ok(resp), _) if resp.status == 200 => return Ok(resp),
                (Ok(resp), Some(_)) if resp.status == 429 => RetryCause::RateLimited,
                (Ok(resp), Some(_)) if resp.status == 503 => RetryCause::Unavailable,
                (Ok(resp), _) => return Err(ClientError::from_response(resp.status, &resp.body)),
                (Err(ClientError::Transport { connect, source }), Some(_))
                    if (connect || network == RetryNetwork::Always)
                        && !refused_tls(source.as_ref()) =>
                {
                    RetryCause::Unavailable
                }
                (Err(e), _) => return Err(e),
            };
            if !retrying {
                retrying = true;
                retry::notify(cause);
            }
            if let Some(pause) = pause {
                tokio::time::sleep(pause).await;
            }
        }
    }

    /// [`call`](Self::call), then the body parsed as `T`.
    pub(crate) async fn call_json<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        network: RetryNetwork,
        what: &'static str,
    ) -> Result<T, ClientError> {
        let resp = self.call(method, path, body, network).await?;
        serde_json::from_slice(&resp.body).map_err(|e| ClientError::decode(what, e))
    }
}

/// Checks a server URL before anything is sent to it: `scheme://host[:port]` as the one URL
/// parser writes it, a trailing `/` allowed (and dropped, so paths join cleanly), and
/// `https://` or `http://` to a loopback host.
pub(crate) fn checked_base_url(url: &str) -> Result<String, ClientError> {
    let parsed = WebUrl::parse_server(url).map_err(|why| ClientError::MalformedUrl {
        url: url.to_owned(),
        why,
    })?;
    if !parsed.is_secure() {
        return Err(ClientError::InsecureUrl {
            url: url.to_owned(),
        });
    }
    Ok(parsed.origin())
}

/// The HTTP client: rustls, the given per-attempt timeout, and no redirects (a redirect would
/// resend signed headers, or an enrollment token, to a place the identity never named).
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client, ClientError> {
    client_builder()?
        .timeout(timeout)
        .build()
        .map_err(ClientError::transport)
}

/// Sends a request that carries no signature (sign-in, invitations, enrollment, share links,
/// a CI provider's token) and reads its answer: any 2xx is success (the SikkerKey SDKs accept
/// 201 from enrollment), anything else is the server's error. The answer stays in zeroizing
/// memory, as it may hold a value or a credential.
pub(crate) async fn unsigned_call(
    request: reqwest::RequestBuilder,
) -> Result<Zeroizing<Vec<u8>>, ClientError> {
    let resp = request.send().await.map_err(|e| ClientError::Transport {
        connect: e.is_connect(),
        source: Box::new(e),
    })?;
    let status = resp.status();
    let answer = Zeroizing::new(resp.bytes().await.map_err(ClientError::transport)?.to_vec());
    if !status.is_success() {
        return Err(ClientError::from_response(status.as_u16(), &answer));
    }
    Ok(answer)
}

/// What every HTTP client of the SDK shares: no redirects, the user agent, and the system's
/// roots plus the private CA's (see [`crate::trust_ca_file`]).
fn client_builder() -> Result<reqwest::ClientBuilder, ClientError> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(USER_AGENT)
        .tls_certs_merge(trust::extra_roots()?))
}

/// Fixed values and tampering for a [`SignedRequest`]. Test-support: an honest client never
/// sets any of these, so the setters, and this type's export, exist only with the `tamper`
/// feature (which pulls in raw hyper for [`PreparedRequest::send_verbatim`]); without it every
/// request is signed with the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignOverrides {
    /// A fixed `X-Timestamp` (Unix seconds), signed as given. Wins over `timestamp_offset`.
    pub timestamp: Option<i64>,
    /// Seconds added to the system clock's time (e.g. `-301`).
    pub timestamp_offset: i64,
    /// A fixed `X-Nonce`, sent and signed verbatim, even when malformed.
    pub nonce: Option<String>,
    /// Headers set after signing, replacing any of the same name (compared case-insensitively):
    /// a forged `X-Signature`, another principal's id, a different `Content-Type`...
    pub headers: Vec<(String, String)>,
    /// Headers removed after signing.
    pub remove_headers: Vec<String>,
    /// Sign and send the path verbatim, without checking that it is canonical (for query
    /// strings and non-canonical paths, which the server must refuse with 400).
    pub unchecked_path: bool,
}

/// A signed request being built. Sign with [`build`](Self::build), then
/// [`send`](PreparedRequest::send).
pub struct SignedRequest<'a> {
    signer: &'a Signer,
    method: String,
    path: String,
    body: Vec<u8>,
    content_type: Option<Option<String>>,
    overrides: SignOverrides,
}

impl<'a> SignedRequest<'a> {
    /// A request with `method` (e.g. `"GET"`) to `path` (e.g. `route::machine::SECRETS`),
    /// with an empty body, a fresh timestamp and nonce.
    pub fn new(signer: &'a Signer, method: &str, path: &str) -> Self {
        Self {
            signer,
            method: method.to_owned(),
            path: path.to_owned(),
            body: Vec::new(),
            content_type: None,
            overrides: SignOverrides::default(),
        }
    }

    /// The exact body bytes to sign and send. `Content-Type: application/json` is added when
    /// the body is not empty, unless [`content_type`](Self::content_type) says otherwise.
    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.zeroize_body();
        self.body = body;
        self
    }

    /// The compact JSON of `value` as the body (empty if `value` cannot be encoded as JSON, as
    /// a map with non-string keys cannot).
    #[cfg(feature = "tamper")]
    pub fn json<T: serde::Serialize + ?Sized>(self, value: &T) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_default();
        self.body(body)
    }

    /// Sets (`Some`) or suppresses (`None`) the `Content-Type` header.
    pub fn content_type(mut self, content_type: Option<&str>) -> Self {
        self.content_type = Some(content_type.map(str::to_owned));
        self
    }

    /// Signs and sends this fixed `X-Timestamp` (Unix seconds).
    #[cfg(feature = "tamper")]
    pub fn timestamp(mut self, secs: i64) -> Self {
        self.overrides.timestamp = Some(secs);
        self
    }

    /// Signs the system clock's time plus `secs`.
    #[cfg(feature = "tamper")]
    pub fn timestamp_offset(mut self, secs: i64) -> Self {
        self.overrides.timestamp_offset = secs;
        self
    }

    /// Signs and sends this `X-Nonce` verbatim (to replay one, or to send a malformed one).
    #[cfg(feature = "tamper")]
    pub fn nonce(mut self, nonce: impl Into<String>) -> Self {
        self.overrides.nonce = Some(nonce.into());
        self
    }

    /// Sets a header after signing, replacing one of the same name.
    #[cfg(feature = "tamper")]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.overrides.headers.push((name.into(), value.into()));
        self
    }

    /// Removes a header after signing.
    #[cfg(feature = "tamper")]
    pub fn remove_header(mut self, name: impl Into<String>) -> Self {
        self.overrides.remove_headers.push(name.into());
        self
    }

    /// Signs and sends the path without checking that it is canonical.
    #[cfg(feature = "tamper")]
    pub fn unchecked_path(mut self) -> Self {
        self.overrides.unchecked_path = true;
        self
    }

    /// Applies a whole set of overrides, replacing any set before.
    #[cfg(feature = "tamper")]
    pub fn overrides(mut self, overrides: SignOverrides) -> Self {
        self.overrides = overrides;
        self
    }

    /// Signs the request. Fails on a malformed method, or on a non-canonical path unless
    /// [`unchecked_path`](Self::unchecked_path) was set.
    pub fn build(mut self) -> Result<PreparedRequest, ClientError> {
        let method = Method::parse(&self.method)?;
        let o = &self.overrides;
        let ts = o
            .timestamp
            .unwrap_or_else(|| unix_now() + o.timestamp_offset);
        let nonce = o
            .nonce
            .clone()
            .unwrap_or_else(|| Nonce::generate().as_str().to_owned());
        let canonical = if o.unchecked_path {
            CanonicalPath::parse(&self.path).ok()
        } else {
            Some(CanonicalPath::parse(&self.path)?)
        };

        let seed = &self.signer.seed;
        let ts_text = ts.to_string();
        let parsed = (
            canonical,
            Timestamp::parse(&ts_text).ok(),
            Nonce::parse(&nonce).ok(),
        );
        let (signing_string, signature) = match parsed {
            (Some(path), Some(ts), Some(nonce)) => {
                let h = SignedHeaders::sign(seed, &method, &path, &self.body, ts, &nonce);
                (h.signing_string, h.signature)
            }
            // Deliberately malformed parts cannot be typed; sign the same string by hand.
            _ => sign_raw(
                seed,
                method.as_str(),
                &self.path,
                &ts_text,
                &nonce,
                &self.body,
            ),
        };

        let mut headers = vec![
            (
                self.signer.principal.header().to_owned(),
                self.signer.principal.id(),
            ),
            (HEADER_TIMESTAMP.to_owned(), ts_text),
            (HEADER_NONCE.to_owned(), nonce),
            (HEADER_SIGNATURE.to_owned(), signature),
        ];
        let content_type = match self.content_type.take() {
            Some(explicit) => explicit,
            None => (!self.body.is_empty()).then(|| "application/json".to_owned()),
        };
        if let Some(ct) = content_type {
            headers.push(("content-type".to_owned(), ct));
        }
        for name in &self.overrides.remove_headers {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        }
        for (name, value) in &self.overrides.headers {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            headers.push((name.clone(), value.clone()));
        }
        Ok(PreparedRequest {
            method: method.as_str().to_owned(),
            path: std::mem::take(&mut self.path),
            headers,
            body: std::mem::take(&mut self.body),
            signing_string,
            base_url: self.signer.base_url.clone(),
            http: self.signer.http.clone(),
            #[cfg(feature = "tamper")]
            timeout: self.signer.options.timeout,
        })
    }

    fn zeroize_body(&mut self) {
        self.body.zeroize();
    }
}

impl Drop for SignedRequest<'_> {
    fn drop(&mut self) {
        // The body may carry a secret value on its way to the admin API.
        self.zeroize_body();
    }
}

/// The signing string and signature for parts that are not in canonical form. Must stay the
/// same format as `signet_proto::request::signing_string`; a test holds it to that.
fn sign_raw(
    seed: &SecretSeed,
    method: &str,
    path: &str,
    ts: &str,
    nonce: &str,
    body: &[u8],
) -> (String, String) {
    use base64::Engine as _;
    let s = format!(
        "{method}:{path}:{ts}:{nonce}:{}",
        BodyHash::of(body).as_str()
    );
    let sig = seed.signing_key().sign(s.as_bytes());
    (
        s.clone(),
        base64::engine::general_purpose::STANDARD.encode(sig.to_bytes()),
    )
}

/// A signed request, ready to send (and to send again, for replay tests). Its fields are public
/// so a test can tamper with any of them after signing.
pub struct PreparedRequest {
    /// The method sent.
    pub method: String,
    /// The path sent (the signature covers the path given to the builder).
    pub path: String,
    /// The headers sent, in order, including the four authentication headers.
    pub headers: Vec<(String, String)>,
    /// The body sent. Zeroized on drop.
    pub body: Vec<u8>,
    /// The string that was signed (not secret; for debugging and assertions).
    pub signing_string: String,
    base_url: String,
    http: reqwest::Client,
    /// The bound on [`send_verbatim`](Self::send_verbatim)'s exchange (`send` has reqwest's).
    #[cfg(feature = "tamper")]
    timeout: Duration,
}

impl fmt::Debug for PreparedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedRequest")
            .field("method", &self.method)
            .field("url", &format_args!("{}{}", self.base_url, self.path))
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl Drop for PreparedRequest {
    fn drop(&mut self) {
        self.body.zeroize();
    }
}

impl PreparedRequest {
    /// The value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Sends the request once, with no retry, and returns whatever status came back.
    ///
    /// The URL parser normalises `.` and `..` segments (also as `%2E`); use
    /// [`send_verbatim`](Self::send_verbatim) to put those on the wire.
    pub async fn send(&self) -> Result<RawResponse, ClientError> {
        let method = reqwest::Method::from_bytes(self.method.as_bytes())
            .map_err(|_| ClientError::InvalidRequest { what: "method" })?;
        let url = reqwest::Url::parse(&format!("{}{}", self.base_url, self.path))
            .map_err(|_| ClientError::InvalidRequest { what: "URL" })?;
        let mut req = self.http.request(method, url);
        for (name, value) in &self.headers {
            req = req.header(name.as_str(), value.as_str());
        }
        // GET and HEAD carry no body; every other method sends one, if empty with an explicit
        // `Content-Length: 0`, as the SikkerKey SDKs do for `export()` (some proxies refuse a
        // POST with no length).
        let bodiless = matches!(self.method.as_str(), "GET" | "HEAD");
        if self.body.is_empty()
            && !bodiless
            && !self
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        {
            req = req.header("content-length", "0");
        }
        if !self.body.is_empty() || !bodiless {
            req = req.body(self.body.clone());
        }
        let resp = req.send().await.map_err(network_error)?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = resp.bytes().await.map_err(network_error)?.to_vec();
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }

    /// Sends the request once over a fresh plain-HTTP connection, putting the method, path and
    /// headers on the wire byte for byte (no URL normalisation). `http://` servers only.
    #[cfg(feature = "tamper")]
    pub async fn send_verbatim(&self) -> Result<RawResponse, ClientError> {
        let url = reqwest::Url::parse(&self.base_url)
            .map_err(|_| ClientError::InvalidRequest { what: "URL" })?;
        if url.scheme() != "http" {
            return Err(ClientError::InvalidRequest {
                what: "scheme (send_verbatim speaks plain http only)",
            });
        }
        let addrs = url
            .socket_addrs(|| None)
            .map_err(|e| ClientError::Transport {
                connect: true,
                source: Box::new(e),
            })?;
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return Err(ClientError::InvalidRequest { what: "URL" }),
        };
        let exchange = async {
            let stream = tokio::net::TcpStream::connect(&*addrs).await.map_err(|e| {
                ClientError::Transport {
                    connect: true,
                    source: Box::new(e),
                }
            })?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                    .await
                    .map_err(|e| ClientError::Transport {
                        connect: true,
                        source: Box::new(e),
                    })?;
            tokio::spawn(async move {
                // The connection ends with the exchange; its error, if any, surfaces there.
                let _ = conn.await;
            });
            let mut builder = hyper::Request::builder()
                .method(self.method.as_str())
                .uri(self.path.as_str())
                .header("host", host);
            for (name, value) in &self.headers {
                builder = builder.header(name.as_str(), value.as_str());
            }
            let req = builder
                .body(Full::new(Bytes::from(self.body.clone())))
                .map_err(|_| ClientError::InvalidRequest {
                    what: "method, path or header",
                })?;
            let resp = sender
                .send_request(req)
                .await
                .map_err(ClientError::transport)?;
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(ClientError::transport)?
                .to_bytes()
                .to_vec();
            Ok(RawResponse {
                status,
                headers,
                body,
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|e| ClientError::Transport {
                connect: false,
                source: Box::new(e),
            })?
    }
}

/// Whether a network failure is a TLS handshake refused (the server's certificate not trusted,
/// no common protocol): the same until the trust or the server changes, so not worth a retry.
/// rustls's error travels inside an `io::Error`, whose `source` skips it: look inside.
fn refused_tls(e: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(e) = next {
        if e.is::<rustls::Error>() {
            return true;
        }
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner),
            None => e.source(),
        };
    }
    false
}

pub(crate) fn network_error(e: reqwest::Error) -> ClientError {
    ClientError::Transport {
        connect: e.is_connect(),
        source: Box::new(e),
    }
}

/// A response exactly as received. The body is zeroized on drop, since it may hold secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct RawResponse {
    /// The HTTP status.
    pub status: u16,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl fmt::Debug for RawResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl Drop for RawResponse {
    fn drop(&mut self) {
        self.body.zeroize();
    }
}

impl RawResponse {
    /// The value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, into any shape (`serde_json::Value` for an untyped look).
    #[cfg(feature = "tamper")]
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ClientError> {
        serde_json::from_slice(&self.body).map_err(|e| ClientError::decode("response body", e))
    }

    /// The body as (lossy) UTF-8 text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// `Ok(self)` for 200, else the error the typed methods would return.
    pub fn error_for_status(self) -> Result<Self, ClientError> {
        if self.status == 200 {
            Ok(self)
        } else {
            Err(ClientError::from_response(self.status, &self.body))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn raw_signing_matches_the_protocol_crate() {
        let seed = SecretSeed::from_bytes([1; 32]);
        let method = Method::parse("POST").unwrap();
        let path = CanonicalPath::parse(signet_api::route::machine::SECRETS_LIST).unwrap();
        let nonce = Nonce::parse("AAAAAAAAAAAAAAAAAAAAAA==").unwrap();
        let h = SignedHeaders::sign(
            &seed,
            &method,
            &path,
            b"{}",
            Timestamp::from_secs(1711468800),
            &nonce,
        );
        let (s, sig) = sign_raw(
            &seed,
            "POST",
            signet_api::route::machine::SECRETS_LIST,
            "1711468800",
            "AAAAAAAAAAAAAAAAAAAAAA==",
            b"{}",
        );
        assert_eq!(s, h.signing_string);
        assert_eq!(sig, h.signature);
    }

    #[test]
    fn insecure_urls_are_refused_and_slashes_trimmed() {
        assert_eq!(
            checked_base_url("http://localhost:8420/").unwrap(),
            "http://localhost:8420"
        );
        assert_eq!(
            checked_base_url("https://vault.example").unwrap(),
            "https://vault.example"
        );
        assert!(matches!(
            checked_base_url("http://vault.example"),
            Err(ClientError::InsecureUrl { .. })
        ));
        let e = checked_base_url("http://LOCALHOST:8420/").unwrap_err();
        assert!(matches!(e, ClientError::MalformedUrl { .. }));
        assert!(e.to_string().contains("http://localhost:8420"), "{e}");
    }

    /// A client's `--server` is read as every URL is (`signet_proto::web_url::CASES`).
    #[test]
    fn server_urls_follow_the_one_url_table() {
        for (url, want) in signet_proto::web_url::CASES {
            assert_eq!(checked_base_url(url).is_ok(), want.server_flag, "{url:?}");
        }
    }
}
