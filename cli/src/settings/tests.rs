use super::*;

#[test]
fn durations_read_as_people_write_them() {
    assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
    assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    assert_eq!(parse_duration(" 1m "), Ok(Duration::from_secs(60)));
    assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
    for bad in ["5", "5x", "", "fast", "-1s"] {
        let err = parse_duration(bad).expect_err(bad);
        assert!(err.contains("is not a duration"), "{bad:?}: {err}");
    }
}

#[test]
fn a_file_reads_durations_as_strings_and_refuses_numbers() {
    let layer =
        Layer::from_toml("heartbeat_timeout = \"10s\"\nqueue_limit = 65536\n").expect("a layer");
    assert_eq!(layer.heartbeat_timeout, Some(Duration::from_secs(10)));
    assert_eq!(layer.queue_limit, Some(65536));
    let err = Layer::from_toml("name = \"a\"\nheartbeat_timeout = 10\n").expect_err("a number");
    assert!(err.starts_with(" line 2: "), "{err}");
    assert!(err.contains("a duration is a string with a unit"), "{err}");
    let err = Layer::from_toml("heartbeat_timeout = \"10 parsecs\"").expect_err("a bad unit");
    assert!(err.contains("is not a duration"), "{err}");
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let err = Layer::from_toml("name = \"a\"\n\nheartbeat_timout = \"1s\"\n").expect_err("unknown");
    assert!(err.starts_with(" line 3: "), "{err}");
    assert!(err.contains("unknown field `heartbeat_timout`"), "{err}");
    assert!(!err.contains('\n'), "one line: {err}");
    // Tables (sections) are not settings either.
    let err = Layer::from_toml("[node]\nname = \"a\"\n").expect_err("a table");
    assert!(err.contains("unknown field `node`"), "{err}");
}

#[test]
fn a_file_error_names_the_file() {
    let dir = std::env::temp_dir().join(format!("ractor-grpc-node-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let path = dir.join("node.toml");
    std::fs::write(&path, "queue_limt = 1\n").expect("written");
    let err = Layer::from_file(&path)
        .expect_err("unknown key")
        .to_string();
    assert!(
        err.starts_with(&format!("config file {} line 1: ", path.display())),
        "{err}"
    );
    assert!(err.contains("`queue_limt`"), "{err}");
    let missing = Layer::from_file(&dir.join("missing.toml")).expect_err("no file");
    assert!(missing.to_string().starts_with("cannot read config file"));
    let _ = std::fs::remove_dir_all(&dir);
}

fn layer(values: &[(&str, &str)]) -> Layer {
    let mut layer = Layer::default();
    for (key, value) in values {
        layer
            .set_text(key, &[(*value).to_owned()], &Source::Flag)
            .expect("a value");
    }
    layer
}

fn sourced<T>(value: T, source: Source) -> Option<Sourced<T>> {
    Some(Sourced { value, source })
}

#[test]
fn each_layer_wins_over_the_ones_below() {
    let file = layer(&[
        ("name", "from-file"),
        ("heartbeat_interval", "1s"),
        ("queue_limit", "100000"),
    ]);
    let env = layer(&[("heartbeat_interval", "2s"), ("queue_limit", "200000")]);
    let flags = layer(&[("queue_limit", "300000")]);
    let file_source = Source::File("node.toml".into());
    let merged = merge(&[
        (Source::Default, &Layer::defaults()),
        (file_source.clone(), &file),
        (Source::Env, &env),
        (Source::Flag, &flags),
    ]);
    assert_eq!(merged.name, sourced("from-file".to_owned(), file_source));
    assert_eq!(
        merged.heartbeat_interval,
        sourced(Duration::from_secs(2), Source::Env)
    );
    assert_eq!(merged.queue_limit, sourced(300_000, Source::Flag));
    let defaults = NodeConfig::new("", "");
    assert_eq!(
        merged.heartbeat_timeout,
        sourced(defaults.heartbeat().timeout, Source::Default)
    );
    assert_eq!(merged.receive_budget, None);
    // Without the env and flags, the file's values stand.
    let merged = merge(&[(Source::Default, &Layer::defaults()), (Source::Env, &file)]);
    assert_eq!(merged.queue_limit, sourced(100_000, Source::Env));
}

#[test]
fn the_naming_rule_gives_every_key_its_env_var_and_flag() {
    assert_eq!(
        env_var("heartbeat_timeout"),
        "RACTOR_GRPC_HEARTBEAT_TIMEOUT"
    );
    assert_eq!(flag("heartbeat_timeout"), "heartbeat-timeout");
    assert_eq!(
        Source::Env.describe("queue_limit"),
        "env RACTOR_GRPC_QUEUE_LIMIT"
    );
    assert_eq!(Source::Flag.describe("queue_limit"), "flag --queue-limit");
    // Every key is a file key too, and says what it does.
    for key in KEYS {
        assert!(!key.help_line().is_empty(), "{}", key.name);
        let mut layer = Layer::default();
        let value = match key.shape {
            Shape::Switch => "true",
            _ => "x",
        };
        // Known to `set`: a bad value is a parse error, not "no such key".
        if let Err(e) = layer.set(key.name, &[value.to_owned()]) {
            assert_ne!(e, "is not a setting", "{}", key.name);
        }
    }
}

#[test]
fn text_values_parse_by_kind_and_say_where_they_came_from() {
    let mut layer = Layer::default();
    let err = layer
        .set_text("heartbeat_timeout", &["10".to_owned()], &Source::Env)
        .expect_err("no unit");
    assert!(
        err.to_string()
            .starts_with("heartbeat_timeout (from env RACTOR_GRPC_HEARTBEAT_TIMEOUT): "),
        "{err}"
    );
    let err = layer
        .set_text("listen", &["localhost".to_owned()], &Source::Flag)
        .expect_err("not an address");
    assert!(
        err.to_string().starts_with("listen (from flag --listen): "),
        "{err}"
    );
    layer
        .set_text(
            "connect",
            &["a:1, b:2".to_owned(), "c:3".to_owned()],
            &Source::Env,
        )
        .expect("a list");
    assert_eq!(
        layer.connect,
        Some(vec!["a:1".into(), "b:2".into(), "c:3".into()])
    );
    layer
        .set_text("mode", &["transitive".to_owned()], &Source::Flag)
        .expect("a mode");
    assert_eq!(layer.mode, Some(ConnectionMode::Transitive));
    layer
        .set_text("reconnect", &["no".to_owned()], &Source::Flag)
        .expect("a switch");
    assert_eq!(layer.reconnect, Some(false));
}

fn merged(values: &[(&str, &str)]) -> Merged {
    merge(&[
        (Source::Default, &Layer::defaults()),
        (Source::Flag, &layer(values)),
    ])
}

#[test]
fn a_run_needs_a_name_and_a_cookie_and_whole_tls_settings() {
    let err = merged(&[("cookie", "c")]).run_plan().expect_err("no name");
    assert!(err.to_string().starts_with("no node name"), "{err}");
    let err = merged(&[("name", "a")]).run_plan().expect_err("no cookie");
    assert!(err.to_string().starts_with("no cookie"), "{err}");
    let err = merged(&[("name", "a"), ("cookie", "c"), ("tls_key", "k.pem")])
        .run_plan()
        .expect_err("a key alone");
    assert_eq!(
        err.to_string(),
        "tls_key (from flag --tls-key) also needs tls_cert and tls_ca"
    );
    let err = merged(&[
        ("name", "a"),
        ("cookie", "c"),
        ("require_client_cert", "true"),
    ])
    .run_plan()
    .expect_err("mutual TLS without TLS");
    assert_eq!(
        err.to_string(),
        "require_client_cert (from flag --require-client-cert) also needs tls_cert, tls_key \
         and tls_ca"
    );
    // The library's rules, before anything starts.
    let err = merged(&[("name", "a"), ("cookie", "c"), ("queue_limit", "1000")])
        .run_plan()
        .expect_err("a queue limit under 64 KiB");
    assert_eq!(
        err.to_string(),
        "the settings cannot run a node: the queue limit must be at least 64 KiB"
    );
    let plan = merged(&[
        ("name", "a"),
        ("cookie", "c"),
        ("heartbeat_interval", "250ms"),
        ("reconnect", "false"),
        ("connect", "127.0.0.1:4000"),
    ])
    .run_plan()
    .expect("a plan");
    assert_eq!(plan.config.heartbeat().interval, Duration::from_millis(250));
    assert!(!plan.reconnect && !plan.config.reconnect().enabled);
    assert_eq!(plan.connect, vec!["127.0.0.1:4000".to_owned()]);
}

#[test]
fn the_cookie_from_the_higher_source_wins_over_a_cookie_file() {
    let file = layer(&[("cookie_file", "/nonexistent/cookie")]);
    let env = layer(&[("cookie", "from-env")]);
    let merged = merge(&[(Source::File("f".into()), &file), (Source::Env, &env)]);
    assert_eq!(merged.cookie(), Ok("from-env".to_owned()));
    let both = merge(&[(
        Source::Env,
        &layer(&[("cookie", "c"), ("cookie_file", "f")]),
    )]);
    let err = both.cookie().expect_err("both at one level");
    assert!(err.to_string().contains("are both set"), "{err}");
}

#[test]
fn the_annotated_toml_says_each_source_and_hides_the_cookie() {
    let text = merged(&[("name", "a"), ("cookie", "secret")]).to_annotated_toml();
    assert!(!text.contains("secret"), "{text}");
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("no {key} in {text}"))
            .to_owned()
    };
    assert!(line("name").ends_with("# flag --name"), "{text}");
    assert!(line("heartbeat_timeout").contains("= \"10s\""), "{text}");
    assert!(line("heartbeat_timeout").ends_with("# default"), "{text}");
    // What is not a comment is a config file the CLI reads back.
    let active: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let back = Layer::from_toml(&active).expect("reads back");
    assert_eq!(back.name.as_deref(), Some("a"));
    assert_eq!(back.heartbeat_timeout, Some(Duration::from_secs(10)));
}
