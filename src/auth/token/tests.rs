use super::*;

const NOW: u64 = 1_800_000_000;
const HOUR: u64 = 3_600;

fn cookie() -> Cookie {
    Cookie::from("secret")
}

fn verifier() -> TokenVerifier {
    TokenVerifier::new("node-a", cookie())
}

fn token(scope: TokenScope, expiry: u64) -> String {
    encode(&cookie(), "node-a", scope, expiry)
}

/// The token with piece `i` replaced by `with`.
fn with_piece(token: &str, i: usize, with: &str) -> String {
    let mut pieces: Vec<&str> = token.split('.').collect();
    pieces[i] = with;
    pieces.join(".")
}

fn malformed(result: Result<TokenScope, TokenError>, says: &str) {
    match result {
        Err(TokenError::Malformed(why)) => assert!(why.contains(says), "{why}"),
        other => panic!("expected a malformed token ({says}), got {other:?}"),
    }
}

#[test]
fn a_token_round_trips_with_its_scope() {
    for scope in [TokenScope::Inspect, TokenScope::All] {
        let t = token(scope, NOW + HOUR);
        assert_eq!(verifier().verify(&t, NOW), Ok(scope), "{t}");
        assert!(t.len() < MAX_TOKEN_LEN);
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
            "{t} is not header-safe"
        );
    }
}

#[test]
fn the_format_is_the_documented_one() {
    let t = token(TokenScope::Inspect, 1_234);
    let pieces: Vec<&str> = t.split('.').collect();
    assert_eq!(pieces[..4], ["rgt1", "bm9kZS1h", "inspect", "1234"]);
    // HMAC-SHA256(cookie, label || lp(name) || lp(scope) || u64be(expiry)),
    // written out by hand.
    let mut msg = b"ractor_grpc/v1 unary token".to_vec();
    msg.extend_from_slice(&6u32.to_be_bytes());
    msg.extend_from_slice(b"node-a");
    msg.extend_from_slice(&7u32.to_be_bytes());
    msg.extend_from_slice(b"inspect");
    msg.extend_from_slice(&1_234u64.to_be_bytes());
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(b"secret").expect("any key");
    hmac::Mac::update(&mut mac, &msg);
    let expected = URL_SAFE_NO_PAD.encode(hmac::Mac::finalize(mac).into_bytes());
    assert_eq!(pieces[4], expected);
}

#[test]
fn mint_token_expires_after_its_ttl() {
    let before = unix_now().expect("clock");
    let t = mint_token(
        &cookie(),
        "node-a",
        TokenScope::All,
        Duration::from_secs(60),
    )
    .expect("minted");
    let after = unix_now().expect("clock");
    let expiry: u64 = t
        .split('.')
        .nth(3)
        .expect("expiry")
        .parse()
        .expect("digits");
    assert!((before + 60..=after + 60).contains(&expiry), "{expiry}");
    assert_eq!(verifier().verify(&t, after), Ok(TokenScope::All));
    assert!(matches!(
        verifier().verify(&t, expiry),
        Err(TokenError::Expired { .. })
    ));
}

#[test]
fn mint_token_refuses_what_no_node_would_accept() {
    let ttl = Duration::from_secs(60);
    let mint = |cookie: &Cookie, node: &str, ttl| mint_token(cookie, node, TokenScope::All, ttl);
    assert_eq!(
        mint(&Cookie::from(""), "node-a", ttl),
        Err(MintError::EmptyCookie)
    );
    assert_eq!(mint(&cookie(), "", ttl), Err(MintError::NodeName(0)));
    assert_eq!(
        mint(&cookie(), &"n".repeat(256), ttl),
        Err(MintError::NodeName(256))
    );
    for bad in [
        Duration::ZERO,
        Duration::from_millis(999),
        MAX_TOKEN_TTL + Duration::from_secs(1),
    ] {
        assert_eq!(mint(&cookie(), "node-a", bad), Err(MintError::Ttl(bad)));
    }
    assert!(mint(&cookie(), &"n".repeat(255), MAX_TOKEN_TTL).is_ok());
}

#[test]
fn an_expired_token_says_when_it_expired() {
    let t = token(TokenScope::Inspect, NOW);
    let err = verifier().verify(&t, NOW + 90).expect_err("expired");
    assert_eq!(
        err,
        TokenError::Expired {
            at: NOW,
            now: NOW + 90
        }
    );
    assert_eq!(
        err.to_string(),
        "token expired at 2027-01-15T08:00:00Z (90 s ago): mint a new one"
    );
    // The last second is already too late.
    assert!(verifier().verify(&t, NOW).is_err());
    assert!(verifier().verify(&t, NOW - 1).is_ok());
}

#[test]
fn a_token_that_lives_too_long_is_refused() {
    let far = NOW + MAX_TOKEN_TTL.as_secs() + CLOCK_SKEW + 1;
    let err = verifier()
        .verify(&token(TokenScope::All, far), NOW)
        .expect_err("too long-lived");
    assert_eq!(err, TokenError::TooLongLived(far));
    assert!(err.to_string().contains("shorter lifetime"), "{err}");
    let skewed = NOW + MAX_TOKEN_TTL.as_secs() + CLOCK_SKEW;
    assert!(
        verifier()
            .verify(&token(TokenScope::All, skewed), NOW)
            .is_ok()
    );
}

#[test]
fn a_forged_mac_does_not_verify() {
    let t = token(TokenScope::Inspect, NOW + HOUR);
    let tag = t.rsplit('.').next().expect("mac");
    // One bit of the MAC flipped (the first character is a whole 6 bits).
    let flipped = if tag.starts_with('A') { "B" } else { "A" };
    let forged = with_piece(&t, 4, &format!("{flipped}{}", &tag[1..]));
    let err = verifier().verify(&forged, NOW).expect_err("forged");
    assert_eq!(err, TokenError::Forged);
    assert_eq!(
        err.to_string(),
        "token signature does not verify (wrong cookie?)"
    );
}

#[test]
fn changing_any_covered_field_breaks_the_mac() {
    let t = token(TokenScope::Inspect, NOW + HOUR);
    let wider = with_piece(&t, 2, "all");
    let longer = with_piece(&t, 3, &(NOW + 2 * HOUR).to_string());
    let renamed = with_piece(&t, 1, &URL_SAFE_NO_PAD.encode("node-b"));
    for bad in [wider, longer, renamed] {
        assert_eq!(
            verifier().verify(&bad, NOW),
            Err(TokenError::Forged),
            "{bad}"
        );
    }
}

#[test]
fn a_token_minted_with_another_cookie_is_forged() {
    let t = encode(
        &Cookie::from("other"),
        "node-a",
        TokenScope::All,
        NOW + HOUR,
    );
    assert_eq!(verifier().verify(&t, NOW), Err(TokenError::Forged));
}

#[test]
fn a_token_for_another_node_names_both() {
    let t = encode(&cookie(), "node-b", TokenScope::All, NOW + HOUR);
    let err = verifier().verify(&t, NOW).expect_err("other node");
    assert_eq!(
        err.to_string(),
        r#"token was minted for node "node-b", this is node "node-a""#
    );
}

#[test]
fn a_handshake_proof_label_never_makes_a_token() {
    // Same fields, the dialer-proof domain: not a token.
    let mut mac = CookieMac::new(&cookie(), Domain::DialerProof);
    mac.field(b"node-a");
    mac.field(b"all");
    mac.raw(&(NOW + HOUR).to_be_bytes());
    let t = with_piece(
        &token(TokenScope::All, NOW + HOUR),
        4,
        &URL_SAFE_NO_PAD.encode(mac.finish()),
    );
    assert_eq!(verifier().verify(&t, NOW), Err(TokenError::Forged));
}

#[test]
fn bad_pieces_are_malformed_and_say_which() {
    let t = token(TokenScope::Inspect, NOW + HOUR);
    let piece = |i, with| with_piece(&t, i, with);
    let mut cases = vec![
        (String::new(), "1 dot-separated pieces"),
        ("rgt1.a.b.c".to_owned(), "4 dot-separated pieces"),
        (format!("{t}.x"), "6 dot-separated pieces"),
        (piece(1, "bm9kZS1h="), "node name is not base64url"),
        (piece(1, "!!"), "node name is not base64url"),
        (piece(1, ""), "0 bytes"),
        (piece(1, "_w"), "not UTF-8"),
        (piece(2, "admin"), "unknown token scope \"admin\""),
        (piece(2, "ALL"), "unknown token scope"),
        (piece(3, "99999999999999999999"), "out of range"),
        (piece(4, "AAAA"), "3 bytes, not 32"),
        (piece(4, "A"), "MAC is not base64url"),
    ];
    for expiry in ["", "+5", "-5", "1e9", " 5"] {
        cases.push((piece(3, expiry), "is not unix seconds"));
    }
    for (token, says) in cases {
        malformed(verifier().verify(&token, NOW), says);
    }
    assert_eq!(
        verifier().verify(&piece(0, "rgt2"), NOW),
        Err(TokenError::Version("rgt2".into()))
    );
}

#[test]
fn absurdly_long_input_is_refused_unread() {
    let long = "a".repeat(MAX_TOKEN_LEN + 1);
    assert_eq!(
        verifier().verify(&long, NOW),
        Err(TokenError::TooLong(MAX_TOKEN_LEN + 1))
    );
    let header = format!("Bearer {}", "a".repeat(1 << 20));
    assert_eq!(
        verifier().authorize(Some(header.as_bytes()), NOW),
        Err(TokenError::TooLong(header.len()))
    );
    // The longest possible token fits.
    let longest = encode(&cookie(), &"n".repeat(255), TokenScope::Inspect, u64::MAX);
    assert!(longest.len() <= MAX_TOKEN_LEN, "{}", longest.len());
}

#[test]
fn the_authorization_value_is_bearer_and_a_token() {
    let t = token(TokenScope::Inspect, NOW + HOUR);
    let v = verifier();
    let authorize = |value: &str| v.authorize(Some(value.as_bytes()), NOW);
    assert_eq!(authorize(&format!("Bearer {t}")), Ok(TokenScope::Inspect));
    assert_eq!(authorize(&format!("bearer  {t} ")), Ok(TokenScope::Inspect));
    assert_eq!(authorize(&t), Err(TokenError::NotBearer));
    assert_eq!(authorize(&format!("Basic {t}")), Err(TokenError::NotBearer));
    assert_eq!(
        v.authorize(Some(b"Bearer \xff"), NOW),
        Err(TokenError::NotBearer)
    );
    let missing = v.authorize(None, NOW).expect_err("missing");
    assert_eq!(missing, TokenError::Missing);
    assert!(
        missing
            .to_string()
            .starts_with("missing authorization metadata: send 'authorization: Bearer <token>'"),
        "{missing}"
    );
}

#[test]
fn scopes_parse_print_and_cover() {
    for scope in [TokenScope::Inspect, TokenScope::All] {
        assert_eq!(scope.to_string().parse::<TokenScope>(), Ok(scope));
    }
    assert!("root".parse::<TokenScope>().is_err());
    assert!(TokenScope::All.allows(TokenScope::Inspect));
    assert!(TokenScope::All.allows(TokenScope::All));
    assert!(TokenScope::Inspect.allows(TokenScope::Inspect));
    assert!(!TokenScope::Inspect.allows(TokenScope::All));
}

#[test]
fn utc_formats_unix_seconds() {
    assert_eq!(utc(0), "1970-01-01T00:00:00Z");
    assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(utc(1_700_000_000), "2023-11-14T22:13:20Z");
    assert_eq!(utc(4_107_542_399), "2100-02-28T23:59:59Z");
}
