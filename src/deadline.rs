//! The platforms' answer deadline: Slack and Discord show an error when a request is not
//! answered within 3 seconds, even when the work behind it succeeds a moment later. A
//! handler runs its work [`within`] a budget under that deadline; work that is still going
//! when the budget runs out is handed back, so the adapter can answer "still working" now
//! and send the real answer when the work is done. Nothing is cancelled.
//!
//! Work that blocks (store reads and writes wait for the disk) runs [`off_the_runtime`], so
//! that a slow disk holds up only the requests that need it, never every request.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// How long a handler waits for its work before answering without it: the platforms allow
/// 3 seconds, and the answer still has to travel back.
pub const ANSWER_WITHIN: Duration = Duration::from_millis(2500);

/// Work still running after its budget, to be awaited (or spawned) by the caller.
pub type Late<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Awaits `work` for at most `budget`: `Ok` with its output, or `Err` with the work itself,
/// still running, when the budget ran out first.
pub async fn within<T>(
    budget: Duration,
    work: impl Future<Output = T> + Send + 'static,
) -> Result<T, Late<T>> {
    let mut work: Late<T> = Box::pin(work);
    match tokio::time::timeout(budget, &mut work).await {
        Ok(done) => Ok(done),
        Err(_) => Err(work),
    }
}

/// Runs `work` on the blocking pool, where it may block (on the store) without holding up
/// the async workers; awaits inside it (calls to the platform) still run on the runtime's
/// drivers. `Err` when the work panicked.
pub async fn off_the_runtime<T: Send + 'static>(
    work: impl Future<Output = T> + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || runtime.block_on(work)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_done_in_time_is_answered_and_late_work_is_handed_back_unfinished() {
        let quick = within(Duration::from_secs(1), async { 7 }).await;
        assert!(matches!(quick, Ok(7)));

        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let slow = within(Duration::from_millis(50), async move {
            rx.await.unwrap_or(0) + 1
        })
        .await;
        let Err(rest) = slow else {
            panic!("work waiting on a channel cannot finish within the budget")
        };
        // The late work was not cancelled: it finishes once what it waits for arrives.
        tx.send(41).unwrap();
        assert_eq!(rest.await, 42);
    }
}
