//! The upper side of the Diode: **encode commands**, **decode telemetry**.
//!
//! Only systems of a higher zone link this crate. A lower system that did
//! could send a command up; `plinth build` of a deployment fails when a
//! lower PD's ELF holds any of this crate's symbols or its marker section,
//! so the guarantee is that the code is absent, not that it is unused.
#![no_std]

pub use diode_wire::{Command, Error, Telemetry};
use diode_wire::{Kind, Reader, MAX_DETAIL, MAX_PAYLOAD, MAX_RECORD, OP_ERROR, OP_LEDGER, OP_STATUS, OP_STORE, OP_STORED};

/// Present in an ELF exactly when this crate's code is: every function
/// reads it, so the linker keeps it only with them.
#[used]
#[link_section = ".diode.upper"]
static MARKER: [u8; 16] = *b"diode-upper v1\0\0";

#[inline(always)]
fn touch() {
    // SAFETY: a read of a static this crate owns.
    unsafe { core::ptr::read_volatile(&MARKER[0]) };
}

/// Writes a command frame into `out` and returns its length.
#[inline(never)]
pub fn encode_command(cmd: &Command, seq: u32, out: &mut [u8]) -> Result<usize, Error> {
    touch();
    let mut payload = [0u8; MAX_PAYLOAD];
    let n = match *cmd {
        Command::Store(record) => {
            if record.is_empty() || record.len() > MAX_RECORD {
                return Err(Error::Payload);
            }
            payload[0] = OP_STORE;
            payload[1..1 + record.len()].copy_from_slice(record);
            1 + record.len()
        }
        Command::Status => {
            payload[0] = OP_STATUS;
            1
        }
    };
    diode_wire::seal(Kind::Command, seq, &payload[..n], out)
}

/// Reads a telemetry frame.
#[inline(never)]
pub fn decode_telemetry(buf: &[u8]) -> Result<(u32, Telemetry<'_>), Error> {
    touch();
    let f = diode_wire::open(buf)?;
    if f.kind != Kind::Telemetry {
        return Err(Error::WrongKind);
    }
    let mut r = Reader::new(f.payload);
    let t = match r.u8()? {
        OP_LEDGER => Telemetry::Ledger { records: r.u32()?, head: r.hash()? },
        OP_STORED => Telemetry::Stored { index: r.u32()?, hash: r.hash()? },
        OP_ERROR => {
            let code = r.u16()?;
            let detail = r.rest();
            if detail.len() > MAX_DETAIL {
                return Err(Error::Payload);
            }
            Telemetry::Error { code, detail }
        }
        _ => return Err(Error::Payload),
    };
    r.end()?;
    Ok((f.seq, t))
}
