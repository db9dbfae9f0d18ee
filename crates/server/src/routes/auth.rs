//! Sign-in routes. `cli-login` is unsigned: the caller has no key yet, and proves itself with a
//! password and a second factor instead. Every failure is the same 401 body; a locked account or
//! a source over its budget is 429.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use signet_api::admin::operator::LogoutAnswer;
use signet_api::auth::{
    CliLoginAnswer, CliLoginRequest, NewAccountAnswer, SessionLoginRequest, SetupCheckAnswer,
    SetupCheckRequest, SetupRequest, SetupStateAnswer, StepUpAnswer, StepUpRequest,
    TotpConfirmAnswer, TotpConfirmRequest,
};
use signet_api::route;
use signet_core::account::{LoginAttempt, NewOwner, Password, SecondFactor};
use signet_core::session::OpenedSession;
use zeroize::Zeroizing;

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{ClientIp, MAX_BODY, OperatorCall, json, read_body};
use crate::routes::admin::answer;

/// Sign-in routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(route::auth::CLI_LOGIN, post(cli_login))
        .merge(browser_routes())
}

async fn cli_login(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    raw: axum::body::Body,
) -> ApiResult<Json<CliLoginAnswer>> {
    // The parsed fields are zeroized on drop; so is this copy of the raw body, which holds the
    // password too.
    let body = Zeroizing::new(read_body(&headers, raw, MAX_BODY).await?.to_vec());
    let b: CliLoginRequest = json(&body)?;
    let second_factor = second_factor(b.totp, b.recovery_code)?;
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
        .accounts()
        .cli_login(attempt, &b.public_key, b.name.as_deref())
        .await?;
    Ok(Json(CliLoginAnswer {
        operator_id: r.operator_id,
        vault_id: r.vault_id,
        expires_at: r.expires_at,
        api_url: r.api_url,
    }))
}

/// At most one of a TOTP code and a recovery code.
fn second_factor(
    totp: Option<Zeroizing<String>>,
    recovery_code: Option<Zeroizing<String>>,
) -> ApiResult<SecondFactor> {
    match (totp, recovery_code) {
        (Some(code), None) => Ok(SecondFactor::Totp(code)),
        (None, Some(code)) => Ok(SecondFactor::Recovery(code)),
        (None, None) => Ok(SecondFactor::Missing),
        (Some(_), Some(_)) => Err(ApiError::malformed(
            "give either `totp` or `recoveryCode`, not both",
        )),
    }
}

/// Sign-in routes for browsers: first-run setup, sessions and step-up.
pub(crate) fn browser_routes() -> Router<AppState> {
    Router::new()
        .route(route::auth::SETUP, get(setup_state).post(setup))
        .route(route::auth::SESSION, get(session).post(session_login))
        .route(route::auth::SESSION_LOGOUT, post(session_logout))
        .route(route::auth::STEP_UP, post(step_up))
        .route(route::auth::SETUP_CHECK, post(setup_check))
        .route(route::auth::TOTP_CONFIRM, post(totp_confirm))
}

/// An unauthenticated browser POST: same-origin checked, body read into zeroizing memory (it
/// holds a password).
pub(crate) async fn browser_post(
    state: &AppState,
    req: Request<Body>,
) -> ApiResult<(Parts, Zeroizing<Vec<u8>>, signet_core::network::ClientAddr)> {
    let (parts, body) = req.into_parts();
    state.web.check_same_origin(&parts, None)?;
    let body = Zeroizing::new(read_body(&parts.headers, body, MAX_BODY).await?.to_vec());
    let ip = crate::extract::client_ip(state, crate::extract::peer_of(&parts), &parts.headers);
    Ok((parts, body, ip))
}

fn user_agent(headers: &HeaderMap) -> &str {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

async fn setup_state(State(s): State<AppState>) -> ApiResult<Json<SetupStateAnswer>> {
    Ok(Json(SetupStateAnswer {
        open: s.signet.sessions().setup_open().await?,
    }))
}

async fn setup(State(s): State<AppState>, req: Request<Body>) -> ApiResult<Json<NewAccountAnswer>> {
    let (_parts, body, ip) = browser_post(&s, req).await?;
    let mut b: SetupRequest = json(&body)?;
    let new = NewOwner {
        username: &b.username,
        email: &b.email,
        password: Password::new(std::mem::take(&mut *b.password)),
    };
    let e = s.signet.sessions().setup_owner(&b.code, ip, new).await?;
    Ok(Json(answer::new_account(e)))
}

/// Whether the setup link's code still works, so the page can say "already used" before the
/// person fills in the form (issue 16, bug 8). Spends nothing.
async fn setup_check(
    State(s): State<AppState>,
    req: Request<Body>,
) -> ApiResult<Json<SetupCheckAnswer>> {
    let (_parts, body, ip) = browser_post(&s, req).await?;
    let b: SetupCheckRequest = json(&body)?;
    Ok(Json(SetupCheckAnswer {
        valid: s.signet.sessions().setup_code_live(&b.code, ip).await?,
    }))
}

/// Confirms a new account's pending TOTP seed with a code, by the enrollment ticket its
/// answer carried (the ticket is the credential: there is no session yet), and opens the
/// session.
async fn totp_confirm(State(s): State<AppState>, req: Request<Body>) -> ApiResult<Response> {
    let (parts, body, ip) = browser_post(&s, req).await?;
    let b: TotpConfirmRequest = json(&body)?;
    let previous = s.web.session_secret(&parts.headers);
    let opened = s
        .signet
        .sessions()
        .confirm_enrollment(
            &b.ticket,
            b.totp,
            ip,
            user_agent(&parts.headers),
            previous.as_ref(),
        )
        .await?;
    let Some(opened) = opened else {
        return Ok(Json(TotpConfirmAnswer {
            confirmed: true,
            session: None,
        })
        .into_response());
    };
    let cookie = s
        .web
        .set_cookie(&opened.secret)
        .ok_or_else(|| ApiError::new(ErrorCode::Internal))?;
    let mut resp = Json(TotpConfirmAnswer {
        confirmed: true,
        session: Some(answer::session(opened.view)),
    })
    .into_response();
    resp.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(resp)
}

/// Answers a fresh session: its view as JSON and the cookie.
pub(crate) fn session_response(s: &AppState, opened: OpenedSession) -> ApiResult<Response> {
    let cookie = s
        .web
        .set_cookie(&opened.secret)
        .ok_or_else(|| ApiError::new(ErrorCode::Internal))?;
    let mut resp = Json(answer::session(opened.view)).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(resp)
}

async fn session_login(State(s): State<AppState>, req: Request<Body>) -> ApiResult<Response> {
    let (parts, body, ip) = browser_post(&s, req).await?;
    let b: SessionLoginRequest = json(&body)?;
    let second_factor = second_factor(b.totp, b.recovery_code)?;
    let previous = s.web.session_secret(&parts.headers);
    let attempt = LoginAttempt {
        login: &b.login,
        password: Password::new(b.password.as_str()),
        second_factor,
        source_ip: ip,
        user_agent: user_agent(&parts.headers),
    };
    let opened = s
        .signet
        .sessions()
        .session_login(attempt, previous.as_ref())
        .await?;
    session_response(&s, opened)
}

/// Who is signed in. Without a session cookie nobody is, and nobody tried to be: the dashboard
/// asks this on every first load, so the answer is the uniform 401 and no authentication-failure
/// record (issue 16, bug 14: a fresh vault's first record was a failure caused by opening the
/// dashboard). A cookie is judged like on any other route: a dead one is a recorded failure.
async fn session(
    State(s): State<AppState>,
    req: Request<Body>,
) -> ApiResult<Json<signet_api::auth::SessionAnswer>> {
    let (parts, _body) = req.into_parts();
    let secret = s
        .web
        .session_secret(&parts.headers)
        .ok_or_else(|| ApiError::new(ErrorCode::AuthenticationFailed))?;
    s.web.check_same_origin(&parts, Some(&secret))?;
    let ip = crate::extract::client_ip(&s, crate::extract::peer_of(&parts), &parts.headers);
    let operator = s
        .signet
        .sessions()
        .authenticate_session(&secret, ip)
        .await?;
    crate::metrics::note_principal(crate::metrics::Principal::Operator(operator.id));
    let view = s.signet.sessions().session_view(&secret, &operator).await?;
    Ok(Json(answer::session(view)))
}

async fn session_logout(State(s): State<AppState>, call: OperatorCall) -> ApiResult<Response> {
    s.signet.accounts().logout(&call.operator).await?;
    let mut resp = Json(LogoutAnswer { logged_out: true }).into_response();
    if let Some(clear) = s.web.clear_cookie() {
        resp.headers_mut().insert(header::SET_COOKIE, clear);
    }
    Ok(resp)
}

async fn step_up(
    State(s): State<AppState>,
    headers: HeaderMap,
    call: OperatorCall,
) -> ApiResult<Json<StepUpAnswer>> {
    let b: StepUpRequest = json(&call.body)?;
    let until = s
        .signet
        .sessions()
        .step_up_totp(&call.operator, b.totp, user_agent(&headers))
        .await?;
    Ok(Json(StepUpAnswer {
        step_up_until: until,
    }))
}
