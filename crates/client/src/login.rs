//! `signet login`: trade a password and a second factor for a fresh operator key that expires.
//! The key is made here; only its public half is sent, so nothing the server returns could be
//! replayed by someone who later reads the response.

use std::path::PathBuf;
use std::time::Duration;

use signet_api::auth::{
    CliLoginAnswer, CliLoginRequest, InviteAcceptRequest, NewAccountAnswer, TotpConfirmRequest,
};
use signet_api::route::auth as route;
use signet_proto::SecretSeed;
use zeroize::Zeroizing;

use crate::error::ClientError;
use crate::identity::{Credentials, OperatorIdentity, SignetHome};
use crate::request::{checked_base_url, http_client, unsigned_call};

/// A sign-in may wait for a password hash on a busy server.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The second factor given with the password.
#[derive(Clone)]
pub enum LoginFactor {
    /// A code from an authenticator app.
    Totp(Zeroizing<String>),
    /// One of the account's recovery codes.
    RecoveryCode(Zeroizing<String>),
}

impl std::fmt::Debug for LoginFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Totp(_) => "Totp(***)",
            Self::RecoveryCode(_) => "RecoveryCode(***)",
        })
    }
}

/// The outcome of a sign-in.
#[derive(Debug)]
pub struct Login {
    /// The identity as saved, with its key.
    pub credentials: Credentials<OperatorIdentity>,
    /// When the key stops authenticating, Unix ms.
    pub expires_at: i64,
    /// Where an identity previously saved for the same vault was moved, if there was one.
    pub replaced: Option<PathBuf>,
}

/// `POST /v1/auth/cli-login`, then saves the new operator identity under `home`.
pub async fn cli_login(
    home: &SignetHome,
    server_url: &str,
    login: &str,
    password: &str,
    factor: Option<&LoginFactor>,
    name: Option<&str>,
) -> Result<Login, ClientError> {
    // The password must not travel in the clear, so the URL is checked before anything else.
    let base = checked_base_url(server_url)?;
    let seed = SecretSeed::generate();
    let body = CliLoginRequest {
        login: login.to_owned(),
        password: Zeroizing::new(password.to_owned()),
        totp: match factor {
            Some(LoginFactor::Totp(c)) => Some(c.clone()),
            _ => None,
        },
        recovery_code: match factor {
            Some(LoginFactor::RecoveryCode(c)) => Some(c.clone()),
            _ => None,
        },
        public_key: seed.public_key().to_base64(),
        name: name.map(str::to_owned),
    };
    let bytes = Zeroizing::new(
        serde_json::to_vec(&body).map_err(|e| ClientError::decode("login body", e))?,
    );
    let answer = unsigned_call(
        http_client(TIMEOUT)?
            .post(format!("{base}{}", route::CLI_LOGIN))
            .header("content-type", "application/json")
            .body(bytes.to_vec()),
    )
    .await?;
    let r: CliLoginAnswer =
        serde_json::from_slice(&answer).map_err(|e| ClientError::decode("login response", e))?;
    let api_url = match r.api_url.trim() {
        "" => base,
        url => checked_base_url(url)?,
    };
    let identity = OperatorIdentity {
        operator_id: r.operator_id,
        name: name.unwrap_or("cli").to_owned(),
        vault_id: r.vault_id,
        api_url,
        private_key_path: String::new(),
    };
    let saved = home.save(identity, seed)?;
    Ok(Login {
        credentials: saved.credentials,
        expires_at: r.expires_at,
        replaced: saved.replaced,
    })
}

/// Accepts an invitation: `link` is the `<server>/#/invite/<code>` URL the inviter passed on.
/// Creates the account with the chosen username and password and returns the server's answer
/// (the user, their TOTP enrollment and recovery codes), which the caller shows once.
pub async fn accept_invite(
    link: &str,
    username: &str,
    password: &str,
) -> Result<NewAccountAnswer, ClientError> {
    let (base, code) = invite_parts(link)?;
    let bytes = Zeroizing::new(
        serde_json::to_vec(&InviteAcceptRequest {
            code: Zeroizing::new(code.to_owned()),
            username: username.to_owned(),
            password: Zeroizing::new(password.to_owned()),
        })
        .map_err(|e| ClientError::decode("invitation body", e))?,
    );
    let answer = unsigned_call(
        http_client(TIMEOUT)?
            .post(format!("{base}{}", route::INVITE_ACCEPT))
            .header("content-type", "application/json")
            .body(bytes.to_vec()),
    )
    .await?;
    serde_json::from_slice(&answer).map_err(|e| ClientError::decode("invitation answer", e))
}

/// The server (checked: https, or http to loopback) and the code of an invitation link.
fn invite_parts(link: &str) -> Result<(String, &str), ClientError> {
    let (server, code) =
        link.trim()
            .split_once("/#/invite/")
            .ok_or(ClientError::InvalidRequest {
                what: "invitation link (URL/#/invite/CODE)",
            })?;
    // A password or code must not travel in the clear, so the URL is checked before anything.
    Ok((checked_base_url(server)?, code))
}

/// Confirms a new account's authenticator app with a code it shows, right after
/// [`accept_invite`]: `ticket` is that answer's `enrollmentTicket`, `link` the same invitation
/// link (for its server). Until confirmed (here, or by the first sign-in with a code) the seed
/// stays pending. The browser session the server also opens is not kept: the CLI signs in with
/// `signet login`. A wrong or reused code is the server's `wrong_factor` or `code_reused`.
pub async fn confirm_totp(link: &str, ticket: &str, code: &str) -> Result<(), ClientError> {
    let (base, _) = invite_parts(link)?;
    let bytes = Zeroizing::new(
        serde_json::to_vec(&TotpConfirmRequest {
            ticket: Zeroizing::new(ticket.to_owned()),
            totp: Zeroizing::new(code.to_owned()),
        })
        .map_err(|e| ClientError::decode("confirmation body", e))?,
    );
    unsigned_call(
        http_client(TIMEOUT)?
            .post(format!("{base}{}", route::TOTP_CONFIRM))
            .header("content-type", "application/json")
            .body(bytes.to_vec()),
    )
    .await?;
    Ok(())
}
