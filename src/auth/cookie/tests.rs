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
