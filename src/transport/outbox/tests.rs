use std::{sync::Arc, time::Duration};

use prost::Message as _;

use super::*;
use crate::pb::{Cast, envelope::Body};

fn cast(to: u64, len: usize) -> pb::Envelope {
    Body::Cast(Cast {
        to,
        variant: "Data".into(),
        args: vec![0; len],
        traceparent: String::new(),
    })
    .into()
}

fn decode(runs: Vec<pb::Queued>) -> Vec<u64> {
    pb::Frame::decode(pb::Frame::queued(runs).encode_to_vec().as_slice())
        .expect("whole envelopes")
        .envelopes
        .into_iter()
        .map(|e| match e.body {
            Some(Body::Cast(c)) => c.to,
            other => panic!("not a cast: {other:?}"),
        })
        .collect()
}

#[test]
fn envelopes_come_out_in_order_in_frames_within_the_budget() {
    let len = pb::framed_len(&cast(1, 100));
    let outbox = Outbox::new(1 << 20, 1 << 20, 1 << 20, 3 * len + 1);
    for to in 1..=10 {
        outbox.push(cast(to, 100), Bound::Limit).expect("room");
    }
    assert_eq!(outbox.held(), 10 * len);
    let mut seen = Vec::new();
    while let Some(runs) = outbox.try_take() {
        let bytes = pb::Frame::queued(runs.clone()).encoded_len();
        assert!(bytes <= 3 * len + 1, "{bytes}");
        let bytes = runs;
        seen.extend(decode(bytes));
    }
    assert_eq!(seen, (1..=10).collect::<Vec<_>>());
    assert_eq!(outbox.held(), 0);
}

#[test]
fn an_envelope_larger_than_the_budget_goes_alone() {
    let outbox = Outbox::new(1 << 20, 1 << 20, 1 << 20, 100);
    outbox.push(cast(1, 10), Bound::Limit).expect("room");
    outbox.push(cast(2, 5000), Bound::Limit).expect("room");
    outbox.push(cast(3, 10), Bound::Limit).expect("room");
    assert_eq!(outbox.try_take().map(decode), Some(vec![1]));
    assert_eq!(outbox.try_take().map(decode), Some(vec![2]));
    assert_eq!(outbox.try_take().map(decode), Some(vec![3]));
    assert_eq!(outbox.try_take(), None);
}

#[test]
fn past_the_limit_sends_are_refused_and_control_still_passes() {
    let len = pb::framed_len(&cast(1, 100));
    let outbox = Outbox::new(len, 3 * len, 1 << 20, 1 << 20);
    for to in 1..=3 {
        outbox
            .push(cast(to, 100), Bound::Limit)
            .expect("under the limit");
    }
    assert_eq!(
        outbox.push(cast(3, 100), Bound::Limit),
        Err(Refused::Full {
            queued: 3 * len,
            limit: 3 * len
        })
    );
    outbox.push(cast(4, 100), Bound::Control).expect("control");
    assert_eq!(outbox.try_take().map(decode), Some(vec![1, 2, 3, 4]));
    outbox.push(cast(5, 100), Bound::Limit).expect("room again");
}

#[test]
fn too_large_is_refused_whatever_the_bound() {
    let outbox = Outbox::new(1 << 20, 1 << 20, 500, 1 << 20);
    for bound in [Bound::Control, Bound::Limit, Bound::Reserved(0)] {
        assert!(matches!(
            outbox.push(cast(1, 600), bound),
            Err(Refused::TooLarge(n)) if n > 600
        ));
    }
    assert_eq!(outbox.held(), 0);
}

#[test]
fn a_closed_outbox_refuses_everything_and_still_hands_over_what_it_held() {
    let outbox = Outbox::new(1 << 20, 1 << 20, 1 << 20, 1 << 20);
    outbox.push(cast(1, 10), Bound::Limit).expect("open");
    outbox.close();
    for bound in [Bound::Control, Bound::Limit, Bound::Reserved(0)] {
        assert_eq!(outbox.push(cast(2, 10), bound), Err(Refused::Closed));
    }
    assert_eq!(outbox.try_take().map(decode), Some(vec![1]));
}

#[tokio::test]
async fn reserve_waits_for_room_and_a_reserved_push_is_never_refused() {
    let len = pb::framed_len(&cast(1, 100));
    let outbox = Arc::new(Outbox::new(2 * len, 2 * len, 1 << 20, 1 << 20));
    outbox.reserve(len, 0).await.expect("room");
    outbox.reserve(len, 0).await.expect("room");
    // Reservations count: a cast past the limit is refused...
    assert!(matches!(
        outbox.push(cast(9, 100), Bound::Limit),
        Err(Refused::Full { .. })
    ));
    // ...and the reserved pushes are taken.
    outbox
        .push(cast(1, 100), Bound::Reserved(len))
        .expect("reserved");
    outbox
        .push(cast(2, 100), Bound::Reserved(len))
        .expect("reserved");
    // A third reservation waits until the writer takes something.
    let waiting = tokio::spawn({
        let outbox = outbox.clone();
        async move { outbox.reserve(len, 0).await }
    });
    tokio::task::yield_now().await;
    assert!(!waiting.is_finished(), "the outbox is full");
    assert_eq!(outbox.try_take().map(decode), Some(vec![1, 2]));
    let reserved = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("woken by the take")
        .expect("the task ran");
    assert_eq!(reserved, Ok(()));
    assert_eq!(outbox.held(), len);
    outbox.release(len);
    assert_eq!(outbox.held(), 0);
}

#[tokio::test]
async fn a_waiting_reservation_ends_when_the_outbox_closes() {
    let outbox = Arc::new(Outbox::new(1, 1, 1 << 20, 1 << 20));
    outbox.reserve(10, 0).await.expect("room");
    let waiting = tokio::spawn({
        let outbox = outbox.clone();
        async move { outbox.reserve(10, 0).await }
    });
    tokio::task::yield_now().await;
    outbox.close();
    let result = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("woken by the close")
        .expect("the task ran");
    assert_eq!(result, Err(Refused::Closed));
}

#[tokio::test]
async fn take_waits_for_bytes_and_ends_with_the_outbox() {
    let outbox = Arc::new(Outbox::new(1 << 20, 1 << 20, 1 << 20, 1 << 20));
    let writer = tokio::spawn({
        let outbox = outbox.clone();
        async move {
            let mut seen = Vec::new();
            while let Some(bytes) = outbox.take().await {
                seen.extend(decode(bytes));
            }
            seen
        }
    });
    for to in 0..100 {
        outbox.push(cast(to, 10), Bound::Limit).expect("room");
        if to % 10 == 0 {
            tokio::task::yield_now().await;
        }
    }
    outbox.close();
    let seen = tokio::time::timeout(Duration::from_secs(5), writer)
        .await
        .expect("the writer ends")
        .expect("the task ran");
    assert_eq!(seen, (0..100).collect::<Vec<_>>());
}

#[test]
fn large_envelopes_keep_their_place_among_small_ones() {
    let outbox = Outbox::new(1 << 20, 1 << 20, 1 << 20, 1 << 20);
    for to in 1..=9 {
        let len = if to % 3 == 0 { 2 * INLINE_MAX } else { 10 };
        outbox.push(cast(to, len), Bound::Limit).expect("room");
    }
    let runs = outbox.try_take().expect("queued");
    assert!(
        runs.iter().any(|r| matches!(r, pb::Queued::Envelope(_))),
        "large envelopes are queued as they are"
    );
    assert_eq!(decode(runs), (1..=9).collect::<Vec<_>>());
    assert_eq!(outbox.held(), 0);
}
