//! One-time share links: `client.shares()` creates, lists and revokes them; [`open_share`]
//! opens one from its link, without signing in.

use std::time::Duration;

use signet_api::admin::RevokedAnswer;
use signet_api::admin::share::{ShareCreateRequest, ShareCreatedAnswer, SharesAnswer};
use signet_api::route;
use signet_api::share::{ShareOpenAnswer, ShareOpenRequest};
use signet_proto::ShareId;
use zeroize::Zeroizing;

use crate::error::ClientError;
use crate::operator::OperatorClient;
use crate::request::{checked_base_url, http_client, unsigned_call};

/// Opening waits for a passphrase hash on a busy server.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Share links: `client.shares()`.
#[derive(Clone, Copy)]
pub struct Shares<'a> {
    /// The signed client every call goes through.
    pub(super) client: &'a OperatorClient,
}

impl OperatorClient {
    /// One-time share links.
    pub fn shares(&self) -> Shares<'_> {
        Shares { client: self }
    }
}

impl Shares<'_> {
    /// `POST /v1/admin/shares`: answers the link, shown once. `ttl_seconds` is 60 to 86400.
    pub async fn create(
        &self,
        value: &str,
        passphrase: &str,
        ttl_seconds: u32,
    ) -> Result<ShareCreatedAnswer, ClientError> {
        let body = Zeroizing::new(super::body(&ShareCreateRequest {
            value: Zeroizing::new(value.to_owned()),
            passphrase: Zeroizing::new(passphrase.to_owned()),
            ttl_seconds,
        })?);
        self.client.call("POST", route::admin::SHARES, &body).await
    }

    /// `GET /v1/admin/shares`: the caller's links (an admin's: everyone's) and their status.
    pub async fn list(&self) -> Result<SharesAnswer, ClientError> {
        self.client.call("GET", route::admin::SHARES, &[]).await
    }

    /// `POST /v1/admin/shares/{id}/revoke`: destroys a pending link.
    pub async fn revoke(&self, id: &ShareId) -> Result<RevokedAnswer, ClientError> {
        let path = super::path(route::admin::SHARE_REVOKE, &[("id", id.as_str())]);
        self.client.call("POST", &path, &[]).await
    }
}

/// Opens a share link, `<server>/#/s/<id>.<secret>`, with its passphrase: the value, once. Any
/// refusal (wrong passphrase, used up, expired, no such link) is the same 403; a wrong
/// passphrase destroys the link.
pub async fn open_share(link: &str, passphrase: &str) -> Result<Zeroizing<String>, ClientError> {
    let bad = ClientError::InvalidRequest {
        what: "share link (URL/#/s/ID.SECRET)",
    };
    let (server, token) = link.trim().split_once("/#/s/").ok_or(bad)?;
    let (id, secret) = token.split_once('.').ok_or(ClientError::InvalidRequest {
        what: "share link (URL/#/s/ID.SECRET)",
    })?;
    // The passphrase must not travel in the clear, so the URL is checked before anything else.
    let base = checked_base_url(server)?;
    let bytes = Zeroizing::new(
        serde_json::to_vec(&ShareOpenRequest {
            id: id.to_owned(),
            secret: Zeroizing::new(secret.to_owned()),
            passphrase: Zeroizing::new(passphrase.to_owned()),
        })
        .map_err(|e| ClientError::decode("share body", e))?,
    );
    let answer = unsigned_call(
        http_client(TIMEOUT)?
            .post(format!("{base}{}", route::share::OPEN))
            .header("content-type", "application/json")
            .body(bytes.to_vec()),
    )
    .await?;
    let opened: ShareOpenAnswer =
        serde_json::from_slice(&answer).map_err(|e| ClientError::decode("share answer", e))?;
    Ok(opened.value)
}
