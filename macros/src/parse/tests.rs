use syn::parse_quote;

use super::cluster_message;
use crate::model::{Kind, Shape};

#[test]
fn reply_port_found_at_any_position_and_through_paths() {
    let m = cluster_message(parse_quote! {
        enum E {
            A,
            #[rpc]
            B { x: u8, reply: ::ractor::RpcReplyPort<Vec<String>>, y: i64 },
            #[rpc]
            C(RpcReplyPort<u8>),
            r#D(u8, u16),
        }
    })
    .expect("valid input");
    let ports: Vec<_> = m
        .variants
        .iter()
        .map(|v| match &v.kind {
            Kind::Cast => None,
            Kind::Call { port, .. } => Some(*port),
        })
        .collect();
    assert_eq!(ports, [None, Some(1), Some(0), None]);
    let tags: Vec<_> = m.variants.iter().map(|v| v.tag.as_str()).collect();
    assert_eq!(tags, ["A", "B", "C", "D"]);
    assert!(matches!(m.variants[1].shape, Shape::Named));
    assert_eq!(
        m.variants[1].args().map(|(i, _)| i).collect::<Vec<_>>(),
        [0, 2]
    );
}

#[test]
fn every_misuse_is_reported_at_once() {
    let Err(e) = cluster_message(parse_quote! {
        enum E {
            #[rpc]
            A(u8),
            B(RpcReplyPort<u8>),
            #[rpc(x)]
            C(RpcReplyPort<u8>),
        }
    }) else {
        panic!("misuse accepted");
    };
    let messages: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
    assert_eq!(
        messages,
        [
            "#[rpc] variant needs exactly one RpcReplyPort<T> field",
            "add #[rpc] to use a reply port",
            "#[rpc] takes no arguments",
        ]
    );
}

#[test]
fn reply_port_needs_one_type_argument() {
    let Err(e) = cluster_message(parse_quote! {
        enum E {
            #[rpc]
            A(RpcReplyPort),
        }
    }) else {
        panic!("misuse accepted");
    };
    // Reported once: not also as a call without a port.
    let messages: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
    assert_eq!(
        messages,
        ["a reply port is written RpcReplyPort<T>, with one reply type T"]
    );
}
