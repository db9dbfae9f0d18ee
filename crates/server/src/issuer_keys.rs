//! Fetching trusted OIDC issuers' discovery documents and key sets, and posting to SSO providers'
//! token endpoints: core's `KeyFetcher`, behind
//! the webhooks' outbound guard (`crate::webhook`): `https://` (plain `http://` only to an
//! allowed loopback address), public addresses unless a range is allowed (`oidc_allow_cidrs`),
//! the connection pinned to the address checked, no redirects, a time limit and a size cap.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use ipnet::IpNet;
use signet_core::issuer::{FetchError, KeyFetcher};
use signet_core::webhook::SendError;

use crate::webhook::HttpSender;

/// One fetch's time limit.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest document read; real key sets are a few KiB.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// Fetches issuers' documents with reqwest, behind the address guard.
#[derive(Debug, Clone)]
pub struct KeyClient {
    guard: HttpSender,
}

impl KeyClient {
    /// A client that may reach `allow` despite the guard.
    pub fn new(allow: Vec<IpNet>) -> Self {
        Self {
            guard: HttpSender::new(allow, FETCH_TIMEOUT),
        }
    }
}

/// Percent-encodes for a form body or basic credentials (RFC 6749 §2.3.1, appendix B).
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl KeyClient {
    /// A client for `url` whose connection goes to the address the guard checked.
    async fn client(&self, url: &str) -> Result<reqwest::Client, FetchError> {
        let target = self.guard.target(url).await.map_err(|e| match e {
            SendError::AddressRefused(why) => FetchError::Refused(why),
            _ => FetchError::Failed,
        })?;
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .pool_max_idle_per_host(0);
        if target.named {
            // Pinned: the connection goes to the address checked, whatever DNS says now.
            builder = builder.resolve(&target.host, target.addr);
        }
        builder.build().map_err(|e| {
            tracing::error!(error = %e, "cannot build the OIDC key HTTP client");
            FetchError::Failed
        })
    }
}

/// Reads a 2xx answer's body up to the cap.
async fn body_of(mut resp: reqwest::Response) -> Result<Vec<u8>, FetchError> {
    if !resp.status().is_success() {
        return Err(FetchError::Failed);
    }
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
    {
        return Err(FetchError::Failed);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|_| FetchError::Failed)? {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(FetchError::Failed);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[async_trait]
impl KeyFetcher for KeyClient {
    async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let resp = self
            .client(url)
            .await?
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|_| FetchError::Failed)?;
        body_of(resp).await
    }

    async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<Vec<u8>, FetchError> {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut req = self
            .client(url)
            .await?
            .post(url)
            .header("accept", "application/json")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some((id, secret)) = basic {
            let credentials = zeroize::Zeroizing::new(format!(
                "{}:{}",
                form_encode(id),
                form_encode(secret)
            ));
            let value = zeroize::Zeroizing::new(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials.as_bytes())
            ));
            req = req.header("authorization", value.as_str());
        }
        let resp = req.send().await.map_err(|_| FetchError::Failed)?;
        body_of(resp).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_guard_refuses_private_and_plain_addresses() {
        let c = KeyClient::new(Vec::new());
        for url in [
            "https://127.0.0.1/.well-known/openid-configuration",
            "https://169.254.169.254/latest",
            "http://93.184.215.14/jwks",
            "https://[::1]/",
        ] {
            assert!(
                matches!(c.get(url).await, Err(FetchError::Refused(_))),
                "{url}"
            );
        }
    }
}
