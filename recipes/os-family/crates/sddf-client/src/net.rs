//! The network class: raw Ethernet frames, received from the client's
//! copier and sent to the transmit virtualiser, in 2048-byte buffers.

use crate::{acquire, load, release, store, Channel, Region};

/// The section plinth writes a network client's configuration into.
pub const SECTION: &str = ".net_client_config";
const MAGIC: [u8; 5] = *b"sDDF\x05";

/// The size of every buffer.
pub const BUFFER: usize = 2048;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct Connection {
    free_queue: Region,
    active_queue: Region,
    num_buffers: u16,
    id: u8,
}

/// A network client's configuration (`net_client_config_t`, 128 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Config {
    magic: [u8; 5],
    rx: Connection,
    rx_data: Region,
    tx: Connection,
    tx_data: Region,
    mac: [u8; 6],
}

const NO_CONNECTION: Connection = Connection { free_queue: Region::NONE, active_queue: Region::NONE, num_buffers: 0, id: 0xff };

impl Config {
    /// Not a configuration: the value the PD's section starts with.
    pub const UNSET: Config =
        Config { magic: [0xff; 5], rx: NO_CONNECTION, rx_data: Region::NONE, tx: NO_CONNECTION, tx_data: Region::NONE, mac: [0xff; 6] };
}

const _: () = assert!(core::mem::size_of::<Config>() == 128);

/// One queue: tail (u16) @0, head (u16) @2, consumer_signalled (u32) @4,
/// descriptors of 16 bytes (offset u64, length u16) from 8.
#[derive(Clone, Copy)]
struct Queue {
    base: u64,
    cap: u16,
}

impl Queue {
    fn tail(self) -> u16 {
        // SAFETY: the queue is mapped read-write into this PD.
        unsafe { load(self.base as *const u16) }
    }
    fn head(self) -> u16 {
        // SAFETY: as tail.
        unsafe { load((self.base + 2) as *const u16) }
    }
    fn signalled(self) -> u32 {
        // SAFETY: as tail.
        unsafe { load((self.base + 4) as *const u32) }
    }
    fn set_signalled(self, v: u32) {
        // SAFETY: as tail.
        unsafe { store((self.base + 4) as *mut u32, v) }
    }
    fn is_empty(self) -> bool {
        self.tail() == self.head()
    }
    fn push(self, offset: u64, len: u16) -> bool {
        let tail = self.tail();
        if tail.wrapping_sub(self.head()) >= self.cap {
            return false;
        }
        let slot = self.base + 8 + 16 * (tail % self.cap) as u64;
        // SAFETY: a descriptor slot of the mapped queue.
        unsafe {
            store(slot as *mut u64, offset);
            store((slot + 8) as *mut u16, len);
        }
        release();
        // SAFETY: as tail.
        unsafe { store(self.base as *mut u16, tail.wrapping_add(1)) };
        true
    }
    fn pop(self) -> Option<(u64, u16)> {
        let head = self.head();
        if head == self.tail() {
            return None;
        }
        acquire();
        let slot = self.base + 8 + 16 * (head % self.cap) as u64;
        // SAFETY: a descriptor slot of the mapped queue.
        let d = unsafe { (load(slot as *const u64), load((slot + 8) as *const u16)) };
        release();
        // SAFETY: as tail.
        unsafe { store((self.base + 2) as *mut u16, head.wrapping_add(1)) };
        Some(d)
    }
}

/// A network client's view of its queues.
pub struct Net {
    cfg: Config,
}

impl Net {
    /// The client described by `cfg`, when plinth wrote it.
    pub fn new(cfg: Config) -> Option<Net> {
        (cfg.magic == MAGIC).then_some(Net { cfg })
    }

    /// This client's MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.cfg.mac
    }

    fn q(&self, r: Region, cap: u16) -> Queue {
        Queue { base: r.vaddr, cap }
    }
    fn rx_free(&self) -> Queue {
        self.q(self.cfg.rx.free_queue, self.cfg.rx.num_buffers)
    }
    fn rx_active(&self) -> Queue {
        self.q(self.cfg.rx.active_queue, self.cfg.rx.num_buffers)
    }
    fn tx_free(&self) -> Queue {
        self.q(self.cfg.tx.free_queue, self.cfg.tx.num_buffers)
    }
    fn tx_active(&self) -> Queue {
        self.q(self.cfg.tx.active_queue, self.cfg.tx.num_buffers)
    }

    /// Gives the transmit virtualiser's free queue every transmit buffer
    /// (in init: nobody else does; the copier fills the receive side).
    pub fn init_tx(&self) {
        for i in 0..self.cfg.tx.num_buffers as u64 {
            self.tx_free().push(i * BUFFER as u64, 0);
        }
    }

    /// The channel frames arrive on.
    pub fn rx_channel(&self) -> u32 {
        self.cfg.rx.id as u32
    }

    /// Hands every frame received to `each` (the whole buffer on virtio,
    /// whose length is the buffer's: the caller reads the real length from
    /// its protocol), then gives the buffers back.
    pub fn receive(&self, mut each: impl FnMut(&[u8])) {
        let (active, free) = (self.rx_active(), self.rx_free());
        let mut freed = false;
        loop {
            while let Some((offset, len)) = active.pop() {
                let len = core::cmp::min(len as usize, BUFFER);
                if offset as usize + len <= self.cfg.rx_data.size as usize {
                    // SAFETY: inside the receive data region, mapped here.
                    let frame = unsafe { core::slice::from_raw_parts((self.cfg.rx_data.vaddr + offset) as *const u8, len) };
                    each(frame);
                }
                free.push(offset, 0);
                freed = true;
            }
            active.set_signalled(0);
            if active.is_empty() {
                break;
            }
            active.set_signalled(1);
        }
        if freed && free.signalled() == 0 {
            free.set_signalled(1);
            Channel(self.cfg.rx.id as u32).notify();
        }
    }

    /// Sends one Ethernet frame (at most 2048 bytes); false when no
    /// transmit buffer is free.
    pub fn send(&self, frame: &[u8]) -> bool {
        if frame.len() > BUFFER {
            return false;
        }
        let Some((offset, _)) = self.tx_free().pop() else {
            self.tx_free().set_signalled(0);
            return false;
        };
        // SAFETY: inside the transmit data region, mapped here.
        let buf = unsafe { core::slice::from_raw_parts_mut((self.cfg.tx_data.vaddr + offset) as *mut u8, frame.len()) };
        buf.copy_from_slice(frame);
        self.tx_active().push(offset, frame.len() as u16);
        let active = self.tx_active();
        if active.signalled() == 0 {
            active.set_signalled(1);
            Channel(self.cfg.tx.id as u32).notify();
        }
        true
    }
}
