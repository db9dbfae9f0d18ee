//! Connections: the accept loop and what a client may hold open, and for how long.
//!
//! `axum::serve` sets no header read timeout and no cap on connections, so a client that trickles
//! its headers, or declares a body and never sends it, holds a socket and a task for as long as
//! it likes. Here every connection takes a slot (at most [`ConnectionLimits::max_connections`];
//! past that, new connections wait in the kernel's backlog until one ends), a TLS handshake has
//! [`ConnectionLimits::tls_handshake`], request headers have
//! [`ConnectionLimits::header_read`] (hyper restarts that timer whenever a kept-alive
//! connection goes idle, so it also bounds idle connections), and a request body has
//! [`ConnectionLimits::body_read`] from the moment its headers arrived.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

use crate::extract::Peer;
use crate::listener::Listener;

/// How long a client may take, and how many may be connected at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// From the connection (or the previous response) to the end of the request headers.
    pub header_read: Duration,
    /// From the end of the headers to the end of the body.
    pub body_read: Duration,
    /// From accept to a finished TLS handshake.
    pub tls_handshake: Duration,
    /// Open connections, TLS handshakes included.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            body_read: Duration::from_secs(30),
            tls_handshake: Duration::from_secs(10),
            max_connections: 1024,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting and waits for
/// every connection to finish the request it is in.
pub(crate) async fn serve(
    listener: Listener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let max = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    let slots = Arc::new(Semaphore::new(max as usize));
    let (stop, stopping) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    let (tcp, tls) = match listener {
        Listener::Plain(tcp) => (tcp, None),
        Listener::Tls(l) => (l.tcp, Some(l.acceptor)),
    };
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                // The semaphore is never closed; if it were, no connection could be served.
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = tcp.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Typically EMFILE: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let (app, tls, stopping) = (app.clone(), tls.clone(), stopping.clone());
        tokio::spawn(async move {
            let _slot = slot;
            match tls {
                None => connection(stream, peer, app, limits, stopping).await,
                Some(acceptor) => {
                    match tokio::time::timeout(limits.tls_handshake, acceptor.accept(stream)).await
                    {
                        Ok(Ok(tls)) => connection(tls, peer, app, limits, stopping).await,
                        _ => tracing::debug!(%peer, "TLS handshake failed or timed out"),
                    }
                }
            }
        });
    }
    drop(tcp);
    let _ = stop.send(true);
    // Every connection holds a slot until it closes: having them all back means drained.
    let _ = slots.acquire_many(max).await;
    Ok(())
}

async fn connection<S>(
    io: S,
    peer: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    mut stopping: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let app = app.clone();
        async move {
            let mut req = req.map(|body| Body::new(DeadlineBody::new(body, limits.body_read)));
            req.extensions_mut().insert(ConnectInfo(Peer(peer)));
            app.oneshot(req).await
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .keep_alive(true);
    let mut conn = pin!(builder.serve_connection(TokioIo::new(io), service));
    tokio::select! {
        done = conn.as_mut() => {
            if let Err(e) = done {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
            return;
        }
        // Only ever set to true, once; a dropped sender also means stop.
        _ = stopping.changed() => {}
    }
    // Finish the request in flight, if any, then close.
    conn.as_mut().graceful_shutdown();
    if let Err(e) = conn.await {
        tracing::debug!(%peer, error = %e, "connection ended during shutdown");
    }
}

/// A request body that fails once its deadline passes, so a client that declares a body and
/// stalls (or trickles it) is cut off: the handler's read fails and hyper closes the connection
/// instead of waiting for the rest.
struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl DeadlineBody {
    fn new(inner: Incoming, limit: Duration) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep(limit)),
        }
    }
}

/// The body did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error("request body not received in time")]
pub(crate) struct BodyTimeout;

impl hyper::body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimeout))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
