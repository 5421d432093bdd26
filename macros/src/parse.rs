//! Derive input → [`model`](crate::model), with every misuse reported at
//! the tokens that cause it.

use quote::{ToTokens, quote};
use syn::{
    Attribute, Data, DeriveInput, Fields, GenericArgument, Meta, PathArguments, Type, ext::IdentExt,
};

use crate::model::{ClusterMessage, Field, Kind, LocalMessage, Shape, Variant};

const NEEDS_ONE_PORT: &str = "#[rpc] variant needs exactly one RpcReplyPort<T> field";

/// Reads a `#[derive(RactorMessage)]` input; any type will do.
pub(crate) fn local_message(input: DeriveInput) -> LocalMessage {
    LocalMessage {
        ident: input.ident,
        generics: input.generics,
    }
}

/// Reads and checks a `#[derive(RactorClusterMessage)]` input. Reports every
/// misuse found, not just the first.
pub(crate) fn cluster_message(input: DeriveInput) -> syn::Result<ClusterMessage> {
    let mut errors = Errors::default();
    errors.check(misplaced_rpc(&input.attrs));
    let data = match input.data {
        Data::Enum(data) => data,
        Data::Struct(s) => return Err(not_an_enum(s.struct_token, &input.ident)),
        Data::Union(u) => return Err(not_an_enum(u.union_token, &input.ident)),
    };
    let variants = data
        .variants
        .into_iter()
        .filter_map(|v| errors.check(variant(v)))
        .collect();
    errors.finish()?;
    Ok(ClusterMessage {
        ident: input.ident,
        generics: input.generics,
        variants,
    })
}

fn not_an_enum(keyword: impl ToTokens, ident: &syn::Ident) -> syn::Error {
    syn::Error::new_spanned(
        quote!(#keyword #ident),
        "RactorClusterMessage can only be derived for enums",
    )
}

fn variant(v: syn::Variant) -> syn::Result<Variant> {
    let mut errors = Errors::default();
    // A malformed `#[rpc]` still marks a call, so it is reported alone.
    let rpc = v.attrs.iter().any(is_rpc);
    errors.check(rpc_attribute_form(&v.attrs));

    let mut port = None;
    let mut ports_seen = 0;
    for (i, f) in v.fields.iter().enumerate() {
        errors.check(misplaced_rpc(&f.attrs));
        let Some(reply) = reply_type(&f.ty) else {
            continue;
        };
        ports_seen += 1;
        let (name, ty) = (&f.ident, &f.ty);
        if !rpc {
            errors.push(syn::Error::new_spanned(
                quote!(#name #ty),
                "add #[rpc] to use a reply port",
            ));
        } else if ports_seen > 1 {
            let message = format!("{NEEDS_ONE_PORT}; this one is extra");
            errors.push(syn::Error::new_spanned(quote!(#name #ty), message));
        }
        match reply {
            Ok(reply) if port.is_none() => port = Some((i, reply)),
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }
    if rpc && ports_seen == 0 {
        let (ident, fields) = (&v.ident, &v.fields);
        errors.push(syn::Error::new_spanned(
            quote!(#ident #fields),
            NEEDS_ONE_PORT,
        ));
    }
    errors.finish()?;

    let kind = match port {
        Some((port, reply)) => Kind::Call {
            port,
            reply: Box::new(reply),
        },
        None => Kind::Cast,
    };
    let (shape, fields) = match v.fields {
        Fields::Unit => (Shape::Unit, Vec::new()),
        Fields::Unnamed(f) => (Shape::Tuple, f.unnamed.into_iter().collect()),
        Fields::Named(f) => (Shape::Named, f.named.into_iter().collect()),
    };
    Ok(Variant {
        tag: v.ident.unraw().to_string(),
        ident: v.ident,
        shape,
        fields: fields
            .into_iter()
            .map(|f| Field {
                name: f.ident,
                ty: f.ty,
            })
            .collect(),
        kind,
    })
}

fn is_rpc(attr: &Attribute) -> bool {
    attr.path().is_ident("rpc")
}

/// Checks that a variant's `#[rpc]`, if any, is bare and single.
fn rpc_attribute_form(attrs: &[Attribute]) -> syn::Result<()> {
    let mut errors = Errors::default();
    for (i, attr) in attrs.iter().filter(|a| is_rpc(a)).enumerate() {
        if i > 0 {
            errors.push(syn::Error::new_spanned(attr, "duplicate #[rpc]"));
        } else if let Meta::List(_) | Meta::NameValue(_) = attr.meta {
            errors.push(syn::Error::new_spanned(attr, "#[rpc] takes no arguments"));
        }
    }
    errors.finish()
}

/// `#[rpc]` anywhere but on a variant would be silently ignored.
fn misplaced_rpc(attrs: &[Attribute]) -> syn::Result<()> {
    let mut errors = Errors::default();
    for a in attrs.iter().filter(|a| is_rpc(a)) {
        errors.push(syn::Error::new_spanned(
            a,
            "#[rpc] belongs on an enum variant",
        ));
    }
    errors.finish()
}

/// `None` if `ty` is not a reply port (a path ending in `RpcReplyPort`);
/// else its reply type `T` from `RpcReplyPort<T>`, or why there is none.
fn reply_type(ty: &Type) -> Option<syn::Result<Type>> {
    let path = match ty {
        Type::Path(p) => &p.path,
        // Types passed through `macro_rules!` arrive wrapped in a group.
        Type::Group(g) => return reply_type(&g.elem),
        Type::Paren(p) => return reply_type(&p.elem),
        _ => return None,
    };
    let last = path.segments.last().filter(|s| s.ident == "RpcReplyPort")?;
    if let PathArguments::AngleBracketed(args) = &last.arguments
        && args.args.len() == 1
        && let Some(GenericArgument::Type(reply)) = args.args.first()
    {
        return Some(Ok(reply.clone()));
    }
    Some(Err(syn::Error::new_spanned(
        ty,
        "a reply port is written RpcReplyPort<T>, with one reply type T",
    )))
}

/// Collects errors so one expansion reports them all.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    fn check<T>(&mut self, r: syn::Result<T>) -> Option<T> {
        r.map_err(|e| self.push(e)).ok()
    }

    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests;
