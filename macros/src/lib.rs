//! Derive macros for `ractor_grpc`; use them through `ractor_grpc`, which
//! re-exports them. Each derive parses its input (`parse`) into a checked
//! model (`model`), from which `codegen` writes the `ractor::Message` impl.

mod codegen;
mod model;
mod parse;

use proc_macro::TokenStream;

/// Implements `ractor::Message` for a message that never leaves its process.
///
/// With ractor's `cluster` feature on (as `ractor_grpc` turns it on) every
/// message type needs an impl; this one refuses serialization, so sending
/// the type to a remote actor fails rather than compiling into something
/// that cannot work. Works on structs, enums and unions; each type parameter
/// gets a `Send + 'static` bound.
///
/// ```
/// use ractor::Message;
/// use ractor_grpc::RactorMessage;
///
/// #[derive(RactorMessage)]
/// struct Tick(u32);
///
/// // A local message: it refuses to be serialized for a remote actor.
/// assert!(!Tick::serializable());
/// assert!(Tick(1).serialize().is_err());
/// ```
#[proc_macro_derive(RactorMessage)]
pub fn derive_ractor_message(input: TokenStream) -> TokenStream {
    expand(input, |input| {
        Ok(codegen::local_message(&parse::local_message(input)))
    })
}

/// Implements `ractor::Message` with serialization, so remote actors can be
/// sent the enum.
///
/// Each variant is a cast, or a call when marked `#[rpc]`. A call has exactly
/// one field of type `RpcReplyPort<T>`, anywhere among its fields. Every
/// other field, and every `T`, implements `ractor_grpc::Wire`; each type
/// parameter of the enum gets a `Wire + Send + 'static` bound.
///
/// # Wire contract
///
/// A variant travels as ractor's `SerializedMessage::Cast` or `Call`:
/// - `variant` is the variant's identifier (`r#` removed). Renaming a
///   variant is a breaking change for peers; adding one is not.
/// - `args` is the `Wire` encoding of each field except the reply port, in
///   declaration order, back to back. Bytes left over are an error.
///
/// A message that does not decode (unknown tag, a call's tag sent as a cast
/// or the reverse, bad or extra bytes) is reported through
/// `ractor_grpc`'s error reporting and refused with `BoxedDowncastErr`; a
/// refused call's reply port is dropped, so the caller hears at once.
///
/// # Description
///
/// The enum also implements `ractor_grpc::wire::Describe`: its name and, for
/// every variant, cast or call, the arguments' type expressions (named in a
/// struct variant) and the reply's. A non-generic enum is entered in the
/// process-wide directory (`ractor_grpc::wire::schema_for`, keyed by the
/// `TypeId` an actor's cell reports) at link time; a generic one once per
/// instantiation with `ractor_grpc::wire::register_schema`.
///
/// ```
/// use ractor::{Message, RpcReplyPort, message::SerializedMessage};
/// use ractor_grpc::{RactorClusterMessage, wire::Describe};
///
/// #[derive(RactorClusterMessage)]
/// enum Counter {
///     Add(u64),
///     #[rpc]
///     Get { reply: RpcReplyPort<u64> },
/// }
///
/// // A cast travels as its variant's name and its fields' Wire bytes...
/// match Counter::Add(7).serialize() {
///     Ok(SerializedMessage::Cast { variant, args, .. }) => {
///         assert_eq!(variant, "Add");
///         assert_eq!(args, ractor_grpc::wire::to_bytes(&7u64));
///     }
///     _ => panic!("Add is a cast"),
/// }
/// // ...and the enum describes itself: `Get` is a call replying a u64.
/// let schema = Counter::message_schema();
/// assert_eq!(schema.type_name, "Counter");
/// let get = &schema.variants[1];
/// assert_eq!(get.name, "Get");
/// assert_eq!(get.reply.as_ref().map(ToString::to_string).as_deref(), Some("u64"));
/// ```
#[proc_macro_derive(RactorClusterMessage, attributes(rpc))]
pub fn derive_ractor_cluster_message(input: TokenStream) -> TokenStream {
    expand(input, |input| {
        parse::cluster_message(input).map(|m| codegen::cluster_message(&m))
    })
}

/// Parses `input`, runs `derive`, and turns any error into `compile_error!`s.
fn expand(
    input: TokenStream,
    derive: impl FnOnce(syn::DeriveInput) -> syn::Result<proc_macro2::TokenStream>,
) -> TokenStream {
    syn::parse::<syn::DeriveInput>(input)
        .and_then(derive)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
