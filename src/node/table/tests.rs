//! The session table's answers, with numbered handles standing in for
//! session actors.

use ractor::ActorCell;
use tokio::sync::mpsc;

use super::*;
use crate::{
    test_actor::idle_cell,
    transport::{Direction, FrameTx},
};

fn peer(name: &str, listen_addr: &str) -> Peer {
    Peer {
        name: name.to_owned(),
        incarnation: 1,
        listen_addr: listen_addr.to_owned(),
        version: 1,
    }
}

fn link() -> Arc<SessionLink> {
    let (tx, _rx) = mpsc::channel(1);
    Arc::new(
        SessionLink::new(
            FrameTx::Dialer(tx),
            64 * 1024,
            crate::node::DEFAULT_QUEUE_LIMIT,
            None,
            tracing::Span::none(),
        )
        .0,
    )
}

/// A table with session `id` opened towards `name` (listening on `addr`) and
/// brought to `state`.
fn add(t: &mut SessionTable<u32>, id: SessionId, name: &str, addr: &str, state: SessionState) {
    t.opened(
        id as u32,
        SessionInfo::opened(id, Direction::Outbound, None),
    );
    match state {
        SessionState::Handshake => t.named(id, &peer(name, addr)),
        SessionState::Authenticated => {
            t.authenticated(id, &peer(name, addr), link());
        }
        SessionState::Ready => {
            t.authenticated(id, &peer(name, addr), link());
            t.ready(id);
        }
    }
}

fn known(name: &str, addr: &str) -> pb::KnownPeer {
    pb::KnownPeer {
        name: name.into(),
        listen_addr: addr.into(),
    }
}

#[tokio::test]
async fn a_session_goes_from_opened_to_ready_and_is_counted_once_authenticated() {
    let mut t = SessionTable::<u32>::default();
    let id = t.next_id();
    assert_ne!(t.next_id(), id, "ids are never reused");
    t.dialing(id, "127.0.0.1:9".into());
    t.opened(7, SessionInfo::opened(id, Direction::Outbound, None));
    assert_eq!(t.peer_count(), 0);
    assert_eq!(t.snapshots()[0].state, SessionState::Handshake);
    let e = t
        .authenticated(id, &peer("b", "127.0.0.1:9"), link())
        .expect("entry");
    assert_eq!(e.handle, 7);
    assert_eq!(e.info().peer_name.as_deref(), Some("b"));
    assert_eq!(t.peer_count(), 1);
    assert_eq!(t.authenticated_handles().count(), 1);
    let ready = t.ready(id).expect("entry");
    assert_eq!(ready.state, SessionState::Ready);
    assert_eq!(t.with_peer("b").map(|s| s.id), Some(id));
    assert_eq!(t.sessions_with("b"), [id]);
    assert!(t.sessions_with("c").is_empty());
    assert!(t.remove(id).is_some());
    assert!(t.remove(id).is_none());
    assert!(t.ready(id).is_none(), "a gone session is not revived");
    assert!(t.snapshots().is_empty());
}

#[tokio::test]
async fn only_a_ready_peer_counts_as_already_connected_at_its_address() {
    let mut t = SessionTable::<u32>::default();
    add(
        &mut t,
        1,
        "b",
        "127.0.0.1:4001",
        SessionState::Authenticated,
    );
    assert_eq!(t.ready_peer_at("127.0.0.1:4001"), None);
    t.ready(1);
    assert_eq!(t.ready_peer_at("127.0.0.1:4001").as_deref(), Some("b"));
    assert_eq!(
        t.ready_peer_at("http://127.0.0.1:4001").as_deref(),
        Some("b")
    );
    assert_eq!(t.ready_peer_at("127.0.0.1:4002"), None);
}

#[tokio::test]
async fn transitive_dials_skip_every_peer_this_node_already_knows() {
    let mut t = SessionTable::<u32>::default();
    add(&mut t, 1, "b", "127.0.0.1:2", SessionState::Ready);
    add(&mut t, 2, "c", "127.0.0.1:3", SessionState::Handshake);
    t.dialing(3, "127.0.0.1:4".into());
    let told = vec![
        known("a", "127.0.0.1:1"),       // this node
        known("b", "127.0.0.1:99"),      // known by name
        known("c2", "127.0.0.1:3"),      // known by listen address
        known("d", "127.0.0.1:4"),       // a dial is under way
        known("e", ""),                  // nowhere to dial
        known("f", "127.0.0.1:6"),       // new
        known("f-again", "127.0.0.1:6"), // new, but told twice
    ];
    assert_eq!(t.unknown_peers("a", told), ["127.0.0.1:6"]);
    // Once the dial's session is named, its address is known by the session.
    t.dial_failed(3);
    assert_eq!(
        t.unknown_peers("a", vec![known("d", "127.0.0.1:4")]),
        ["127.0.0.1:4"]
    );
}

#[tokio::test]
async fn a_ready_newcomer_and_the_ready_peers_are_introduced_to_each_other() {
    let mut t = SessionTable::<u32>::default();
    add(&mut t, 1, "b", "127.0.0.1:2", SessionState::Ready);
    add(&mut t, 2, "c", "127.0.0.1:3", SessionState::Ready);
    add(&mut t, 3, "x", "127.0.0.1:9", SessionState::Authenticated);
    add(&mut t, 4, "d", "127.0.0.1:4", SessionState::Ready);
    assert_eq!(
        t.introductions(4),
        [
            (
                4,
                vec![known("b", "127.0.0.1:2"), known("c", "127.0.0.1:3")]
            ),
            (1, vec![known("d", "127.0.0.1:4")]),
            (2, vec![known("d", "127.0.0.1:4")]),
        ]
    );
    // A ready peer that gave no listen address is not offered to the
    // newcomer, but hears of it.
    add(&mut t, 6, "f", "", SessionState::Ready);
    add(&mut t, 7, "g", "127.0.0.1:7", SessionState::Ready);
    let intro = t.introductions(7);
    assert_eq!(intro[0].0, 7);
    assert!(!intro[0].1.iter().any(|k| k.name == "f"), "{intro:?}");
    assert!(
        intro.contains(&(6, vec![known("g", "127.0.0.1:7")])),
        "{intro:?}"
    );
    // Alone: nobody to introduce.
    let mut alone = SessionTable::<u32>::default();
    add(&mut alone, 1, "b", "127.0.0.1:2", SessionState::Ready);
    assert!(alone.introductions(1).is_empty());
    // A newcomer that gave no listen address (a client that only dials)
    // hears of the others it can dial, and nobody hears of it.
    let intro = t.introductions(6);
    assert_eq!(intro.len(), 1, "{intro:?}");
    assert_eq!(intro[0].0, 6);
    assert!(intro[0].1.contains(&known("g", "127.0.0.1:7")), "{intro:?}");
}

#[tokio::test]
async fn the_directory_finds_ready_peers_actors_by_name_in_peer_order() {
    let mut t = SessionTable::<u32>::default();
    add(&mut t, 1, "c", "127.0.0.1:3", SessionState::Ready);
    add(&mut t, 2, "b", "127.0.0.1:2", SessionState::Ready);
    add(&mut t, 3, "s", "127.0.0.1:5", SessionState::Authenticated);
    let cells = [idle_cell().await, idle_cell().await, idle_cell().await];
    let advertised = |pid: u64, name: &str| ProxyChange::Advertised {
        pid,
        name: Some(name.into()),
        message_type: None,
    };
    let started = |pid: u64, cell: &ActorCell| ProxyChange::Started {
        pid,
        cell: cell.clone(),
    };
    t.proxies(
        1,
        vec![
            advertised(10, "w"),
            advertised(11, "other"),
            started(10, &cells[0]),
            started(11, &cells[1]),
        ],
    );
    // b's "w" is only a record: found all the same, without a proxy yet.
    t.proxies(2, vec![advertised(20, "w")]);
    t.proxies(3, vec![advertised(30, "w"), started(30, &cells[2])]);
    let found: Vec<(String, u64, bool)> = t
        .where_is(None, "w")
        .into_iter()
        .map(|f| (f.peer.clone(), f.pid, f.needs_proxy().is_some()))
        .collect();
    assert_eq!(
        found,
        [("b".into(), 20, true), ("c".into(), 10, false)],
        "not syncing s"
    );
    assert_eq!(
        t.where_is(Some("b"), "w")[0].needs_proxy(),
        Some((2, 20, Some("w".into())))
    );
    assert_eq!(
        t.where_is(Some("c"), "w")[0]
            .proxy
            .cell
            .as_ref()
            .map(ActorCell::get_id),
        Some(cells[0].get_id())
    );
    assert!(t.where_is(Some("c"), "missing").is_empty());
    assert_eq!(t.snapshots()[0].remote_actors, 2);
    assert_eq!(t.snapshots()[1].remote_actors, 1, "a record counts");
    let owners = t.proxy_owners();
    assert_eq!(
        owners.get(&cells[1].get_id()),
        Some(&("c".to_owned(), 11, Some("other".to_owned())))
    );
    assert_eq!(owners.len(), 3, "records own no actor id: {owners:?}");
    // A proxy started for a record the peer has since withdrawn is ignored.
    t.proxies(
        2,
        vec![ProxyChange::Down { pid: 20 }, started(20, &cells[0])],
    );
    assert!(t.where_is(Some("b"), "w").is_empty());
    t.proxies(1, vec![ProxyChange::Down { pid: 10 }]);
    assert_eq!(t.where_is(Some("c"), "w").len(), 0);
    assert_eq!(t.get(1).map(|e| e.proxy_cells().count()), Some(1));
    for c in cells {
        c.stop(None);
    }
}

#[tokio::test]
async fn a_peer_counts_as_connected_when_any_of_its_sessions_is_authenticated() {
    let mut t = SessionTable::<u32>::default();
    add(&mut t, 1, "b", "127.0.0.1:9", SessionState::Handshake);
    assert!(
        !t.authenticated_with("b"),
        "a handshake is not a connection"
    );
    // A second session with the same peer, authenticated: whichever the
    // table happens to find first, the peer is connected.
    add(&mut t, 2, "b", "127.0.0.1:9", SessionState::Authenticated);
    assert!(t.authenticated_with("b"));
    assert!(!t.authenticated_with("c"));
    t.remove(2);
    assert!(!t.authenticated_with("b"));
}
