//! The Prometheus XOR chunk: delta-of-delta timestamps and Gorilla XOR values.
//!
//! Bit-for-bit the format of Prometheus's `tsdb/chunkenc/xor.go` (v3.x), itself derived from
//! the Gorilla paper and go-tsz:
//!
//! ```text
//! ┌──────────────────────┬──────────────────────────────────────────────────────────────┐
//! │ num samples (u16 BE) │ bit stream                                                   │
//! └──────────────────────┴──────────────────────────────────────────────────────────────┘
//! sample 0: t as signed varint, v as 64 raw bits
//! sample 1: t - t0 as unsigned varint, v as XOR with v0
//! sample n: delta-of-delta of t in one of '0' | '10'+14 bits | '110'+17 | '1110'+20 | '1111'+64,
//!           v as XOR with the previous value: '0' (same) | '10' + bits in the previous window |
//!           '11' + 5 bits leading zeros + 6 bits significant bits (0 means 64) + bits
//! ```
//!
//! Values are compared by bits, so NaNs and the staleness marker round-trip exactly.

use crate::Error;
use crate::bstream::{BitReader, BitWriter};
use apilens_model::Sample;

/// Samples per chunk before a new one is cut, as in Prometheus.
pub const SAMPLES_PER_CHUNK: usize = 120;

/// An appendable XOR chunk.
#[derive(Debug, Clone)]
pub struct XorChunk {
    w: BitWriter,
    num: u16,
    t: i64,
    v: u64,
    t_delta: u64,
    leading: u8,
    trailing: u8,
}

impl Default for XorChunk {
    fn default() -> Self {
        Self::new()
    }
}

impl XorChunk {
    /// An empty chunk.
    pub fn new() -> Self {
        Self {
            w: BitWriter::from_parts(vec![0, 0], 16),
            num: 0,
            t: 0,
            v: 0,
            t_delta: 0,
            leading: 0xff,
            trailing: 0,
        }
    }

    /// Rebuilds an appendable chunk from its bytes by decoding every sample.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] when the bytes do not decode.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut it = XorIter::new(bytes);
        for _ in it.by_ref() {}
        if let Some(err) = it.err {
            return Err(Error::corrupt("chunk", err));
        }
        Ok(Self {
            w: BitWriter::from_parts(bytes.to_vec(), 16 + it.br.pos()),
            num: it.total,
            t: it.t,
            v: it.v,
            t_delta: it.t_delta,
            leading: if it.total < 2 { 0xff } else { it.leading },
            trailing: it.trailing,
        })
    }

    /// The encoded chunk: two bytes of sample count, then the bit stream.
    pub fn bytes(&self) -> &[u8] {
        &self.w.bytes
    }

    /// Number of samples.
    pub fn num_samples(&self) -> usize {
        self.num as usize
    }

    /// Timestamp of the last sample (0 when empty).
    pub fn last_t(&self) -> i64 {
        self.t
    }

    /// Iterates the samples.
    pub fn iter(&self) -> XorIter<'_> {
        XorIter::new(self.bytes())
    }

    /// Appends one sample. The caller keeps timestamps increasing and the chunk below
    /// `u16::MAX` samples; the encoding itself accepts any timestamps.
    pub fn append(&mut self, t: i64, v: f64) {
        let vbits = v.to_bits();
        let mut t_delta = 0u64;
        match self.num {
            0 => {
                let mut buf = Vec::with_capacity(10);
                crate::bstream::put_varint(&mut buf, t);
                for b in buf {
                    self.w.write_byte(b);
                }
                self.w.write_bits(vbits, 64);
            }
            1 => {
                t_delta = t.wrapping_sub(self.t) as u64;
                let mut buf = Vec::with_capacity(10);
                crate::bstream::put_uvarint(&mut buf, t_delta);
                for b in buf {
                    self.w.write_byte(b);
                }
                self.write_value(vbits);
            }
            _ => {
                t_delta = t.wrapping_sub(self.t) as u64;
                let dod = t_delta.wrapping_sub(self.t_delta) as i64;
                if dod == 0 {
                    self.w.write_bit(false);
                } else if bit_range(dod, 14) {
                    self.w.write_bits(0b10, 2);
                    self.w.write_bits(dod as u64, 14);
                } else if bit_range(dod, 17) {
                    self.w.write_bits(0b110, 3);
                    self.w.write_bits(dod as u64, 17);
                } else if bit_range(dod, 20) {
                    self.w.write_bits(0b1110, 4);
                    self.w.write_bits(dod as u64, 20);
                } else {
                    self.w.write_bits(0b1111, 4);
                    self.w.write_bits(dod as u64, 64);
                }
                self.write_value(vbits);
            }
        }
        self.t = t;
        self.v = vbits;
        self.t_delta = t_delta;
        self.num = self.num.wrapping_add(1);
        let [hi, lo] = self.num.to_be_bytes();
        self.w.bytes[0] = hi;
        self.w.bytes[1] = lo;
    }

    fn write_value(&mut self, vbits: u64) {
        let delta = vbits ^ self.v;
        if delta == 0 {
            self.w.write_bit(false);
            return;
        }
        self.w.write_bit(true);
        let mut leading = delta.leading_zeros() as u8;
        let trailing = delta.trailing_zeros() as u8;
        // Five bits hold the leading-zero count: clamp as Prometheus does.
        if leading >= 32 {
            leading = 31;
        }
        if self.leading != 0xff && leading >= self.leading && trailing >= self.trailing {
            self.w.write_bit(false);
            self.w.write_bits(
                delta >> self.trailing,
                64 - self.leading as u32 - self.trailing as u32,
            );
            return;
        }
        self.leading = leading;
        self.trailing = trailing;
        self.w.write_bit(true);
        self.w.write_bits(leading as u64, 5);
        let sigbits = 64 - leading as u32 - trailing as u32;
        // 64 significant bits are written as 0 in six bits; the reader maps 0 back to 64.
        self.w.write_bits(sigbits as u64, 6);
        self.w.write_bits(delta >> trailing, sigbits);
    }
}

fn bit_range(x: i64, nbits: u32) -> bool {
    -((1i64 << (nbits - 1)) - 1) <= x && x <= 1i64 << (nbits - 1)
}

/// Iterator over the samples of encoded chunk bytes.
///
/// Decoding never panics: on malformed bytes the iterator stops and [`XorIter::err`] says why,
/// as Prometheus's iterators report their error once exhausted.
#[derive(Debug, Clone)]
pub struct XorIter<'a> {
    br: BitReader<'a>,
    total: u16,
    read: u16,
    t: i64,
    v: u64,
    t_delta: u64,
    leading: u8,
    trailing: u8,
    err: Option<&'static str>,
}

impl<'a> XorIter<'a> {
    /// An iterator over chunk bytes as [`XorChunk::bytes`] returns them.
    pub fn new(bytes: &'a [u8]) -> Self {
        let (total, err, body) = match bytes {
            [hi, lo, rest @ ..] => (u16::from_be_bytes([*hi, *lo]), None, rest),
            _ => (0, Some("shorter than the two-byte header"), &[][..]),
        };
        Self {
            br: BitReader::new(body),
            total,
            read: 0,
            t: 0,
            v: 0,
            t_delta: 0,
            leading: 0,
            trailing: 0,
            err,
        }
    }

    /// Why decoding stopped early, if it did.
    pub fn err(&self) -> Option<&'static str> {
        self.err
    }

    fn step(&mut self) -> Result<Sample, &'static str> {
        const TRUNCATED: &str = "truncated bit stream";
        match self.read {
            0 => {
                self.t = self.br.read_varint().ok_or("bad first timestamp")?;
                self.v = self.br.read_bits(64).ok_or(TRUNCATED)?;
            }
            1 => {
                self.t_delta = self.br.read_uvarint().ok_or("bad second timestamp")?;
                self.t = self.t.wrapping_add(self.t_delta as i64);
                self.read_value()?;
            }
            _ => {
                // The delta-of-delta prefix: up to four bits, read in one peek.
                let p = self.br.peek_bits(4);
                let (d, len) = match p {
                    0b0000..=0b0111 => (0b0, 1),
                    0b1000..=0b1011 => (0b10, 2),
                    0b1100..=0b1101 => (0b110, 3),
                    0b1110 => (0b1110, 4),
                    _ => (0b1111, 4),
                };
                if self.br.remaining() < len {
                    return Err(TRUNCATED);
                }
                self.br.skip(len);
                let dod = match d {
                    0b0 => 0,
                    0b10 => self.read_dod(14)?,
                    0b110 => self.read_dod(17)?,
                    0b1110 => self.read_dod(20)?,
                    _ => self.br.read_bits(64).ok_or(TRUNCATED)? as i64,
                };
                self.t_delta = (self.t_delta as i64).wrapping_add(dod) as u64;
                self.t = self.t.wrapping_add(self.t_delta as i64);
                self.read_value()?;
            }
        }
        self.read += 1;
        Ok(Sample {
            t: self.t,
            v: f64::from_bits(self.v),
        })
    }

    fn read_dod(&mut self, sz: u32) -> Result<i64, &'static str> {
        let mut bits = self.br.read_bits(sz).ok_or("truncated bit stream")? as i64;
        if bits > 1 << (sz - 1) {
            bits -= 1 << sz;
        }
        Ok(bits)
    }

    fn read_value(&mut self) -> Result<(), &'static str> {
        const TRUNCATED: &str = "truncated bit stream";
        // The control bits: `0` same value, `10` same window, `11` new window.
        let p = self.br.peek_bits(2);
        if p < 0b10 {
            if self.br.remaining() < 1 {
                return Err(TRUNCATED);
            }
            self.br.skip(1);
            return Ok(());
        }
        if self.br.remaining() < 2 {
            return Err(TRUNCATED);
        }
        self.br.skip(2);
        let (leading, trailing, mbits) = if p == 0b10 {
            let mbits = 64u32
                .checked_sub(self.leading as u32 + self.trailing as u32)
                .ok_or("bad value window")?;
            (self.leading, self.trailing, mbits)
        } else {
            let leading = self.br.read_bits(5).ok_or(TRUNCATED)? as u32;
            let mut mbits = self.br.read_bits(6).ok_or(TRUNCATED)? as u32;
            if mbits == 0 {
                mbits = 64;
            }
            let trailing = 64u32
                .checked_sub(leading + mbits)
                .ok_or("bad value window")?;
            self.leading = leading as u8;
            self.trailing = trailing as u8;
            (leading as u8, trailing as u8, mbits)
        };
        let _ = leading;
        let bits = self.br.read_bits(mbits).ok_or(TRUNCATED)?;
        self.v ^= bits.checked_shl(trailing as u32).unwrap_or(0);
        Ok(())
    }
}

impl Iterator for XorIter<'_> {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        if self.err.is_some() || self.read >= self.total {
            return None;
        }
        match self.step() {
            Ok(s) => Some(s),
            Err(e) => {
                self.err = Some(e);
                None
            }
        }
    }
}

/// Decodes every sample of chunk bytes.
///
/// # Errors
///
/// [`Error::Corrupt`] when the bytes do not decode.
pub fn decode_chunk(bytes: &[u8]) -> Result<Vec<Sample>, Error> {
    let mut it = XorIter::new(bytes);
    let samples: Vec<Sample> = it.by_ref().collect();
    match it.err {
        Some(e) => Err(Error::corrupt("chunk", e)),
        None => Ok(samples),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apilens_model::STALE_NAN;
    use proptest::prelude::*;

    fn round_trip(samples: &[(i64, f64)]) {
        let mut c = XorChunk::new();
        for &(t, v) in samples {
            c.append(t, v);
        }
        let got = decode_chunk(c.bytes()).unwrap();
        assert_eq!(got.len(), samples.len());
        for (g, &(t, v)) in got.iter().zip(samples) {
            assert_eq!(g.t, t);
            assert_eq!(g.v.to_bits(), v.to_bits());
        }
        // Reopening the chunk and appending more continues the same stream.
        let mut reopened = XorChunk::from_bytes(c.bytes()).unwrap();
        let mut fresh = c.clone();
        let next_t = samples.last().map_or(0, |s| s.0) + 15_000;
        reopened.append(next_t, 42.5);
        fresh.append(next_t, 42.5);
        assert_eq!(reopened.bytes(), fresh.bytes());
    }

    #[test]
    fn regular_scrapes_take_a_few_bits_per_sample() {
        let samples: Vec<(i64, f64)> = (0..120)
            .map(|i| (1_700_000_000_000 + i * 15_000, 1000.0 + i as f64))
            .collect();
        round_trip(&samples);
        let mut c = XorChunk::new();
        for &(t, v) in &samples {
            c.append(t, v);
        }
        // A steadily growing counter: 1 timestamp bit plus a short XOR window per sample.
        assert!(c.bytes().len() < 120 * 3, "{} bytes", c.bytes().len());
    }

    #[test]
    fn staleness_markers_and_special_values_round_trip() {
        round_trip(&[
            (1000, 1.0),
            (2000, STALE_NAN),
            (3000, f64::NAN),
            (4000, f64::INFINITY),
            (5000, f64::NEG_INFINITY),
            (6000, -0.0),
            (7000, STALE_NAN),
            (8000, f64::MIN_POSITIVE),
            (9000, f64::MAX),
        ]);
    }

    #[test]
    fn irregular_timestamps_use_every_bucket() {
        round_trip(&[
            (0, 1.0),
            (10, 2.0),
            (20, 3.0),
            (8_000, 4.0),
            (100_000, 5.0),
            (600_000, 6.0),
            (600_001, 7.0),
            (i64::MAX / 2, 8.0),
            (i64::MAX / 2 + 1, 9.0),
        ]);
    }

    #[test]
    fn prometheus_reference_bytes() {
        // Two samples worked out by hand from `xor.go`'s Append (Append(1000, 1) then
        // Append(2000, 1)): header 0x0002, zig-zag varint(1000)=0xd00f, float64 bits of 1.0,
        // uvarint delta 1000=0xe807 and a single zero bit for the unchanged value.
        let mut c = XorChunk::new();
        c.append(1000, 1.0);
        c.append(2000, 1.0);
        assert_eq!(
            c.bytes(),
            &[
                0, 2, 0xd0, 0x0f, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0xe8, 0x07, 0x00
            ]
        );
    }

    #[test]
    fn garbage_never_panics() {
        for bytes in [
            &[][..],
            &[0],
            &[0, 5],
            &[0, 3, 0xff, 0xff, 0xff],
            &[
                0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
            ],
        ] {
            let _ = decode_chunk(bytes);
            let _ = XorChunk::from_bytes(bytes);
        }
        assert!(decode_chunk(&[0, 5]).is_err());
    }

    proptest! {
        #[test]
        fn any_samples_round_trip(
            start in any::<i32>(),
            steps in proptest::collection::vec((0i64..1_000_000, any::<u64>()), 0..300),
        ) {
            let mut t = start as i64;
            let samples: Vec<(i64, f64)> = steps
                .iter()
                .map(|&(dt, bits)| {
                    t += dt;
                    (t, f64::from_bits(bits))
                })
                .collect();
            round_trip(&samples);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_chunk(&bytes);
            let _ = XorChunk::from_bytes(&bytes);
        }
    }
}
