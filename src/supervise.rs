//! Worker tasks that outlive their panics. A panic in a background task (the campaign
//! senders, the mail worker, a scheduled job) must not end the process nor leave the work
//! undone in silence: it is caught at the task's edge, logged with the task's name (never the
//! panic's message, which may quote a value), counted in `vocation_worker_panics_total`, and
//! the task starts again. Work that panics on one item (a poison message) is caught around
//! that item with [`catch`], so that the item fails and the rest goes on.
//!
//! This relies on unwinding: the release and dev profiles keep Rust's default
//! `panic = "unwind"` (Cargo.toml must never set `panic = "abort"`). A stack overflow is not a
//! panic and cannot be caught: staff templates, the only input that could recurse, are
//! bounded by [`crate::templates::guard`].

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tokio::sync::watch;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabels {
    task: &'static str,
}

/// Panics caught, by task, since the process started (shared by every [`crate::metrics`]
/// registry of the process).
pub fn panics() -> &'static Family<TaskLabels, Counter> {
    static PANICS: OnceLock<Family<TaskLabels, Counter>> = OnceLock::new();
    PANICS.get_or_init(Family::default)
}

/// How many panics of `task` were caught (for tests and reports).
pub fn panic_count(task: &'static str) -> u64 {
    panics().get_or_create(&TaskLabels { task }).get()
}

fn report(task: &'static str) {
    panics().get_or_create(&TaskLabels { task }).inc();
    tracing::error!(task, "worker task panicked; it was contained and goes on");
}

/// Runs `f`, turning a panic into `None` (reported under `task`).
pub fn catch<T>(task: &'static str, f: impl FnOnce() -> T) -> Option<T> {
    match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => Some(v),
        Err(_) => {
            report(task);
            None
        }
    }
}

/// Aborts a spawned task when dropped (when the supervisor itself is aborted or dropped).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `fut` as a task of its own; a panic gives `None` (reported under `task`).
pub async fn contained<Fut>(task: &'static str, fut: Fut) -> Option<Fut::Output>
where
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    let handle = tokio::spawn(fut);
    let _abort = AbortOnDrop(handle.abort_handle());
    match handle.await {
        Ok(v) => Some(v),
        Err(e) => {
            if e.is_panic() {
                report(task);
            }
            None
        }
    }
}

/// Runs the task `start` makes until it returns; after a panic, starts a new one a second
/// later, unless `stop` turned true meanwhile.
pub async fn supervised<F, Fut>(task: &'static str, stop: watch::Receiver<bool>, mut start: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        if contained(task, start()).await.is_some() || *stop.borrow() {
            return;
        }
        let mut stop = stop.clone();
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn no_profile_aborts_on_panic() {
        // Containment needs unwinding: `panic = "abort"` in any profile would end the process
        // at the first panic of a worker.
        let manifest = include_str!("../Cargo.toml");
        let aborts = manifest
            .lines()
            .map(|l| l.split('#').next().unwrap_or_default().replace(' ', ""))
            .any(|l| l.starts_with("panic=") && l.contains("abort"));
        assert!(!aborts, "Cargo.toml sets panic = \"abort\"");
    }

    #[tokio::test]
    async fn a_panicking_task_is_counted_and_started_again() {
        let before = panic_count("test_supervised");
        let runs = Arc::new(AtomicUsize::new(0));
        let (_tx, rx) = watch::channel(false);
        let counter = runs.clone();
        supervised("test_supervised", rx, move || {
            let counter = counter.clone();
            async move {
                if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                    panic!("first run fails");
                }
            }
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(panic_count("test_supervised"), before + 1);
        assert_eq!(catch("test_catch", || -> i32 { panic!("x") }), None);
        assert_eq!(catch("test_catch", || 3), Some(3));
    }
}
