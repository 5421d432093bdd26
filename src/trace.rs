//! Trace context as the Cast and Call envelopes carry it: the W3C Trace
//! Context `traceparent` value (<https://www.w3.org/TR/trace-context/>).
//!
//! A leaf: the value's form, and the hook to a tracing backend. A node that
//! receives a cast or call with a valid `traceparent` records its trace id
//! and parent span id on the span it handles the message in (a value that
//! does not parse is ignored, as the specification asks of a receiver).
//!
//! Where trace ids come from is a tracing backend's business (`tracing`
//! spans have none): a [`Propagation`] installed with [`set_propagation`]
//! reads the caller's context when a message is sent and makes the
//! receiving span a child of the sender's. With the `opentelemetry` feature,
//! [`OpenTelemetryPropagation`](crate::OpenTelemetryPropagation) is one.

use std::{fmt, sync::OnceLock};

use tracing::Span;

/// Reads and continues trace context for ractor_grpc (see the module docs).
pub trait Propagation: Send + Sync + 'static {
    /// The trace context `span` belongs to, if it has one.
    fn context_of(&self, span: &Span) -> Option<TraceParent>;
    /// Makes `span` (just created, not yet entered) continue `parent`.
    fn continue_in(&self, span: &Span, parent: TraceParent);
}

static PROPAGATION: OnceLock<Box<dyn Propagation>> = OnceLock::new();

/// A [`Propagation`] was installed already; the first one stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a trace propagation is installed already")]
pub struct PropagationSet;

/// Installs `propagation` for the whole process: from then on a cast or call
/// made inside a traced span carries its context to the peer, and a received
/// one is handled in a span that continues the sender's. Once per process.
///
/// # Errors
/// [`PropagationSet`] if one was installed before.
pub fn set_propagation(propagation: impl Propagation) -> Result<(), PropagationSet> {
    PROPAGATION
        .set(Box::new(propagation))
        .map_err(|_| PropagationSet)
}

/// The caller's trace context, if a propagation is installed and the
/// current span has one.
pub(crate) fn current() -> Option<TraceParent> {
    context_of(&Span::current())
}

/// `span`'s trace context, if a propagation is installed and it has one.
pub(crate) fn context_of(span: &Span) -> Option<TraceParent> {
    PROPAGATION.get()?.context_of(span)
}

/// Makes `span` continue `parent`, if a propagation is installed.
pub(crate) fn continue_in(span: &Span, parent: TraceParent) {
    if let Some(p) = PROPAGATION.get() {
        p.continue_in(span, parent);
    }
}

/// Marks a trace context carried in ractor's message `metadata`, after
/// whatever else the metadata holds: from the caller's thread (where the
/// derive serializes a message) to the proxy that sends it.
const RECORD_MAGIC: &[u8; 4] = b"rgT1";
/// The record: the magic, the trace id, the parent id, the flags.
const RECORD_LEN: usize = 4 + 16 + 8 + 1;

/// `metadata` with `parent`'s record appended.
pub(crate) fn with_record(
    metadata: Option<Vec<u8>>,
    parent: Option<TraceParent>,
) -> Option<Vec<u8>> {
    let Some(tp) = parent else {
        return metadata;
    };
    let mut out = metadata.unwrap_or_default();
    out.extend_from_slice(RECORD_MAGIC);
    out.extend_from_slice(&tp.trace_id);
    out.extend_from_slice(&tp.parent_id);
    out.push(tp.flags);
    Some(out)
}

/// Splits `metadata` into what was there before a trace record and the
/// record's context (none, or empty metadata, when absent).
pub(crate) fn take_record(metadata: Option<Vec<u8>>) -> (Option<Vec<u8>>, Option<TraceParent>) {
    let Some(mut bytes) = metadata else {
        return (None, None);
    };
    let Some(at) = bytes.len().checked_sub(RECORD_LEN) else {
        return (Some(bytes), None);
    };
    let record = &bytes[at..];
    let parsed = record.strip_prefix(RECORD_MAGIC).and_then(|rest| {
        let (trace_id, rest) = rest.split_first_chunk::<16>()?;
        let (parent_id, flags) = rest.split_first_chunk::<8>()?;
        Some(TraceParent {
            trace_id: *trace_id,
            parent_id: *parent_id,
            flags: *flags.first()?,
        })
    });
    let Some(tp) = parsed else {
        return (Some(bytes), None);
    };
    bytes.truncate(at);
    ((!bytes.is_empty()).then_some(bytes), Some(tp))
}

/// A parsed `traceparent`: `00-<trace id>-<parent id>-<flags>`.
///
/// ```
/// use ractor_grpc::TraceParent;
///
/// let tp = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
/// assert_eq!(tp.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert!(tp.sampled());
/// assert_eq!(tp.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    /// The trace this message belongs to (never all zeros).
    pub trace_id: [u8; 16],
    /// The span the sender was in (never all zeros).
    pub parent_id: [u8; 8],
    /// Trace flags; bit 0 is "sampled".
    pub flags: u8,
}

fn hex_bytes<const N: usize>(text: &str) -> Option<[u8; N]> {
    // Lowercase hex only, as the specification writes it.
    if text.len() != 2 * N || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl TraceParent {
    /// Parses a `traceparent` value; `None` for anything the specification
    /// says to ignore: a bad length or character, version `ff`, an all-zero
    /// trace or parent id. A later version is read by its first four fields.
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.splitn(5, '-');
        let version: [u8; 1] = hex_bytes(parts.next()?)?;
        let trace_id: [u8; 16] = hex_bytes(parts.next()?)?;
        let parent_id: [u8; 8] = hex_bytes(parts.next()?)?;
        let flags: [u8; 1] = hex_bytes(parts.next()?)?;
        let rest = parts.next();
        let valid = match version[0] {
            0xff => false,
            // Version 00 has exactly four fields.
            0 => rest.is_none(),
            _ => true,
        };
        (valid && trace_id != [0; 16] && parent_id != [0; 8]).then_some(Self {
            trace_id,
            parent_id,
            flags: flags[0],
        })
    }

    /// The trace id as 32 lowercase hex digits.
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }

    /// The parent span id as 16 lowercase hex digits.
    pub fn parent_id_hex(&self) -> String {
        hex(&self.parent_id)
    }

    /// Whether the sender sampled the trace (flag bit 0).
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }
}

impl fmt::Display for TraceParent {
    /// The version-00 form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            self.trace_id_hex(),
            self.parent_id_hex(),
            self.flags
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_record_rides_after_other_metadata_and_comes_off_whole() {
        let tp = TraceParent::parse(GOOD).expect("valid");
        assert_eq!(with_record(None, None), None);
        assert_eq!(take_record(with_record(None, Some(tp))), (None, Some(tp)));
        let other = vec![1, 2, 3];
        let both = with_record(Some(other.clone()), Some(tp));
        assert_eq!(take_record(both), (Some(other.clone()), Some(tp)));
        // Metadata without a record is left as it is.
        assert_eq!(take_record(Some(other.clone())), (Some(other), None));
        let long = vec![7; 40];
        assert_eq!(take_record(Some(long.clone())), (Some(long), None));
    }

    #[test]
    fn a_valid_value_round_trips() {
        let tp = TraceParent::parse(GOOD).expect("valid");
        assert_eq!(tp.parent_id_hex(), "00f067aa0ba902b7");
        assert_eq!(tp.flags, 1);
        assert_eq!(tp.to_string(), GOOD);
        let unsampled = TraceParent::parse(&GOOD.replace("-01", "-00")).expect("valid");
        assert!(!unsampled.sampled());
    }

    #[test]
    fn what_the_specification_says_to_ignore_is_none() {
        for bad in [
            "",
            "garbage",
            // Upper case, a short trace id, all-zero ids, version ff.
            &GOOD.to_uppercase(),
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            // Version 00 has four fields, no more.
            &format!("{GOOD}-extra"),
            // A multi-byte character where a hex digit belongs.
            "00-4bf92f3577b34da6a3ce929d0e0e47é-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad:?}");
        }
        // A later version is read by its first four fields.
        let later = TraceParent::parse(&format!("01{}-more", &GOOD[2..])).expect("later version");
        assert_eq!(later.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    }
}
