//! Reads inputs from standard input (each a u32 little-endian length and
//! that many bytes), decodes each as a command and as telemetry with the
//! crates the systems link, and writes one line per input:
//! `COMMAND-RESULT | TELEMETRY-RESULT`. Whatever decodes must encode back
//! to the same bytes (the format has one encoding of each value); anything
//! else aborts, which the fuzz test sees as a crash.
use std::fmt::Write as _;
use std::io::{self, BufWriter, Read, Write};

use diode_wire::{Command, Telemetry, MAX_FRAME};

fn hex(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

fn command(input: &[u8]) -> String {
    match diode_lower::decode_command(input) {
        Err(e) => format!("error {e:?}"),
        Ok((seq, cmd)) => {
            let mut out = [0u8; MAX_FRAME];
            let n = diode_upper::encode_command(&cmd, seq, &mut out).expect("a decoded command encodes");
            assert_eq!(&out[..n], input, "a command re-encodes to other bytes");
            match cmd {
                Command::Store(r) => format!("seq {seq} store {}", hex(r)),
                Command::Status => format!("seq {seq} status"),
            }
        }
    }
}

fn telemetry(input: &[u8]) -> String {
    match diode_upper::decode_telemetry(input) {
        Err(e) => format!("error {e:?}"),
        Ok((seq, t)) => {
            let mut out = [0u8; MAX_FRAME];
            let n = diode_lower::encode_telemetry(&t, seq, &mut out).expect("decoded telemetry encodes");
            assert_eq!(&out[..n], input, "telemetry re-encodes to other bytes");
            match t {
                Telemetry::Ledger { records, head } => format!("seq {seq} ledger {records} {}", hex(&head)),
                Telemetry::Stored { index, hash } => format!("seq {seq} stored {index} {}", hex(&hash)),
                Telemetry::Error { code, detail } => format!("seq {seq} error-report {code} {}", hex(detail)),
            }
        }
    }
}

fn main() -> io::Result<()> {
    let mut stdin = io::stdin().lock();
    let mut stdout = BufWriter::new(io::stdout().lock());
    loop {
        let mut len = [0u8; 4];
        if stdin.read_exact(&mut len).is_err() {
            return Ok(());
        }
        let mut input = vec![0u8; u32::from_le_bytes(len) as usize];
        stdin.read_exact(&mut input)?;
        writeln!(stdout, "{} | {}", command(&input), telemetry(&input))?;
        stdout.flush()?;
    }
}
