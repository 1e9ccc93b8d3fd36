//! os-console: an operator types commands on its serial console; it sends
//! them down the Diode to the systems below it and prints the telemetry
//! they send back.
//!
//! It links the upper side of the Diode (diode-upper: encode commands,
//! decode telemetry). Commands leave as Ethernet frames of EtherType
//! 0x88b5, broadcast on its link; telemetry arrives the same way.
//!
//! Lines: `store TEXT` appends TEXT to the vault's ledger; `status` asks
//! for the ledger's length and head.
#![no_std]

use core::fmt::Write;
use core::ptr::addr_of;

use diode_wire::{Command, Telemetry, MAX_FRAME, MAX_RECORD};
use sddf_client::net::{self, Net};
use sddf_client::serial::{self, Serial};

const ETHERTYPE: [u8; 2] = [0x88, 0xb5];

#[link_section = ".net_client_config"]
#[used]
static mut NET_CONFIG: net::Config = net::Config::UNSET;

#[link_section = ".serial_client_config"]
#[used]
static mut SERIAL_CONFIG: serial::Config = serial::Config::UNSET;

fn net() -> Option<Net> {
    // SAFETY: written by plinth in the image, only read here.
    Net::new(unsafe { core::ptr::read_volatile(addr_of!(NET_CONFIG)) })
}

fn serial() -> Option<Serial> {
    // SAFETY: as net.
    Serial::new(unsafe { core::ptr::read_volatile(addr_of!(SERIAL_CONFIG)) })
}

/// The line being typed, and the last command's sequence number.
struct Console {
    line: [u8; MAX_RECORD + 16],
    len: usize,
    seq: u32,
}

static mut CONSOLE: Console = Console { line: [0; MAX_RECORD + 16], len: 0, seq: 0 };

fn console() -> &'static mut Console {
    // SAFETY: one thread of control per protection domain; never re-entered.
    unsafe { &mut *core::ptr::addr_of_mut!(CONSOLE) }
}

struct Hex<'a>(&'a [u8]);

impl core::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

#[no_mangle]
pub extern "C" fn init() {
    let (Some(mut s), Some(n)) = (serial(), net()) else {
        plinth_microkit::debug_print(c"console: no serial or network configuration: not composed by plinth\n");
        return;
    };
    n.init_tx();
    let _ = writeln!(s, "console: ready; type 'store TEXT' or 'status'");
}

/// Runs a typed line.
fn run(s: &mut Serial, n: &Net, line: &[u8]) {
    let line = trim(line);
    let cmd = if let Some(text) = line.strip_prefix(b"store ") {
        let text = trim(text);
        if text.is_empty() || text.len() > MAX_RECORD {
            let _ = writeln!(s, "console: a record is 1 to {MAX_RECORD} bytes");
            return;
        }
        Command::Store(text)
    } else if line == b"status" {
        Command::Status
    } else {
        if !line.is_empty() {
            let _ = writeln!(s, "console: the commands are 'store TEXT' and 'status'");
        }
        return;
    };
    let c = console();
    c.seq = c.seq.wrapping_add(1);
    let mut frame = [0u8; 14 + MAX_FRAME];
    frame[0..6].copy_from_slice(&[0xff; 6]);
    frame[6..12].copy_from_slice(&n.mac());
    frame[12..14].copy_from_slice(&ETHERTYPE);
    match diode_upper::encode_command(&cmd, c.seq, &mut frame[14..]) {
        Ok(len) if n.send(&frame[..core::cmp::max(14 + len, 60)]) => {
            match cmd {
                Command::Store(t) => writeln!(s, "console: sent command {} (store, {} bytes)", c.seq, t.len()),
                Command::Status => writeln!(s, "console: sent command {} (status)", c.seq),
            }
            .ok();
        }
        _ => {
            let _ = writeln!(s, "console: could not send the command");
        }
    }
}

fn trim(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if !first.is_ascii_whitespace() {
            break;
        }
        b = rest;
    }
    while let [rest @ .., last] = b {
        if !last.is_ascii_whitespace() {
            break;
        }
        b = rest;
    }
    b
}

/// Prints telemetry received.
fn on_frame(s: &mut Serial, frame: &[u8]) {
    if frame.len() < 14 + diode_wire::HEADER || frame[12..14] != ETHERTYPE {
        return;
    }
    let p = &frame[14..];
    let len = diode_wire::HEADER + u16::from_le_bytes([p[8], p[9]]) as usize + diode_wire::TRAILER;
    let Some(payload) = p.get(..len) else { return };
    let from = Hex(&frame[6..12]);
    match diode_upper::decode_telemetry(payload) {
        Ok((_, Telemetry::Ledger { records, head })) => {
            let _ = writeln!(s, "console: {from}: ledger {records} records, head {}", Hex(&head[..8]));
        }
        Ok((_, Telemetry::Stored { index, hash })) => {
            let _ = writeln!(s, "console: {from}: stored record {index}, hash {}", Hex(&hash[..8]));
        }
        Ok((_, Telemetry::Error { code, detail })) => {
            let _ = writeln!(s, "console: {from}: error {code}: {}", core::str::from_utf8(detail).unwrap_or("?"));
        }
        Err(e) => {
            let _ = writeln!(s, "console: {from}: unreadable telemetry ({e:?})");
        }
    }
}

#[no_mangle]
pub extern "C" fn notified(channel: u32) {
    let (Some(mut s), Some(n)) = (serial(), net()) else { return };
    if channel == s.rx_channel() {
        let c = console();
        while let Some(b) = s.take() {
            if b == b'\r' || b == b'\n' {
                let line = c.line;
                let len = core::mem::take(&mut c.len);
                let _ = writeln!(s, "console> {}", core::str::from_utf8(&line[..len]).unwrap_or("?"));
                run(&mut s, &n, &line[..len]);
            } else if c.len < c.line.len() {
                c.line[c.len] = b;
                c.len += 1;
            }
        }
    }
    if channel == n.rx_channel() {
        n.receive(|frame| on_frame(&mut s, frame));
    }
    s.flush();
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    plinth_microkit::debug_print(c"console: panic\n");
    loop {}
}
