use super::*;

#[test]
fn no_label_is_a_prefix_of_another() {
    let all = [
        Domain::DialerProof,
        Domain::AcceptorProof,
        Domain::UnaryToken,
    ];
    for a in all {
        for b in all {
            if a != b {
                assert!(!a.label().starts_with(b.label()), "{a:?} starts with {b:?}");
            }
        }
    }
}

#[test]
fn a_mac_verifies_only_for_its_domain_and_cookie() {
    let cookie = Cookie::from("secret");
    let tag = {
        let mut mac = CookieMac::new(&cookie, Domain::AcceptorProof);
        mac.field(b"node-a");
        mac.finish()
    };
    let check = |cookie: &Cookie, domain| {
        let mut mac = CookieMac::new(cookie, domain);
        mac.field(b"node-a");
        mac.verify(&tag)
    };
    assert!(check(&cookie, Domain::AcceptorProof));
    assert!(!check(&cookie, Domain::DialerProof));
    assert!(!check(&Cookie::from("other"), Domain::AcceptorProof));
    assert!(!CookieMac::new(&cookie, Domain::AcceptorProof).verify(&tag[..MAC_LEN - 1]));
}

/// The handshake test vector at the top of `cluster.proto`: the proofs this
/// code computes for its inputs are the ones written there, so the document
/// and the code cannot drift apart.
#[test]
fn the_documented_test_vector() {
    const PROTO: &str = include_str!("../../../proto/ractor_grpc/v1/cluster.proto");
    let cookie = Cookie::from("ractor-grpc test vector cookie");
    let dialer_nonce: Vec<u8> = (0u8..32).collect();
    let acceptor_nonce: Vec<u8> = (32u8..64).collect();
    let transcript = Transcript {
        dialer_name: "node-a",
        acceptor_name: "node-b",
        dialer_nonce: &dialer_nonce,
        acceptor_nonce: &acceptor_nonce,
        dialer_versions: (1, 2),
        version: 2,
        dialer_incarnation: 0x0102_0304_0506_0708,
        acceptor_incarnation: 0x1112_1314_1516_1718,
        dialer_listen_addr: "127.0.0.1:4000",
        acceptor_listen_addr: "127.0.0.1:4001",
    };
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    for (role, line) in [
        (Role::Dialer, "dialer proof    "),
        (Role::Acceptor, "acceptor proof  "),
    ] {
        let proof = prove(&cookie, role, &transcript);
        let documented = format!("//   {line}{}", hex(&proof));
        assert!(
            PROTO.contains(&documented),
            "cluster.proto lacks the line {documented:?}"
        );
        assert!(verify(&cookie, role, &transcript, &proof));
    }
}
