//! Message types that describe themselves: for every variant its name,
//! whether it is a cast or a call, its arguments' and its reply's type
//! expressions.
//!
//! Owns the description types and the process-wide directory from a message
//! type's `TypeId` to its description. `#[derive(RactorClusterMessage)]`
//! implements [`Describe`]; a non-generic message type is entered in the
//! directory at link time, a generic one by [`register_schema`].

use std::{
    any::TypeId,
    collections::HashMap,
    sync::{OnceLock, RwLock},
};

use super::{TypeExpr, TypeExprError};
use crate::pb;

/// One argument of a message variant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArgSchema {
    /// The field's name in a struct variant; `None` in a tuple variant.
    pub name: Option<String>,
    /// The argument's type expression.
    pub ty: TypeExpr,
}

impl ArgSchema {
    /// An argument (generated code builds these).
    pub fn new(name: Option<&str>, ty: TypeExpr) -> Self {
        Self {
            name: name.map(str::to_owned),
            ty,
        }
    }
}

/// One variant of a message type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VariantSchema {
    /// The variant's name, as `Cast.variant` and `Call.variant` carry it.
    pub name: String,
    /// The arguments in declaration order (the reply port left out).
    pub args: Vec<ArgSchema>,
    /// A call's reply type; `None` for a cast.
    pub reply: Option<TypeExpr>,
}

impl VariantSchema {
    /// A cast variant (generated code builds these).
    pub fn cast(name: &str, args: Vec<ArgSchema>) -> Self {
        Self {
            name: name.to_owned(),
            args,
            reply: None,
        }
    }

    /// A call variant replying with `reply` (generated code builds these).
    pub fn call(name: &str, args: Vec<ArgSchema>, reply: TypeExpr) -> Self {
        Self {
            name: name.to_owned(),
            args,
            reply: Some(reply),
        }
    }

    /// Whether the variant expects a reply.
    pub fn is_call(&self) -> bool {
        self.reply.is_some()
    }
}

/// A message type's description.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MessageSchema {
    /// The enum's name as written in its definition (`MyMessage`).
    pub type_name: String,
    /// Its variants in declaration order.
    pub variants: Vec<VariantSchema>,
}

impl MessageSchema {
    /// A description (generated code builds these).
    pub fn new(type_name: &str, variants: Vec<VariantSchema>) -> Self {
        Self {
            type_name: type_name.to_owned(),
            variants,
        }
    }

    /// The variant called `name`, if any.
    pub fn variant(&self, name: &str) -> Option<&VariantSchema> {
        self.variants.iter().find(|v| v.name == name)
    }

    /// The description as DescribeActor and adverts carry it.
    pub(crate) fn to_pb(&self) -> pb::MessageDescription {
        pb::MessageDescription {
            type_name: self.type_name.clone(),
            variants: self
                .variants
                .iter()
                .map(|v| pb::VariantDescription {
                    name: v.name.clone(),
                    call: v.is_call(),
                    args: v
                        .args
                        .iter()
                        .map(|a| pb::ArgumentDescription {
                            name: a.name.clone().unwrap_or_default(),
                            r#type: a.ty.to_string(),
                        })
                        .collect(),
                    reply: v
                        .reply
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                })
                .collect(),
        }
    }

    /// A description a peer sent.
    ///
    /// # Errors
    /// The first type expression that does not parse, or a call without a
    /// reply type.
    pub(crate) fn from_pb(description: pb::MessageDescription) -> Result<Self, TypeExprError> {
        let variants = description
            .variants
            .into_iter()
            .map(|v| {
                let args = v
                    .args
                    .into_iter()
                    .map(|a| {
                        let name = (!a.name.is_empty()).then_some(a.name.as_str());
                        Ok(ArgSchema::new(name, a.r#type.parse()?))
                    })
                    .collect::<Result<Vec<_>, TypeExprError>>()?;
                Ok(if v.call {
                    VariantSchema::call(&v.name, args, v.reply.parse()?)
                } else {
                    VariantSchema::cast(&v.name, args)
                })
            })
            .collect::<Result<Vec<_>, TypeExprError>>()?;
        Ok(Self::new(&description.type_name, variants))
    }
}

/// A message type that can describe its variants; implemented by
/// `#[derive(RactorClusterMessage)]`.
pub trait Describe {
    /// The type's description.
    fn message_schema() -> MessageSchema;
}

/// A directory entry made at link time by the derive (not public API).
#[doc(hidden)]
#[derive(Debug)]
pub struct DescribedType {
    type_id: fn() -> TypeId,
    schema: fn() -> MessageSchema,
}

impl DescribedType {
    /// The entry of `T`.
    pub const fn of<T: Describe + 'static>() -> Self {
        Self {
            type_id: TypeId::of::<T>,
            schema: T::message_schema,
        }
    }
}

inventory::collect!(DescribedType);

/// Descriptions registered at run time (generic message types).
fn registered() -> &'static RwLock<HashMap<TypeId, MessageSchema>> {
    static REGISTERED: OnceLock<RwLock<HashMap<TypeId, MessageSchema>>> = OnceLock::new();
    REGISTERED.get_or_init(RwLock::default)
}

/// Enters `M`'s description in the directory, so actors of message type `M`
/// describe themselves. Non-generic message types are entered by the derive
/// already; a generic one (`Kv<T>`) needs this once per instantiation used.
pub fn register_schema<M: Describe + 'static>() {
    if let Ok(mut map) = registered().write() {
        map.insert(TypeId::of::<M>(), M::message_schema());
    }
}

/// The description of the message type with this `TypeId` (ractor's
/// `ActorCell::get_type_id`), if the type describes itself.
pub fn schema_for(type_id: TypeId) -> Option<MessageSchema> {
    if let Some(entry) = inventory::iter::<DescribedType>
        .into_iter()
        .find(|e| (e.type_id)() == type_id)
    {
        return Some((entry.schema)());
    }
    registered().read().ok()?.get(&type_id).cloned()
}
