//! The waiter rules, with numbered callers standing in for reply ports.

use std::time::Duration;

use super::*;
use crate::transport::Direction;

fn session(id: SessionId, peer: Option<&str>, state: SessionState) -> SessionInfo {
    let mut s = SessionInfo::opened(id, Direction::Outbound, None);
    s.peer_name = peer.map(str::to_owned);
    s.state = state;
    s
}

fn later(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

/// The callers answered, and whether each got a session (its id) or an error.
fn who(answers: Vec<Answer<u32>>) -> Vec<(u32, Result<SessionId, ConnectError>)> {
    answers
        .into_iter()
        .map(|(caller, r)| (caller, r.map(|s| s.id)))
        .collect()
}

#[test]
fn client_connect_returns_when_the_stream_opens_and_connect_when_it_is_ready() {
    let mut w = Waiters::default();
    w.add(1, false, later(10), 100);
    w.add(1, true, later(10), 101);
    w.add(2, false, later(10), 200);
    assert_eq!(
        who(w.opened(&session(1, None, SessionState::Handshake))),
        [(100, Ok(1))]
    );
    assert_eq!(w.len(), 2);
    assert_eq!(
        who(w.ready(&session(1, Some("b"), SessionState::Ready))),
        [(101, Ok(1))]
    );
    assert_eq!(w.len(), 1, "the other session's caller still waits");
}

#[test]
fn a_failed_dial_answers_its_own_callers_only() {
    let mut w = Waiters::default();
    w.add(1, true, later(10), 1);
    w.add(1, false, later(10), 2);
    w.add(3, true, later(10), 3);
    let error = ConnectError::Unreachable {
        addr: "x".into(),
        detail: "refused".into(),
    };
    assert_eq!(
        who(w.failed(1, &error)),
        [(1, Err(error.clone())), (2, Err(error))]
    );
    assert_eq!(w.len(), 1);
}

#[test]
fn a_refused_session_reports_its_reason_as_a_connect_error() {
    let mut w = Waiters::default();
    w.add(4, true, later(10), 1);
    let reason = DisconnectReason::peer(DisconnectCause::BadCookie, "nope");
    assert_eq!(
        who(w.closed(4, Some("b"), &reason, None)),
        [(1, Err(ConnectError::BadCookie))]
    );
    // Not named yet, and a race cause: still the plain error.
    w.add(5, true, later(10), 2);
    let race = DisconnectReason::local(DisconnectCause::SimultaneousConnect, "race");
    assert!(matches!(
        who(w.closed(5, None, &race, None)).as_slice(),
        [(2, Err(ConnectError::Refused(_)))]
    ));
}

#[test]
fn a_dial_that_lost_a_race_follows_the_survivor() {
    let race = DisconnectReason::local(DisconnectCause::SimultaneousConnect, "race");
    // The survivor is ready: answered with it at once.
    let mut w = Waiters::default();
    w.add(1, true, later(10), 1);
    let survivor = session(9, Some("b"), SessionState::Ready);
    assert_eq!(
        who(w.closed(1, Some("b"), &race, Some(&survivor))),
        [(1, Ok(9))]
    );
    // The survivor is still setting up: wait for the peer instead.
    w.add(2, true, later(10), 2);
    let setting_up = session(9, Some("b"), SessionState::Authenticated);
    assert!(w.closed(2, Some("b"), &race, Some(&setting_up)).is_empty());
    assert!(
        w.ready(&session(11, Some("c"), SessionState::Ready))
            .is_empty()
    );
    assert_eq!(
        who(w.ready(&session(9, Some("b"), SessionState::Ready))),
        [(2, Ok(9))]
    );
    // Already connected and no session left with that peer: say so.
    w.add(3, true, later(10), 3);
    let already = DisconnectReason::local(DisconnectCause::AlreadyConnected, "dup");
    assert_eq!(
        who(w.closed(3, Some("b"), &already, None)),
        [(3, Err(ConnectError::AlreadyConnected { peer: "b".into() }))]
    );
}

#[test]
fn waiters_time_out_at_their_deadline_and_all_hear_a_stop() {
    let now = Instant::now();
    let mut w = Waiters::default();
    w.add(1, true, now, 1);
    w.add(2, true, now + Duration::from_secs(60), 2);
    assert_eq!(who(w.expired(now)), [(1, Err(ConnectError::Timeout))]);
    assert!(w.expired(now).is_empty());
    w.add(3, false, now, 3);
    assert_eq!(
        who(w.stopped()),
        [
            (2, Err(ConnectError::NodeStopped)),
            (3, Err(ConnectError::NodeStopped))
        ]
    );
    assert_eq!(w.len(), 0);
}
