//! The receive side of backpressure: what a session has handed to this
//! node's actors and they have not taken yet.
//!
//! Each cast delivered to a local actor is charged here (its payload plus
//! what a message costs in a mailbox) and its metadata names the charge;
//! the derive-generated decoder reports when the actor takes it
//! ([`taken`](super::report::taken)), which gives the charge back. While
//! more than the budget is held the reader stops reading, so the backlog of
//! a slow actor stays with the sender (whose queue limit bounds it) instead
//! of growing here.
//!
//! An actor is charged only once it has reported taking a message: a
//! message type whose decoder does not report (not derived with
//! `RactorClusterMessage`) would otherwise hold its charges forever. What
//! an actor that stopped was charged is given back, and its cell let go,
//! when the session's clock or a held-back reader finds it stopped: its
//! mailbox went with it.

use std::{
    collections::HashMap,
    sync::{
        Mutex, MutexGuard, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
};

use ractor::{ActorCell, ActorStatus};
use tokio::sync::Notify;

/// One message's cost as a byte count.
fn widen(cost: u32) -> usize {
    usize::try_from(cost).unwrap_or(usize::MAX)
}

/// What one local actor holds for a session.
#[derive(Debug)]
struct Charged {
    cell: ActorCell,
    held: usize,
    /// Its decoder has reported taking a message.
    reports: bool,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Inbox {
    budget: usize,
    held: AtomicUsize,
    peak: AtomicUsize,
    actors: Mutex<HashMap<u64, Charged>>,
    /// Wakes the reader when the held bytes fall to the budget, or when a
    /// call goes out (its reply must be read).
    changed: Notify,
}

impl Inbox {
    /// An inbox that holds back reading past `budget` bytes.
    pub(crate) fn new(budget: usize) -> Self {
        Self {
            budget,
            held: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            actors: Mutex::new(HashMap::new()),
            changed: Notify::new(),
        }
    }

    fn actors(&self) -> MutexGuard<'_, HashMap<u64, Charged>> {
        // Every change under the lock is one field of one entry.
        self.actors.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Charges a message of `cost` bytes delivered to the local actor
    /// `pid`. Returns what was charged: `cost`, or 0 while the actor has
    /// not yet reported taking a message. (One message's cost is a `u32`,
    /// as its cast's metadata carries it.)
    pub(crate) fn charge(&self, pid: u64, cell: &ActorCell, cost: u32) -> u32 {
        let mut actors = self.actors();
        let entry = actors.entry(pid).or_insert_with(|| Charged {
            cell: cell.clone(),
            held: 0,
            reports: false,
        });
        if !entry.reports {
            return 0;
        }
        let bytes = widen(cost);
        entry.held += bytes;
        drop(actors);
        let now = self.held.fetch_add(bytes, Ordering::AcqRel) + bytes;
        self.peak.fetch_max(now, Ordering::Relaxed);
        cost
    }

    /// The actor `pid` took a message charged `cost`: the charge is given
    /// back, and the actor counts as one that reports.
    pub(crate) fn taken(&self, pid: u64, cost: u32) {
        self.give_back(pid, cost, true);
    }

    /// A message charged `cost` never reached the actor `pid`.
    pub(crate) fn refund(&self, pid: u64, cost: u32) {
        self.give_back(pid, cost, false);
    }

    fn give_back(&self, pid: u64, cost: u32, reports: bool) {
        let mut actors = self.actors();
        let Some(entry) = actors.get_mut(&pid) else {
            return;
        };
        entry.reports |= reports;
        let back = widen(cost).min(entry.held);
        entry.held -= back;
        drop(actors);
        self.subtract(back);
    }

    fn subtract(&self, back: usize) {
        if back == 0 {
            return;
        }
        let before = self.held.fetch_sub(back, Ordering::AcqRel);
        if before > self.budget && before - back <= self.budget {
            self.changed.notify_one();
        }
    }

    /// Gives back what actors that have stopped were charged, and forgets
    /// them.
    pub(crate) fn reclaim_stopped(&self) {
        let mut back = 0;
        self.actors().retain(|_, c| {
            let gone = c.cell.get_status() >= ActorStatus::Stopping;
            if gone {
                back += c.held;
            }
            !gone
        });
        self.subtract(back);
    }

    /// Whether local actors hold more than the budget.
    pub(crate) fn over_budget(&self) -> bool {
        self.held.load(Ordering::Acquire) > self.budget
    }

    /// How many local actors the inbox keeps track of.
    #[cfg(test)]
    pub(crate) fn tracked(&self) -> usize {
        self.actors().len()
    }

    /// Bytes held now.
    pub(crate) fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }

    /// The most bytes held at once so far.
    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Waits until the held bytes fall to the budget or [`Self::wake`] is
    /// called (a permit stored before the wait counts).
    pub(crate) async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Wakes a reader waiting for room (a call went out: its reply must be
    /// read).
    pub(crate) fn wake(&self) {
        self.changed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_actor::idle_cell as cell;

    #[tokio::test]
    async fn an_actor_is_charged_only_once_it_has_reported_taking_a_message() {
        let inbox = Inbox::new(100);
        let a = cell().await;
        assert_eq!(inbox.charge(1, &a, 80), 0, "not known to report yet");
        inbox.taken(1, 0);
        assert_eq!(inbox.charge(1, &a, 80), 80);
        assert_eq!(inbox.charge(1, &a, 80), 80);
        assert!(inbox.over_budget());
        assert_eq!((inbox.held(), inbox.peak()), (160, 160));
        inbox.taken(1, 80);
        assert!(!inbox.over_budget());
        inbox.refund(1, 80);
        assert_eq!((inbox.held(), inbox.peak()), (0, 160));
        // More back than was charged is never taken from others' charges.
        assert_eq!(inbox.charge(1, &a, 50), 50);
        inbox.taken(1, 500);
        assert_eq!(inbox.held(), 0);
        a.stop(None);
    }

    #[tokio::test]
    async fn falling_to_the_budget_wakes_the_reader_and_a_stopped_actor_gives_back() {
        let inbox = Inbox::new(100);
        let (a, b) = (cell().await, cell().await);
        for (pid, c) in [(1, &a), (2, &b)] {
            inbox.charge(pid, c, 0);
            inbox.taken(pid, 0);
        }
        inbox.charge(1, &a, 90);
        inbox.charge(2, &b, 90);
        assert!(inbox.over_budget());
        inbox.taken(2, 90);
        tokio::time::timeout(std::time::Duration::from_secs(5), inbox.changed())
            .await
            .expect("falling to the budget wakes the reader");
        inbox.charge(2, &b, 90);
        assert!(inbox.over_budget());
        a.stop(None);
        let stopped = async {
            while a.get_status() < ActorStatus::Stopping {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(5), stopped)
            .await
            .expect("the actor stops");
        inbox.reclaim_stopped();
        assert_eq!(inbox.held(), 90, "a's 90 given back, b's kept");
        assert!(!inbox.over_budget());
        b.stop(None);
    }
}
