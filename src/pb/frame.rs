//! `Frame`, written by hand so a frame can carry envelopes already encoded.
//!
//! The generated code names this type in place of its own (`extern_path` in
//! `build.rs`). A session queues each outgoing envelope as bytes the moment
//! it is sent (a fast sender's backlog is then compact bytes, not boxed
//! messages) and the writer hands those bytes on as one frame: [`Frame`]
//! writes them as they are, so the wire sees exactly what the generated type
//! would have written for the same envelopes. Decoding fills
//! [`Frame::envelopes`] as the generated type would.

use bytes::{Buf, BufMut, Bytes};
use prost::{
    DecodeError,
    encoding::{DecodeContext, WireType, message, skip_field},
};

use super::Envelope;

/// The proto's field number of `Frame.envelopes`.
const ENVELOPES: u32 = 1;

/// A batch of envelopes: the one message both directions of a Session
/// stream carry (`proto/`, `message Frame`).
///
/// Build one from envelopes with [`Frame::from`]; a decoded frame has its
/// envelopes in [`Frame::envelopes`].
#[derive(Clone, Default, PartialEq)]
pub struct Frame {
    /// The envelopes, in order, after those in `queued`.
    pub envelopes: Vec<Envelope>,
    /// What a session queued, written first, in order: runs of envelopes
    /// already encoded as `Frame` fields (each a key, a length and the
    /// envelope), and envelopes too large to be worth copying early. Only
    /// this crate fills it, and only with [`encode_envelope`]'s output.
    queued: Vec<Queued>,
}

/// Part of what a session queued for a frame.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Queued {
    /// Envelopes [`encode_envelope`] wrote.
    Encoded(Bytes),
    /// One envelope, encoded when the frame is.
    Envelope(Envelope),
}

impl Queued {
    /// The bytes it adds to a frame.
    fn len(&self) -> usize {
        match self {
            Self::Encoded(run) => run.len(),
            Self::Envelope(e) => framed_len(e),
        }
    }
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("envelopes", &self.envelopes)
            .field(
                "queued_bytes",
                &self.queued.iter().map(Queued::len).sum::<usize>(),
            )
            .finish()
    }
}

impl From<Vec<Envelope>> for Frame {
    fn from(envelopes: Vec<Envelope>) -> Self {
        Self {
            envelopes,
            queued: Vec::new(),
        }
    }
}

impl Frame {
    /// A frame of what a session queued.
    pub(crate) fn queued(queued: Vec<Queued>) -> Self {
        Self {
            envelopes: Vec::new(),
            queued,
        }
    }
}

/// Appends `envelope` to `buf` as a `Frame` field: what a frame carrying it
/// would write for it. Returns the bytes written.
pub(crate) fn encode_envelope(envelope: &Envelope, buf: &mut impl BufMut) -> usize {
    let before = buf.remaining_mut();
    message::encode(ENVELOPES, envelope, buf);
    before - buf.remaining_mut()
}

/// The bytes [`encode_envelope`] writes for `envelope`.
pub(crate) fn framed_len(envelope: &Envelope) -> usize {
    message::encoded_len(ENVELOPES, envelope)
}

/// The bytes [`encode_envelope`] writes for an envelope carrying
/// `Cast { to, variant, args, traceparent }`, computed without building it.
pub(crate) fn framed_cast_len(to: u64, variant: &str, args: &[u8], traceparent: &str) -> usize {
    use prost::encoding::{encoded_len_varint, key_len};
    // proto3: a field at its default value is not written.
    let delimited = |tag: u32, len: usize| {
        if len == 0 {
            0
        } else {
            key_len(tag) + encoded_len_varint(len as u64) + len
        }
    };
    let to_len = if to == 0 {
        0
    } else {
        key_len(1) + encoded_len_varint(to)
    };
    let cast = to_len
        + delimited(2, variant.len())
        + delimited(3, args.len())
        + delimited(4, traceparent.len());
    // The envelope's `cast` field (12), then the frame's field.
    let envelope = key_len(12) + encoded_len_varint(cast as u64) + cast;
    key_len(ENVELOPES) + encoded_len_varint(envelope as u64) + envelope
}

impl prost::Message for Frame {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        for part in &self.queued {
            match part {
                Queued::Encoded(run) => buf.put_slice(run),
                Queued::Envelope(e) => message::encode(ENVELOPES, e, buf),
            }
        }
        message::encode_repeated(ENVELOPES, &self.envelopes, buf);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        if tag == ENVELOPES {
            message::merge_repeated(wire_type, &mut self.envelopes, buf, ctx).map_err(|mut e| {
                e.push("Frame", "envelopes");
                e
            })
        } else {
            skip_field(wire_type, tag, buf, ctx)
        }
    }

    fn encoded_len(&self) -> usize {
        self.queued.iter().map(Queued::len).sum::<usize>()
            + message::encoded_len_repeated(ENVELOPES, &self.envelopes)
    }

    fn clear(&mut self) {
        self.envelopes.clear();
        self.queued.clear();
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use prost::Message as _;

    use super::*;
    use crate::pb::{Cast, Ping, envelope::Body};

    fn envelopes() -> Vec<Envelope> {
        vec![
            Body::Cast(Cast {
                to: 7,
                variant: "Data".into(),
                args: vec![1; 300],
                traceparent: String::new(),
            })
            .into(),
            Body::Ping(Ping { seq: 9 }).into(),
            Envelope::default(),
        ]
    }

    #[test]
    fn pre_encoded_envelopes_are_written_byte_for_byte_as_envelopes_are() {
        let mut buf = BytesMut::new();
        let mut written = 0;
        for e in &envelopes() {
            let n = encode_envelope(e, &mut buf);
            assert_eq!(n, framed_len(e));
            written += n;
        }
        assert_eq!(written, buf.len());
        let whole = buf.freeze();
        // In runs split anywhere between envelopes, or in one.
        let first = framed_len(&envelopes()[0]);
        let pre = Frame::queued(vec![
            Queued::Encoded(whole.slice(..first)),
            Queued::Encoded(whole.slice(first..)),
        ]);
        assert_eq!(
            pre.encode_to_vec(),
            Frame::queued(vec![Queued::Encoded(whole)]).encode_to_vec()
        );
        let plain = Frame::from(envelopes());
        assert_eq!(pre.encode_to_vec(), plain.encode_to_vec());
        assert_eq!(pre.encoded_len(), plain.encoded_len());
        // And it decodes into the envelopes it was made of.
        let decoded = Frame::decode(pre.encode_to_vec().as_slice()).expect("decodes");
        assert_eq!(decoded.envelopes, envelopes());
    }

    #[test]
    fn a_frame_mixing_both_forms_keeps_their_order() {
        let mut buf = BytesMut::new();
        let all = envelopes();
        encode_envelope(&all[0], &mut buf);
        let mut frame = Frame::queued(vec![
            Queued::Encoded(buf.freeze()),
            Queued::Envelope(all[1].clone()),
        ]);
        frame.envelopes = all[2..].to_vec();
        let decoded = Frame::decode(frame.encode_to_vec().as_slice()).expect("decodes");
        assert_eq!(decoded.envelopes, all);
    }

    #[test]
    fn unknown_fields_are_skipped_and_bad_envelopes_refused() {
        // Field 2 (unknown, a varint) then one envelope.
        let mut bytes = vec![0x10, 0x05];
        bytes.extend(Frame::from(envelopes()[1..2].to_vec()).encode_to_vec());
        let decoded = Frame::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(decoded.envelopes, envelopes()[1..2].to_vec());
        // Field 1 with a length past the end.
        let err = Frame::decode([0x0a, 0x09, 0x01].as_slice()).expect_err("refused");
        assert!(err.to_string().contains("Frame.envelopes"), "{err}");
    }

    #[test]
    fn a_cast_is_measured_as_it_is_written() {
        let traced = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        for (to, variant, args, traceparent) in [
            (7, "Data", vec![1; 300], ""),
            (0, "", vec![], ""),
            (u64::MAX, "V", vec![2; 200_000], traced),
            (1, "", vec![3], traced),
        ] {
            let envelope: Envelope = Body::Cast(Cast {
                to,
                variant: variant.into(),
                args: args.clone(),
                traceparent: traceparent.into(),
            })
            .into();
            assert_eq!(
                framed_cast_len(to, variant, &args, traceparent),
                framed_len(&envelope)
            );
        }
    }
}
