//! The serial class: bytes through a transmit queue to the transmit
//! virtualiser and from the receive virtualiser's queue. Each queue is a
//! header of three 32-bit words (tail, head, producer_signalled) and a
//! ring of bytes; indices run free, taken modulo the ring's size.

use core::fmt;

use crate::{acquire, load, release, store, Channel, Region};

/// The section plinth writes a serial client's configuration into.
pub const SECTION: &str = ".serial_client_config";
const MAGIC: [u8; 5] = *b"sDDF\x03";

#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct Connection {
    queue: Region,
    data: Region,
    id: u8,
}

/// A serial client's configuration.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Config {
    magic: [u8; 5],
    rx: Connection,
    tx: Connection,
}

const NO_CONNECTION: Connection = Connection { queue: Region::NONE, data: Region::NONE, id: 0xff };

impl Config {
    /// Not a configuration: the value the PD's section starts with.
    pub const UNSET: Config = Config { magic: [0xff; 5], rx: NO_CONNECTION, tx: NO_CONNECTION };
}

#[derive(Clone, Copy)]
struct Ring {
    header: u64,
    data: u64,
    size: u32,
}

impl Ring {
    fn of(c: &Connection) -> Ring {
        Ring { header: c.queue.vaddr, data: c.data.vaddr, size: c.data.size as u32 }
    }
    fn tail(self) -> u32 {
        // SAFETY: the header is mapped into this PD.
        unsafe { load(self.header as *const u32) }
    }
    fn head(self) -> u32 {
        // SAFETY: as tail.
        unsafe { load((self.header + 4) as *const u32) }
    }
}

/// A serial client.
pub struct Serial {
    cfg: Config,
    tail: u32,
    pending: bool,
}

impl Serial {
    /// The client described by `cfg`, when plinth wrote it.
    pub fn new(cfg: Config) -> Option<Serial> {
        if cfg.magic != MAGIC {
            return None;
        }
        let tail = Ring::of(&cfg.tx).tail();
        Some(Serial { cfg, tail, pending: false })
    }

    /// The channel input arrives on.
    pub fn rx_channel(&self) -> u32 {
        self.cfg.rx.id as u32
    }

    /// Takes the next byte received, if any.
    pub fn take(&self) -> Option<u8> {
        let r = Ring::of(&self.cfg.rx);
        let head = r.head();
        if head == r.tail() {
            return None;
        }
        acquire();
        // SAFETY: an index below the ring's size, in a mapped region.
        let b = unsafe { load((r.data + (head % r.size) as u64) as *const u8) };
        // SAFETY: as Ring::tail.
        unsafe { store((r.header + 4) as *mut u32, head.wrapping_add(1)) };
        Some(b)
    }

    fn put(&mut self, b: u8) -> bool {
        let r = Ring::of(&self.cfg.tx);
        if self.tail.wrapping_sub(r.head()) >= r.size {
            return false;
        }
        // SAFETY: an index below the ring's size, in a mapped region.
        unsafe { store((r.data + (self.tail % r.size) as u64) as *mut u8, b) };
        self.tail = self.tail.wrapping_add(1);
        self.pending = true;
        true
    }

    /// Makes what was written visible and tells the virtualiser.
    pub fn flush(&mut self) {
        if self.pending {
            release();
            // SAFETY: as Ring::tail.
            unsafe { store(self.cfg.tx.queue.vaddr as *mut u32, self.tail) };
            Channel(self.cfg.tx.id as u32).notify();
            self.pending = false;
        }
    }
}

impl fmt::Write for Serial {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if (b == b'\n' && !self.put(b'\r')) || !self.put(b) {
                break; // full: the rest is dropped, as sDDF's clients drop it
            }
            if b == b'\n' {
                self.flush();
            }
        }
        Ok(())
    }
}
