//! os-totebox's vault: an append-only ledger on its sDDF block device,
//! each record carrying the hash of the one before, commanded over the
//! network by a higher system and answering with telemetry only.
//!
//! It links the lower side of the Diode (diode-lower: decode commands,
//! encode telemetry) and nothing that encodes a command: plinth build of a
//! deployment checks that its ELF holds none of diode-upper.
//!
//! On boot it reads the whole ledger (the header block and one block per
//! record, in one request into its data region, which mirrors the ledger's
//! blocks), checks the chain, and formats an empty ledger on a disk that
//! has none. Commands arrive as Ethernet frames of EtherType 0x88b5 whose
//! payload is one Diode frame; telemetry leaves the same way, broadcast,
//! carrying the sequence number of the command it answers. A command is
//! taken once: a copy (the console sends each several times, as frames can
//! be lost) gets the same answer again.
#![no_std]

use core::fmt::Write;
use core::ptr::addr_of;

use diode_wire::{Command, Telemetry};
use ledger::{Ledger, BLOCK};
use plinth_microkit::DebugOut;
use sddf_client::blk::{self, Blk, Code};
use sddf_client::net::{self, Net};

/// The EtherType of Diode frames (IEEE's local experimental one).
const ETHERTYPE: [u8; 2] = [0x88, 0xb5];
/// Records the ledger holds (its blocks, less the header's).
const CAPACITY: u32 = 64;

#[link_section = ".blk_client_config"]
#[used]
static mut BLK_CONFIG: blk::Config = blk::Config::UNSET;

#[link_section = ".net_client_config"]
#[used]
static mut NET_CONFIG: net::Config = net::Config::UNSET;

fn blk() -> Option<Blk> {
    // SAFETY: written by plinth in the image, only read here.
    Blk::new(unsafe { core::ptr::read_volatile(addr_of!(BLK_CONFIG)) })
}

fn net() -> Option<Net> {
    // SAFETY: as blk.
    Net::new(unsafe { core::ptr::read_volatile(addr_of!(NET_CONFIG)) })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Loading,
    Formatting,
    Ready,
    Writing { index: u32, hash: [u8; 32], len: usize },
    Broken,
}

/// The largest telemetry frame the vault sends (an Ethernet header and a
/// Diode frame of at most 3 + 64 bytes of payload).
const ANSWER: usize = 14 + diode_wire::HEADER + 3 + diode_wire::MAX_DETAIL + diode_wire::TRAILER;

struct Vault {
    phase: Phase,
    ledger: Ledger,
    /// The command being answered, or last answered: its sender and number.
    command: ([u8; 6], u32),
    /// The frames that answered it, sent again to a copy of it.
    answers: [[u8; ANSWER]; 2],
    answer_lens: [usize; 2],
}

static mut VAULT: Vault = Vault {
    phase: Phase::Loading,
    ledger: Ledger { records: 0, head: [0; 32], capacity: CAPACITY },
    command: ([0; 6], 0),
    answers: [[0; ANSWER]; 2],
    answer_lens: [0; 2],
};

fn vault() -> &'static mut Vault {
    // SAFETY: one thread of control per protection domain; never re-entered.
    unsafe { &mut *core::ptr::addr_of_mut!(VAULT) }
}

struct Hex<'a>(&'a [u8]);

impl core::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

#[no_mangle]
pub extern "C" fn init() {
    let (Some(b), Some(n)) = (blk(), net()) else {
        plinth_microkit::debug_print(c"vault: no block or network configuration: not composed by plinth\n");
        vault().phase = Phase::Broken;
        return;
    };
    n.init_tx();
    while !b.ready() {}
    let blocks = CAPACITY as usize + 1;
    if b.capacity() < blocks as u64 || b.data().len() < blocks * BLOCK {
        let _ = writeln!(DebugOut, "vault: the disk ({} blocks) or data region cannot hold a ledger of {CAPACITY} records", b.capacity());
        vault().phase = Phase::Broken;
        return;
    }
    b.request(Code::Read, 0, 0, blocks as u16, 1);
    b.notify();
}

fn block(data: &[u8], i: usize) -> &[u8; BLOCK] {
    data[i * BLOCK..(i + 1) * BLOCK].try_into().unwrap()
}

/// A response from the block virtualiser.
fn on_block(b: &Blk, n: &Net, done: blk::Done) {
    let v = vault();
    if done.status != 0 {
        let _ = writeln!(DebugOut, "vault: the disk failed a request (status {}): refusing commands", done.status);
        v.phase = Phase::Broken;
        return;
    }
    let data = b.data();
    match v.phase {
        Phase::Loading => match Ledger::open(block(data, 0), CAPACITY) {
            Err(ledger::Error::NoHeader) => {
                let header: &mut [u8; BLOCK] = (&mut data[..BLOCK]).try_into().unwrap();
                ledger::format(CAPACITY, header);
                b.request(Code::Write, 0, 0, 1, 2);
                b.notify();
                v.phase = Phase::Formatting;
            }
            Err(e) => {
                let _ = writeln!(DebugOut, "vault: the disk holds another ledger ({e:?}): refusing commands");
                v.phase = Phase::Broken;
            }
            Ok(mut l) => {
                let checked = loop {
                    match l.read(block(data, l.next_block() as usize)) {
                        Ok(true) => continue,
                        Ok(false) => break Ok(()),
                        Err(e) => break Err(e),
                    }
                };
                match checked {
                    Ok(()) => {
                        let _ = writeln!(DebugOut, "vault: ledger {} records, head {}, chain verified", l.records, Hex(&l.head[..8]));
                        v.ledger = l;
                        v.phase = Phase::Ready;
                    }
                    Err(e) => {
                        let _ = writeln!(DebugOut, "vault: the ledger's history was rewritten ({e:?}): refusing commands");
                        v.phase = Phase::Broken;
                    }
                }
            }
        },
        Phase::Formatting => {
            v.ledger = Ledger::open(block(data, 0), CAPACITY).unwrap_or(v.ledger);
            let _ = writeln!(DebugOut, "vault: formatted an empty ledger of {CAPACITY} records");
            v.phase = Phase::Ready;
        }
        Phase::Writing { index, hash, len } => {
            let _ = writeln!(DebugOut, "vault: stored record {index} ({len} bytes); ledger {} records, head {}", v.ledger.records, Hex(&hash[..8]));
            v.phase = Phase::Ready;
            answer(n, &[Telemetry::Stored { index, hash }, Telemetry::Ledger { records: v.ledger.records, head: v.ledger.head }]);
        }
        Phase::Ready | Phase::Broken => {}
    }
}

/// Answers the current command with telemetry, broadcast, and keeps the
/// frames for a copy of it.
fn answer(n: &Net, ts: &[Telemetry]) {
    let v = vault();
    for (i, t) in ts.iter().enumerate().take(2) {
        let frame = &mut v.answers[i];
        frame.fill(0);
        frame[0..6].copy_from_slice(&[0xff; 6]);
        frame[6..12].copy_from_slice(&n.mac());
        frame[12..14].copy_from_slice(&ETHERTYPE);
        v.answer_lens[i] = match diode_lower::encode_telemetry(t, v.command.1, &mut frame[14..]) {
            // At least Ethernet's 60 bytes.
            Ok(len) => core::cmp::max(14 + len, 60),
            Err(_) => 0,
        };
    }
    v.answer_lens[ts.len().min(2)..].fill(0);
    resend_answers(n);
}

fn resend_answers(n: &Net) {
    let v = vault();
    for (frame, &len) in v.answers.iter().zip(&v.answer_lens) {
        if len > 0 {
            n.send(&frame[..len]);
        }
    }
}

/// The Diode frame in an Ethernet frame of ours, cut to its own length
/// (virtio reports the whole buffer's).
fn diode_payload(frame: &[u8]) -> Option<&[u8]> {
    if frame.len() < 14 + diode_wire::HEADER || frame[12..14] != ETHERTYPE {
        return None;
    }
    let p = &frame[14..];
    let len = diode_wire::HEADER + u16::from_le_bytes([p[8], p[9]]) as usize + diode_wire::TRAILER;
    p.get(..len)
}

fn on_frame(b: &Blk, n: &Net, frame: &[u8]) {
    let Some(payload) = diode_payload(frame) else { return };
    let v = vault();
    let sender: [u8; 6] = frame[6..12].try_into().unwrap();
    let (seq, cmd) = match diode_lower::decode_command(payload) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(DebugOut, "vault: refused a frame: {e:?}");
            return;
        }
    };
    if (sender, seq) == v.command {
        // A copy: answered already, or being written (answered when done).
        if !matches!(v.phase, Phase::Writing { .. }) {
            resend_answers(n);
        }
        return;
    }
    if v.phase != Phase::Ready {
        // Busy writing the last record, or broken: the sender tries again.
        return;
    }
    v.command = (sender, seq);
    match cmd {
        Command::Status => answer(n, &[Telemetry::Ledger { records: v.ledger.records, head: v.ledger.head }]),
        Command::Store(record) => {
            let index = v.ledger.next_block() as usize;
            let data = b.data();
            let out: &mut [u8; BLOCK] = (&mut data[index * BLOCK..(index + 1) * BLOCK]).try_into().unwrap();
            match v.ledger.append(record, out) {
                Ok((i, hash)) => {
                    b.request(Code::Write, index * BLOCK, index as u64, 1, 3);
                    b.notify();
                    v.phase = Phase::Writing { index: i, hash, len: record.len() };
                }
                Err(ledger::Error::Full) => answer(n, &[Telemetry::Error { code: 3, detail: b"ledger full" }]),
                Err(_) => answer(n, &[Telemetry::Error { code: 4, detail: b"bad record" }]),
            }
        }
    }
}

#[no_mangle]
pub extern "C" fn notified(channel: u32) {
    let (Some(b), Some(n)) = (blk(), net()) else { return };
    if channel == b.channel() {
        while let Some(done) = b.response() {
            on_block(&b, &n, done);
        }
    }
    if channel == n.rx_channel() {
        n.receive(|frame| on_frame(&b, &n, frame));
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    plinth_microkit::debug_print(c"vault: panic\n");
    loop {}
}
