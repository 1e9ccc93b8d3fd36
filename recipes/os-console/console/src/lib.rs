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
//!
//! A command is sent, then sent again four times 100 ms apart (its sequence
//! number the same): a frame can be lost on the way (sDDF 0.6.0's virtio
//! network driver acknowledges its interrupt after reading the ring, so a
//! frame arriving in between waits for the next interrupt; fixed upstream in
//! 0.7.0), and a vault takes a command once and answers each copy. Answers
//! carry the command's sequence number; each is printed once.
#![no_std]

use core::fmt::Write;
use core::ptr::addr_of;

use diode_wire::{Command, Telemetry, MAX_FRAME, MAX_RECORD};
use sddf_client::net::{self, Net};
use sddf_client::serial::{self, Serial};
use sddf_client::timer::{self, Timer};

/// How often, and how many more times, a command is sent.
const RESEND_NS: u64 = 100_000_000;
const RESENDS: u8 = 4;

const ETHERTYPE: [u8; 2] = [0x88, 0xb5];

#[link_section = ".net_client_config"]
#[used]
static mut NET_CONFIG: net::Config = net::Config::UNSET;

#[link_section = ".serial_client_config"]
#[used]
static mut SERIAL_CONFIG: serial::Config = serial::Config::UNSET;

#[link_section = ".timer_client_config"]
#[used]
static mut TIMER_CONFIG: timer::Config = timer::Config::UNSET;

fn timer() -> Option<Timer> {
    // SAFETY: written by plinth in the image, only read here.
    Timer::new(unsafe { core::ptr::read_volatile(addr_of!(TIMER_CONFIG)) })
}

fn net() -> Option<Net> {
    // SAFETY: written by plinth in the image, only read here.
    Net::new(unsafe { core::ptr::read_volatile(addr_of!(NET_CONFIG)) })
}

fn serial() -> Option<Serial> {
    // SAFETY: as net.
    Serial::new(unsafe { core::ptr::read_volatile(addr_of!(SERIAL_CONFIG)) })
}

/// The line being typed, the last command's sequence number, the command
/// being sent again, and the answers printed lately (sender, sequence
/// number, operation), so a copy is not printed twice.
struct Console {
    line: [u8; MAX_RECORD + 16],
    len: usize,
    seq: u32,
    resend: [u8; 14 + MAX_FRAME],
    resend_len: usize,
    resends_left: u8,
    seen: [([u8; 6], u32, u8); 16],
    seen_next: usize,
}

static mut CONSOLE: Console = Console {
    line: [0; MAX_RECORD + 16],
    len: 0,
    seq: 0,
    resend: [0; 14 + MAX_FRAME],
    resend_len: 0,
    resends_left: 0,
    seen: [([0; 6], 0, 0); 16],
    seen_next: 0,
};

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
            c.resend_len = core::cmp::max(14 + len, 60);
            c.resend[..c.resend_len].copy_from_slice(&frame[..c.resend_len]);
            c.resends_left = RESENDS;
            if let Some(t) = timer() {
                t.timeout(RESEND_NS);
            }
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
    let decoded = diode_upper::decode_telemetry(payload);
    if let Ok((seq, t)) = decoded {
        // A copy of an answer already printed (the command was sent again).
        let op = match t {
            Telemetry::Ledger { .. } => 1,
            Telemetry::Stored { .. } => 2,
            Telemetry::Error { .. } => 3,
        };
        let key = (frame[6..12].try_into().unwrap_or([0; 6]), seq, op);
        let c = console();
        if c.seen.contains(&key) {
            return;
        }
        c.seen[c.seen_next % c.seen.len()] = key;
        c.seen_next += 1;
    }
    match decoded {
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
    if let Some(t) = timer() {
        let c = console();
        if channel == t.channel() && c.resends_left > 0 {
            n.send(&c.resend[..c.resend_len]);
            c.resends_left -= 1;
            if c.resends_left > 0 {
                t.timeout(RESEND_NS);
            }
        }
    }
    s.flush();
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    plinth_microkit::debug_print(c"console: panic\n");
    loop {}
}
