//! `GET /v1/events` and `GET /v1/events/{after}`: change notifications as server-sent events
//! (`signet_api::events`), signed like every machine request. Core decides what each machine
//! hears (`signet_core::events`); this module only frames it.

use std::convert::Infallible;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use signet_api::events::MachineEvent;
use signet_api::route;
use signet_core::events::{Event, StreamItem, Subscription};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::MachineCall;

/// Routes for the event stream.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(route::machine::EVENTS, get(from_header))
        .route(route::machine::EVENTS_AFTER, get(from_path))
}

/// An event id as sent: decimal digits only, so `+1`, ` 1` or `0x1` are refused, not guessed.
fn event_id(text: &str) -> Result<u64, ApiError> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::malformed("an event id is a decimal number"));
    }
    text.parse()
        .map_err(|_| ApiError::malformed("an event id is a decimal number"))
}

async fn from_header(
    State(s): State<AppState>,
    headers: HeaderMap,
    call: MachineCall,
) -> ApiResult<Response> {
    let after = match headers.get("last-event-id") {
        None => None,
        Some(v) => {
            Some(event_id(v.to_str().map_err(|_| {
                ApiError::malformed("an event id is a decimal number")
            })?)?)
        }
    };
    open(&s, &call, after).await
}

async fn from_path(
    State(s): State<AppState>,
    Path(after): Path<String>,
    call: MachineCall,
) -> ApiResult<Response> {
    // Authenticated first (the extractor), so a malformed id costs a valid signature.
    let after = event_id(&after)?;
    open(&s, &call, Some(after)).await
}

async fn open(s: &AppState, call: &MachineCall, after: Option<u64>) -> ApiResult<Response> {
    let sub = s.signet.events().subscribe(&call.machine, after).await?;
    // First the position the stream starts from, as an id without data (which moves a client's
    // resume point without being an event), so a reconnect before any event misses nothing.
    let opening = Bytes::from(format!(": open\nid: {}\n\n", sub.position()));
    let opening = futures_util::stream::once(async move { Ok(opening) });
    let items = futures_util::stream::unfold(sub, |mut sub: Subscription| async move {
        let item = sub.next().await?;
        Some((Ok::<_, Infallible>(frame(&item)), sub))
    });
    let mut resp =
        Body::from_stream(futures_util::StreamExt::chain(opening, items)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    // Proxies that buffer would hold events back until their buffer fills.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(resp)
}

/// One SSE message: `id`, `event` and one `data` line of JSON (which never holds a newline), or
/// a comment.
fn frame(item: &StreamItem) -> Bytes {
    match item {
        StreamItem::KeepAlive => Bytes::from_static(b": keep-alive\n\n"),
        StreamItem::Event(e) => {
            let data = wire(e);
            // Serialising plain strings and numbers cannot fail; an empty object would be a
            // harmless event the client skips.
            let json = serde_json::to_string(&data).unwrap_or_else(|_| "{}".to_owned());
            Bytes::from(format!(
                "id: {}\nevent: {}\ndata: {json}\n\n",
                e.id,
                e.kind.as_str()
            ))
        }
    }
}

fn wire(e: &Event) -> MachineEvent {
    MachineEvent {
        kind: e.kind,
        secret_id: e.secret.clone(),
        version: e.version,
        ts: e.ts_ms,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::event_id;

    #[test]
    fn event_ids_are_plain_decimal() {
        assert_eq!(event_id("0").unwrap(), 0);
        assert_eq!(event_id("18446744073709551615").unwrap(), u64::MAX);
        for bad in [
            "",
            "+1",
            " 1",
            "0x1",
            "1.0",
            "-1",
            "18446744073709551616",
            "١",
        ] {
            assert!(event_id(bad).is_err(), "{bad:?}");
        }
    }
}
