//! `signet login --sso`: sign in through the vault's OpenID provider in a browser, and end, as
//! `signet login` does, with a fresh operator key made here.
//!
//! The key pair is made first; [`SsoLogin::start`] listens on `127.0.0.1` (a port the OS picks)
//! and asks the server for an attempt naming the public key and that port. The browser goes to
//! the provider and back to the server, which sends it on to
//! `http://127.0.0.1:{port}/callback?attempt=…&code=…`. [`SsoLogin::wait`] answers that one
//! request; [`SsoLogin::finish`] signs the completion code with the new key and registers it.
//! A phished authorize URL, finished by someone else, sends the code to THEIR loopback, so the
//! key of whoever started the attempt is never registered (RFC 8252 §8.3).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use ed25519_dalek::Signer as _;
use signet_api::admin::operator::WhoamiAnswer;
use signet_api::auth::CliLoginAnswer;
use signet_api::route::sso as route;
use signet_api::sso::{
    SsoCliFinishRequest, SsoCliStartAnswer, SsoCliStartRequest, SsoLoginOptionsAnswer,
    cli_finish_message,
};
use signet_proto::SecretSeed;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use zeroize::Zeroizing;

use crate::error::ClientError;
use crate::identity::{Credentials, OperatorIdentity, SignetHome};
use crate::login::Login;
use crate::operator::OperatorClient;
use crate::request::{checked_base_url, http_client};

/// The unauthenticated calls answer quickly; discovery at the provider may take a moment.
const TIMEOUT: Duration = Duration::from_secs(30);
/// A request head larger than this is not the server's redirect.
const MAX_HEAD: usize = 8 * 1024;
/// A completion code longer than this is not the server's.
const MAX_CODE: usize = 512;
/// How long one loopback connection may take to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Loopback connections served at once; more are closed unanswered, so a local process opening
/// connections in a loop cannot exhaust the CLI.
const MAX_CONNECTIONS: usize = 16;
/// How long to wait when the server's expiry cannot be trusted against the local clock: the
/// server's own attempt lifetime.
const DEFAULT_WAIT: Duration = Duration::from_secs(600);

/// `GET /v1/auth/sso/providers`: the enabled providers, and whether the vault requires SSO.
pub async fn login_options(server_url: &str) -> Result<SsoLoginOptionsAnswer, ClientError> {
    let base = checked_base_url(server_url)?;
    let resp = http_client(TIMEOUT)?
        .get(format!("{base}{}", route::LOGIN_OPTIONS))
        .send()
        .await
        .map_err(send_error)?;
    decode(resp, "login options").await
}

/// The completion code the server sent to the loopback listener. Never printed.
pub struct CompletionCode(Zeroizing<String>);

impl std::fmt::Debug for CompletionCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CompletionCode(***)")
    }
}

/// How the wait on the loopback listener ended.
#[derive(Debug)]
pub enum LoopbackOutcome {
    /// The server sent the browser back with a completion code: call [`SsoLogin::finish`].
    Completed(CompletionCode),
    /// The server refused the sign-in (`error=…`); its audit log names the reason.
    Refused,
    /// The attempt expired before the browser came back.
    Expired,
}

/// What a finished SSO sign-in made.
#[derive(Debug)]
pub struct SsoSignedIn {
    /// The key as saved, exactly as `signet login` saves it.
    pub login: Login,
    /// The server's view of the new key, from a request signed with it.
    pub whoami: WhoamiAnswer,
}

/// One `signet login --sso` in progress: the new key, the listener and the server's attempt.
pub struct SsoLogin {
    base: String,
    seed: SecretSeed,
    name: String,
    listener: TcpListener,
    attempt: SsoCliStartAnswer,
    authorize_url: reqwest::Url,
}

impl std::fmt::Debug for SsoLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoLogin")
            .field("base", &self.base)
            .field("attempt_id", &self.attempt.attempt_id)
            .field("expires_at", &self.attempt.expires_at)
            .finish_non_exhaustive()
    }
}

impl SsoLogin {
    /// Makes the key, listens on `127.0.0.1`, and starts the attempt at `provider` (its id or
    /// name) with `POST /v1/auth/sso/cli/start`.
    pub async fn start(
        server_url: &str,
        provider: &str,
        name: Option<&str>,
    ) -> Result<Self, ClientError> {
        let base = checked_base_url(server_url)?;
        let seed = SecretSeed::generate();
        // Loopback only: the redirect carries a completion code no other host may receive.
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(ClientError::Loopback)?;
        let port = listener.local_addr().map_err(ClientError::Loopback)?.port();
        let name = name.unwrap_or("cli").to_owned();
        let body = crate::admin::body(&SsoCliStartRequest {
            provider: provider.to_owned(),
            public_key: seed.public_key().to_base64(),
            name: Some(name.clone()),
            loopback_port: port,
        })?;
        let resp = http_client(TIMEOUT)?
            .post(format!("{base}{}", route::CLI_START))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(send_error)?;
        let attempt: SsoCliStartAnswer = decode(resp, "SSO start answer").await?;
        let authorize_url = browser_url(&attempt.authorize_url)?;
        Ok(Self {
            base,
            seed,
            name,
            listener,
            attempt,
            authorize_url,
        })
    }

    /// Where the browser must go: the provider's authorization endpoint (an `http(s)://` URL,
    /// checked, so it is safe to hand to a browser launcher or print).
    pub fn authorize_url(&self) -> &str {
        self.authorize_url.as_str()
    }

    /// When the attempt ends unused, Unix ms.
    pub fn expires_at(&self) -> i64 {
        self.attempt.expires_at
    }

    /// The port the loopback listener is on.
    pub fn loopback_port(&self) -> Result<u16, ClientError> {
        Ok(self
            .listener
            .local_addr()
            .map_err(ClientError::Loopback)?
            .port())
    }

    /// Answers loopback connections until one is this attempt's callback, or the attempt
    /// expires. Any other request (another path, another attempt, a malformed or oversized
    /// head) is answered with an error status and the wait goes on.
    pub async fn wait(&self) -> Result<LoopbackOutcome, ClientError> {
        let limit = wait_limit(self.attempt.expires_at, unix_ms());
        let deadline = tokio::time::sleep(limit);
        tokio::pin!(deadline);
        let (tx, mut rx) = mpsc::channel::<LoopbackOutcome>(1);
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let attempt: Arc<str> = Arc::from(self.attempt.attempt_id.as_str());
        loop {
            tokio::select! {
                () = &mut deadline => return Ok(LoopbackOutcome::Expired),
                Some(outcome) = rx.recv() => return Ok(outcome),
                accepted = self.listener.accept() => {
                    let stream = match accepted {
                        Ok((stream, _)) => stream,
                        // Out of file descriptors, say: the listener itself is still good.
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                        drop(stream);
                        continue;
                    };
                    let tx = tx.clone();
                    let attempt = Arc::clone(&attempt);
                    tokio::spawn(async move {
                        if let Some(outcome) = serve(stream, &attempt).await {
                            let _ = tx.send(outcome).await;
                        }
                        drop(slot);
                    });
                }
            }
        }
    }

    /// Proves possession of the new key over the completion code (`POST
    /// /v1/auth/sso/cli/finish`), checks the registered key with a signed `GET
    /// /v1/admin/whoami`, then saves it under `home` as `signet login` does. The check comes
    /// before the save, so a key the server does not accept never displaces a saved identity.
    pub async fn finish(
        self,
        home: &SignetHome,
        code: &CompletionCode,
    ) -> Result<SsoSignedIn, ClientError> {
        let message = cli_finish_message(&self.attempt.attempt_id, &code.0);
        let signature = self.seed.signing_key().sign(message.as_bytes());
        let body = Zeroizing::new(crate::admin::body(&SsoCliFinishRequest {
            attempt_id: self.attempt.attempt_id.clone(),
            completion_code: code.0.clone(),
            signature: base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()),
        })?);
        let resp = http_client(TIMEOUT)?
            .post(format!("{}{}", self.base, route::CLI_FINISH))
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .map_err(send_error)?;
        let r: CliLoginAnswer = decode(resp, "SSO finish answer").await?;
        let api_url = match r.api_url.trim() {
            "" => self.base.clone(),
            url => checked_base_url(url)?,
        };
        let identity = OperatorIdentity {
            operator_id: r.operator_id,
            name: self.name.clone(),
            vault_id: r.vault_id,
            api_url,
            private_key_path: String::new(),
        };
        let probe = OperatorClient::new(Credentials::new(
            identity.clone(),
            SecretSeed::from_bytes(*self.seed.expose()),
            PathBuf::new(),
        ))?;
        let whoami = probe.whoami().await?;
        let saved = home.save(identity, self.seed)?;
        Ok(SsoSignedIn {
            login: Login {
                credentials: saved.credentials,
                expires_at: r.expires_at,
                replaced: saved.replaced,
            },
            whoami,
        })
    }
}

/// The authorize URL as the server sent it, if it is a web URL: anything else (`file:`, a
/// custom scheme a launcher would hand to another program) is refused.
fn browser_url(raw: &str) -> Result<reqwest::Url, ClientError> {
    let url = reqwest::Url::parse(raw).map_err(|e| ClientError::decode("authorize URL", e))?;
    match url.scheme() {
        "https" | "http" if url.host().is_some() => Ok(url),
        _ => Err(ClientError::Decode {
            what: "authorize URL (not an http(s) URL)",
            source: None,
        }),
    }
}

/// How long to wait for the browser: until the attempt's expiry by the local clock, unless that
/// clock disagrees with the server's so much that the expiry is past or implausibly far.
fn wait_limit(expires_at_ms: i64, now_ms: i64) -> Duration {
    const PLAUSIBLE_MS: u64 = 20 * 60 * 1000;
    match u64::try_from(expires_at_ms.saturating_sub(now_ms)) {
        Ok(ms) if (1..=PLAUSIBLE_MS).contains(&ms) => Duration::from_millis(ms),
        _ => DEFAULT_WAIT,
    }
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn send_error(e: reqwest::Error) -> ClientError {
    ClientError::Transport {
        connect: e.is_connect(),
        source: Box::new(e),
    }
}

async fn decode<T: serde::de::DeserializeOwned>(
    resp: reqwest::Response,
    what: &'static str,
) -> Result<T, ClientError> {
    let status = resp.status();
    let answer = resp.bytes().await.map_err(ClientError::transport)?;
    if !status.is_success() {
        return Err(ClientError::from_response(status.as_u16(), &answer));
    }
    serde_json::from_slice(&answer).map_err(|e| ClientError::decode(what, e))
}

/// What one loopback request was.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    /// This attempt's callback with a completion code.
    Completed(String),
    /// This attempt's callback with an error.
    Refused,
    /// Well formed, but not this attempt's callback: another path, another attempt.
    Other,
    /// Not a request this listener understands.
    Malformed,
}

/// Classifies a request head (everything up to the blank line). Only the request line is read:
/// `GET /callback?attempt=<ours>&code=<code> HTTP/1.x`, each parameter once, exactly one of
/// `code` and `error`.
fn classify(head: &[u8], attempt: &str) -> Request {
    let line_end = head
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(head.len());
    let Ok(line) = std::str::from_utf8(&head[..line_end]) else {
        return Request::Malformed;
    };
    if !line.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Request::Malformed;
    }
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Request::Malformed;
    };
    if !matches!(version, "HTTP/1.1" | "HTTP/1.0") || !target.starts_with('/') {
        return Request::Malformed;
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if method != "GET" || path != "/callback" {
        return Request::Other;
    }
    let (mut ours, mut code, mut error) = (None, None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match key {
            "attempt" => &mut ours,
            "code" => &mut code,
            "error" => &mut error,
            _ => continue,
        };
        // A repeated parameter is ambiguous: which one the server meant cannot be known.
        if slot.replace(value).is_some() {
            return Request::Malformed;
        }
    }
    // Attempt ids and completion codes are URL-safe as sent, so they are compared undecoded: a
    // percent-encoded variant is not the server's redirect.
    if ours != Some(attempt) {
        return Request::Other;
    }
    match (code, error) {
        (Some(code), None) if valid_code(code) => Request::Completed(code.to_owned()),
        (None, Some(_)) => Request::Refused,
        _ => Request::Malformed,
    }
}

fn valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= MAX_CODE
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

/// Why a request head could not be read.
#[derive(Debug, PartialEq, Eq)]
enum HeadError {
    /// Over [`MAX_HEAD`] without a blank line.
    TooLarge,
    /// The connection closed or failed first.
    Closed,
}

/// Reads up to the blank line that ends a request head, at most [`MAX_HEAD`] bytes.
async fn read_head<R: tokio::io::AsyncRead + Unpin>(r: &mut R) -> Result<Vec<u8>, HeadError> {
    let mut buf = vec![0u8; MAX_HEAD];
    let mut len = 0;
    loop {
        if len == MAX_HEAD {
            return Err(HeadError::TooLarge);
        }
        let n = r
            .read(&mut buf[len..])
            .await
            .map_err(|_| HeadError::Closed)?;
        if n == 0 {
            return Err(HeadError::Closed);
        }
        // The terminator may straddle reads: look back three bytes.
        let from = len.saturating_sub(3);
        len += n;
        if let Some(end) = buf[from..len].windows(4).position(|w| w == b"\r\n\r\n") {
            buf.truncate(from + end + 4);
            return Ok(buf);
        }
    }
}

const SIGNED_IN: &str = "<!doctype html><meta charset=\"utf-8\"><title>Signet</title>\
<p>Signed in. Return to your terminal; you may close this tab.</p>";
const REFUSED: &str = "<!doctype html><meta charset=\"utf-8\"><title>Signet</title>\
<p>Sign-in refused. Return to your terminal.</p>";
const NOT_FOUND: &str = "<!doctype html><meta charset=\"utf-8\"><title>Signet</title>\
<p>Not found.</p>";

/// Reads one request, answers it, and reports it if it is this attempt's callback.
async fn serve(mut stream: TcpStream, attempt: &str) -> Option<LoopbackOutcome> {
    let head = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await;
    let request = match head {
        Ok(Ok(head)) => classify(&head, attempt),
        Ok(Err(HeadError::TooLarge)) => {
            respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                NOT_FOUND,
            )
            .await;
            return None;
        }
        Ok(Err(HeadError::Closed)) | Err(_) => return None,
    };
    let (status, page, outcome) = match request {
        Request::Completed(code) => (
            "200 OK",
            SIGNED_IN,
            Some(LoopbackOutcome::Completed(CompletionCode(Zeroizing::new(
                code,
            )))),
        ),
        Request::Refused => ("200 OK", REFUSED, Some(LoopbackOutcome::Refused)),
        Request::Other => ("404 Not Found", NOT_FOUND, None),
        Request::Malformed => ("400 Bad Request", NOT_FOUND, None),
    };
    respond(&mut stream, status, page).await;
    outcome
}

/// A complete HTTP/1.1 answer. The page loads nothing and sends no referrer: the address it
/// was opened at holds the completion code.
async fn respond(stream: &mut TcpStream, status: &str, page: &str) {
    let answer = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n\
         Content-Security-Policy: default-src 'none'\r\nConnection: close\r\n\r\n{page}",
        page.len()
    );
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const OURS: &str = "ssa_abcdefghijklmnopqrstuvwx";

    fn head(line: &str) -> Vec<u8> {
        format!("{line}\r\nHost: 127.0.0.1:5000\r\n\r\n").into_bytes()
    }

    #[test]
    fn our_callback_gives_the_code_or_the_refusal() {
        assert_eq!(
            classify(
                &head(&format!(
                    "GET /callback?attempt={OURS}&code=c0de-_.~ HTTP/1.1"
                )),
                OURS
            ),
            Request::Completed("c0de-_.~".into())
        );
        assert_eq!(
            classify(
                &head(&format!(
                    "GET /callback?code=abc&attempt={OURS}&x=1 HTTP/1.0"
                )),
                OURS
            ),
            Request::Completed("abc".into())
        );
        assert_eq!(
            classify(
                &head(&format!(
                    "GET /callback?attempt={OURS}&error=refused HTTP/1.1"
                )),
                OURS
            ),
            Request::Refused
        );
    }

    #[test]
    fn another_attempt_or_path_is_not_ours() {
        for line in [
            "GET /callback?attempt=ssa_zzzzzzzzzzzzzzzzzzzzzzzz&code=abc HTTP/1.1".to_owned(),
            "GET /callback?code=abc HTTP/1.1".to_owned(),
            format!("GET /callback?attempt={OURS}x&code=abc HTTP/1.1"),
            format!(
                "GET /callback?attempt=%73sa_{}&code=abc HTTP/1.1",
                &OURS[4..]
            ),
            format!("GET /favicon.ico?attempt={OURS}&code=abc HTTP/1.1"),
            format!("GET /callback/?attempt={OURS}&code=abc HTTP/1.1"),
            format!("POST /callback?attempt={OURS}&code=abc HTTP/1.1"),
            "GET / HTTP/1.1".to_owned(),
        ] {
            assert_eq!(classify(&head(&line), OURS), Request::Other, "{line}");
        }
    }

    #[test]
    fn hostile_request_lines_are_refused() {
        let ours = format!("/callback?attempt={OURS}");
        for line in [
            format!("GET {ours}&code=abc"),
            format!("GET {ours}&code=abc HTTP/1.1 extra"),
            format!("GET  {ours}&code=abc HTTP/1.1"),
            format!("GET {ours}&code=abc HTTP/2"),
            format!("GET http://evil.test{ours}&code=abc HTTP/1.1"),
            format!("GET {ours}&code=a\u{1b}[2Jb HTTP/1.1"),
            format!("GET {ours}&code=a\tb HTTP/1.1"),
            format!("GET {ours}&code=%41bc HTTP/1.1"),
            format!("GET {ours}&code=a+b HTTP/1.1"),
            format!("GET {ours}&code= HTTP/1.1"),
            format!("GET {ours}&code={} HTTP/1.1", "a".repeat(MAX_CODE + 1)),
            format!("GET {ours}&code=abc&code=def HTTP/1.1"),
            format!("GET {ours}&attempt={OURS}&code=abc HTTP/1.1"),
            format!("GET {ours}&code=abc&error=refused HTTP/1.1"),
            format!("GET {ours} HTTP/1.1"),
            String::new(),
        ] {
            assert_eq!(classify(&head(&line), OURS), Request::Malformed, "{line:?}");
        }
        // Not UTF-8, and a bare line feed hiding a second request line.
        let mut bytes = format!("GET {ours}&code=ab").into_bytes();
        bytes.extend([0xff, 0xfe]);
        bytes.extend(b" HTTP/1.1\r\n\r\n");
        assert_eq!(classify(&bytes, OURS), Request::Malformed);
        let smuggled = format!("GET /x HTTP/1.1\nGET {ours}&code=abc HTTP/1.1\r\n\r\n");
        assert_eq!(classify(smuggled.as_bytes(), OURS), Request::Malformed);
    }

    #[tokio::test]
    async fn heads_are_read_to_the_blank_line_and_no_further() {
        let (mut client, mut server) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            // Split so that the terminator straddles two writes.
            client
                .write_all(b"GET /callback HTTP/1.1\r\nHost: x\r\n\r")
                .await
                .unwrap();
            client.write_all(b"\nBODY").await.unwrap();
            client
        });
        let head = read_head(&mut server).await.unwrap();
        assert_eq!(head, b"GET /callback HTTP/1.1\r\nHost: x\r\n\r\n");
        drop(writer.await.unwrap());
    }

    #[tokio::test]
    async fn a_huge_or_truncated_head_is_refused() {
        let (mut client, mut server) = tokio::io::duplex(MAX_HEAD * 4);
        let huge = format!(
            "GET /callback?attempt={OURS}&code={} HTTP/1.1\r\n",
            "a".repeat(MAX_HEAD)
        );
        client.write_all(huge.as_bytes()).await.unwrap();
        client.write_all(b"\r\n").await.unwrap();
        assert_eq!(read_head(&mut server).await, Err(HeadError::TooLarge));

        let (mut client, mut server) = tokio::io::duplex(64);
        client
            .write_all(b"GET /callback HTTP/1.1\r\n")
            .await
            .unwrap();
        drop(client);
        assert_eq!(read_head(&mut server).await, Err(HeadError::Closed));
    }

    /// The listener end to end, over real sockets: strangers get 404 or 400 and the wait goes
    /// on; this attempt's callback ends it with the code.
    #[tokio::test]
    async fn the_listener_waits_for_its_own_callback() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let login = SsoLogin {
            base: "http://127.0.0.1:1".into(),
            seed: SecretSeed::generate(),
            name: "cli".into(),
            listener,
            attempt: SsoCliStartAnswer {
                attempt_id: OURS.into(),
                authorize_url: "http://127.0.0.1:2/authorize".into(),
                expires_at: unix_ms() + 60_000,
            },
            authorize_url: browser_url("http://127.0.0.1:2/authorize").unwrap(),
        };
        let send = |raw: Vec<u8>| async move {
            let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            s.write_all(&raw).await.unwrap();
            let mut answer = String::new();
            let _ = s.read_to_string(&mut answer).await;
            answer
        };
        let strangers = async {
            let wrong = send(head(
                "GET /callback?attempt=ssa_zzzzzzzzzzzzzzzzzzzzzzzz&code=x HTTP/1.1",
            ))
            .await;
            assert!(wrong.starts_with("HTTP/1.1 404 "), "{wrong}");
            let huge = send(vec![b'A'; MAX_HEAD]).await;
            assert!(huge.starts_with("HTTP/1.1 431 "), "{huge}");
            let hostile = send(head("GET /callback?attempt=x\u{7f} HTTP/1.1")).await;
            assert!(hostile.starts_with("HTTP/1.1 400 "), "{hostile}");
            let ours = send(head(&format!(
                "GET /callback?attempt={OURS}&code=the-code HTTP/1.1"
            )))
            .await;
            assert!(ours.starts_with("HTTP/1.1 200 "), "{ours}");
            assert!(ours.contains("Referrer-Policy: no-referrer"));
        };
        let (outcome, ()) = tokio::join!(login.wait(), strangers);
        match outcome.unwrap() {
            LoopbackOutcome::Completed(code) => assert_eq!(code.0.as_str(), "the-code"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn the_wait_ends_at_the_attempts_expiry() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let login = SsoLogin {
            base: "http://127.0.0.1:1".into(),
            seed: SecretSeed::generate(),
            name: "cli".into(),
            listener,
            attempt: SsoCliStartAnswer {
                attempt_id: OURS.into(),
                authorize_url: "http://127.0.0.1:2/authorize".into(),
                expires_at: unix_ms() + 200,
            },
            authorize_url: browser_url("http://127.0.0.1:2/authorize").unwrap(),
        };
        let outcome = tokio::time::timeout(Duration::from_secs(5), login.wait())
            .await
            .expect("the wait ends by itself")
            .unwrap();
        assert!(matches!(outcome, LoopbackOutcome::Expired));
    }

    #[test]
    fn the_wait_limit_survives_a_wrong_clock() {
        assert_eq!(wait_limit(61_000, 1_000), Duration::from_secs(60));
        assert_eq!(wait_limit(1_000, 61_000), DEFAULT_WAIT);
        assert_eq!(wait_limit(i64::MAX, i64::MIN), DEFAULT_WAIT);
        assert_eq!(wait_limit(10_000_000_000, 0), DEFAULT_WAIT);
    }

    #[test]
    fn only_web_urls_go_to_the_browser() {
        assert!(browser_url("https://idp.example/authorize?x=1").is_ok());
        assert!(browser_url("http://127.0.0.1:9/auth").is_ok());
        for bad in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "ms-settings:x",
            "not a url",
        ] {
            assert!(browser_url(bad).is_err(), "{bad}");
        }
    }
}
