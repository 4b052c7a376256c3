//! A store outage enacted for real: a loopback TCP proxy that ttlab puts
//! between an architecture's caching layers and Redis, which cuts every
//! connection through it and refuses new ones while the run clock is inside
//! one of the scenario's `store_outage` windows, and passes bytes through
//! otherwise.
//!
//! The layers then meet what they meet when Redis goes away on a network:
//! their calls fail at once (a closed connection, a refused reconnect), the
//! Redis client's connection manager reconnects by itself, and the layer's
//! own health record bypasses the cache and retries — the same code path as
//! a crashed Redis, without killing it. Redis keeps what it held: entries
//! stored before the outage are still there afterwards, and purges missed
//! meanwhile are retried by the layer. See `docs/decisions.md`.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use ttlab_scenarios::model::within_windows as inside;
use ttlab_scenarios::{Clock, Micros};

use super::error::RunError;

/// How often the proxy reads the run clock to open or close its gate: the
/// windows are enacted to within this.
const TICK: Duration = Duration::from_millis(2);

/// The running proxy; dropping it stops it and every connection through it.
pub(super) struct StoreCut {
    /// The Redis URL the layers are given: the proxy's address with the
    /// original URL's credentials, database and options.
    pub url: String,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// A `redis://` URL split around its address: what goes before it (the
/// scheme and any credentials), the `host:port`, and the rest (database,
/// options).
fn split_url(url: &str) -> Option<(String, String, String)> {
    let rest = url.strip_prefix("redis://")?;
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (auth, hostport) = match authority.rfind('@') {
        Some(i) => (&authority[..=i], &authority[i + 1..]),
        None => ("", authority),
    };
    if hostport.is_empty() {
        return None;
    }
    let has_port = match hostport.rfind(']') {
        // [v6]:port
        Some(close) => hostport[close..].contains(':'),
        None => hostport.contains(':'),
    };
    let address = if has_port {
        hostport.to_owned()
    } else {
        format!("{hostport}:6379")
    };
    Some((format!("redis://{auth}"), address, tail.to_owned()))
}

impl StoreCut {
    /// Starts the proxy in front of the Redis at `redis_url`, closed during
    /// `windows` on `clock`.
    pub(super) async fn start(
        redis_url: &str,
        windows: Vec<(Micros, Micros)>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, RunError> {
        let (before, upstream, after) = split_url(redis_url).ok_or_else(|| {
            RunError::Scenario(format!(
                "store_outage: a real run cuts Redis connections through a TCP proxy, which needs a redis:// URL with a host; {redis_url:?} is not one (rediss:// and unix:// are not proxied)"
            ))
        })?;
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| RunError::Scenario(format!("store_outage: the Redis proxy: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| RunError::Scenario(format!("store_outage: the Redis proxy: {e}")))?
            .port();
        let url = format!("{before}127.0.0.1:{port}{after}");
        let (stop, stop_rx) = watch::channel(false);
        let (down_tx, down) = watch::channel(inside(&windows, clock.now()));
        let mut stopped = stop_rx.clone();
        let gate = tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.wait_for(|s| *s) => return,
                }
                let now = clock.now();
                let d = inside(&windows, now);
                down_tx.send_if_modified(|was| {
                    if *was == d {
                        return false;
                    }
                    tracing::info!(at = %now, down = d, "store outage window: Redis connections {}", if d { "cut" } else { "allowed again" });
                    *was = d;
                    true
                });
            }
        });
        let accept = tokio::spawn(accept_loop(listener, upstream, down, stop_rx));
        Ok(StoreCut {
            url,
            stop,
            tasks: vec![gate, accept],
        })
    }
}

impl Drop for StoreCut {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Accepts connections: refused (closed at once) while `down`, else piped
/// to `upstream` until either side closes, the gate closes, or the proxy
/// stops.
async fn accept_loop(
    listener: TcpListener,
    upstream: String,
    down: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|s| *s) => return,
        };
        let Ok((mut inbound, _)) = accepted else {
            continue;
        };
        if *down.borrow() {
            // Refused: the client sees the connection close before any reply.
            drop(inbound);
            continue;
        }
        let (upstream, mut down, mut stop) = (upstream.clone(), down.clone(), stop.clone());
        tokio::spawn(async move {
            let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                return;
            };
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            tokio::select! {
                _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                // Cut: both sides closed, whatever was in flight.
                _ = down.wait_for(|d| *d) => {}
                _ = stop.wait_for(|s| *s) => {}
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_everything_but_the_address() {
        assert_eq!(
            split_url("redis://127.0.0.1:6379/"),
            Some(("redis://".into(), "127.0.0.1:6379".into(), "/".into()))
        );
        assert_eq!(
            split_url("redis://u:p@cache.local/2?protocol=resp3"),
            Some((
                "redis://u:p@".into(),
                "cache.local:6379".into(),
                "/2?protocol=resp3".into()
            ))
        );
        assert_eq!(
            split_url("redis://[::1]:7000"),
            Some(("redis://".into(), "[::1]:7000".into(), String::new()))
        );
        assert_eq!(split_url("unix:///tmp/redis.sock"), None);
        assert_eq!(split_url("rediss://host:6380"), None);
    }
}
