//! Answering a lookup whose peer actors have no proxy yet: the sessions that
//! know them start their proxies, then the answer goes out.
//!
//! A session keeps a peer's actor as a plain record until something needs
//! it (see the mirror); a lookup by name or pid is such a need. The node
//! server must not wait on a session (a session may be waiting on it, for a
//! claim), so the asking and the answer run in a task of their own.

use std::{collections::HashMap, sync::Arc, time::Duration};

use ractor::{ActorCell, ActorRef, RpcReplyPort, rpc::CallResult};

use super::{info::SessionId, session::SessionMsg, table::Found, table::SessionTable};

/// The proxies started for a lookup, by (session, pid).
pub(crate) type Started = HashMap<(SessionId, u64), ActorCell>;

/// A peer actor whose proxy a lookup needs: (session, pid, name).
pub(crate) type Wanted = (SessionId, u64, Option<Arc<str>>);

/// The longest a lookup waits for a session to start proxies (behind a
/// sync of many actors, say); a session that does not answer in time
/// leaves its actors out of the answer.
const START_TIMEOUT: Duration = Duration::from_secs(10);

impl Found {
    /// What to ask its session for when its proxy must be started before
    /// it can be handed out.
    pub(crate) fn needs_proxy(&self) -> Option<Wanted> {
        self.proxy
            .cell
            .is_none()
            .then(|| (self.session, self.pid, self.proxy.name.clone()))
    }

    /// Its proxy, started before or for this lookup; `None` if the session
    /// could not start one (the peer no longer advertises it, or the
    /// session ended).
    pub(crate) fn cell(&self, started: &Started) -> Option<ActorCell> {
        self.proxy
            .cell
            .clone()
            .or_else(|| started.get(&(self.session, self.pid)).cloned())
    }
}

/// Answers `reply` with `finish(started)` once the sessions have started the
/// proxies in `missing`; at once when it is empty.
pub(crate) fn answer<T: Send + 'static>(
    table: &SessionTable<ActorRef<SessionMsg>>,
    missing: Vec<Wanted>,
    reply: RpcReplyPort<T>,
    finish: impl FnOnce(&Started) -> T + Send + 'static,
) {
    if missing.is_empty() {
        let _ = reply.send(finish(&Started::new()));
        return;
    }
    type Ask = (Option<ActorRef<SessionMsg>>, Vec<(u64, Option<Arc<str>>)>);
    let mut asks: HashMap<SessionId, Ask> = HashMap::new();
    for (session, pid, name) in missing {
        asks.entry(session)
            .or_insert_with(|| (table.get(session).map(|e| e.handle.clone()), Vec::new()))
            .1
            .push((pid, name));
    }
    tokio::spawn(async move {
        let mut started = Started::new();
        for (session, (handle, pids)) in asks {
            let Some(handle) = handle else { continue };
            let asked = handle
                .call(|r| SessionMsg::Proxies(pids, r), Some(START_TIMEOUT))
                .await;
            if let Ok(CallResult::Success(cells)) = asked {
                started.extend(cells.into_iter().map(|(pid, cell)| ((session, pid), cell)));
            }
        }
        let _ = reply.send(finish(&started));
    });
}
