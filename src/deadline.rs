//! The platforms' answer deadline: Slack and Discord show an error when a request is not
//! answered within 3 seconds, even when the work behind it succeeds a moment later. A
//! handler runs its work [`within`] a budget under that deadline; work that is still going
//! when the budget runs out goes on, and its output goes to a continuation that sends the
//! real answer, while the adapter answers "still working" now. Nothing is cancelled.
//!
//! Work that blocks (store reads and writes wait for the disk) runs [`off_the_runtime`], so
//! that a slow disk holds up only the requests that need it, never every request.

use std::future::Future;
use std::time::Duration;

/// How long a handler waits for its work before answering without it: the platforms allow
/// 3 seconds, and the answer still has to travel back.
pub const ANSWER_WITHIN: Duration = Duration::from_millis(2500);

/// Awaits `work` for at most `budget`: its output when it is done in time. Otherwise
/// `None`, and the work goes on in a task of its own, which hands its output to `later`.
pub async fn within<T, Later>(
    budget: Duration,
    work: impl Future<Output = T> + Send + 'static,
    later: impl FnOnce(T) -> Later + Send + 'static,
) -> Option<T>
where
    T: Send + 'static,
    Later: Future<Output = ()> + Send + 'static,
{
    let mut work = Box::pin(work);
    match tokio::time::timeout(budget, &mut work).await {
        Ok(done) => Some(done),
        Err(_) => {
            tokio::spawn(async move { later(work.await).await });
            None
        }
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
    async fn work_done_in_time_is_answered_and_late_work_goes_on_to_its_continuation() {
        let quick = within(Duration::from_secs(1), async { 7 }, |_| async {}).await;
        assert_eq!(quick, Some(7));

        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let (handed, handed_rx) = tokio::sync::oneshot::channel::<u32>();
        let slow = within(
            Duration::from_millis(50),
            async move { rx.await.unwrap_or(0) + 1 },
            move |n| async move {
                let _ = handed.send(n);
            },
        )
        .await;
        assert_eq!(
            slow, None,
            "work waiting on a channel cannot finish within the budget"
        );
        // The late work was not cancelled: it finishes once what it waits for arrives,
        // and its output reaches the continuation.
        tx.send(41).unwrap();
        assert_eq!(handed_rx.await.unwrap(), 42);
    }
}
