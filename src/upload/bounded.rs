//! Bounded concurrency shared by the network destinations: at most `limit` items in flight,
//! and after the first failure no new item starts while those already running finish, so
//! nothing is left half-done by cancellation.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::stream::{self, StreamExt as _};

/// Runs `work` on every item, at most `limit` at once. Returns, in item order, `None` for
/// items not started because an earlier one failed, else the item's result.
pub(crate) async fn run<'a, T, R, E, F, Fut>(
    items: &'a [T],
    limit: usize,
    work: F,
) -> Vec<Option<Result<R, E>>>
where
    F: Fn(&'a T) -> Fut,
    Fut: Future<Output = Result<R, E>>,
{
    let stopped = AtomicBool::new(false);
    let mut results: Vec<Option<Result<R, E>>> = (0..items.len()).map(|_| None).collect();
    let mut running = stream::iter(items.iter().enumerate())
        .map(|(index, item)| {
            let (stopped, work) = (&stopped, &work);
            async move {
                if stopped.load(Ordering::Relaxed) {
                    return (index, None);
                }
                let result = work(item).await;
                if result.is_err() {
                    stopped.store(true, Ordering::Relaxed);
                }
                (index, Some(result))
            }
        })
        .buffer_unordered(limit.max(1));
    while let Some((index, result)) = running.next().await {
        results[index] = result;
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_starting_after_a_failure() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let items: Vec<u32> = (0..10).collect();
        let results = runtime.block_on(run(&items, 1, |&n| async move {
            if n == 3 { Err(n) } else { Ok(n * 2) }
        }));
        assert!(matches!(results[2], Some(Ok(4))));
        assert!(matches!(results[3], Some(Err(3))));
        assert!(
            results[4..].iter().all(Option::is_none),
            "nothing started after the failure"
        );
    }
}
