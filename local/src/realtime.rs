//! The local deployment's realtime half: the connection store (memory, or the same DynamoDB
//! table), the WebSocket listener with its `@connections` API, the ws functions behind it, and
//! the real `Push` (`WebSocketPush` over the `aws-sdk-apigatewaymanagement` adapter, pointed at
//! this listener), which the other functions hand their events to.

use crate::config::LocalConfig;
use crate::websocket::{Registry, WsGateway};
use anyhow::Context as _;
use chatman::adapters::apigw::ApiGatewayConnections;
use chatman::adapters::dynamodb::DynamoConnections;
use chatman::adapters::memory_connections::MemoryConnections;
use chatman::adapters::memory_expiry::Expiring;
use chatman::adapters::websocket_push::WebSocketPush;
use chatman::handlers::websocket::WsFunction;
use chatman::handlers::{
    Context, ws_actions::Actions, ws_connect::WsConnect, ws_disconnect::WsDisconnect,
    ws_message::WsMessage,
};
use chatman::ports::{ConnectionApi, ConnectionStore, Push};
use chatman::services::socket_sweep::SocketSweep;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// The bound WebSocket listener and what the HTTP side needs from it.
pub struct Realtime {
    pub addr: SocketAddr,
    pub connections: Arc<dyn ConnectionStore>,
    pub push: Arc<dyn Push>,
    /// `@connections` of this listener through the SDK adapter (closing, posting).
    pub api: Arc<dyn ConnectionApi>,
    pub registry: Arc<Registry>,
    /// The memory connection store's expiry (none on DynamoDB, whose TTL does it).
    pub expiring: Option<Arc<dyn Expiring>>,
    listener: TcpListener,
}

impl Realtime {
    /// `ws://host:port`: where tickets send clients.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/", self.addr)
    }

    /// `http://host:port`: the `@connections` endpoint the SDK adapter is given.
    pub fn management_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What the functions that end sessions close their sockets with.
    pub fn sweep(&self, ctx: &Context) -> SocketSweep {
        SocketSweep::new(
            self.connections.clone(),
            self.api.clone(),
            ctx.clock.clone(),
        )
    }
}

/// Binds the WebSocket port and builds the store and the push (nothing is served yet).
pub async fn bind(config: &LocalConfig, ctx: &Context) -> anyhow::Result<Realtime> {
    let listener = TcpListener::bind((config.host.as_str(), config.ws_port))
        .await
        .with_context(|| format!("binding {}:{}", config.host, config.ws_port))?;
    let addr = listener.local_addr()?;
    let (connections, expiring): (Arc<dyn ConnectionStore>, Option<Arc<dyn Expiring>>) =
        match &config.dynamodb_endpoint {
            None => {
                let memory = Arc::new(MemoryConnections::new(ctx.store.clone()));
                (memory.clone(), Some(memory))
            }
            Some(endpoint) => {
                let aws = chatman::adapters::aws::local(endpoint);
                let store = DynamoConnections::new(
                    aws_sdk_dynamodb::Client::new(&aws),
                    config.table.clone(),
                );
                (Arc::new(store), None)
            }
        };
    let management = format!("http://{addr}");
    let api: Arc<dyn ConnectionApi> = Arc::new(ApiGatewayConnections::new(
        &chatman::adapters::aws::local(&management),
        &management,
    ));
    let push: Arc<dyn Push> = Arc::new(WebSocketPush::new(
        connections.clone(),
        api.clone(),
        ctx.clock.clone(),
    ));
    Ok(Realtime {
        addr,
        connections,
        push,
        api,
        registry: Arc::new(Registry::default()),
        expiring,
        listener,
    })
}

/// Serves the WebSocket API with its functions until the task is aborted.
pub fn serve(
    realtime: Realtime,
    ctx: &Context,
    actions: Actions,
    config: &LocalConfig,
) -> tokio::task::JoinHandle<()> {
    let Realtime {
        addr,
        connections,
        api,
        registry,
        listener,
        ..
    } = realtime;
    let functions: HashMap<&'static str, Arc<dyn WsFunction>> = HashMap::from([
        (
            "ws-connect",
            Arc::new(WsConnect::new(
                ctx.clone(),
                connections.clone(),
                api.clone(),
            )) as Arc<dyn WsFunction>,
        ),
        (
            "ws-disconnect",
            Arc::new(WsDisconnect::new(ctx.store.clone(), connections.clone())),
        ),
        (
            "ws-message",
            Arc::new(WsMessage::new(ctx.clone(), connections, api, actions)),
        ),
    ]);
    let gateway = Arc::new(WsGateway {
        functions,
        registry,
        domain: addr.to_string(),
        hosts: crate::host_check::AllowedHosts::new(&config.host),
        idle_timeout: std::time::Duration::from_secs(config.ws_idle_timeout.max(1)),
        post_latency: std::time::Duration::from_millis(config.ws_post_latency_ms),
    });
    tokio::spawn(async move {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            };
            let gateway = gateway.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let gateway = gateway.clone();
                    async move { Ok::<_, std::convert::Infallible>(gateway.serve(req, peer).await) }
                });
                if let Err(e) = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await
                {
                    tracing::debug!(error = %e, "connection ended");
                }
            });
        }
    })
}
