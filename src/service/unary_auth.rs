//! Who may call the unary RPCs. [`Authenticated`] wraps `ClusterNodeServer`
//! and lets a request through when its connection carries a verified client
//! certificate (mutual TLS) or its `authorization` metadata holds a bearer
//! token for this node whose scope covers the method; otherwise it answers
//! UNAUTHENTICATED (or PERMISSION_DENIED for too narrow a scope) with a
//! message that says why, and the handler never runs.
//!
//! `Session` passes untouched: its own handshake proves the cookie.
//! Reflection and health are other services on the router and never come
//! here. Owns the map of methods to scopes; the tokens themselves are
//! `auth`'s.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use http::{Extensions, HeaderValue, Request, Response, header::AUTHORIZATION};
use tonic::{
    Status,
    server::NamedService,
    transport::server::{TcpConnectInfo, TlsConnectInfo},
};
use tower::Service;
use tracing::debug;

use crate::auth::{TokenError, TokenScope, TokenVerifier, unix_now};

impl From<TokenError> for Status {
    fn from(e: TokenError) -> Self {
        Self::unauthenticated(e.to_string())
    }
}

/// The scope a `ClusterNode` method needs, `None` for `Session`. A method
/// not named here (one added later, such as Cast or Call) needs `all`: new
/// RPCs start closed.
fn required_scope(method: &str) -> Option<TokenScope> {
    match method {
        "Session" => None,
        "GetNodeInfo" | "ListPeers" | "ListActors" | "ListGroups" | "DescribeActor" => {
            Some(TokenScope::Inspect)
        }
        _ => Some(TokenScope::All),
    }
}

/// Whether the connection presented a client certificate. The TLS server
/// accepts only certificates that verify against its CA, so one being
/// there means a verified one.
fn has_client_certificate(extensions: &Extensions) -> bool {
    extensions
        .get::<TlsConnectInfo<TcpConnectInfo>>()
        .and_then(TlsConnectInfo::peer_certs)
        .is_some_and(|certs| !certs.is_empty())
}

/// `inner` (a `ClusterNodeServer`), admitting only authenticated unary calls.
#[derive(Debug, Clone)]
pub(super) struct Authenticated<S> {
    inner: S,
    verifier: Arc<TokenVerifier>,
}

impl<S: NamedService> Authenticated<S> {
    /// Wraps `inner`; tokens are checked by `verifier`.
    pub(super) fn new(inner: S, verifier: TokenVerifier) -> Self {
        Self {
            inner,
            verifier: Arc::new(verifier),
        }
    }

    /// Whether `request` may reach the handler; the refusal otherwise.
    fn admit<B>(&self, request: &Request<B>) -> Result<(), Status> {
        let path = request.uri().path();
        let method = path
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(S::NAME))
            .and_then(|p| p.strip_prefix('/'))
            .unwrap_or(path);
        let Some(needed) = required_scope(method) else {
            return Ok(());
        };
        if has_client_certificate(request.extensions()) {
            return Ok(());
        }
        let header = request
            .headers()
            .get(AUTHORIZATION)
            .map(HeaderValue::as_bytes);
        // A clock before 1970 reads 0: every token then lies too far ahead.
        let now = unix_now().unwrap_or(0);
        let scope = self.verifier.authorize(header, now).inspect_err(|e| {
            debug!(method, error = %e, "unary call refused");
        })?;
        if !scope.allows(needed) {
            debug!(method, %scope, "unary call refused: scope");
            return Err(Status::permission_denied(format!(
                "a token of scope {scope} does not allow {method}: it needs scope {needed}"
            )));
        }
        Ok(())
    }
}

impl<S: NamedService> NamedService for Authenticated<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B, R> Service<Request<B>> for Authenticated<S>
where
    S: Service<Request<B>, Response = Response<R>, Error = Infallible> + NamedService,
    S::Future: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = Response<R>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<R>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        match self.admit(&request) {
            Ok(()) => Box::pin(self.inner.call(request)),
            Err(status) => Box::pin(std::future::ready(Ok(status.into_http()))),
        }
    }
}

#[cfg(test)]
mod tests;
