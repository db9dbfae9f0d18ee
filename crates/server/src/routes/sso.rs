//! Single sign-on for people: the owners' routes for providers and mappings, the signed-in
//! user's linked identities, and the sign-in flow (start, callback, and the CLI's start and
//! finish). The rules live in `signet_core::sso`; this is the HTTP shape: the binding cookie,
//! the redirects, and the query string the provider sends back.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use signet_api::admin::DeletedAnswer;
use signet_api::auth::CliLoginAnswer;
use signet_api::route;
use signet_api::sso::{
    SsoCliFinishRequest, SsoCliStartAnswer, SsoCliStartRequest, SsoIdentitiesAnswer,
    SsoIdentityAnswer, SsoLoginOption, SsoLoginOptionsAnswer, SsoMappingAnswer,
    SsoMappingCreateRequest, SsoProviderAnswer, SsoProviderCreateRequest, SsoProviderUpdateRequest,
    SsoProvidersAnswer,
};
use signet_core::sso::{
    Callback, IdentityView, Landing, NewMapping, NewProvider, ProviderChange, ProviderView, Sso,
    StartFor,
};

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{ClientIp, MAX_BODY, OperatorCall, json, read_body};
use crate::routes::admin::found;

/// The binding cookie's name: it is sent only to the SSO routes.
pub const BINDING_COOKIE: &str = "signet_sso";
/// How long the binding cookie lives, seconds: the attempt's lifetime.
const BINDING_MAX_AGE: i64 = 600;

/// Whether `method path` is one of the two unsigned browser routes that take a query string:
/// the start (`?purpose=`) and the provider's callback (`?code&state&iss&error`).
pub(crate) fn takes_query(method: &axum::http::Method, path: &str) -> bool {
    if method != axum::http::Method::GET {
        return false;
    }
    let start = path
        .strip_prefix("/v1/auth/sso/")
        .and_then(|rest| rest.strip_suffix("/start"))
        .is_some_and(|provider| !provider.is_empty() && !provider.contains('/'));
    start || path == route::sso::CALLBACK
}

/// SSO routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(route::sso::PROVIDERS, get(providers).post(create_provider))
        .route(route::sso::PROVIDER, get(provider))
        .route(route::sso::PROVIDER_UPDATE, post(update_provider))
        .route(route::sso::PROVIDER_DELETE, post(delete_provider))
        .route(route::sso::MAPPINGS, post(create_mapping))
        .route(route::sso::MAPPING_DELETE, post(delete_mapping))
        .route(route::sso::IDENTITIES, get(identities))
        .route(route::sso::IDENTITY_DELETE, post(delete_identity))
        .route(route::sso::LOGIN_OPTIONS, get(login_options))
        .route(route::sso::CALLBACK, get(callback))
        .route(route::sso::CLI_START, post(cli_start))
        .route(route::sso::CLI_FINISH, post(cli_finish))
        .route(route::sso::START, get(start))
}

fn provider_answer(s: &AppState, v: ProviderView) -> SsoProviderAnswer {
    let p = v.provider;
    SsoProviderAnswer {
        id: p.id,
        name: p.name,
        issuer: p.issuer,
        client_id: p.client_id,
        has_client_secret: p.sealed_secret.is_some(),
        scopes: p.scopes,
        username_claim: p.username_claim,
        groups_claim: p.groups_claim,
        jit_users: p.jit_users,
        enabled: p.enabled,
        redirect_uri: Sso::of(&s.signet).redirect_uri(),
        mappings: v
            .mappings
            .into_iter()
            .map(|m| SsoMappingAnswer {
                id: m.id,
                position: m.position,
                claim: m.claim,
                value: m.value,
                role: m.role.as_str().to_owned(),
                project_ids: m.project_ids,
                created_at: m.created_ms,
            })
            .collect(),
        created_at: p.created_ms,
        updated_at: p.updated_ms,
    }
}

fn identities_answer(list: Vec<IdentityView>) -> SsoIdentitiesAnswer {
    SsoIdentitiesAnswer {
        identities: list
            .into_iter()
            .map(|v| SsoIdentityAnswer {
                provider_id: v.identity.provider_id,
                provider_name: v.provider_name,
                subject: v.identity.subject,
                linked_at: v.identity.linked_ms,
                last_login_at: v.identity.last_login_ms,
            })
            .collect(),
    }
}

/// Bodies that must be empty or `{}`.
fn no_body(body: &[u8]) -> ApiResult<()> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let m: serde_json::Map<String, serde_json::Value> = json(body)?;
    if m.is_empty() {
        Ok(())
    } else {
        Err(ApiError::malformed("this route takes no fields"))
    }
}

async fn providers(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<SsoProvidersAnswer>> {
    let list = Sso::of(&s.signet).admin().providers(&call.operator).await?;
    Ok(Json(SsoProvidersAnswer {
        providers: list.into_iter().map(|v| provider_answer(&s, v)).collect(),
    }))
}

async fn create_provider(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<SsoProviderAnswer>> {
    let b: SsoProviderCreateRequest = json(&call.body)?;
    let v = Sso::of(&s.signet)
        .admin()
        .create_provider(
            &call.operator,
            NewProvider {
                name: b.name,
                issuer: b.issuer,
                client_id: b.client_id,
                client_secret: b.client_secret,
                scopes: b.scopes,
                username_claim: b.username_claim,
                groups_claim: b.groups_claim,
                jit_users: b.jit_users,
                enabled: b.enabled,
            },
        )
        .await?;
    Ok(Json(provider_answer(&s, v)))
}

async fn provider(
    State(s): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<SsoProviderAnswer>> {
    let id = found(id)?;
    let v = Sso::of(&s.signet)
        .admin()
        .provider(&call.operator, &id)
        .await?;
    Ok(Json(provider_answer(&s, v)))
}

async fn update_provider(
    State(s): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<SsoProviderAnswer>> {
    let id = found(id)?;
    let b: SsoProviderUpdateRequest = json(&call.body)?;
    let v = Sso::of(&s.signet)
        .admin()
        .update_provider(
            &call.operator,
            &id,
            ProviderChange {
                name: b.name,
                client_id: b.client_id,
                client_secret: b.client_secret,
                scopes: b.scopes,
                username_claim: b.username_claim,
                groups_claim: b.groups_claim,
                jit_users: b.jit_users,
                enabled: b.enabled,
            },
        )
        .await?;
    Ok(Json(provider_answer(&s, v)))
}

async fn delete_provider(
    State(s): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<DeletedAnswer>> {
    let id = found(id)?;
    no_body(&call.body)?;
    Sso::of(&s.signet)
        .admin()
        .delete_provider(&call.operator, &id)
        .await?;
    Ok(Json(DeletedAnswer { id, deleted: true }))
}

async fn create_mapping(
    State(s): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<SsoProviderAnswer>> {
    let id = found(id)?;
    let b: SsoMappingCreateRequest = json(&call.body)?;
    let v = Sso::of(&s.signet)
        .admin()
        .add_mapping(
            &call.operator,
            &id,
            NewMapping {
                claim: b.claim,
                value: b.value,
                role: b.role,
                project_ids: b.project_ids,
            },
        )
        .await?;
    Ok(Json(provider_answer(&s, v)))
}

async fn delete_mapping(
    State(s): State<AppState>,
    ids: Result<Path<(String, String)>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<SsoProviderAnswer>> {
    let (id, mapping) = found(ids)?;
    no_body(&call.body)?;
    let v = Sso::of(&s.signet)
        .admin()
        .delete_mapping(&call.operator, &id, &mapping)
        .await?;
    Ok(Json(provider_answer(&s, v)))
}

async fn identities(
    State(s): State<AppState>,
    call: OperatorCall,
) -> ApiResult<Json<SsoIdentitiesAnswer>> {
    let list = Sso::of(&s.signet)
        .admin()
        .identities(&call.operator)
        .await?;
    Ok(Json(identities_answer(list)))
}

async fn delete_identity(
    State(s): State<AppState>,
    provider: Result<Path<String>, PathRejection>,
    call: OperatorCall,
) -> ApiResult<Json<SsoIdentitiesAnswer>> {
    let provider = provider
        .map(|Path(p)| p)
        .map_err(|_| ApiError::new(ErrorCode::AccessDenied))?;
    no_body(&call.body)?;
    let list = Sso::of(&s.signet)
        .admin()
        .unlink(&call.operator, &provider)
        .await?;
    Ok(Json(identities_answer(list)))
}

async fn login_options(State(s): State<AppState>) -> ApiResult<Json<SsoLoginOptionsAnswer>> {
    let (providers, required) = Sso::of(&s.signet).login_options().await?;
    Ok(Json(SsoLoginOptionsAnswer {
        providers: providers
            .into_iter()
            .map(|(id, name)| SsoLoginOption { id, name })
            .collect(),
        required,
    }))
}

/// Decodes one `application/x-www-form-urlencoded` component; `None` if it is not valid
/// percent-encoded UTF-8.
fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The query's parameters; a parameter given twice is ambiguous and counts as absent, and
/// one that does not decode is absent too.
fn query_params(query: Option<&str>) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (Some(k), v) = (decode(k), decode(v)) else {
            continue;
        };
        if let Some(seen) = out.iter_mut().find(|(name, _)| *name == k) {
            seen.1 = None;
        } else {
            out.push((k, v));
        }
    }
    out
}

fn param<'a>(params: &'a [(String, Option<String>)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.as_deref())
}

fn redirect(to: &str) -> ApiResult<Response> {
    let mut resp = StatusCode::FOUND.into_response();
    let location = HeaderValue::from_str(to).map_err(|_| ApiError::new(ErrorCode::Internal))?;
    resp.headers_mut().insert(header::LOCATION, location);
    // Neither the state in the URL this answers nor the target may be cached or leaked on.
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Ok(resp)
}

fn https(s: &AppState) -> bool {
    signet_proto::web_url::WebUrl::parse(s.signet.api_url()).is_ok_and(|u| u.is_https())
}

fn binding_cookie(s: &AppState, value: &str, max_age: i64) -> ApiResult<HeaderValue> {
    let secure = if https(s) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{BINDING_COOKIE}={value}; Path=/v1/auth/sso; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .map_err(|_| ApiError::new(ErrorCode::Internal))
}

/// The binding cookie the browser sent; sent twice is ambiguous and counts as absent.
fn binding_of(headers: &HeaderMap) -> Option<String> {
    let mut found = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(k, _)| *k == BINDING_COOKIE)
        .map(|(_, v)| v.to_owned());
    match (found.next(), found.next()) {
        (Some(v), None) if !v.is_empty() && v.len() <= 64 => Some(v),
        _ => None,
    }
}

async fn start(
    State(s): State<AppState>,
    provider: Result<Path<String>, PathRejection>,
    ClientIp(ip): ClientIp,
    req: Request<Body>,
) -> ApiResult<Response> {
    let provider = provider
        .map(|Path(p)| p)
        .map_err(|_| ApiError::new(ErrorCode::AccessDenied))?;
    let params = query_params(req.uri().query());
    let sso = Sso::of(&s.signet);
    let purpose = param(&params, "purpose").unwrap_or("login");
    // Link and step-up act for the signed-in user: their session cookie, checked as on every
    // session request (a navigation from the dashboard carries it; another site's does not).
    let op = match purpose {
        "link" | "step_up" => {
            let secret = s
                .web
                .session_secret(req.headers())
                .ok_or_else(|| ApiError::new(ErrorCode::AccessDenied))?;
            Some(
                s.signet
                    .sessions()
                    .authenticate_session(&secret, ip)
                    .await
                    .map_err(|_| ApiError::new(ErrorCode::AccessDenied))?,
            )
        }
        "login" => None,
        _ => {
            return Err(ApiError::malformed(
                "purpose must be login, link or step_up",
            ));
        }
    };
    let purpose = match (purpose, op.as_ref()) {
        ("link", Some(op)) => StartFor::Link(op),
        ("step_up", Some(op)) => StartFor::StepUp(op),
        _ => StartFor::Login,
    };
    let started = sso.start(&provider, purpose, ip).await?;
    let mut resp = redirect(&started.authorize_url)?;
    resp.headers_mut().insert(
        header::SET_COOKIE,
        binding_cookie(&s, &started.binding, BINDING_MAX_AGE)?,
    );
    Ok(resp)
}

async fn callback(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    req: Request<Body>,
) -> ApiResult<Response> {
    let params = query_params(req.uri().query());
    let headers = req.headers();
    let binding = binding_of(headers);
    let previous = s.web.session_secret(headers);
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let landing = Sso::of(&s.signet)
        .callback(
            Callback {
                code: param(&params, "code"),
                state: param(&params, "state"),
                iss: param(&params, "iss"),
                error: param(&params, "error"),
            },
            binding.as_deref(),
            previous.as_ref(),
            ip,
            user_agent,
        )
        .await?;
    let mut resp = match landing {
        Landing::Session(opened) => {
            let mut resp = redirect("/#/")?;
            let cookie = s
                .web
                .set_cookie(&opened.secret)
                .ok_or_else(|| ApiError::new(ErrorCode::Internal))?;
            resp.headers_mut().append(header::SET_COOKIE, cookie);
            resp
        }
        Landing::Redirect(to) => redirect(&to)?,
    };
    // The binding is spent whatever happened.
    resp.headers_mut()
        .append(header::SET_COOKIE, binding_cookie(&s, "", 0)?);
    Ok(resp)
}

async fn cli_start(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Json<SsoCliStartAnswer>> {
    let body = read_body(&headers, raw, MAX_BODY).await?;
    let b: SsoCliStartRequest = json(&body)?;
    let started = Sso::of(&s.signet)
        .cli_start(
            &b.provider,
            &b.public_key,
            b.name.as_deref(),
            b.loopback_port,
            ip,
        )
        .await?;
    Ok(Json(SsoCliStartAnswer {
        attempt_id: started.attempt_id.to_string(),
        authorize_url: started.authorize_url,
        expires_at: started.expires_ms,
    }))
}

async fn cli_finish(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Json<CliLoginAnswer>> {
    let body = zeroize::Zeroizing::new(read_body(&headers, raw, MAX_BODY).await?.to_vec());
    let b: SsoCliFinishRequest = json(&body)?;
    let r = Sso::of(&s.signet)
        .cli_finish(&b.attempt_id, &b.completion_code, &b.signature, ip)
        .await?;
    Ok(Json(CliLoginAnswer {
        operator_id: r.operator_id,
        vault_id: r.vault_id,
        expires_at: r.expires_at,
        api_url: r.api_url,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_decoded_and_repeats_are_ambiguous() {
        let p = query_params(Some(
            "code=a%2Bb&state=x+y&iss=https%3A%2F%2Fidp&state=z&bad=%zz",
        ));
        assert_eq!(param(&p, "code"), Some("a+b"));
        assert_eq!(param(&p, "iss"), Some("https://idp"));
        assert_eq!(param(&p, "state"), None);
        assert_eq!(param(&p, "bad"), None);
        assert_eq!(param(&p, "error"), None);
    }

    #[test]
    fn a_binding_cookie_sent_twice_is_ignored() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; signet_sso=abc"),
        );
        assert_eq!(binding_of(&h).as_deref(), Some("abc"));
        h.append(header::COOKIE, HeaderValue::from_static("signet_sso=def"));
        assert_eq!(binding_of(&h), None);
    }
}
