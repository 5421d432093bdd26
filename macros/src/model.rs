//! What the derives generate code from: the input with every check done.

use syn::{Generics, Ident, Type};

/// A `#[derive(RactorMessage)]` input. Local messages need only a name and
/// generics: their impl is empty.
pub(crate) struct LocalMessage {
    pub(crate) ident: Ident,
    pub(crate) generics: Generics,
}

/// A validated `#[derive(RactorClusterMessage)]` enum.
pub(crate) struct ClusterMessage {
    pub(crate) ident: Ident,
    pub(crate) generics: Generics,
    pub(crate) variants: Vec<Variant>,
}

/// One enum variant.
pub(crate) struct Variant {
    pub(crate) ident: Ident,
    /// The variant's tag on the wire: its identifier without any `r#`.
    pub(crate) tag: String,
    pub(crate) shape: Shape,
    /// Every field in declaration order, the reply port included.
    pub(crate) fields: Vec<Field>,
    pub(crate) kind: Kind,
}

/// How a variant's fields are written, which is how it is matched and built.
#[derive(Clone, Copy)]
pub(crate) enum Shape {
    /// `V`
    Unit,
    /// `V(A, B)`
    Tuple,
    /// `V { a: A, b: B }`
    Named,
}

/// One field of a variant.
pub(crate) struct Field {
    /// The field's name in a named variant.
    pub(crate) name: Option<Ident>,
    pub(crate) ty: Type,
}

/// Whether a variant is sent as a cast or a call.
pub(crate) enum Kind {
    /// No reply: every field is an argument.
    Cast,
    /// `#[rpc]`: the field at `port` is an `RpcReplyPort<reply>`; every other
    /// field is an argument.
    Call { port: usize, reply: Box<Type> },
}

impl Variant {
    /// The argument fields (all but the reply port) with their index.
    pub(crate) fn args(&self) -> impl Iterator<Item = (usize, &Field)> {
        let port = match self.kind {
            Kind::Cast => None,
            Kind::Call { port, .. } => Some(port),
        };
        self.fields
            .iter()
            .enumerate()
            .filter(move |(i, _)| Some(*i) != port)
    }

    /// Whether the variant is a call.
    pub(crate) fn is_call(&self) -> bool {
        matches!(self.kind, Kind::Call { .. })
    }
}
