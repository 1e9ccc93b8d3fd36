//! The Diode's frame, shared by both directions: a header (magic, version,
//! kind, sequence number, payload length), the payload, and a CRC-32 of
//! all before it. It knows no command and no telemetry record: those live
//! in `diode-upper` and `diode-lower`, so that each side links only the
//! half of the protocol its direction needs.
#![no_std]

/// The first two bytes of every frame.
pub const MAGIC: [u8; 2] = [0x44, 0x31];
/// The format's version.
pub const VERSION: u8 = 1;
/// The largest payload a frame carries.
pub const MAX_PAYLOAD: usize = 512;
/// Header bytes before the payload.
pub const HEADER: usize = 10;
/// Bytes of the trailing CRC.
pub const TRAILER: usize = 4;
/// The largest frame.
pub const MAX_FRAME: usize = HEADER + MAX_PAYLOAD + TRAILER;

/// What a frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Down the Diode: from a higher system to a lower one.
    Command = 1,
    /// Up: from a lower system to a higher one.
    Telemetry = 2,
}

/// Why bytes are not a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Fewer bytes than the header and trailer, or than the length says.
    Short,
    /// Not the magic.
    Magic,
    /// A version this code does not read.
    Version(u8),
    /// A kind that is neither.
    Kind(u8),
    /// A payload length above MAX_PAYLOAD.
    Length(u16),
    /// Bytes after the frame.
    Trailing,
    /// The CRC does not match.
    Checksum,
    /// The output buffer is too small, or the payload too large.
    Space,
    /// A frame of the other kind than the reader expects.
    WrongKind,
    /// A payload whose operation or fields are not the format's.
    Payload,
}

/// Operation bytes of command payloads.
pub const OP_STORE: u8 = 1;
pub const OP_STATUS: u8 = 2;
/// Operation bytes of telemetry payloads.
pub const OP_LEDGER: u8 = 1;
pub const OP_STORED: u8 = 2;
pub const OP_ERROR: u8 = 3;
/// The largest record a store command carries.
pub const MAX_RECORD: usize = 256;
/// The largest detail an error carries.
pub const MAX_DETAIL: usize = 64;

/// A command, as data: the code that encodes one is `diode-upper`'s, the
/// code that decodes one `diode-lower`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command<'a> {
    /// Append a record to the vault's ledger.
    Store(&'a [u8]),
    /// Report the ledger's state.
    Status,
}

/// A telemetry record, as data: `diode-lower` encodes, `diode-upper`
/// decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Telemetry<'a> {
    /// The ledger holds `records` records; the last one's hash is `head`.
    Ledger { records: u32, head: [u8; 32] },
    /// A record was appended at `index` with hash `hash`.
    Stored { index: u32, hash: [u8; 32] },
    /// Something failed: a code and a short detail.
    Error { code: u16, detail: &'a [u8] },
}

/// A frame read from bytes: its kind, sequence number and payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub kind: Kind,
    pub seq: u32,
    pub payload: &'a [u8],
}

/// Writes a frame of `kind` carrying `payload` into `out`, and returns its
/// length.
pub fn seal(kind: Kind, seq: u32, payload: &[u8], out: &mut [u8]) -> Result<usize, Error> {
    let n = HEADER + payload.len() + TRAILER;
    if payload.len() > MAX_PAYLOAD || out.len() < n {
        return Err(Error::Space);
    }
    out[0..2].copy_from_slice(&MAGIC);
    out[2] = VERSION;
    out[3] = kind as u8;
    out[4..8].copy_from_slice(&seq.to_le_bytes());
    out[8..10].copy_from_slice(&(payload.len() as u16).to_le_bytes());
    out[HEADER..HEADER + payload.len()].copy_from_slice(payload);
    let crc = crc32(&out[..HEADER + payload.len()]);
    out[HEADER + payload.len()..n].copy_from_slice(&crc.to_le_bytes());
    Ok(n)
}

/// Reads exactly one frame from `buf`: every field checked before the
/// payload is trusted.
pub fn open(buf: &[u8]) -> Result<Frame<'_>, Error> {
    if buf.len() < HEADER + TRAILER {
        return Err(Error::Short);
    }
    if buf[0..2] != MAGIC {
        return Err(Error::Magic);
    }
    if buf[2] != VERSION {
        return Err(Error::Version(buf[2]));
    }
    let kind = match buf[3] {
        1 => Kind::Command,
        2 => Kind::Telemetry,
        k => return Err(Error::Kind(k)),
    };
    let len = u16::from_le_bytes([buf[8], buf[9]]);
    if len as usize > MAX_PAYLOAD {
        return Err(Error::Length(len));
    }
    let end = HEADER + len as usize;
    if buf.len() < end + TRAILER {
        return Err(Error::Short);
    }
    if buf.len() > end + TRAILER {
        return Err(Error::Trailing);
    }
    let want = u32::from_le_bytes([buf[end], buf[end + 1], buf[end + 2], buf[end + 3]]);
    if crc32(&buf[..end]) != want {
        return Err(Error::Checksum);
    }
    let seq = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    Ok(Frame { kind, seq, payload: &buf[HEADER..end] })
}

/// CRC-32 (ISO-HDLC, as zlib), bit by bit: frames are small.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A little-endian reader over a payload that fails instead of panicking.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }
    pub fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }
    pub fn u16(&mut self) -> Result<u16, Error> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    pub fn u32(&mut self) -> Result<u32, Error> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn hash(&mut self) -> Result<[u8; 32], Error> {
        let mut h = [0u8; 32];
        h.copy_from_slice(self.take(32)?);
        Ok(h)
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.buf.len() < n {
            return Err(Error::Payload);
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.buf)
    }
    pub fn end(&self) -> Result<(), Error> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(Error::Payload)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_of_the_check_string() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn a_sealed_frame_opens() {
        let mut out = [0u8; MAX_FRAME];
        let n = seal(Kind::Telemetry, 7, b"abc", &mut out).unwrap();
        let f = open(&out[..n]).unwrap();
        assert_eq!((f.kind, f.seq, f.payload), (Kind::Telemetry, 7, &b"abc"[..]));
        out[HEADER] ^= 1;
        assert_eq!(open(&out[..n]), Err(Error::Checksum));
        assert_eq!(open(&out[..n - 1]), Err(Error::Short));
    }
}
