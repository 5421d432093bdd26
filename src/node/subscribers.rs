//! The node's event subscribers: who hears about sessions coming and going.
//!
//! Owns the registered [`NodeEventSubscription`]s and calls them in the order
//! they were first registered. Knows nothing of sessions beyond the
//! [`SessionInfo`] it passes on.

use super::{events::NodeEventSubscription, info::SessionInfo, redial::TargetInfo};
use crate::reason::DisconnectReason;

/// See the module docs.
#[derive(Default)]
pub(crate) struct Subscribers {
    /// By id, in registration order.
    subs: Vec<(String, Box<dyn NodeEventSubscription>)>,
}

impl std::fmt::Debug for Subscribers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.subs.iter().map(|(id, _)| id))
            .finish()
    }
}

impl Subscribers {
    /// Registers `sub` under `id`, replacing (in place) one with that id.
    pub(crate) fn insert(&mut self, id: String, sub: Box<dyn NodeEventSubscription>) {
        match self.subs.iter_mut().find(|(i, _)| *i == id) {
            Some(slot) => slot.1 = sub,
            None => self.subs.push((id, sub)),
        }
    }

    /// Removes the subscription under `id`, if any.
    pub(crate) fn remove(&mut self, id: &str) {
        self.subs.retain(|(i, _)| i != id);
    }

    fn each(&self, f: impl Fn(&dyn NodeEventSubscription)) {
        for (_, sub) in &self.subs {
            f(sub.as_ref());
        }
    }

    pub(crate) fn opened(&self, session: &SessionInfo) {
        self.each(|s| s.session_opened(session));
    }

    pub(crate) fn authenticated(&self, session: &SessionInfo) {
        self.each(|s| s.session_authenticated(session));
    }

    pub(crate) fn ready(&self, session: &SessionInfo) {
        self.each(|s| s.session_ready(session));
    }

    pub(crate) fn disconnected(&self, session: &SessionInfo, reason: &DisconnectReason) {
        self.each(|s| s.session_disconnected(session, reason));
    }

    pub(crate) fn reconnecting(&self, target: &TargetInfo) {
        self.each(|s| s.reconnecting(target));
    }

    pub(crate) fn gave_up(&self, target: &TargetInfo) {
        self.each(|s| s.reconnect_abandoned(target));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::{reason::DisconnectCause, transport::Direction};

    type Log = Arc<Mutex<Vec<String>>>;

    struct Recorder(&'static str, Log);

    impl Recorder {
        fn push(&self, event: &str, s: &SessionInfo) {
            if let Ok(mut log) = self.1.lock() {
                log.push(format!("{} {event} {}", self.0, s.id));
            }
        }
    }

    impl NodeEventSubscription for Recorder {
        fn session_opened(&self, s: &SessionInfo) {
            self.push("opened", s);
        }
        fn session_authenticated(&self, s: &SessionInfo) {
            self.push("authenticated", s);
        }
        fn session_ready(&self, s: &SessionInfo) {
            self.push("ready", s);
        }
        fn session_disconnected(&self, s: &SessionInfo, r: &DisconnectReason) {
            self.push(&format!("disconnected({})", r.cause), s);
        }
    }

    fn log(log: &Log) -> Vec<String> {
        log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    #[test]
    fn each_subscriber_hears_each_event_in_registration_order() {
        let l = Log::default();
        let mut subs = Subscribers::default();
        subs.insert("b".into(), Box::new(Recorder("b", l.clone())));
        subs.insert("a".into(), Box::new(Recorder("a", l.clone())));
        let s = SessionInfo::opened(7, Direction::Inbound, None);
        subs.opened(&s);
        subs.authenticated(&s);
        subs.ready(&s);
        subs.disconnected(
            &s,
            &DisconnectReason::local(DisconnectCause::Stopped, "bye"),
        );
        assert_eq!(
            log(&l),
            [
                "b opened 7",
                "a opened 7",
                "b authenticated 7",
                "a authenticated 7",
                "b ready 7",
                "a ready 7",
                "b disconnected(stopped) 7",
                "a disconnected(stopped) 7",
            ]
        );
    }

    #[test]
    fn an_id_registered_again_replaces_in_place_and_removal_silences_it() {
        let l = Log::default();
        let mut subs = Subscribers::default();
        subs.insert("x".into(), Box::new(Recorder("old", l.clone())));
        subs.insert("y".into(), Box::new(Recorder("y", l.clone())));
        subs.insert("x".into(), Box::new(Recorder("new", l.clone())));
        let s = SessionInfo::opened(1, Direction::Outbound, None);
        subs.opened(&s);
        assert_eq!(log(&l), ["new opened 1", "y opened 1"]);
        subs.remove("x");
        subs.remove("not there");
        subs.ready(&s);
        assert_eq!(log(&l)[2..], ["y ready 1"]);
    }
}
