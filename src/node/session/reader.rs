//! The reader: the task that reads a Session stream and feeds the machine.
//!
//! It runs apart from the session actor so a slow network never blocks the
//! actor, and so traffic costs no actor hop: casts, calls and answers are
//! delivered here, and control envelopes (a challenge, an error answer) are
//! queued here too. What needs the actor (a claim, an advert, the peer's
//! Ready, a report, the end) is handed to it in order.
//!
//! It holds back reading while this node's actors hold more of the peer's
//! casts than the receive budget (see the inbox), so a slow actor's backlog
//! stays with the peer, whose queue limit bounds it.
//!
//! Everything the peer sent is carried out in the order it was sent: while
//! the actor still has handed-over actions to finish (an advert's proxies to
//! start, say), traffic is handed over behind them instead of delivered
//! here, so a message never overtakes an advert sent before it.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use ractor::ActorRef;
use tonic::{Status, Streaming};

use super::{
    driver::{SessionMsg, lock},
    machine::{Action, SessionMachine},
};
use crate::{
    pb,
    remote_actor::{Delivery, SessionLink},
};

/// Feeds the machine one read of the stream, arrived at `now`: a frame, the
/// stream's end, or the status it failed with (a frame that did not decode
/// among them). Returns whether the stream has ended.
pub(super) fn take(
    machine: &mut SessionMachine,
    next: Result<Option<pb::Frame>, Status>,
    now: Instant,
    out: &mut Vec<Action>,
) -> bool {
    match next {
        Ok(Some(frame)) => {
            machine.on_frame(frame, now, out);
            false
        }
        Ok(None) => {
            machine.inbound_ended(None, out);
            true
        }
        Err(status) => {
            machine.inbound_ended(Some(status), out);
            true
        }
    }
}

/// How often a reader holding back for room looks again without being woken
/// (an actor that stopped gives its charges back only when looked at).
const RECHECK: Duration = Duration::from_millis(50);

/// Holds back reading while this node's actors hold more of the peer's
/// casts than the receive budget: the peer's queue takes the backlog. Reads
/// on at once while this node has calls in flight on the session (an actor
/// may be waiting on one of their replies) or once the link ends. The
/// machine does not count the pause as the peer's silence.
async fn wait_for_room(link: &SessionLink, machine: &Mutex<SessionMachine>) {
    let inbox = &link.inbox;
    if !inbox.over_budget() {
        return;
    }
    lock(machine).hold_back(true, Instant::now());
    loop {
        inbox.reclaim_stopped();
        if !inbox.over_budget() || link.calls_in_flight() > 0 || link.is_closed() {
            break;
        }
        tokio::select! {
            () = inbox.changed() => {}
            () = link.ended() => break,
            () = tokio::time::sleep(RECHECK) => {}
        }
    }
    lock(machine).hold_back(false, Instant::now());
}

/// The most actions' room the reader keeps between reads.
const KEEP_ACTIONS: usize = 256;

/// Reads until the stream ends or the session actor is gone.
pub(super) async fn read(
    mut inbound: Streaming<pb::Frame>,
    machine: Arc<Mutex<SessionMachine>>,
    session: ActorRef<SessionMsg>,
    delivery: Delivery,
    handed_over: Arc<AtomicUsize>,
) {
    let mut actions = Vec::new();
    loop {
        let next = inbound.message().await;
        if let Ok(Some(frame)) = &next {
            let bytes = prost::Message::encoded_len(frame);
            delivery.link.stats.frame_in(frame.envelopes.len(), bytes);
        }
        let ended = take(&mut lock(&machine), next, Instant::now(), &mut actions);
        // What this read hands over goes in one message: a frame of many
        // adverts costs the actor one hop, not one per advert.
        let mut handing = Vec::new();
        for action in actions.drain(..) {
            match action {
                Action::Send(envelope) => delivery.link.send_control(envelope),
                Action::RoundTrip(rtt) => delivery.link.stats.record_round_trip(rtt),
                Action::Deliver(traffic)
                    if handing.is_empty() && handed_over.load(Ordering::Acquire) == 0 =>
                {
                    delivery.deliver(traffic);
                }
                other => handing.push(other),
            }
        }
        // A frame of many envelopes (a large sync) must not leave its
        // size behind in the buffer kept for the next read.
        if actions.capacity() > KEEP_ACTIONS {
            actions = Vec::new();
        }
        if !handing.is_empty() {
            handed_over.fetch_add(1, Ordering::AcqRel);
            if session.cast(SessionMsg::Act(handing)).is_err() {
                return;
            }
        }
        if ended {
            return;
        }
        wait_for_room(&delivery.link, &machine).await;
    }
}
