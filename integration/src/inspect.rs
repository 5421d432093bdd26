//! The lines `node inspect` prints for a node's introspection answers, and
//! the reading of them back that tests use: a node in another network
//! namespace is out of a test's reach, so the test runs `node inspect` in
//! that namespace and reads its output.

use std::time::Duration;

use ractor_grpc::pb;

/// One group as a line: `GROUP: member@node, member@node`. A member is its
/// name, or `#PID` when it has none; a scope other than ractor's default
/// follows the group as ` (scope SCOPE)`.
pub fn group_line(group: &pb::GroupInfo) -> String {
    let members: Vec<String> = group
        .members
        .iter()
        .map(|m| {
            if m.name.is_empty() {
                format!("#{}@{}", m.pid, m.node)
            } else {
                format!("{}@{}", m.name, m.node)
            }
        })
        .collect();
    let scope = if group.scope == ractor::pg::DEFAULT_SCOPE {
        String::new()
    } else {
        format!(" (scope {})", group.scope)
    };
    let mut line = format!("{}{scope}:", group.group);
    if !members.is_empty() {
        line.push(' ');
        line.push_str(&members.join(", "));
    }
    line
}

/// Reads a [`group_line`] back as the group (with its scope note, if any)
/// and the sorted names of its members' nodes; `None` if `line` is not one.
pub fn parse_group_line(line: &str) -> Option<(String, Vec<String>)> {
    let (group, members) = match line.strip_suffix(':') {
        Some(group) => (group, ""),
        None => line.split_once(": ")?,
    };
    let mut nodes: Vec<String> = members
        .split(", ")
        .filter(|m| !m.is_empty())
        .map(|m| m.rsplit_once('@').map(|(_, node)| node.to_owned()))
        .collect::<Option<_>>()?;
    nodes.sort();
    Some((group.to_owned(), nodes))
}

/// One peer as a line: `NAME: STATE, DIRECTION, listening on ADDR,
/// socket ADDR, rtt MS ms, incarnation N`.
pub fn peer_line(peer: &pb::PeerInfo) -> String {
    let state = match pb::SessionState::try_from(peer.state) {
        Ok(pb::SessionState::Handshake) => "handshake",
        Ok(pb::SessionState::Authenticated) => "authenticated",
        Ok(pb::SessionState::Ready) => "ready",
        _ => "unknown state",
    };
    let direction = match pb::Direction::try_from(peer.direction) {
        Ok(pb::Direction::Outbound) => "outbound",
        Ok(pb::Direction::Inbound) => "inbound",
        _ => "unknown direction",
    };
    let name = if peer.name.is_empty() {
        "(unnamed)"
    } else {
        &peer.name
    };
    let listen = if peer.listen_addr.is_empty() {
        "?"
    } else {
        &peer.listen_addr
    };
    let rtt = Duration::from_micros(peer.smoothed_rtt_us).as_secs_f64() * 1000.0;
    format!(
        "{name}: {state}, {direction}, listening on {listen}, socket {}, rtt {rtt:.2} ms, \
         incarnation {}",
        peer.addr, peer.incarnation
    )
}

/// Reads a [`peer_line`] back as the peer's name and its state word
/// (`ready`, `handshake`, ...); `None` if `line` is not one.
pub fn parse_peer_line(line: &str) -> Option<(String, String)> {
    let (name, rest) = line.split_once(": ")?;
    let state = rest.split(", ").next()?;
    Some((name.to_owned(), state.to_owned()))
}

/// The node as a line: `NAME: version V, listening on ADDR, up MS ms, N
/// peers, N tasks, incarnation N`.
pub fn info_line(info: &pb::NodeInfo) -> String {
    format!(
        "{}: version {}, listening on {}, up {} ms, {} peers, {} tasks, incarnation {}",
        info.name,
        info.version,
        info.listen_addr,
        info.uptime_ms,
        info.peer_count,
        info.tasks,
        info.incarnation
    )
}

/// Reads the tokio task count back from an [`info_line`]; `None` if `line`
/// is not one.
pub fn parse_info_tasks(line: &str) -> Option<u64> {
    let (_, rest) = line.split_once(": ")?;
    rest.split(", ")
        .find_map(|part| part.strip_suffix(" tasks"))?
        .parse()
        .ok()
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
    fn a_group_line_reads_back_as_its_group_and_nodes() {
        let group = pb::GroupInfo {
            scope: ractor::pg::DEFAULT_SCOPE.into(),
            group: "workers".into(),
            members: vec![member("b", 7, "workers@b"), member("a", 3, "")],
        };
        let line = group_line(&group);
        assert_eq!(line, "workers: workers@b@b, #3@a");
        assert_eq!(
            parse_group_line(&line),
            Some(("workers".to_owned(), vec!["a".to_owned(), "b".to_owned()]))
        );
    }

    #[test]
    fn a_scoped_empty_group_says_its_scope() {
        let group = pb::GroupInfo {
            scope: "jobs".into(),
            group: "workers".into(),
            members: vec![],
        };
        let line = group_line(&group);
        assert_eq!(line, "workers (scope jobs):");
        assert_eq!(
            parse_group_line(&line),
            Some(("workers (scope jobs)".to_owned(), vec![]))
        );
        assert_eq!(parse_group_line("[a] listening on 1.2.3.4:5"), None);
    }

    #[test]
    fn a_peer_line_reads_back_as_its_name_and_state() {
        let peer = pb::PeerInfo {
            name: "node-b".into(),
            state: pb::SessionState::Ready as i32,
            direction: pb::Direction::Inbound as i32,
            listen_addr: "127.0.0.1:4001".into(),
            addr: "127.0.0.1:50000".into(),
            ..Default::default()
        };
        let line = peer_line(&peer);
        assert_eq!(
            parse_peer_line(&line),
            Some(("node-b".to_owned(), "ready".to_owned()))
        );
        assert_eq!(parse_peer_line("no colon here"), None);
    }

    #[test]
    fn an_info_line_reads_back_its_task_count() {
        let info = pb::NodeInfo {
            name: "node-a".into(),
            version: "0.1.0".into(),
            listen_addr: "192.0.2.1:4000".into(),
            uptime_ms: 1234,
            peer_count: 2,
            tasks: 57,
            incarnation: 99,
            ..Default::default()
        };
        let line = info_line(&info);
        assert_eq!(
            line,
            "node-a: version 0.1.0, listening on 192.0.2.1:4000, up 1234 ms, 2 peers, 57 tasks, \
             incarnation 99"
        );
        assert_eq!(parse_info_tasks(&line), Some(57));
        assert_eq!(parse_info_tasks("node-a: ready, inbound"), None);
    }
}
