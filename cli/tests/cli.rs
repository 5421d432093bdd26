//! `ractor-grpc-node` as a user runs it: settings from a file, the
//! environment and flags (and which wins), a bad config file, and `run`,
//! `inspect` and `token` against live nodes.

mod common;

use std::{collections::BTreeMap, net::TcpListener, time::Duration};

use common::{NodeProcess, TempDir, cli, output};
use ractor_grpc::pb::{self, cluster_node_client::ClusterNodeClient};

/// `config`'s lines as key -> (value, source); commented-out keys (no
/// value, or the hidden cookie) are left out.
fn settings(stdout: &str) -> BTreeMap<String, (String, String)> {
    stdout
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (key, rest) = l.split_once(" = ")?;
            let (value, source) = rest.split_once("  # ")?;
            Some((key.to_owned(), (value.trim().to_owned(), source.to_owned())))
        })
        .collect()
}

#[test]
fn a_flag_beats_the_environment_which_beats_the_file_which_beats_the_default() {
    let dir = TempDir::new("precedence");
    let file = dir.file(
        "node.toml",
        "# A node.\n\
         name = \"from-file\"\n\
         heartbeat_interval = \"1s\"\n\
         queue_limit = 100000\n\
         connect = [\"127.0.0.1:4000\"]\n",
    );
    let file_source = format!("file {}", file.display());
    let mut command = cli(&["config", "--config", file.to_str().expect("UTF-8")]);
    command
        .env("RACTOR_GRPC_HEARTBEAT_INTERVAL", "2s")
        .env("RACTOR_GRPC_QUEUE_LIMIT", "200000")
        .env("RACTOR_GRPC_COOKIE", "not to be printed")
        .args(["--queue-limit", "300000", "--mode", "transitive"]);
    let out = output(command);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = settings(&stdout);
    let expect = |key: &str, value: &str, source: &str| {
        assert_eq!(
            got.get(key),
            Some(&(value.to_owned(), source.to_owned())),
            "{key} in:\n{stdout}"
        );
    };
    // The file alone.
    expect("name", "\"from-file\"", &file_source);
    expect("connect", "[\"127.0.0.1:4000\"]", &file_source);
    // File and environment: the environment wins.
    expect(
        "heartbeat_interval",
        "\"2s\"",
        "env RACTOR_GRPC_HEARTBEAT_INTERVAL",
    );
    // File, environment and flag: the flag wins.
    expect("queue_limit", "300000", "flag --queue-limit");
    // A flag alone, and the library's default.
    expect("mode", "\"transitive\"", "flag --mode");
    expect("heartbeat_timeout", "\"10s\"", "default");
    // The cookie is set (from the environment) but never shown.
    assert!(!stdout.contains("not to be printed"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("# cookie = ") && l.ends_with("# env RACTOR_GRPC_COOKIE")),
        "{stdout}"
    );
}

#[test]
fn an_unknown_key_in_the_file_is_named_with_the_file_and_nothing_runs() {
    let dir = TempDir::new("unknown-key");
    let file = dir.file(
        "node.toml",
        "name = \"a\"\ncookie = \"c\"\nheartbeat_timout = \"10s\"\n",
    );
    for command in ["config", "run"] {
        let out = output(cli(&[command, "--config", file.to_str().expect("UTF-8")]));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{command} succeeded: {stderr}");
        assert!(stderr.contains("heartbeat_timout"), "{command}: {stderr}");
        assert!(
            stderr.contains(&format!("{} line 3", file.display())),
            "{command}: {stderr}"
        );
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("listening on"),
            "{command} ran a node"
        );
    }
}

#[test]
fn a_bad_value_names_the_setting_and_where_it_came_from() {
    let mut command = cli(&["run", "--name", "a", "--cookie", "c"]);
    command.env("RACTOR_GRPC_HEARTBEAT_TIMEOUT", "10");
    let out = output(command);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            "error: heartbeat_timeout (from env RACTOR_GRPC_HEARTBEAT_TIMEOUT): \"10\" is not a \
          duration like \"5s\" or \"250ms\" (time unit needed, for example 10sec or 10ms)"
        ],
    );
    let out = output(cli(&["run", "--cookie", "c"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.starts_with("error: no node name"), "{stderr}");
}

#[test]
fn run_from_a_file_and_from_the_environment_then_inspect_the_live_node() {
    let dir = TempDir::new("live");
    let file = dir.file(
        "node.toml",
        "name = \"node-a\"\n\
         cookie = \"live-cookie\"\n\
         listen = \"127.0.0.1:0\"\n\
         demo_actors = true\n\
         heartbeat_interval = \"500ms\"\n",
    );
    let config = file.to_str().expect("UTF-8");
    let mut a = NodeProcess::start("node-a", cli(&["run", "--config", config]));
    a.wait_line("started demo actors");
    let mut only_env = cli(&["run"]);
    only_env
        .env("RACTOR_GRPC_NAME", "node-b")
        .env("RACTOR_GRPC_COOKIE", "live-cookie")
        .env("RACTOR_GRPC_CONNECT", &a.addr);
    let mut b = NodeProcess::start("node-b", only_env);
    // "ready" may print before "keeping ... connected" (another thread):
    // wait for the one that comes only once the session is up.
    b.wait_line("ready with node-a");
    a.wait_line("ready with node-b");

    // The name and the cookie come from the same file.
    let inspect = |listing: &str| {
        let out = output(cli(&["inspect", &a.addr, listing, "--config", config]));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "inspect {listing}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        println!("$ ractor-grpc-node inspect {} {listing}\n{stdout}", a.addr);
        stdout
    };
    let peers = inspect("peers");
    assert!(peers.starts_with("NAME  "), "{peers}");
    assert_eq!(
        ractor_grpc_node::inspect::parse_peers(&peers),
        [("node-b".to_owned(), "ready".to_owned())]
    );
    let groups = ractor_grpc_node::inspect::parse_groups(&inspect("groups"));
    assert!(
        groups.contains(&("pong".to_owned(), vec!["node-a".to_owned()])),
        "{groups:?}"
    );
    assert!(
        groups.contains(&("kv".to_owned(), vec!["node-a".to_owned()])),
        "{groups:?}"
    );
    let actors = inspect("actors");
    let rows = ractor_grpc_node::table::parse(&actors, "PID");
    let pong = rows
        .iter()
        .find(|r| ractor_grpc_node::table::get(r, "NAME") == Some("pong"))
        .unwrap_or_else(|| panic!("no pong in {actors}"));
    assert_eq!(ractor_grpc_node::table::get(pong, "TYPE"), Some("PongMsg"));
    assert_eq!(ractor_grpc_node::table::get(pong, "GROUPS"), Some("pong"));
    let info = inspect("info");
    let field = |name: &str| {
        ractor_grpc_node::table::parse(&info, "FIELD")
            .iter()
            .find(|r| ractor_grpc_node::table::get(r, "FIELD") == Some(name))
            .and_then(|r| ractor_grpc_node::table::get(r, "VALUE").map(str::to_owned))
    };
    assert_eq!(field("name").as_deref(), Some("node-a"), "{info}");
    assert_eq!(field("listen").as_deref(), Some(a.addr.as_str()), "{info}");
    assert_eq!(field("peers").as_deref(), Some("1"), "{info}");
    assert!(ractor_grpc_node::inspect::parse_info_tasks(&info).is_some());

    // A token from `token` works for `inspect` in its place.
    let mut token = cli(&["token", "--name", "node-a"]);
    token.env("RACTOR_GRPC_COOKIE", "live-cookie");
    let out = output(token);
    assert!(out.status.success());
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let mut with_token = cli(&["inspect", &a.addr, "peers"]);
    with_token.env("RACTOR_GRPC_TOKEN", &token);
    let out = output(with_token);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("node-b"));
    // And a wrong cookie's token does not.
    let out = output(cli(&[
        "inspect", &a.addr, "peers", "--name", "node-a", "--cookie", "wrong",
    ]));
    assert!(!out.status.success());

    b.terminate();
    b.wait_line("[node-b] stopped");
    a.wait_line("disconnected from node-b");
    a.terminate();
    a.wait_line("[node-a] stopped");
}

#[test]
fn connect_keeps_dialling_until_the_peer_comes_up() {
    // A port nobody listens on yet (the OS just handed it out).
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let target = format!("127.0.0.1:{port}");
    let mut b = NodeProcess::start(
        "node-b",
        cli(&[
            "run",
            "--name",
            "node-b",
            "--cookie",
            "retry-cookie",
            "--connect",
            &target,
            "--reconnect-initial",
            "50ms",
            "--reconnect-max",
            "200ms",
        ]),
    );
    b.wait_line(&format!("keeping {target} connected"));
    b.wait_line(&format!("will dial {target} again"));
    let _a = NodeProcess::start(
        "node-a",
        cli(&[
            "run",
            "--name",
            "node-a",
            "--cookie",
            "retry-cookie",
            "--listen",
            &target,
        ]),
    );
    b.wait_line("ready with node-a");

    // Without reconnect, one dial: its failure is a line, and the node runs on.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let nobody = format!("127.0.0.1:{port}");
    let mut once = cli(&["run", "--name", "node-c", "--connect", &nobody]);
    once.env("RACTOR_GRPC_COOKIE", "retry-cookie")
        .env("RACTOR_GRPC_RECONNECT", "false");
    let mut c = NodeProcess::start("node-c", once);
    c.wait_line(&format!("could not connect to {nobody}"));
    c.terminate();
}

#[test]
fn one_call_is_followed_across_two_nodes_logs_by_its_trace_id() {
    const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    let dir = TempDir::new("trace");
    let node = |name: &str, extra: &[&str]| {
        let mut args = vec!["run", "--name", name, "--cookie", "trace-cookie"];
        args.extend_from_slice(&["--demo-actors", "--log-spans"]);
        args.extend_from_slice(extra);
        let mut command = cli(&args);
        command.env("RUST_LOG", "warn,ractor_grpc=debug");
        let log = dir.path().join(format!("{name}.log"));
        (NodeProcess::start_logging_to(name, command, &log), log)
    };
    let (mut a, a_log) = node("node-a", &[]);
    let (mut b, b_log) = node("node-b", &["--connect", &a.addr.clone()]);
    b.wait_line("ready with node-a");
    a.wait_line("ready with node-b");

    // A client calls node-b's pong through node-a, in trace TRACE_ID.
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let reply = runtime.block_on(async {
        let token = ractor_grpc::mint_token(
            &ractor_grpc::Cookie::from("trace-cookie"),
            "node-a",
            ractor_grpc::TokenScope::All,
            Duration::from_secs(60),
        )
        .expect("a token");
        let mut client = ClusterNodeClient::connect(format!("http://{}", a.addr))
            .await
            .expect("node-a answers");
        let mut request = tonic::Request::new(pb::CallRequest {
            target: Some(pb::ActorSelector {
                actor: Some(pb::actor_selector::Actor::Name("pong".into())),
                node: "node-b".into(),
            }),
            variant: "Pong".into(),
            arguments: Some(pb::call_request::Arguments::ArgsJson("[41]".into())),
        });
        let metadata = request.metadata_mut();
        let bearer = format!("Bearer {token}").parse().expect("ASCII");
        metadata.insert("authorization", bearer);
        let traceparent = format!("00-{TRACE_ID}-00f067aa0ba902b7-01");
        metadata.insert("traceparent", traceparent.parse().expect("ASCII"));
        client.call(request).await.expect("the call is answered")
    });
    assert_eq!(reply.into_inner().result_json, "42");

    // Each node logged its half of the call as its span closed, in its
    // session with the other, naming the trace and the same tag.
    let caller = common::wait_log_line(&a_log, &["call{", "trace_id", TRACE_ID, "close"]);
    let callee = common::wait_log_line(&b_log, &["call{", "trace_id", TRACE_ID, "close"]);
    assert!(caller.contains("peer=\"node-b\""), "{caller}");
    assert!(callee.contains("peer=\"node-a\""), "{callee}");
    let tag = |line: &str| {
        line.split(['{', ' ', '}'])
            .find(|f| f.starts_with("tag="))
            .map(str::to_owned)
    };
    assert!(tag(&caller).is_some(), "{caller}");
    assert_eq!(tag(&caller), tag(&callee), "{caller}\n{callee}");
    b.terminate();
    a.terminate();
}
