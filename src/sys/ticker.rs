//! Keeping an idle glommio executor's reactor awake while it waits for a
//! peer executor.

/// Runs `fut` (a glommio shared-channel connect or mesh join) while a
/// timer wakes this executor every millisecond.
///
/// glommio's `Connector` waits for the other end of a shared channel by
/// parking a waker that only this executor's reactor ever wakes, and
/// only when the reactor runs: the peer connecting sends no wake-up. An
/// executor with nothing else to do sleeps through the peer's connect
/// and the join never finishes (seen as a start-up hang on loaded hosts,
/// several starts in 16 when many four-shard processes start at once).
/// The ticker keeps the reactor running until the connect completes.
pub async fn with_ticker<F: std::future::Future>(fut: F) -> F::Output {
    let ticker = async {
        loop {
            glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
        }
    };
    futures::pin_mut!(fut, ticker);
    match futures::future::select(fut, ticker).await {
        futures::future::Either::Left((out, _)) => out,
        futures::future::Either::Right(_) => unreachable!("the ticker never ends"),
    }
}
