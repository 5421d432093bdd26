//! The derives through ractor's own `Message` API: what goes on the wire,
//! what comes back, what is refused, and local use in a real actor. No
//! network: the "other side" is the same process.

use std::time::Duration;

use ractor::{
    Actor, ActorProcessingErr, ActorRef, Message, RpcReplyPort, concurrency,
    message::{BoxedDowncastErr, SerializedMessage},
    rpc::CallResult,
};
use ractor_grpc::wire::to_bytes;

use messages::{
    Empty, Generic, Local, LocalOf, LooksLikeInternals, MyBasicMessageType, OnlyCalls, OnlyCasts,
    Shapes,
};

/// Bounds a wait so a broken bridge fails the test instead of hanging it;
/// never reached when things work.
const HANG_GUARD: Duration = Duration::from_secs(30);

/// Message types as a user writes them: only the two imports below are in
/// scope. The lints are raised here (and only here) because the derive's
/// output must be clean under whatever lints a user crate denies.
#[deny(
    warnings,
    clippy::all,
    clippy::pedantic,
    unused_qualifications,
    unused_results
)]
mod messages {
    use ractor::RpcReplyPort;
    use ractor_grpc::RactorClusterMessage;

    #[derive(RactorClusterMessage)]
    pub(crate) enum MyBasicMessageType {
        Cast1(String, u64),
        #[rpc]
        Call1(u8, i64, RpcReplyPort<Vec<String>>),
    }

    #[derive(RactorClusterMessage)]
    pub(crate) enum Shapes {
        Unit,
        Empty(),
        Named {
            name: String,
            count: u32,
        },
        #[rpc]
        Lookup {
            key: String,
            reply: RpcReplyPort<Option<u64>>,
            limit: u16,
        },
        #[rpc]
        Ping(RpcReplyPort<bool>),
    }

    #[derive(RactorClusterMessage)]
    pub(crate) enum Generic<T> {
        Put(T),
        #[rpc]
        Get(RpcReplyPort<Option<T>>),
    }

    #[derive(ractor_grpc::RactorMessage)]
    pub(crate) struct Local(pub(crate) u32);

    #[derive(ractor_grpc::RactorMessage)]
    pub(crate) enum LocalOf<T> {
        Value(T),
    }

    /// Only casts, and only calls: the derive must not leave unused
    /// bindings or unreachable arms behind for the missing kind.
    #[derive(RactorClusterMessage)]
    pub(crate) enum OnlyCasts {
        A(u8),
        B,
    }

    #[derive(RactorClusterMessage)]
    pub(crate) enum OnlyCalls {
        #[rpc]
        A(RpcReplyPort<u8>),
    }

    #[derive(RactorClusterMessage)]
    pub(crate) enum Empty {}

    /// Field names that look like the derive's own locals.
    #[derive(RactorClusterMessage)]
    pub(crate) enum LooksLikeInternals<T> {
        V {
            __f0: T,
            __args: u8,
            __input: String,
        },
        #[rpc]
        W {
            __reply: u8,
            __message: RpcReplyPort<u8>,
        },
    }
}

/// The prelude and std names the derive's output uses, shadowed: its paths
/// must all be absolute.
#[allow(dead_code, non_camel_case_types)]
mod shadowed {
    use ::ractor::RpcReplyPort;
    use ::ractor_grpc::RactorClusterMessage;

    struct String;
    struct Vec;
    struct Option;
    struct Result;
    struct Box;
    struct Send;
    struct Display;
    struct bool;
    struct Ok;
    struct Err;
    struct Some;
    struct None;
    mod std {}
    mod core {}
    mod ractor_grpc {}
    mod ractor {}

    #[derive(RactorClusterMessage)]
    enum M {
        A(u8),
        #[rpc]
        B(u16, RpcReplyPort<u32>),
    }
}

/// `msg` serialized, which must be a cast.
fn cast_parts<M: Message>(msg: M) -> (String, Vec<u8>) {
    match msg.serialize().expect("serializes") {
        SerializedMessage::Cast {
            variant,
            args,
            metadata,
        } => {
            assert_eq!(metadata, None);
            (variant, args)
        }
        other => panic!("expected a cast, got {other:?}"),
    }
}

/// `msg` serialized, which must be a call.
fn call_parts<M: Message>(msg: M) -> (String, Vec<u8>, RpcReplyPort<Vec<u8>>) {
    match msg.serialize().expect("serializes") {
        SerializedMessage::Call {
            variant,
            args,
            reply,
            metadata,
        } => {
            assert_eq!(metadata, None);
            (variant, args, reply)
        }
        other => panic!("expected a call, got {other:?}"),
    }
}

fn cast(variant: &str, args: Vec<u8>) -> SerializedMessage {
    SerializedMessage::Cast {
        variant: variant.to_owned(),
        args,
        metadata: None,
    }
}

fn call(variant: &str, args: Vec<u8>, reply: RpcReplyPort<Vec<u8>>) -> SerializedMessage {
    SerializedMessage::Call {
        variant: variant.to_owned(),
        args,
        reply,
        metadata: None,
    }
}

/// A byte reply port whose receiver the test keeps, with no timeout of its
/// own: an error on the receiver can only mean the port was dropped.
fn byte_port() -> (RpcReplyPort<Vec<u8>>, concurrency::OneshotReceiver<Vec<u8>>) {
    let (tx, rx) = concurrency::oneshot();
    (RpcReplyPort::from(tx), rx)
}

/// Concatenated encodings, which is what `args` is by contract.
fn concat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn cast_round_trips_field_values_and_follows_the_wire_contract() {
    let (variant, args) = cast_parts(MyBasicMessageType::Cast1("héllo".to_owned(), u64::MAX));
    assert_eq!(variant, "Cast1");
    assert_eq!(
        args,
        concat(&[to_bytes(&"héllo".to_owned()), to_bytes(&u64::MAX)])
    );

    match MyBasicMessageType::deserialize(cast(&variant, args)).expect("decodes") {
        MyBasicMessageType::Cast1(s, n) => assert_eq!((s.as_str(), n), ("héllo", u64::MAX)),
        MyBasicMessageType::Call1(..) => panic!("wrong variant"),
    }
}

#[test]
fn variants_without_fields_and_struct_variants_round_trip() {
    for (msg, tag) in [(Shapes::Unit, "Unit"), (Shapes::Empty(), "Empty")] {
        let (variant, args) = cast_parts(msg);
        assert_eq!((variant.as_str(), args.as_slice()), (tag, &[][..]));
        let back = Shapes::deserialize(cast(tag, Vec::new())).expect("decodes");
        assert_eq!(variant_name(&back), tag);
    }

    let (variant, args) = cast_parts(Shapes::Named {
        name: "n".to_owned(),
        count: 7,
    });
    assert_eq!(variant, "Named");
    assert_eq!(args, concat(&[to_bytes(&"n".to_owned()), to_bytes(&7u32)]));
    match Shapes::deserialize(cast(&variant, args)).expect("decodes") {
        Shapes::Named { name, count } => assert_eq!((name.as_str(), count), ("n", 7)),
        other => panic!("wrong variant {}", variant_name(&other)),
    }
}

fn variant_name(m: &Shapes) -> &'static str {
    match m {
        Shapes::Unit => "Unit",
        Shapes::Empty() => "Empty",
        Shapes::Named { .. } => "Named",
        Shapes::Lookup { .. } => "Lookup",
        Shapes::Ping(_) => "Ping",
    }
}

#[test]
fn generic_cast_round_trips() {
    let (variant, args) = cast_parts(Generic::Put(vec![1u32, 2, 3]));
    assert_eq!(variant, "Put");
    match Generic::<Vec<u32>>::deserialize(cast(&variant, args)).expect("decodes") {
        Generic::Put(v) => assert_eq!(v, [1, 2, 3]),
        Generic::Get(_) => panic!("wrong variant"),
    }
}

#[test]
fn local_message_is_not_serializable() {
    assert!(!Local::serializable());
    assert!(matches!(Local(1).serialize(), Err(BoxedDowncastErr)));
    assert!(Local::deserialize(cast("Local", Vec::new())).is_err());
    assert_eq!(Local(5).0, 5);
    assert!(!LocalOf::<Vec<String>>::serializable());
    let LocalOf::Value(v) = LocalOf::Value(3u8);
    assert_eq!(v, 3);
    assert!(MyBasicMessageType::serializable());
}

/// Serializes `msg` on the caller's side, deserializes it on the "other
/// side", and hands back what the callee sees.
fn across<M: Message>(msg: M) -> M {
    let (variant, args, reply) = call_parts(msg);
    M::deserialize(call(&variant, args, reply)).expect("decodes")
}

#[tokio::test]
async fn call_round_trip_carries_the_reply_back_to_the_caller() {
    let (tx, rx) = concurrency::oneshot();
    let msg = MyBasicMessageType::Call1(7, -9, RpcReplyPort::from(tx));
    let (variant, args, reply) = call_parts(msg);
    assert_eq!(variant, "Call1");
    assert_eq!(args, concat(&[to_bytes(&7u8), to_bytes(&-9i64)]));

    let MyBasicMessageType::Call1(a, b, port) =
        MyBasicMessageType::deserialize(call(&variant, args, reply)).expect("decodes")
    else {
        panic!("wrong variant");
    };
    assert_eq!((a, b), (7, -9));
    port.send(vec!["x".to_owned(), "y".to_owned()])
        .expect("caller waits");

    let got = tokio::time::timeout(HANG_GUARD, rx)
        .await
        .expect("no hang")
        .expect("reply arrives");
    assert_eq!(got, ["x", "y"]);
}

#[tokio::test]
async fn call_with_the_port_between_fields_round_trips() {
    let (tx, rx) = concurrency::oneshot();
    let msg = Shapes::Lookup {
        key: "k".to_owned(),
        reply: RpcReplyPort::from(tx),
        limit: 3,
    };
    let (_, args, _) = call_parts(Shapes::Lookup {
        key: "k".to_owned(),
        reply: RpcReplyPort::from(concurrency::oneshot().0),
        limit: 3,
    });
    assert_eq!(args, concat(&[to_bytes(&"k".to_owned()), to_bytes(&3u16)]));

    let Shapes::Lookup { key, reply, limit } = across(msg) else {
        panic!("wrong variant")
    };
    assert_eq!((key.as_str(), limit), ("k", 3));
    reply.send(Some(42)).expect("caller waits");
    assert_eq!(
        tokio::time::timeout(HANG_GUARD, rx)
            .await
            .expect("no hang")
            .expect("reply arrives"),
        Some(42)
    );

    let (tx, rx) = concurrency::oneshot();
    let Shapes::Ping(reply) = across(Shapes::Ping(RpcReplyPort::from(tx))) else {
        panic!("wrong variant")
    };
    reply.send(true).expect("caller waits");
    assert!(
        tokio::time::timeout(HANG_GUARD, rx)
            .await
            .expect("no hang")
            .expect("reply arrives")
    );
}

#[tokio::test]
async fn generic_call_round_trips() {
    let (tx, rx) = concurrency::oneshot();
    let Generic::<String>::Get(reply) = across(Generic::<String>::Get(RpcReplyPort::from(tx)))
    else {
        panic!("wrong variant");
    };
    reply.send(Some("v".to_owned())).expect("caller waits");
    let got = tokio::time::timeout(HANG_GUARD, rx)
        .await
        .expect("no hang")
        .expect("reply arrives");
    assert_eq!(got.as_deref(), Some("v"));
}

#[test]
fn bad_casts_are_refused() {
    let good = concat(&[to_bytes(&"s".to_owned()), to_bytes(&1u64)]);
    let mut trailing = good.clone();
    trailing.push(0);
    for (variant, args) in [
        ("Cast1", Vec::new()),
        ("Cast1", vec![0xff; 3]),
        ("Cast1", good[..good.len() - 1].to_vec()),
        ("Cast1", trailing),
        ("cast1", good.clone()),
        ("", good.clone()),
        ("Call1", concat(&[to_bytes(&1u8), to_bytes(&2i64)])),
    ] {
        let result = MyBasicMessageType::deserialize(cast(variant, args.clone()));
        assert!(result.is_err(), "{variant} {args:?} accepted");
    }

    assert!(Shapes::deserialize(cast("Unit", vec![0])).is_err());
    assert!(Shapes::deserialize(cast("Ping", Vec::new())).is_err());
    assert!(MyBasicMessageType::deserialize(SerializedMessage::CallReply(1, Vec::new())).is_err());
}

#[tokio::test]
async fn bad_calls_are_refused_and_drop_the_reply_port() {
    let good = concat(&[to_bytes(&1u8), to_bytes(&2i64)]);
    let mut trailing = good.clone();
    trailing.push(0);
    for (variant, args) in [
        ("Call1", Vec::new()),
        ("Call1", vec![0xff; 2]),
        ("Call1", trailing),
        ("Nope", good.clone()),
        (
            "Cast1",
            concat(&[to_bytes(&"s".to_owned()), to_bytes(&1u64)]),
        ),
    ] {
        let (reply, rx) = byte_port();
        let result = MyBasicMessageType::deserialize(call(variant, args.clone(), reply));
        assert!(result.is_err(), "{variant} {args:?} accepted");
        // The port has no timeout: only a drop ends the wait.
        let waited = tokio::time::timeout(HANG_GUARD, rx)
            .await
            .expect("port dropped, not kept");
        assert!(waited.is_err(), "{variant}: a reply arrived");
    }
}

/// The caller's typed port, through a call whose args the callee cannot
/// decode: the caller hears at once, not at its timeout.
#[tokio::test]
async fn undecodable_call_fails_the_caller_promptly() {
    let (tx, rx) = concurrency::oneshot::<Vec<String>>();
    let (variant, _, reply) = call_parts(MyBasicMessageType::Call1(1, 2, RpcReplyPort::from(tx)));
    assert!(MyBasicMessageType::deserialize(call(&variant, vec![0xff], reply)).is_err());
    let waited = tokio::time::timeout(HANG_GUARD, rx)
        .await
        .expect("caller not left waiting");
    assert!(waited.is_err(), "the caller got a reply");
}

#[tokio::test]
async fn enums_with_one_kind_or_none_still_refuse_the_other() {
    let (variant, args) = cast_parts(OnlyCasts::A(9));
    assert!(matches!(
        OnlyCasts::deserialize(cast(&variant, args.clone())),
        Ok(OnlyCasts::A(9))
    ));
    assert!(matches!(
        OnlyCasts::deserialize(cast("B", Vec::new())),
        Ok(OnlyCasts::B)
    ));
    assert!(OnlyCasts::deserialize(call(&variant, args, byte_port().0)).is_err());

    let (tx, rx) = concurrency::oneshot();
    let OnlyCalls::A(reply) = across(OnlyCalls::A(RpcReplyPort::from(tx)));
    reply.send(4).expect("caller waits");
    assert_eq!(
        tokio::time::timeout(HANG_GUARD, rx)
            .await
            .expect("no hang")
            .expect("reply arrives"),
        4
    );
    assert!(OnlyCalls::deserialize(cast("A", Vec::new())).is_err());

    assert!(Empty::serializable());
    assert!(Empty::deserialize(cast("A", Vec::new())).is_err());
    assert!(Empty::deserialize(call("A", Vec::new(), byte_port().0)).is_err());
}

#[tokio::test]
async fn field_names_like_the_derives_locals_do_not_collide() {
    let msg = LooksLikeInternals::V {
        __f0: 1u64,
        __args: 2,
        __input: "3".to_owned(),
    };
    let (variant, args) = cast_parts(msg);
    assert_eq!(
        args,
        concat(&[to_bytes(&1u64), to_bytes(&2u8), to_bytes(&"3".to_owned())])
    );
    match LooksLikeInternals::<u64>::deserialize(cast(&variant, args)).expect("decodes") {
        LooksLikeInternals::V {
            __f0,
            __args,
            __input,
        } => assert_eq!((__f0, __args, __input.as_str()), (1, 2, "3")),
        LooksLikeInternals::W { .. } => panic!("wrong variant"),
    }

    let (tx, rx) = concurrency::oneshot();
    let LooksLikeInternals::<u64>::W { __reply, __message } =
        across(LooksLikeInternals::<u64>::W {
            __reply: 5,
            __message: RpcReplyPort::from(tx),
        })
    else {
        panic!("wrong variant");
    };
    assert_eq!(__reply, 5);
    __message.send(6).expect("caller waits");
    assert_eq!(
        tokio::time::timeout(HANG_GUARD, rx)
            .await
            .expect("no hang")
            .expect("reply arrives"),
        6
    );
}

/// Arbitrary bytes under every tag, as a cast and as a call: refused or
/// accepted, never a panic.
#[tokio::test]
async fn arbitrary_input_never_panics() {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        // xorshift64: deterministic, so a failure reproduces.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let tags = ["Unit", "Empty", "Named", "Lookup", "Ping", "Other", ""];
    for _ in 0..2_000 {
        let len = usize::try_from(next() % 24).expect("small");
        let args: Vec<u8> = (0..len).map(|_| next().to_le_bytes()[0]).collect();
        let tag = tags[usize::try_from(next() % 7).expect("small")];
        let _ = Shapes::deserialize(cast(tag, args.clone()));
        let _ = Shapes::deserialize(call(tag, args.clone(), byte_port().0));
        let _ = MyBasicMessageType::deserialize(cast("Cast1", args.clone()));
        let _ = MyBasicMessageType::deserialize(call("Call1", args, byte_port().0));
    }
}

/// The derived type as a plain local ractor message: `cast` and `call` a
/// real actor, which never serializes.
struct Recorder;

impl Actor for Recorder {
    type Msg = MyBasicMessageType;
    type State = Vec<String>;
    type Arguments = ();

    async fn pre_start(
        &self,
        _: ActorRef<Self::Msg>,
        (): (),
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(Vec::new())
    }

    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        msg: Self::Msg,
        seen: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            MyBasicMessageType::Cast1(s, n) => seen.push(format!("{s}:{n}")),
            MyBasicMessageType::Call1(a, b, reply) => {
                seen.push(format!("{a}/{b}"));
                let _ = reply.send(seen.clone());
            }
        }
        Ok(())
    }
}

#[tokio::test]
async fn derived_message_works_for_a_local_actor() {
    let (actor, handle) = Actor::spawn(None, Recorder, ()).await.expect("spawns");
    actor
        .cast(MyBasicMessageType::Cast1("a".to_owned(), 1))
        .expect("cast");
    let reply = actor
        .call(
            |port| MyBasicMessageType::Call1(2, -3, port),
            Some(HANG_GUARD),
        )
        .await
        .expect("call");
    match reply {
        CallResult::Success(seen) => assert_eq!(seen, ["a:1", "2/-3"]),
        other => panic!("call failed: {other:?}"),
    }
    actor.stop(None);
    handle.await.expect("actor ends");
}

// ------------------------------------------------------------ descriptions

/// A variant's shape as text: `name(args) -> reply`, arguments named when
/// the variant names them.
fn shape(v: &ractor_grpc::wire::VariantSchema) -> String {
    let args: Vec<String> = v
        .args
        .iter()
        .map(|a| match &a.name {
            Some(n) => format!("{n}: {}", a.ty),
            None => a.ty.to_string(),
        })
        .collect();
    match &v.reply {
        Some(r) => format!("{}({}) -> {r}", v.name, args.join(", ")),
        None => format!("{}({})", v.name, args.join(", ")),
    }
}

fn shapes<M: ractor_grpc::wire::Describe>() -> (String, Vec<String>) {
    let schema = M::message_schema();
    (
        schema.type_name.clone(),
        schema.variants.iter().map(shape).collect(),
    )
}

#[test]
fn a_message_type_describes_its_variants_arguments_and_replies() {
    assert_eq!(
        shapes::<MyBasicMessageType>(),
        (
            "MyBasicMessageType".to_owned(),
            vec![
                "Cast1(string, u64)".to_owned(),
                "Call1(u8, i64) -> list<string>".to_owned()
            ]
        )
    );
    assert_eq!(
        shapes::<Shapes>().1,
        [
            "Unit()",
            "Empty()",
            "Named(name: string, count: u32)",
            "Lookup(key: string, limit: u16) -> option<u64>",
            "Ping() -> bool",
        ]
    );
    assert_eq!(
        shapes::<Generic<Vec<u8>>>().1,
        ["Put(bytes)", "Get() -> option<bytes>"]
    );
    assert!(shapes::<Empty>().1.is_empty());
}

#[tokio::test]
async fn an_actor_is_described_through_its_cell_and_generic_types_once_registered() {
    use ractor_grpc::wire::{register_schema, schema_for};

    // Non-generic types are in the directory without anyone asking.
    let (actor, handle) = Actor::spawn(None, Recorder, ()).await.expect("spawn");
    let schema = schema_for(actor.get_cell().get_type_id()).expect("described");
    assert_eq!(schema.type_name, "MyBasicMessageType");
    assert!(schema.variant("Call1").is_some_and(|v| v.is_call()));
    assert!(schema.variant("Cast1").is_some_and(|v| !v.is_call()));
    assert!(schema.variant("Missing").is_none());
    actor.stop(None);
    handle.await.expect("stopped");

    // A generic instantiation is not, until registered.
    let id = std::any::TypeId::of::<Generic<u32>>();
    assert!(schema_for(id).is_none());
    register_schema::<Generic<u32>>();
    let schema = schema_for(id).expect("registered");
    assert_eq!(schema.variants[0].args[0].ty.to_string(), "u32");
    // A type that is not a cluster message is not described.
    assert!(schema_for(std::any::TypeId::of::<Local>()).is_none());
}
