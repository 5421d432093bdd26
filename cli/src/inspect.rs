//! `inspect`: a live node's introspection RPCs (ListPeers, ListActors,
//! ListGroups, GetNodeInfo) as tables for people without grpcurl, and the
//! reading of those tables back that tests use (a node in another network
//! namespace is out of a test's reach: the test runs `inspect` there and
//! reads its output).

use std::{error::Error, time::Duration};

use ractor_grpc::{
    Cookie, TokenScope,
    pb::{self, cluster_node_client::ClusterNodeClient},
};
use tonic::{
    Request,
    metadata::{Ascii, MetadataValue},
    transport::Endpoint,
};

use crate::{
    args::{InspectArgs, Listing},
    table::{self, Table},
};

/// Prints what `args` asks a node for, as a table (or a line saying there
/// is nothing).
///
/// # Errors
/// No token and no name or cookie to mint one, the node cannot be reached,
/// or it refuses the RPC (a bad token, say).
pub async fn inspect(args: &InspectArgs) -> Result<(), Box<dyn Error>> {
    let token = match &args.token {
        Some(token) => token.clone(),
        None => {
            let (name, cookie) = args.node.name_and_cookie()?;
            let ttl = Duration::from_secs(60);
            ractor_grpc::mint_token(&Cookie::from(cookie), &name, TokenScope::Inspect, ttl)?
        }
    };
    let bearer = MetadataValue::try_from(format!("Bearer {token}"))?;
    let channel = Endpoint::from_shared(format!("http://{}", args.addr))?
        .connect_timeout(args.timeout)
        .timeout(args.timeout)
        .connect()
        .await
        .map_err(|e| format!("cannot reach {}: {}", args.addr, with_causes(&e)))?;
    let mut client = ClusterNodeClient::new(channel);
    let (table, what) = match args.listing {
        Listing::Peers => {
            let asked = authorized(pb::ListPeersRequest {}, &bearer);
            let peers = client.list_peers(asked).await?.into_inner().peers;
            (peers_table(&peers), "peers")
        }
        Listing::Actors => {
            let asked = authorized(pb::ListActorsRequest {}, &bearer);
            let actors = client.list_actors(asked).await?.into_inner().actors;
            (actors_table(&actors), "advertised actors")
        }
        Listing::Groups => {
            let asked = authorized(pb::ListGroupsRequest {}, &bearer);
            let groups = client.list_groups(asked).await?.into_inner().groups;
            (groups_table(&groups), "groups")
        }
        Listing::Info => {
            let asked = authorized(pb::GetNodeInfoRequest {}, &bearer);
            let info = client.get_node_info(asked).await?.into_inner();
            (info_table(&info), "info")
        }
    };
    if table.is_empty() {
        println!("{} has no {what}", args.addr);
    } else {
        print!("{table}");
    }
    Ok(())
}

/// `error` and its causes, joined with `: ` (tonic's transport error says
/// only "transport error" and keeps what happened in its source).
fn with_causes(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

/// `message` with an `authorization` header.
fn authorized<T>(message: T, bearer: &MetadataValue<Ascii>) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", bearer.clone());
    request
}

/// How a scope shows: ractor's default scope as `(default)`.
fn scope(scope: &str) -> String {
    if scope == ractor::pg::DEFAULT_SCOPE {
        "(default)".to_owned()
    } else {
        scope.to_owned()
    }
}

/// Milliseconds with two decimals, from microseconds; empty when none.
fn millis(us: u64) -> String {
    if us == 0 {
        String::new()
    } else {
        format!("{:.2}", Duration::from_micros(us).as_secs_f64() * 1000.0)
    }
}

/// One row per session: the peer's name, state, direction, its listen
/// address and the socket's, the smoothed RTT in ms, casts/calls sent and
/// received, messages refused (closed or too large, and over the queue
/// limit), bytes queued, the peer's advertised actors and its incarnation.
pub fn peers_table(peers: &[pb::PeerInfo]) -> Table {
    let mut table = Table::new(&[
        "NAME",
        "STATE",
        "DIRECTION",
        "LISTEN",
        "SOCKET",
        "RTT_MS",
        "SENT",
        "RECEIVED",
        "REFUSED",
        "QUEUED",
        "ACTORS",
        "INCARNATION",
    ]);
    for peer in peers {
        let state = match pb::SessionState::try_from(peer.state) {
            Ok(pb::SessionState::Handshake) => "handshake",
            Ok(pb::SessionState::Authenticated) => "authenticated",
            Ok(pb::SessionState::Ready) => "ready",
            _ => "unknown",
        };
        let direction = match pb::Direction::try_from(peer.direction) {
            Ok(pb::Direction::Outbound) => "outbound",
            Ok(pb::Direction::Inbound) => "inbound",
            _ => "unknown",
        };
        table.push(vec![
            peer.name.clone(),
            state.to_owned(),
            direction.to_owned(),
            peer.listen_addr.clone(),
            peer.addr.clone(),
            millis(peer.smoothed_rtt_us),
            format!("{}/{}", peer.casts_sent, peer.calls_sent),
            format!("{}/{}", peer.casts_received, peer.calls_received),
            format!("{}+{}", peer.refused, peer.overflowed),
            peer.queued_bytes.to_string(),
            peer.remote_actors.to_string(),
            peer.incarnation.to_string(),
        ]);
    }
    table
}

/// One row per advertised local actor: pid, name, message type, and its
/// groups (`group`, or `group@scope` outside ractor's default scope).
pub fn actors_table(actors: &[pb::LocalActor]) -> Table {
    let mut table = Table::new(&["PID", "NAME", "TYPE", "GROUPS"]);
    for actor in actors {
        let groups: Vec<String> = actor
            .groups
            .iter()
            .map(|g| {
                if g.scope == ractor::pg::DEFAULT_SCOPE {
                    g.group.clone()
                } else {
                    format!("{}@{}", g.group, g.scope)
                }
            })
            .collect();
        table.push(vec![
            actor.pid.to_string(),
            actor.name.clone(),
            actor.message_type.clone(),
            groups.join(", "),
        ]);
    }
    table
}

/// One row per group member: the group, its scope, the member's name, its
/// node and pid (a group without members has one row with no member).
pub fn groups_table(groups: &[pb::GroupInfo]) -> Table {
    let mut table = Table::new(&["GROUP", "SCOPE", "MEMBER", "NODE", "PID"]);
    for group in groups {
        if group.members.is_empty() {
            table.push(vec![group.group.clone(), scope(&group.scope)]);
        }
        for member in &group.members {
            table.push(vec![
                group.group.clone(),
                scope(&group.scope),
                member.name.clone(),
                member.node.clone(),
                member.pid.to_string(),
            ]);
        }
    }
    table
}

/// One row per field of the node's info: name, version, protocol versions,
/// listen and advertise addresses, mode, uptime, peers, tokio tasks and
/// incarnation.
pub fn info_table(info: &pb::NodeInfo) -> Table {
    let mode = match pb::ConnectionMode::try_from(info.mode) {
        Ok(pb::ConnectionMode::Transitive) => "transitive",
        Ok(pb::ConnectionMode::Isolated) => "isolated",
        _ => "unknown",
    };
    let uptime = Duration::from_millis(info.uptime_ms);
    // Whole seconds: humantime would print every millisecond.
    let uptime = humantime::format_duration(Duration::from_secs(uptime.as_secs()));
    let mut table = Table::new(&["FIELD", "VALUE"]);
    for (field, value) in [
        ("name", info.name.clone()),
        ("version", info.version.clone()),
        (
            "protocol",
            format!(
                "{}-{}",
                info.min_protocol_version, info.max_protocol_version
            ),
        ),
        ("listen", info.listen_addr.clone()),
        ("advertise", info.advertise_addr.clone()),
        ("mode", mode.to_owned()),
        ("uptime", uptime.to_string()),
        ("peers", info.peer_count.to_string()),
        ("tasks", info.tasks.to_string()),
        ("incarnation", info.incarnation.to_string()),
    ] {
        table.push(vec![field.to_owned(), value]);
    }
    table
}

/// Reads a [`peers_table`] back as `(name, state)` pairs, state being
/// `ready`, `handshake`, ...
pub fn parse_peers(text: &str) -> Vec<(String, String)> {
    table::parse(text, "NAME")
        .iter()
        .map(|row| {
            let cell = |c| table::get(row, c).unwrap_or_default().to_owned();
            (cell("NAME"), cell("STATE"))
        })
        .collect()
}

/// Reads a [`groups_table`] back as `(group, sorted member node names)`,
/// in the order the groups first appear; a group outside ractor's default
/// scope reads as `GROUP (scope SCOPE)`.
pub fn parse_groups(text: &str) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for row in table::parse(text, "GROUP") {
        let cell = |c| table::get(&row, c).unwrap_or_default().to_owned();
        let mut group = cell("GROUP");
        let scope = cell("SCOPE");
        if scope != "(default)" {
            group = format!("{group} (scope {scope})");
        }
        let at = match groups.iter().position(|(g, _)| *g == group) {
            Some(at) => at,
            None => {
                groups.push((group, Vec::new()));
                groups.len() - 1
            }
        };
        let node = cell("NODE");
        if !node.is_empty() {
            groups[at].1.push(node);
        }
    }
    for (_, nodes) in &mut groups {
        nodes.sort();
    }
    groups
}

/// Reads the tokio task count back from an [`info_table`].
pub fn parse_info_tasks(text: &str) -> Option<u64> {
    table::parse(text, "FIELD")
        .iter()
        .find(|row| table::get(row, "FIELD") == Some("tasks"))
        .and_then(|row| table::get(row, "VALUE")?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(node: &str, pid: u64, name: &str) -> pb::GroupMember {
        pb::GroupMember {
            node: node.into(),
            pid,
            name: name.into(),
        }
    }

    #[test]
    fn a_groups_table_reads_back_as_groups_and_their_nodes() {
        let groups = [
            pb::GroupInfo {
                scope: ractor::pg::DEFAULT_SCOPE.into(),
                group: "workers".into(),
                members: vec![member("b", 7, "workers@b"), member("a", 3, "")],
            },
            pb::GroupInfo {
                scope: "jobs".into(),
                group: "empty".into(),
                members: vec![],
            },
        ];
        let text = groups_table(&groups).to_string();
        assert_eq!(
            parse_groups(&text),
            vec![
                ("workers".to_owned(), vec!["a".to_owned(), "b".to_owned()]),
                ("empty (scope jobs)".to_owned(), vec![]),
            ]
        );
        assert!(parse_groups("127.0.0.1:4000 has no groups").is_empty());
    }

    #[test]
    fn a_peers_table_reads_back_as_names_and_states() {
        let peer = pb::PeerInfo {
            name: "node-b".into(),
            state: pb::SessionState::Ready as i32,
            direction: pb::Direction::Inbound as i32,
            listen_addr: "127.0.0.1:4001".into(),
            addr: "127.0.0.1:50000".into(),
            smoothed_rtt_us: 510,
            ..Default::default()
        };
        let text = peers_table(&[peer]).to_string();
        assert!(text.contains(" 0.51 "), "{text}");
        assert_eq!(
            parse_peers(&text),
            vec![("node-b".to_owned(), "ready".to_owned())]
        );
    }

    #[test]
    fn an_info_table_reads_back_its_task_count() {
        let info = pb::NodeInfo {
            name: "node-a".into(),
            version: "0.1.0".into(),
            listen_addr: "192.0.2.1:4000".into(),
            uptime_ms: 61_234,
            peer_count: 2,
            tasks: 57,
            incarnation: 99,
            ..Default::default()
        };
        let text = info_table(&info).to_string();
        assert!(text.contains("uptime       1m 1s\n"), "{text}");
        assert_eq!(parse_info_tasks(&text), Some(57));
        assert_eq!(parse_info_tasks("PEERS\nnode-a: ready"), None);
    }
}
