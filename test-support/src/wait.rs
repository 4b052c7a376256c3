//! Bounded waits: poll a condition until it holds, or panic naming what was
//! awaited once the bound passes.
//!
//! Why not sleep: a fixed sleep is either too long (every run pays it) or too
//! short (a loaded CI machine fails it). Polling returns as soon as the thing
//! has happened, and the bound turns "never happened" into a clear failure
//! instead of a hang.

use std::time::{Duration, Instant};

/// How often a condition is polled: short enough that a test waits little
/// past the moment it holds, long enough not to busy a 2-core machine.
pub const POLL: Duration = Duration::from_millis(5);

/// Blocks until `condition` holds, polling it every [`POLL`]. Panics with
/// `what` (the thing awaited, e.g. "the server answers PING") when it still
/// does not hold after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    wait_for(timeout, what, || condition().then_some(()));
}

/// Blocks until `probe` returns `Some`, polling it every [`POLL`], and
/// returns the value. Panics naming `what` after `timeout`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting until {what}"
        );
        std::thread::sleep(POLL);
    }
}

/// The async form of [`wait_until`]: awaits `condition` every [`POLL`]
/// without blocking the runtime's thread. Panics naming `what` after
/// `timeout`.
pub async fn wait_until_async(
    timeout: Duration,
    what: &str,
    mut condition: impl AsyncFnMut() -> bool,
) {
    let deadline = Instant::now() + timeout;
    loop {
        if condition().await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting until {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn returns_once_the_condition_holds() {
        let calls = Cell::new(0);
        wait_until(Duration::from_secs(5), "the third poll", || {
            calls.set(calls.get() + 1);
            calls.get() == 3
        });
        assert_eq!(calls.get(), 3);
        assert_eq!(wait_for(Duration::from_secs(5), "a value", || Some(7)), 7);
    }

    #[test]
    #[should_panic(expected = "timed out after 20ms waiting until the moon is cheese")]
    fn panics_naming_what_was_awaited() {
        wait_until(Duration::from_millis(20), "the moon is cheese", || false);
    }

    #[tokio::test]
    async fn the_async_form_polls_an_async_condition() {
        let mut calls = 0;
        wait_until_async(Duration::from_secs(5), "the second poll", async || {
            calls += 1;
            calls == 2
        })
        .await;
        assert_eq!(calls, 2);
    }

    #[tokio::test]
    #[should_panic(expected = "waiting until nothing")]
    async fn the_async_form_panics_after_its_bound() {
        wait_until_async(Duration::from_millis(20), "nothing", async || false).await;
    }
}
