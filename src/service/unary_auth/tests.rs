use std::sync::atomic::{AtomicUsize, Ordering};

use tonic::Code;

use super::*;
use crate::auth::{Cookie, mint_token};

/// Stands in for `ClusterNodeServer`: counts the requests it handles.
#[derive(Debug, Clone, Default)]
struct Handler(Arc<AtomicUsize>);

impl NamedService for Handler {
    const NAME: &'static str = "ractor_grpc.v1.ClusterNode";
}

impl Service<Request<()>> for Handler {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<()>) -> Self::Future {
        self.0.fetch_add(1, Ordering::SeqCst);
        std::future::ready(Ok(Response::new("handled".to_owned())))
    }
}

fn token(scope: TokenScope) -> String {
    mint_token(
        &Cookie::from("secret"),
        "node-a",
        scope,
        std::time::Duration::from_secs(60),
    )
    .expect("minted")
}

/// Sends `method` with `token` (if any); the refusal, or `None` if the
/// handler ran.
async fn send(method: &str, token: Option<&str>) -> Option<Status> {
    let handler = Handler::default();
    let verifier = TokenVerifier::new("node-a", Cookie::from("secret"));
    let mut service = Authenticated::new(handler.clone(), verifier);
    let mut request = Request::builder().uri(format!("/ractor_grpc.v1.ClusterNode/{method}"));
    if let Some(t) = token {
        request = request.header(AUTHORIZATION, format!("Bearer {t}"));
    }
    let response = service
        .call(request.body(()).expect("request"))
        .await
        .expect("infallible");
    let refusal = Status::from_header_map(response.headers());
    assert_eq!(
        handler.0.load(Ordering::SeqCst),
        usize::from(refusal.is_none()),
        "the handler runs exactly when the request is let through"
    );
    refusal
}

#[tokio::test]
async fn session_needs_no_token() {
    assert!(send("Session", None).await.is_none());
}

#[tokio::test]
async fn introspection_needs_an_inspect_token() {
    for method in ["GetNodeInfo", "ListPeers", "ListActors", "ListGroups"] {
        let refused = send(method, None).await.expect("refused");
        assert_eq!(refused.code(), Code::Unauthenticated, "{method}");
        assert!(
            refused
                .message()
                .starts_with("missing authorization metadata"),
            "{refused:?}"
        );
        assert!(
            send(method, Some(&token(TokenScope::Inspect)))
                .await
                .is_none()
        );
        assert!(send(method, Some(&token(TokenScope::All))).await.is_none());
    }
}

#[tokio::test]
async fn a_method_not_listed_needs_scope_all() {
    let refused = send("Cast", Some(&token(TokenScope::Inspect)))
        .await
        .expect("refused");
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(
        refused.message(),
        "a token of scope inspect does not allow Cast: it needs scope all"
    );
    assert!(send("Cast", Some(&token(TokenScope::All))).await.is_none());
    assert_eq!(required_scope("Call"), Some(TokenScope::All));
}

#[tokio::test]
async fn a_bad_token_is_unauthenticated_with_its_reason() {
    let refused = send("GetNodeInfo", Some("rgt1.x")).await.expect("refused");
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(
        refused.message().starts_with("malformed token"),
        "{refused:?}"
    );
}
