//! The lower side of the Diode: **decode commands**, **encode telemetry**.
//! Nothing here can make a command: a lower system links this crate and
//! never `diode-upper`.
#![no_std]

pub use diode_wire::{Command, Error, Telemetry};
use diode_wire::{Kind, Reader, MAX_DETAIL, MAX_PAYLOAD, MAX_RECORD, OP_ERROR, OP_LEDGER, OP_STATUS, OP_STORE, OP_STORED};

/// Present in an ELF exactly when this crate's code is.
#[used]
#[link_section = ".diode.lower"]
static MARKER: [u8; 16] = *b"diode-lower v1\0\0";

#[inline(always)]
fn touch() {
    // SAFETY: a read of a static this crate owns.
    unsafe { core::ptr::read_volatile(&MARKER[0]) };
}

/// Reads a command frame.
#[inline(never)]
pub fn decode_command(buf: &[u8]) -> Result<(u32, Command<'_>), Error> {
    touch();
    let f = diode_wire::open(buf)?;
    if f.kind != Kind::Command {
        return Err(Error::WrongKind);
    }
    let mut r = Reader::new(f.payload);
    let cmd = match r.u8()? {
        OP_STORE => {
            let record = r.rest();
            if record.is_empty() || record.len() > MAX_RECORD {
                return Err(Error::Payload);
            }
            Command::Store(record)
        }
        OP_STATUS => Command::Status,
        _ => return Err(Error::Payload),
    };
    r.end()?;
    Ok((f.seq, cmd))
}

/// Writes a telemetry frame into `out` and returns its length.
#[inline(never)]
pub fn encode_telemetry(t: &Telemetry, seq: u32, out: &mut [u8]) -> Result<usize, Error> {
    touch();
    let mut payload = [0u8; MAX_PAYLOAD];
    let n = match *t {
        Telemetry::Ledger { records, head } => {
            payload[0] = OP_LEDGER;
            payload[1..5].copy_from_slice(&records.to_le_bytes());
            payload[5..37].copy_from_slice(&head);
            37
        }
        Telemetry::Stored { index, hash } => {
            payload[0] = OP_STORED;
            payload[1..5].copy_from_slice(&index.to_le_bytes());
            payload[5..37].copy_from_slice(&hash);
            37
        }
        Telemetry::Error { code, detail } => {
            if detail.len() > MAX_DETAIL {
                return Err(Error::Payload);
            }
            payload[0] = OP_ERROR;
            payload[1..3].copy_from_slice(&code.to_le_bytes());
            payload[3..3 + detail.len()].copy_from_slice(detail);
            3 + detail.len()
        }
    };
    diode_wire::seal(Kind::Telemetry, seq, &payload[..n], out)
}
