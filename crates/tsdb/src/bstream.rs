//! Bit streams, most significant bit first, as in Prometheus's `tsdb/chunkenc/bstream.go`.

/// An append-only bit stream over a byte vector.
#[derive(Debug, Clone, Default)]
pub(crate) struct BitWriter {
    pub(crate) bytes: Vec<u8>,
    /// Bits still free in the last byte (0 when the last byte is full or there is none).
    free: u8,
}

impl BitWriter {
    /// A writer that continues after `bits` bits of `bytes`.
    pub(crate) fn from_parts(bytes: Vec<u8>, bits: usize) -> Self {
        let mut bytes = bytes;
        bytes.truncate(bits.div_ceil(8));
        let used = (bits % 8) as u8;
        let free = if used == 0 { 0 } else { 8 - used };
        if free > 0 {
            // Clear bits after the end so later ORs land on zeros.
            let last = bytes.len() - 1;
            bytes[last] &= 0xffu8 << free;
        }
        Self { bytes, free }
    }

    pub(crate) fn write_bit(&mut self, bit: bool) {
        if self.free == 0 {
            self.bytes.push(0);
            self.free = 8;
        }
        if bit {
            let last = self.bytes.len() - 1;
            self.bytes[last] |= 1 << (self.free - 1);
        }
        self.free -= 1;
    }

    /// Writes the low `nbits` bits of `value`, most significant first.
    pub(crate) fn write_bits(&mut self, value: u64, nbits: u32) {
        let mut nbits = nbits;
        let value = if nbits == 64 {
            value
        } else {
            value & ((1u64 << nbits) - 1)
        };
        while nbits > 0 {
            if self.free == 0 {
                self.bytes.push(0);
                self.free = 8;
            }
            let take = nbits.min(self.free as u32);
            let shift = nbits - take;
            let part = ((value >> shift) & ((1u64 << take) - 1)) as u8;
            let last = self.bytes.len() - 1;
            self.bytes[last] |= part << (self.free as u32 - take);
            self.free -= take as u8;
            nbits -= take;
        }
    }

    pub(crate) fn write_byte(&mut self, byte: u8) {
        self.write_bits(byte as u64, 8);
    }
}

/// A reader over a bit stream; reading past the end returns `None`, never panics.
#[derive(Debug, Clone)]
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// Bits consumed so far.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    #[cfg(test)]
    pub(crate) fn read_bit(&mut self) -> Option<bool> {
        let byte = *self.bytes.get(self.pos / 8)?;
        let bit = (byte >> (7 - (self.pos % 8))) & 1 == 1;
        self.pos += 1;
        Some(bit)
    }

    /// Bits left to read.
    pub(crate) fn remaining(&self) -> usize {
        (self.bytes.len() * 8).saturating_sub(self.pos)
    }

    /// The next `nbits` (1 to 56) bits without consuming them, zeros past the end.
    pub(crate) fn peek_bits(&self, nbits: u32) -> u64 {
        let first = self.pos / 8;
        let off = (self.pos % 8) as u32;
        let rest = self.bytes.get(first..).unwrap_or(&[]);
        let word = match rest.get(..8) {
            Some(b) => u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
            None => {
                let mut buf = [0u8; 8];
                buf[..rest.len()].copy_from_slice(rest);
                u64::from_be_bytes(buf)
            }
        };
        (word << off) >> (64 - nbits)
    }

    /// Consumes `nbits` bits that [`BitReader::remaining`] says are there.
    pub(crate) fn skip(&mut self, nbits: usize) {
        self.pos += nbits;
    }

    /// Reads `nbits` (at most 64) bits as an unsigned number.
    pub(crate) fn read_bits(&mut self, nbits: u32) -> Option<u64> {
        if self.pos + nbits as usize > self.bytes.len() * 8 {
            return None;
        }
        if nbits == 0 {
            return Some(0);
        }
        let first = self.pos / 8;
        let off = (self.pos % 8) as u32;
        if off + nbits <= 64 {
            // One big-endian load of the eight bytes from the current one (zero-padded at the
            // end of the stream), then one shift each way.
            let word = match self.bytes.get(first..first + 8) {
                Some(b) => u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
                None => {
                    let mut buf = [0u8; 8];
                    let rest = &self.bytes[first..];
                    buf[..rest.len()].copy_from_slice(rest);
                    u64::from_be_bytes(buf)
                }
            };
            self.pos += nbits as usize;
            return Some((word << off) >> (64 - nbits));
        }
        let mut out = 0u64;
        let mut left = nbits;
        while left > 0 {
            let byte = self.bytes[self.pos / 8];
            let avail = 8 - (self.pos % 8) as u32;
            let take = left.min(avail);
            let part = (byte >> (avail - take)) & (((1u16 << take) - 1) as u8);
            out = (out << take) | part as u64;
            self.pos += take as usize;
            left -= take;
        }
        Some(out)
    }

    pub(crate) fn read_byte(&mut self) -> Option<u8> {
        self.read_bits(8).map(|b| b as u8)
    }

    /// Reads an unsigned LEB128 varint (Go's `binary.ReadUvarint`).
    pub(crate) fn read_uvarint(&mut self) -> Option<u64> {
        let mut x = 0u64;
        let mut s = 0u32;
        for i in 0..10 {
            let b = self.read_byte()?;
            if b < 0x80 {
                if i == 9 && b > 1 {
                    return None;
                }
                return Some(x | (b as u64) << s);
            }
            x |= ((b & 0x7f) as u64) << s;
            s += 7;
        }
        None
    }

    /// Reads a zig-zag signed varint (Go's `binary.ReadVarint`).
    pub(crate) fn read_varint(&mut self) -> Option<i64> {
        let ux = self.read_uvarint()?;
        let x = (ux >> 1) as i64;
        Some(if ux & 1 != 0 { !x } else { x })
    }
}

/// Appends an unsigned LEB128 varint.
pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

/// Appends a zig-zag signed varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, x: i64) {
    put_uvarint(out, ((x << 1) ^ (x >> 63)) as u64);
}

/// Reads an unsigned varint from a byte slice, advancing it.
pub(crate) fn get_uvarint(buf: &mut &[u8]) -> Option<u64> {
    let mut x = 0u64;
    let mut s = 0u32;
    for i in 0..10 {
        let (&b, rest) = buf.split_first()?;
        *buf = rest;
        if b < 0x80 {
            if i == 9 && b > 1 {
                return None;
            }
            return Some(x | (b as u64) << s);
        }
        x |= ((b & 0x7f) as u64) << s;
        s += 7;
    }
    None
}

/// Reads a zig-zag signed varint from a byte slice, advancing it.
pub(crate) fn get_varint(buf: &mut &[u8]) -> Option<i64> {
    let ux = get_uvarint(buf)?;
    let x = (ux >> 1) as i64;
    Some(if ux & 1 != 0 { !x } else { x })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip() {
        let mut w = BitWriter::default();
        w.write_bit(true);
        w.write_bits(0b101, 3);
        w.write_bits(u64::MAX, 64);
        w.write_bits(0x1234, 14);
        w.write_byte(0xab);
        let mut r = BitReader::new(&w.bytes);
        assert_eq!(r.read_bit(), Some(true));
        assert_eq!(r.read_bits(3), Some(0b101));
        assert_eq!(r.read_bits(64), Some(u64::MAX));
        assert_eq!(r.read_bits(14), Some(0x1234));
        assert_eq!(r.read_byte(), Some(0xab));
        assert_eq!(r.read_bits(8), None);
    }

    #[test]
    fn varints_round_trip() {
        for x in [0i64, 1, -1, 63, -64, 1 << 40, i64::MIN, i64::MAX] {
            let mut buf = Vec::new();
            put_varint(&mut buf, x);
            let mut s = buf.as_slice();
            assert_eq!(get_varint(&mut s), Some(x));
            assert!(s.is_empty());
            let mut r = BitReader::new(&buf);
            assert_eq!(r.read_varint(), Some(x));
        }
    }
}
