//! The platforms' answer deadline: Slack and Discord show an error when a request is not
//! answered within 3 seconds, even when the work behind it succeeds a moment later. A
//! handler runs its work [`Deadline::within`] a budget under that deadline; work that is still going
//! when the budget runs out goes on, and its output goes to a continuation that sends the
//! real answer, while the adapter answers "still working" now. Nothing is cancelled.
//!
//! Work that blocks (store reads and writes wait for the disk) runs [`off_the_runtime`], so
//! that a slow disk holds up only the requests that need it, never every request.

use std::future::Future;
use std::time::Duration;
use tokio_util::task::TaskTracker;

/// How long a handler waits for its work before answering without it: the platforms allow
/// 3 seconds, and the answer still has to travel back.
pub const ANSWER_WITHIN: Duration = Duration::from_millis(2500);

/// How long a stopping process waits for late answers: a store slow enough to make an
/// answer late is given this long to recover.
pub const FINISH_WITHIN: Duration = Duration::from_secs(10);

/// How long a handler waits for its work, and the work that outlived that wait: a
/// process that stops waits for it (see [`Deadline::finish`]), so that a request answered
/// "still working" still gets its real answer.
#[derive(Clone)]
pub struct Deadline {
    budget: Duration,
    late: TaskTracker,
}

impl Default for Deadline {
    fn default() -> Self {
        Deadline::new(ANSWER_WITHIN)
    }
}

impl Deadline {
    pub fn new(budget: Duration) -> Self {
        Deadline {
            budget,
            late: TaskTracker::new(),
        }
    }

    /// Awaits `work` for at most the budget: its output when it is done in time.
    /// Otherwise `None`, and the work goes on in a task of its own, which hands its output
    /// to `later`.
    pub async fn within<T, Later>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
        later: impl FnOnce(T) -> Later + Send + 'static,
    ) -> Option<T>
    where
        T: Send + 'static,
        Later: Future<Output = ()> + Send + 'static,
    {
        let mut work = Box::pin(work);
        match tokio::time::timeout(self.budget, &mut work).await {
            Ok(done) => Some(done),
            Err(_) => {
                self.late.spawn(async move { later(work.await).await });
                None
            }
        }
    }

    /// For shutting down, once no new request can arrive: waits, at most `limit`, for
    /// the late work still running and its continuations. The number of tasks still
    /// running when the limit ran out, which are dropped with the runtime.
    pub async fn finish(&self, limit: Duration) -> usize {
        self.late.close();
        if tokio::time::timeout(limit, self.late.wait()).await.is_ok() {
            return 0;
        }
        let left = self.late.len();
        tracing::warn!(
            left,
            "stopping with late answers unfinished: their requests were acknowledged, \
             and their answers are lost"
        );
        left
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
        let quick = Deadline::new(Duration::from_secs(1))
            .within(async { 7 }, |_| async {})
            .await;
        assert_eq!(quick, Some(7));

        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let (handed, handed_rx) = tokio::sync::oneshot::channel::<u32>();
        let slow = Deadline::new(Duration::from_millis(50))
            .within(
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

    #[tokio::test]
    async fn finishing_waits_for_late_work_and_its_continuation_up_to_a_limit() {
        let deadline = Deadline::new(Duration::from_millis(10));
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let handed = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let seen = handed.clone();
        let slow = deadline
            .within(async move { rx.await.unwrap_or(0) }, move |n| async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                seen.store(n, std::sync::atomic::Ordering::SeqCst);
            })
            .await;
        assert_eq!(slow, None);

        assert_eq!(
            deadline.finish(Duration::from_millis(50)).await,
            1,
            "late work still waiting when the limit runs out is counted"
        );
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            let _ = tx.send(7);
        });
        assert_eq!(deadline.finish(Duration::from_secs(10)).await, 0);
        assert_eq!(
            handed.load(std::sync::atomic::Ordering::SeqCst),
            7,
            "finishing returns once the continuation is done"
        );
    }
}
