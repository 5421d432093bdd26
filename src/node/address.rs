//! The address a node tells its peers to dial it on: in the handshake (so
//! the peer can dial back) and in transitive introductions.
//!
//! Owns the rule for choosing it; never binds or dials itself, except to ask
//! the OS which local address would route out (a UDP `connect`, which sends
//! nothing).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

use super::config::ConnectionMode;
use crate::auth::MAX_NAME_LEN;

/// The address to advertise: the configured one (a `host:port`, a DNS name
/// allowed); else the bound one; else, when bound to an unspecified address
/// (`0.0.0.0`, `[::]`), the machine's routable address with the bound port.
/// Without one, an isolated node advertises nothing (peers cannot dial it
/// back) and a transitive node refuses to start. An unspecified address is
/// never advertised.
///
/// # Errors
/// A readable reason the node cannot start with these settings.
pub(crate) fn advertised(
    configured: Option<&str>,
    bound: SocketAddr,
    mode: ConnectionMode,
    routable_ip: impl FnOnce(IpAddr) -> Option<IpAddr>,
) -> Result<String, String> {
    if let Some(addr) = configured {
        check(addr)?;
        return Ok(addr.to_owned());
    }
    if !bound.ip().is_unspecified() {
        return Ok(bound.to_string());
    }
    match routable_ip(bound.ip()).filter(|ip| !ip.is_unspecified()) {
        Some(ip) => Ok(SocketAddr::new(ip, bound.port()).to_string()),
        None if mode == ConnectionMode::Transitive => Err(format!(
            "bound to {bound} and the machine has no routable address to advertise: \
             set an advertise address (NodeConfig::with_advertise_addr)"
        )),
        None => Ok(String::new()),
    }
}

/// Checks a configured advertise address: `host:port`, a port above 0, a
/// host that is not unspecified, at most 255 bytes.
fn check(addr: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("advertise address {addr:?}: {why}"));
    if addr.len() > MAX_NAME_LEN {
        return bad("longer than 255 bytes");
    }
    let Some((host, port)) = addr.rsplit_once(':') else {
        return bad("not host:port");
    };
    if !port.parse::<u16>().is_ok_and(|p| p > 0) {
        return bad("the port is not 1 to 65535");
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return bad("no host");
    }
    if host.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified()) {
        return bad("an unspecified address cannot be dialled");
    }
    Ok(())
}

/// The local address the OS would send from to reach the outside, for a
/// listener bound to the unspecified address `unspecified`: asked with a
/// UDP `connect` to a documentation address, which sends no packet.
pub(crate) fn routable_ip(unspecified: IpAddr) -> Option<IpAddr> {
    let (local, probe): (IpAddr, SocketAddr) = match unspecified {
        IpAddr::V4(_) => (
            Ipv4Addr::UNSPECIFIED.into(),
            (Ipv4Addr::new(192, 0, 2, 1), 9).into(),
        ),
        IpAddr::V6(_) => (
            Ipv6Addr::UNSPECIFIED.into(),
            (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 9).into(),
        ),
    };
    let socket = UdpSocket::bind((local, 0)).ok()?;
    socket.connect(probe).ok()?;
    Some(socket.local_addr().ok()?.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISOLATED: ConnectionMode = ConnectionMode::Isolated;
    const TRANSITIVE: ConnectionMode = ConnectionMode::Transitive;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("a socket address")
    }

    fn none(_: IpAddr) -> Option<IpAddr> {
        None
    }

    #[test]
    fn a_configured_address_wins_and_may_be_a_dns_name() {
        let bound = addr("0.0.0.0:4000");
        for configured in [
            "node-a.cluster.local:4000",
            "10.0.0.7:4000",
            "[fd00::7]:4000",
        ] {
            assert_eq!(
                advertised(Some(configured), bound, TRANSITIVE, none).as_deref(),
                Ok(configured)
            );
        }
    }

    #[test]
    fn a_configured_address_that_cannot_be_dialled_is_refused() {
        let bound = addr("127.0.0.1:4000");
        for configured in [
            "0.0.0.0:4000",
            "[::]:4000",
            "node-a",
            "node-a:0",
            "node-a:http",
            ":4000",
            &format!("{}:1", "x".repeat(300)),
        ] {
            let got = advertised(Some(configured), bound, ISOLATED, none);
            assert!(got.is_err(), "{configured:?} accepted as {got:?}");
        }
    }

    #[test]
    fn a_specific_bound_address_is_advertised_as_is() {
        for bound in ["127.0.0.1:4000", "[::1]:4001", "10.1.2.3:9"] {
            assert_eq!(
                advertised(None, addr(bound), TRANSITIVE, none),
                Ok(addr(bound).to_string())
            );
        }
    }

    #[test]
    fn an_unspecified_bind_advertises_the_routable_address_with_the_bound_port() {
        let routable = |_: IpAddr| Some(IpAddr::from([10, 0, 0, 7]));
        assert_eq!(
            advertised(None, addr("0.0.0.0:4000"), TRANSITIVE, routable).as_deref(),
            Ok("10.0.0.7:4000")
        );
        // Without one: nothing for an isolated node, a refusal for a
        // transitive one, never the unspecified address itself.
        assert_eq!(
            advertised(None, addr("0.0.0.0:4000"), ISOLATED, none).as_deref(),
            Ok("")
        );
        let err = advertised(None, addr("[::]:4000"), TRANSITIVE, none);
        assert!(err.is_err_and(|e| e.contains("advertise address")));
        let unspecified = |ip: IpAddr| Some(ip);
        assert_eq!(
            advertised(None, addr("0.0.0.0:4000"), ISOLATED, unspecified).as_deref(),
            Ok("")
        );
    }
}
