//! Starting and stopping the two servers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, patch, post};
use thiserror::Error;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tower_http::cors::{Any, CorsLayer};
use ttlab_http_serve::Limits;
use ttlab_scenarios::{Clock, World};

use crate::config::MockConfig;
use crate::metrics::{Api, Endpoint};
use crate::publish::deliver_due;
use crate::state::MockState;
use crate::webhooks::delivery_task;
use crate::{assets, control, delivery, errors, inject, personalize};

/// Why the mocks could not start.
#[derive(Debug, Error)]
pub enum MockError {
    /// A listener could not bind.
    #[error("cannot listen on {addr} for the {api} mock: {source}")]
    Bind {
        /// Which mock.
        api: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Two running mocks. Dropping this does not stop them: call [`RunningMocks::shutdown`].
pub struct RunningMocks {
    /// Base URL of the Personalize Edge API (for `Personalize.setEdgeApiUrl`).
    pub personalize_url: String,
    /// Base URL of the Delivery API host (the SDK appends `/v3`).
    pub delivery_url: String,
    /// Their shared state: counters, truth, control.
    pub state: Arc<MockState>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningMocks {
    /// Stops both servers and the timeline and webhook tasks; in-flight
    /// requests finish (injected hangs end at once).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Starts both mocks on the configured addresses (port 0 picks a free port).
pub async fn start(
    world: Arc<World>,
    clock: Arc<dyn Clock>,
    config: MockConfig,
) -> Result<RunningMocks, MockError> {
    let (stop, stop_rx) = watch::channel(false);
    let (hooks_tx, hooks_rx) = mpsc::unbounded_channel();
    let state = Arc::new(MockState::new(
        world,
        clock,
        config.clone(),
        hooks_tx,
        stop_rx.clone(),
    ));
    let bind = |api: &'static str, addr: SocketAddr| async move {
        tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| MockError::Bind { api, addr, source })
    };
    let p_listener = bind("Personalize", config.personalize_addr).await?;
    let d_listener = bind("Delivery", config.delivery_addr).await?;
    let p_addr = p_listener.local_addr().expect("bound");
    let d_addr = d_listener.local_addr().expect("bound");
    // Asset URLs in answers point at the Delivery mock; an unspecified
    // address (listening on every interface) is reached on loopback.
    let mut reachable = d_addr;
    if reachable.ip().is_unspecified() {
        reachable.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let _ = state.delivery_base.set(format!("http://{reachable}"));

    let mut tasks = vec![
        serve(
            p_listener,
            personalize_router(&state),
            Api::Personalize,
            config.limits,
            stop_rx.clone(),
        ),
        serve(
            d_listener,
            delivery_router(&state),
            Api::Delivery,
            config.limits,
            stop_rx.clone(),
        ),
    ];
    let weak = Arc::downgrade(&state);
    let record = move |ok: bool| {
        if let Some(state) = weak.upgrade() {
            state
                .metrics
                .webhook(if ok { "delivered" } else { "failed" });
        }
    };
    let mut hooks_stop = stop_rx.clone();
    tasks.push(tokio::spawn(async move {
        tokio::select! {
            () = delivery_task(hooks_rx, record) => {}
            _ = hooks_stop.wait_for(|s| *s) => {}
        }
    }));
    if config.auto_timeline {
        let weak = Arc::downgrade(&state);
        let mut ticker_stop = stop_rx;
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = ticker_stop.wait_for(|s| *s) => return,
                }
                let Some(state) = weak.upgrade() else { return };
                deliver_due(&state, state.now());
            }
        }));
    }
    Ok(RunningMocks {
        personalize_url: format!("http://{p_addr}"),
        delivery_url: format!("http://{d_addr}"),
        state,
        stop,
        tasks,
    })
}

fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    api: Api,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    ttlab_http_serve::serve(listener, router, limits, MockShape(api), shutdown).task
}

/// Errors the HTTP stack makes (limits, 405, rejections) in the mock's
/// own error shape: Personalize's `{"error", "message"}`, Delivery's
/// `{"error_message", "error_code", "errors"}`. Every error the mocks
/// build themselves is JSON already.
#[derive(Clone, Copy)]
struct MockShape(Api);

impl ttlab_http_serve::ErrorShape for MockShape {
    fn error(&self, _path: &str, status: StatusCode, message: &str) -> Response {
        match self.0 {
            Api::Personalize => {
                errors::personalize(status.as_u16(), &personalize_code(status), message)
            }
            Api::Delivery => errors::delivery(
                status.as_u16(),
                u32::from(status.as_u16()),
                message,
                serde_json::json!({}),
            ),
        }
    }

    fn is_shaped(&self, _path: &str, response: &Response) -> bool {
        ttlab_http_serve::is_json(response)
    }
}

/// A Personalize error code for a status the stack answers:
/// `personalize.` and the status's reason in capitals (`NOT_FOUND`,
/// `METHOD_NOT_ALLOWED`, `PAYLOAD_TOO_LARGE`, `REQUEST_TIMEOUT`), with
/// 431 as `HEADERS_TOO_LARGE`, the code the mock has always used.
fn personalize_code(status: StatusCode) -> String {
    if status == StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE {
        return "personalize.HEADERS_TOO_LARGE".to_owned();
    }
    let reason = status.canonical_reason().unwrap_or("ERROR");
    format!(
        "personalize.{}",
        reason
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            })
            .collect::<String>()
    )
}

fn personalize_router(state: &Arc<MockState>) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::OPTIONS])
        .allow_headers(
            [
                "x-project-uid",
                "x-cs-personalize-user-uid",
                "x-user-agent",
                "x-live-attributes",
                "x-page-url",
                "x-lytics-id-field",
                "x-lytics-id-value",
                "content-type",
            ]
            .map(HeaderName::from_static),
        )
        .expose_headers([HeaderName::from_static(personalize::USER_UID_HEADER)]);
    Router::new()
        .route("/manifest", get(personalize::manifest))
        .route("/user-attributes", patch(personalize::user_attributes))
        .route("/events", post(personalize::events))
        .route("/user-attributes/actions/merge", post(personalize::merge))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            public_personalize,
        ))
        .fallback(unknown_personalize)
        // The public API answers browsers (the SDKs run there); the
        // control surface under /_ttlab/ does not, so no web page a user
        // has open can drive the mocks: CORS wraps only what came before.
        .layer(cors)
        .merge(control::router())
        .with_state(state.clone())
}

fn delivery_router(state: &Arc<MockState>) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::OPTIONS])
        .allow_headers(
            [
                "api_key",
                "access_token",
                "branch",
                "x-cs-variant-uid",
                "x-user-agent",
                "x-header-ea",
            ]
            .map(HeaderName::from_static),
        );
    Router::new()
        .route("/v3/content_types/{ct}/entries/{uid}", get(delivery::entry))
        .route("/v3/content_types/{ct}/entries", get(delivery::entries))
        .route("/v3/content_types/{ct}", get(delivery::content_type))
        .route("/v3/content_types", get(delivery::content_types))
        .route("/v3/assets/{uid}", get(delivery::asset))
        .route("/v3/assets", get(delivery::assets))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            public_delivery,
        ))
        // Asset files: the images host's path, counted by the handler and
        // not faulted (the scenario's faults describe the API).
        .route(
            "/v3/assets/{api_key}/{uid}/{version}/{filename}",
            get(assets::asset_file),
        )
        .fallback(unknown_delivery)
        // The public API answers browsers (the SDKs run there); the
        // control surface under /_ttlab/ does not, so no web page a user
        // has open can drive the mocks: CORS wraps only what came before.
        .layer(cors)
        .merge(control::router())
        .with_state(state.clone())
}

fn endpoint(path: Option<&MatchedPath>) -> Endpoint {
    match path.map(MatchedPath::as_str) {
        Some("/manifest") => Endpoint::Manifest,
        Some("/user-attributes") => Endpoint::UserAttributes,
        Some("/events") => Endpoint::Events,
        Some("/user-attributes/actions/merge") => Endpoint::Merge,
        Some("/v3/content_types/{ct}/entries/{uid}") => Endpoint::Entry,
        Some("/v3/content_types/{ct}/entries") => Endpoint::Entries,
        Some("/v3/content_types/{ct}") => Endpoint::ContentType,
        Some("/v3/content_types") => Endpoint::ContentTypes,
        Some("/v3/assets/{uid}") => Endpoint::Asset,
        Some("/v3/assets") => Endpoint::Assets,
        _ => Endpoint::Unknown,
    }
}

/// Faults, then the handler; every answer counted.
async fn public(api: Api, state: &MockState, req: Request, next: Next) -> Response {
    let ep = endpoint(req.extensions().get::<MatchedPath>());
    let injector = match api {
        Api::Personalize => &state.personalize_faults,
        Api::Delivery => &state.delivery_faults,
    };
    let resp = match inject::apply(injector, state).await {
        Some(resp) => resp,
        None => next.run(req).await,
    };
    state.metrics.request(api, ep, resp.status().as_u16());
    resp
}

async fn public_personalize(State(s): State<Arc<MockState>>, req: Request, next: Next) -> Response {
    public(Api::Personalize, &s, req, next).await
}

async fn public_delivery(State(s): State<Arc<MockState>>, req: Request, next: Next) -> Response {
    public(Api::Delivery, &s, req, next).await
}

async fn unknown_personalize(State(s): State<Arc<MockState>>, req: Request) -> Response {
    s.metrics.request(Api::Personalize, Endpoint::Unknown, 404);
    errors::personalize(
        404,
        "personalize.NOT_FOUND",
        &format!("No route for {} {}", req.method(), req.uri().path()),
    )
}

async fn unknown_delivery(State(s): State<Arc<MockState>>, req: Request) -> Response {
    s.metrics.request(Api::Delivery, Endpoint::Unknown, 404);
    errors::delivery(
        404,
        404,
        &format!("No route for {} {}", req.method(), req.uri().path()),
        serde_json::json!({}),
    )
}
