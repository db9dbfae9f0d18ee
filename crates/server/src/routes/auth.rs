//! Sign-in routes. `cli-login` is unsigned: the caller has no key yet, and proves itself with a
//! password and a second factor instead. Every failure is the same 401 body; a locked account or
//! a source over its budget is 429.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;
use signet_core::account::{LoginAttempt, Password, SecondFactor};
use zeroize::Zeroizing;

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{ClientIp, MAX_BODY, json, read_body};

/// Sign-in routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/v1/auth/cli-login", post(cli_login))
}

/// The body. Its secrets are zeroized when it is dropped.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CliLoginBody {
    login: String,
    password: Zeroizing<String>,
    totp: Option<Zeroizing<String>>,
    recovery_code: Option<Zeroizing<String>>,
    public_key: String,
    name: Option<String>,
}

async fn cli_login(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    raw: axum::body::Body,
) -> ApiResult<Json<Value>> {
    // The parsed fields are zeroized on drop; so is this copy of the raw body, which holds the
    // password too.
    let body = Zeroizing::new(read_body(&headers, raw, MAX_BODY).await?.to_vec());
    let b: CliLoginBody = json(&body)?;
    let second_factor = match (b.totp, b.recovery_code) {
        (Some(code), None) => SecondFactor::Totp(code),
        (None, Some(code)) => SecondFactor::Recovery(code),
        (None, None) => SecondFactor::Missing,
        (Some(_), Some(_)) => {
            return Err(ApiError::malformed(
                "give either `totp` or `recoveryCode`, not both",
            ));
        }
    };
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let attempt = LoginAttempt {
        login: &b.login,
        password: Password::new(b.password.as_str()),
        second_factor,
        source_ip: ip,
        user_agent,
    };
    let r = s
        .signet
        .cli_login(attempt, &b.public_key, b.name.as_deref())
        .await?;
    serde_json::to_value(r)
        .map(Json)
        .map_err(|_| ApiError::new(ErrorCode::Internal))
}
