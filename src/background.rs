//! A second runtime, on its own thread at a lower OS priority, for the work that can wait
//! while requests are answered: outbox delivery, the poll scheduler, cleanups. When the
//! machine is saturated, acknowledging users within Slack's and Discord's deadlines comes
//! first; deliveries catch up as soon as there is room, and they are durable meanwhile.

use std::future::Future;
use std::thread::JoinHandle;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// The niceness of background threads where the idle policy is not available: under
/// contention they get a sliver of the CPU, and all of it when it is idle.
const NICENESS: i32 = 19;

/// Asks the OS to run the calling thread, and the threads it starts, only when nothing
/// else wants the CPU. On Linux that is the `SCHED_IDLE` policy: a request's thread that
/// wakes takes the CPU back at once, instead of waiting out a background thread's time
/// slice as it would behind a merely niced thread. Elsewhere, or if the policy is refused,
/// the thread is niced instead.
pub fn lower_priority() {
    #[cfg(target_os = "linux")]
    if set_policy(libc::SCHED_IDLE).is_err() {
        // SAFETY: gettid has no preconditions; setpriority only reads its integer
        // arguments.
        unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, NICENESS);
        }
    }
}

/// Puts the calling thread under a (non-real-time) scheduling policy.
#[cfg(target_os = "linux")]
fn set_policy(policy: libc::c_int) -> std::io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: sched_setscheduler reads the param struct we pass, which lives across the
    // call.
    if unsafe { libc::sched_setscheduler(0, policy, &param) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

pub struct Background {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    /// Starts the runtime's thread.
    pub fn start() -> std::io::Result<Background> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("tradeoff-background".into())
            .spawn(move || {
                lower_priority();
                runtime.block_on(async {
                    let _ = stopped.await;
                });
            })?;
        Ok(Background {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.handle.spawn(task);
    }

    /// The runtime's handle, for code that spawns tasks of its own.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for Background {
    /// Stops the runtime: tasks still running are dropped at their next await.
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn a_lowered_thread_runs_only_when_the_cpu_is_otherwise_idle() {
        let policy = std::thread::spawn(|| {
            super::lower_priority();
            // SAFETY: sched_getscheduler only reads its pid argument.
            unsafe { libc::sched_getscheduler(0) }
        })
        .join()
        .unwrap();
        assert_eq!(policy, libc::SCHED_IDLE);
    }
}
