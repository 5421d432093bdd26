//! [`model`](crate::model) → the `ractor::Message` impl.
//!
//! Generated code names everything by absolute path, so it works whatever
//! the user has imported or shadowed, and prefixes its locals with `__` so
//! they cannot meet a user's names. It never panics: bad input becomes
//! `Err(BoxedDowncastErr)` after `__private::decode_failed` has reported it.

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::{Generics, Ident, ext::IdentExt, parse_quote, spanned::Spanned};

use crate::model::{ClusterMessage, Kind, LocalMessage, Shape, Variant};

/// `impl Message for T {}`: ractor's defaults, which refuse serialization.
pub(crate) fn local_message(m: &LocalMessage) -> TokenStream {
    let generics = bounded(&m.generics, &quote!(::core::marker::Send + 'static));
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let ident = &m.ident;
    quote! {
        #[automatically_derived]
        impl #impl_generics ::ractor_grpc::__private::ractor::Message for #ident #ty_generics #where_clause {}
    }
}

/// `impl Message for T` with `serialize` and `deserialize`.
pub(crate) fn cluster_message(m: &ClusterMessage) -> TokenStream {
    let generics = bounded(
        &m.generics,
        &quote!(::ractor_grpc::__private::Wire + ::core::marker::Send + 'static),
    );
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let ident = &m.ident;
    let serialize = serialize(m);
    let deserialize = deserialize(m);
    let describe = describe(m);
    quote! {
        #describe

        #[automatically_derived]
        impl #impl_generics ::ractor_grpc::__private::ractor::Message for #ident #ty_generics #where_clause {
            fn serializable() -> ::core::primitive::bool {
                true
            }

            fn serialize(
                self,
            ) -> ::core::result::Result<
                ::ractor_grpc::__private::ractor::message::SerializedMessage,
                ::ractor_grpc::__private::ractor::message::BoxedDowncastErr,
            > {
                #serialize
            }

            fn deserialize(
                __message: ::ractor_grpc::__private::ractor::message::SerializedMessage,
            ) -> ::core::result::Result<Self, ::ractor_grpc::__private::ractor::message::BoxedDowncastErr> {
                #deserialize
            }
        }
    }
}

/// `impl Describe`, and for a non-generic type its entry in the directory
/// of described message types.
fn describe(m: &ClusterMessage) -> TokenStream {
    let generics = bounded(
        &m.generics,
        &quote!(::ractor_grpc::__private::Wire + 'static),
    );
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let ident = &m.ident;
    let type_name = ident.unraw().to_string();
    let variants = m.variants.iter().map(|v| {
        let tag = &v.tag;
        let args = v.args().map(|(_, f)| {
            let ty = &f.ty;
            let name = match &f.name {
                Some(n) => {
                    let n = n.unraw().to_string();
                    quote!(::core::option::Option::Some(#n))
                }
                None => quote!(::core::option::Option::None),
            };
            quote!(::ractor_grpc::__private::ArgSchema::new(
                #name,
                <#ty as ::ractor_grpc::__private::Wire>::type_expr(),
            ))
        });
        let args = quote!(::std::vec![#(#args),*]);
        match &v.kind {
            Kind::Cast => quote!(::ractor_grpc::__private::VariantSchema::cast(#tag, #args)),
            Kind::Call { reply, .. } => quote!(::ractor_grpc::__private::VariantSchema::call(
                #tag,
                #args,
                <#reply as ::ractor_grpc::__private::Wire>::type_expr(),
            )),
        }
    });
    let register = m.generics.params.is_empty().then(|| {
        quote! {
            ::ractor_grpc::__private::inventory::submit! {
                ::ractor_grpc::__private::DescribedType::of::<#ident>()
            }
        }
    });
    quote! {
        #[automatically_derived]
        impl #impl_generics ::ractor_grpc::__private::Describe for #ident #ty_generics #where_clause {
            fn message_schema() -> ::ractor_grpc::__private::MessageSchema {
                ::ractor_grpc::__private::MessageSchema::new(#type_name, ::std::vec![#(#variants),*])
            }
        }
        #register
    }
}

/// `generics` with `P: bound` added for every type parameter `P`.
fn bounded(generics: &Generics, bound: &TokenStream) -> Generics {
    let mut generics = generics.clone();
    let params: Vec<Ident> = generics.type_params().map(|p| p.ident.clone()).collect();
    let where_clause = generics.make_where_clause();
    for p in params {
        where_clause.predicates.push(parse_quote!(#p: #bound));
    }
    generics
}

/// The local that holds field `i` while a variant is taken apart or built.
fn binding(i: usize) -> Ident {
    format_ident!("__f{}", i)
}

/// `Self::V`, `Self::V(e0, e1)` or `Self::V { a: e0, b: e1 }`: a pattern or
/// an expression, with `values[i]` for field `i`.
fn variant_with(v: &Variant, values: &[TokenStream]) -> TokenStream {
    let ident = &v.ident;
    match v.shape {
        Shape::Unit => quote!(Self::#ident),
        Shape::Tuple => quote!(Self::#ident(#(#values),*)),
        Shape::Named => {
            let names = v.fields.iter().map(|f| &f.name);
            quote!(Self::#ident { #(#names: #values),* })
        }
    }
}

fn serialize(m: &ClusterMessage) -> TokenStream {
    if m.variants.is_empty() {
        return quote!(match self {});
    }
    let arms = m.variants.iter().map(serialize_arm);
    quote! {
        ::core::result::Result::Ok(match self {
            #(#arms)*
        })
    }
}

fn serialize_arm(v: &Variant) -> TokenStream {
    let bindings: Vec<TokenStream> = (0..v.fields.len())
        .map(|i| binding(i).into_token_stream())
        .collect();
    let pattern = variant_with(v, &bindings);
    let tag = &v.tag;
    let encodes: Vec<TokenStream> = v
        .args()
        .map(|(i, f)| {
            let (ty, value) = (&f.ty, binding(i));
            // Spanned at the field's type so a missing `Wire` impl is
            // reported there.
            quote_spanned!(ty.span()=> <#ty as ::ractor_grpc::__private::Wire>::encode(&#value, &mut __args);)
        })
        .collect();
    let args = if encodes.is_empty() {
        quote!(::std::vec::Vec::new())
    } else {
        quote!({
            let mut __args = ::std::vec::Vec::new();
            #(#encodes)*
            __args
        })
    };
    let message = match &v.kind {
        Kind::Cast => quote! {
            ::ractor_grpc::__private::ractor::message::SerializedMessage::Cast {
                variant: ::std::string::String::from(#tag),
                args: #args,
                metadata: ::ractor_grpc::__private::outgoing_metadata(),
            }
        },
        Kind::Call { port, reply } => {
            let port = binding(*port);
            let reply_port = quote_spanned!(reply.span()=> ::ractor_grpc::__private::typed_to_bytes_port::<#reply>(#port));
            quote! {
                ::ractor_grpc::__private::ractor::message::SerializedMessage::Call {
                    variant: ::std::string::String::from(#tag),
                    args: #args,
                    reply: #reply_port,
                    metadata: ::ractor_grpc::__private::outgoing_metadata(),
                }
            }
        }
    };
    quote!(#pattern => #message,)
}

fn deserialize(m: &ClusterMessage) -> TokenStream {
    let name = m.ident.unraw().to_string();
    let casts: Vec<&Variant> = m.variants.iter().filter(|v| !v.is_call()).collect();
    let calls: Vec<&Variant> = m.variants.iter().filter(|v| v.is_call()).collect();
    let cast = dispatch(&casts, &calls, "a call variant sent as a cast");
    let call = dispatch(&calls, &casts, "a cast variant sent as a call");
    // Bind only what some variant uses, or the binding would be unused.
    let cast_args = if casts.is_empty() {
        quote!(_)
    } else {
        quote!(__args)
    };
    let (call_args, call_reply) = if calls.is_empty() {
        (quote!(_), quote!(_))
    } else {
        (quote!(__args), quote!(__reply))
    };
    // The reply port, if not used, is dropped only after `decode_failed` has
    // filed its report: the caller reads the report when it sees the drop.
    let fail = quote! {
        let __fail = |__error: &dyn ::core::fmt::Display| -> ::core::result::Result<Self, ::ractor_grpc::__private::ractor::message::BoxedDowncastErr> {
            ::ractor_grpc::__private::decode_failed(__metadata.as_deref(), #name, &__variant, __error);
            ::core::result::Result::Err(::ractor_grpc::__private::ractor::message::BoxedDowncastErr)
        };
    };
    quote! {
        match __message {
            ::ractor_grpc::__private::ractor::message::SerializedMessage::Cast {
                variant: __variant,
                args: #cast_args,
                metadata: __metadata,
            } => {
                ::ractor_grpc::__private::message_taken(__metadata.as_deref());
                #fail
                #cast
            }
            ::ractor_grpc::__private::ractor::message::SerializedMessage::Call {
                variant: __variant,
                args: #call_args,
                reply: #call_reply,
                metadata: __metadata,
            } => {
                #fail
                #call
            }
            ::ractor_grpc::__private::ractor::message::SerializedMessage::CallReply(..) => {
                ::ractor_grpc::__private::decode_failed(
                    ::core::option::Option::None,
                    #name,
                    "(call reply)",
                    &"a call reply is not a message",
                );
                ::core::result::Result::Err(::ractor_grpc::__private::ractor::message::BoxedDowncastErr)
            }
        }
    }
}

/// Chooses among `own` (variants of the kind received) by tag; the tags of
/// `other` (the other kind) fail with `mismatch`, unknown tags as unknown.
fn dispatch(own: &[&Variant], other: &[&Variant], mismatch: &str) -> TokenStream {
    let unknown = quote!(__fail(&"unknown variant"));
    if own.is_empty() && other.is_empty() {
        return unknown;
    }
    let arms = own.iter().map(|v| {
        let tag = &v.tag;
        let body = decode(v);
        quote!(#tag => #body,)
    });
    let mismatched = (!other.is_empty()).then(|| {
        let tags = other.iter().map(|v| &v.tag);
        quote!(#(#tags)|* => __fail(&#mismatch),)
    });
    quote! {
        match __variant.as_str() {
            #(#arms)*
            #mismatched
            _ => #unknown,
        }
    }
}

/// Decodes `v` from `__args` (and `__reply`), or fails.
fn decode(v: &Variant) -> TokenStream {
    let values: Vec<TokenStream> = v
        .fields
        .iter()
        .enumerate()
        .map(|(i, _)| match &v.kind {
            Kind::Call { port, reply } if *port == i => {
                quote_spanned!(reply.span()=> ::ractor_grpc::__private::bytes_to_typed_port::<#reply>(__reply, __metadata.as_deref()))
            }
            _ => binding(i).into_token_stream(),
        })
        .collect();
    let built = variant_with(v, &values);
    let trailing = |len: TokenStream| quote!(__fail(&::ractor_grpc::__private::WireError::TrailingBytes { count: #len }));

    if v.args().next().is_none() {
        let trailing = trailing(quote!(__args.len()));
        return quote! {
            if __args.is_empty() {
                ::core::result::Result::Ok(#built)
            } else {
                #trailing
            }
        };
    }
    let decodes = v.args().map(|(i, f)| {
        let (ty, value) = (&f.ty, binding(i));
        let decoded = quote_spanned!(ty.span()=> <#ty as ::ractor_grpc::__private::Wire>::decode(&mut __input));
        quote! {
            let #value = match #decoded {
                ::core::result::Result::Ok(__value) => __value,
                ::core::result::Result::Err(__error) => return __fail(&__error),
            };
        }
    });
    let trailing = trailing(quote!(__input.len()));
    quote!({
        let mut __input: &[::core::primitive::u8] = __args.as_slice();
        #(#decodes)*
        if __input.is_empty() {
            ::core::result::Result::Ok(#built)
        } else {
            #trailing
        }
    })
}
