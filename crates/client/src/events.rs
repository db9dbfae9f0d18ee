//! `MachineClient::events`: change notifications (`GET /v1/events`) as a stream of typed
//! events that reconnects by itself, re-signed each time, resuming after the last event id it
//! saw (`GET /v1/events/{after}`), so a dropped connection or a restarted server loses nothing.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::Stream;
use signet_api::events::MachineEvent;
use signet_api::route;
use signet_proto::SecretId;

pub use signet_api::events::EventType;

use crate::error::ClientError;
use crate::machine::MachineClient;

/// The server sends a keep-alive every 15 s: three missed ones mean the connection is dead.
const IDLE: Duration = Duration::from_secs(45);
/// The longest pause between reconnection attempts.
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// One change notification. It never carries a value: read the secret to get the new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event id (an audit sequence number): where a reconnect resumes.
    pub id: u64,
    /// What happened.
    pub kind: EventType,
    /// The secret, unless the machine's access changed as a whole.
    pub secret_id: Option<SecretId>,
    /// The new version, when known.
    pub version: Option<u32>,
    /// When it happened, Unix ms.
    pub ts: i64,
}

struct State {
    client: MachineClient,
    last: Option<u64>,
    body: Option<reqwest::Response>,
    buf: Vec<u8>,
    pending: VecDeque<Event>,
    /// The pauses of the current run of failed reconnections; `None` after a success.
    pauses: Option<Box<dyn Iterator<Item = Duration> + Send>>,
    ended: bool,
}

impl MachineClient {
    /// `GET /v1/events`: the events of secrets this machine may read and of its own access,
    /// from now, or after event id `after`. The stream reconnects on network failures, 429 and
    /// 503 (pausing 1, 2, 4... up to 30 s, each jittered, so machines do not all come back in
    /// the same second after a restart), and ends after yielding an error the server meant
    /// (401, 403: the machine may no longer listen).
    pub fn events(
        &self,
        after: Option<u64>,
    ) -> impl Stream<Item = Result<Event, ClientError>> + Send + 'static {
        let state = State {
            client: self.clone(),
            last: after,
            body: None,
            buf: Vec::new(),
            pending: VecDeque::new(),
            pauses: None,
            ended: false,
        };
        futures_util::stream::unfold(state, |mut st| async move {
            if st.ended {
                return None;
            }
            match st.next().await {
                Ok(e) => Some((Ok(e), st)),
                Err(e) => {
                    st.ended = true;
                    Some((Err(e), st))
                }
            }
        })
    }

    /// Where an event stream opened now starts: the id to pass to [`events`](Self::events) so
    /// that nothing after this moment is missed, even what happens before that stream connects.
    /// Opens a stream (an `events_open` record) once, without retries, and closes it.
    pub async fn event_position(&self) -> Result<u64, ClientError> {
        let mut r = self
            .signer()
            .open_stream(route::machine::EVENTS, IDLE)
            .await?;
        let status = r.status().as_u16();
        if status != 200 {
            let body = r.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
            return Err(ClientError::from_response(status, &body));
        }
        let mut st = State {
            client: self.clone(),
            last: None,
            body: None,
            buf: Vec::new(),
            pending: VecDeque::new(),
            pauses: None,
            ended: false,
        };
        // The opening message comes first; anything before its end is at most a few bytes.
        while st.last.is_none() && st.buf.len() < 4096 {
            match r.chunk().await.map_err(crate::request::network_error)? {
                Some(bytes) => {
                    st.buf.extend_from_slice(&bytes);
                    st.parse();
                }
                None => break,
            }
        }
        st.last
            .ok_or_else(|| ClientError::decode("event stream opening", OpeningMissing))
    }
}

/// The stream did not start with its position.
#[derive(Debug, thiserror::Error)]
#[error("the event stream did not say where it starts")]
struct OpeningMissing;

impl State {
    async fn next(&mut self) -> Result<Event, ClientError> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Ok(e);
            }
            let Some(body) = self.body.as_mut() else {
                self.connect().await?;
                continue;
            };
            match body.chunk().await {
                Ok(Some(bytes)) => {
                    self.pauses = None;
                    self.buf.extend_from_slice(&bytes);
                    self.parse();
                }
                // The server ended the stream (shutdown, or the machine may no longer listen:
                // the reconnect finds out which) or the connection failed.
                Ok(None) | Err(_) => {
                    self.body = None;
                    self.buf.clear();
                    self.pause().await;
                }
            }
        }
    }

    async fn connect(&mut self) -> Result<(), ClientError> {
        loop {
            let path = match self.last {
                Some(a) => route::machine::EVENTS_AFTER.replace("{after}", &a.to_string()),
                None => route::machine::EVENTS.to_owned(),
            };
            match self.client.signer().open_stream(&path, IDLE).await {
                Ok(r) if r.status().as_u16() == 200 => {
                    self.body = Some(r);
                    return Ok(());
                }
                Ok(r) if matches!(r.status().as_u16(), 429 | 503) => {}
                Ok(r) => {
                    let status = r.status().as_u16();
                    let body = r.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                    return Err(ClientError::from_response(status, &body));
                }
                Err(ClientError::Transport { .. }) => {}
                Err(e) => return Err(e),
            }
            self.pause().await;
        }
    }

    async fn pause(&mut self) {
        let pause = self
            .pauses
            .get_or_insert_with(|| {
                Box::new(crate::retry::reconnect_pauses(
                    Duration::from_secs(1),
                    MAX_PAUSE,
                ))
            })
            .next()
            .unwrap_or(MAX_PAUSE);
        tokio::time::sleep(pause).await;
    }

    /// Takes every complete message out of the buffer. A message's `id` moves the resume point
    /// even when it has no data (the stream's opening) or a type this SDK does not know.
    fn parse(&mut self) {
        while let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
            let message: Vec<u8> = self.buf.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&message);
            let (mut id, mut data) = (None, None);
            for line in text.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse::<u64>().ok();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = Some(v.trim().to_owned());
                }
            }
            if let Some(id) = id {
                self.last = Some(id);
            }
            let (Some(id), Some(data)) = (id, data) else {
                continue;
            };
            if let Ok(e) = serde_json::from_str::<MachineEvent>(&data) {
                self.pending.push_back(Event {
                    id,
                    kind: e.kind,
                    secret_id: e.secret_id,
                    version: e.version,
                    ts: e.ts,
                });
            }
        }
    }
}
