//! Which failed calls count as never sent, so that a write may go to another replica.

use tonic::Status;

use super::rpc::never_sent;

/// Found by the chaos suite (isolate-leader, seed 1): a write whose connection was
/// dropped by the keep-alive after it was sent came back `Unavailable` and was sent
/// again to the next leader, so a counter counted one ADD twice.
#[test]
fn only_connect_failures_count_as_never_sent() {
    assert!(never_sent(&Status::unavailable("tcp connect error")));
    assert!(!never_sent(&Status::unavailable("http2 error")));
    assert!(!never_sent(&Status::unknown("transport error")));
    assert!(!never_sent(&Status::deadline_exceeded(
        "no answer within 5000 ms"
    )));
}
