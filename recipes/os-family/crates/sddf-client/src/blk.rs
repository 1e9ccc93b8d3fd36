//! The block class: requests to the block virtualiser, responses back,
//! in 4096-byte blocks of the client's partition, through the client's
//! data region.

use crate::{acquire, load, release, store, Channel, Region};

/// The section plinth writes a block client's configuration into.
pub const SECTION: &str = ".blk_client_config";
const MAGIC: [u8; 5] = *b"sDDF\x02";

/// The unit of block numbers and counts.
pub const BLOCK: usize = 4096;

/// A block client's configuration (`blk_client_config_t`, 80 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Config {
    magic: [u8; 5],
    storage_info: Region,
    req_queue: Region,
    resp_queue: Region,
    num_buffers: u16,
    id: u8,
    data: Region,
}

impl Config {
    /// Not a configuration: the value the PD's section starts with.
    pub const UNSET: Config = Config {
        magic: [0xff; 5],
        storage_info: Region::NONE,
        req_queue: Region::NONE,
        resp_queue: Region::NONE,
        num_buffers: 0,
        id: 0xff,
        data: Region::NONE,
    };
}

const _: () = assert!(core::mem::size_of::<Config>() == 80);

/// What a request asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Code {
    Read = 0,
    Write = 1,
    Flush = 2,
    Barrier = 3,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Request {
    code: u32,
    io_or_offset: u64,
    block_number: u64,
    count: u16,
    id: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Response {
    status: u32,
    success_count: u16,
    id: u32,
}

const _: () = assert!(core::mem::size_of::<Request>() == 32 && core::mem::size_of::<Response>() == 12);

/// A response: status 0 is success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Done {
    pub status: u32,
    pub blocks: u16,
    pub id: u32,
}

/// A block client's view of its queues.
pub struct Blk {
    cfg: Config,
}

impl Blk {
    /// The client described by `cfg`, when plinth wrote it.
    pub fn new(cfg: Config) -> Option<Blk> {
        (cfg.magic == MAGIC).then_some(Blk { cfg })
    }

    /// Whether the virtualiser has read the partition table (it never
    /// says so by a notification: spin on it in init).
    pub fn ready(&self) -> bool {
        // SAFETY: storage_info is mapped read-only into this PD.
        let r = unsafe { load((self.cfg.storage_info.vaddr + 65) as *const u8) };
        acquire();
        r != 0
    }

    /// The partition's size in blocks.
    pub fn capacity(&self) -> u64 {
        // SAFETY: as ready.
        unsafe { load((self.cfg.storage_info.vaddr + 80) as *const u64) }
    }

    /// The data region requests read into and write from.
    pub fn data(&self) -> &'static mut [u8] {
        // SAFETY: the region is mapped read-write into this PD, and only
        // this PD's one thread uses it.
        unsafe { core::slice::from_raw_parts_mut(self.cfg.data.vaddr as *mut u8, self.cfg.data.size as usize) }
    }

    fn cap(&self) -> u32 {
        self.cfg.num_buffers as u32
    }

    /// Queues a request for `count` blocks from `block` to or from the data
    /// region at `offset` (a multiple of 4096); false when the queue is full.
    pub fn request(&self, code: Code, offset: usize, block: u64, count: u16, id: u32) -> bool {
        let q = self.cfg.req_queue.vaddr as *mut u32;
        // SAFETY: the request queue is mapped read-write: head @0, tail @4,
        // entries of 32 bytes from 16.
        unsafe {
            let (head, tail) = (load(q), load(q.add(1)));
            if tail.wrapping_sub(head) >= self.cap() {
                return false;
            }
            let slot = (self.cfg.req_queue.vaddr + 16 + 32 * (tail % self.cap()) as u64) as *mut Request;
            store(slot, Request { code: code as u32, io_or_offset: offset as u64, block_number: block, count, id });
            release();
            store(q.add(1), tail.wrapping_add(1));
        }
        true
    }

    /// Tells the virtualiser requests wait (after queueing them).
    pub fn notify(&self) {
        Channel(self.cfg.id as u32).notify();
    }

    /// The channel responses come on.
    pub fn channel(&self) -> u32 {
        self.cfg.id as u32
    }

    /// Takes the next response, if any.
    pub fn response(&self) -> Option<Done> {
        let q = self.cfg.resp_queue.vaddr as *mut u32;
        // SAFETY: the response queue is mapped read-write: head @0, tail @4,
        // entries of 12 bytes from 8.
        unsafe {
            let (head, tail) = (load(q), load(q.add(1)));
            if head == tail {
                return None;
            }
            acquire();
            let slot = (self.cfg.resp_queue.vaddr + 8 + 12 * (head % self.cap()) as u64) as *const Response;
            let r = load(slot);
            release();
            store(q, head.wrapping_add(1));
            Some(Done { status: r.status, blocks: r.success_count, id: r.id })
        }
    }
}
