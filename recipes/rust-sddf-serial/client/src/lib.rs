//! A client of sDDF's serial subsystem written in Rust: it writes through
//! its transmit queue to the transmit virtualiser and reads what the
//! receive virtualiser puts in its receive queue, printing it ten
//! characters at a time.
//!
//! The queues and the configuration are sDDF 0.6.0's
//! (include/sddf/serial/): each queue is a header of three 32-bit words
//! (tail, head, producer_signalled) in one shared region and a ring of
//! bytes in another, indices running free and taken modulo the ring's
//! size; plinth writes both regions' addresses and sizes and the channels
//! into the .serial_client_config section when it composes the system.
#![no_std]

use core::fmt::Write;
use core::ptr::{addr_of, addr_of_mut, read_volatile, write_volatile};
use core::sync::atomic::{fence, Ordering};

use plinth_microkit::{name, Channel};

#[repr(C)]
#[derive(Clone, Copy)]
struct Region {
    vaddr: u64,
    size: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Connection {
    queue: Region,
    data: Region,
    id: u8,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct SerialClientConfig {
    magic: [u8; 5],
    rx: Connection,
    tx: Connection,
}

const MAGIC: [u8; 5] = *b"sDDF\x03";

const NO_REGION: Region = Region { vaddr: 0, size: 0 };
const NO_CONNECTION: Connection = Connection { queue: NO_REGION, data: NO_REGION, id: 0xff };

// Not all zeros, so the section has contents in the file to write into.
#[link_section = ".serial_client_config"]
#[used]
static mut CONFIG: SerialClientConfig = SerialClientConfig { magic: [0xff; 5], rx: NO_CONNECTION, tx: NO_CONNECTION };

fn config() -> SerialClientConfig {
    // SAFETY: written by plinth in the image, only read here.
    unsafe { read_volatile(addr_of!(CONFIG)) }
}

/// The shared header of a queue.
#[repr(C)]
struct Header {
    tail: u32,
    head: u32,
    producer_signalled: u32,
}

/// One queue as this end sees it.
struct Queue {
    header: *mut Header,
    data: *mut u8,
    capacity: u32,
}

impl Queue {
    fn of(c: &Connection) -> Queue {
        Queue { header: c.queue.vaddr as *mut Header, data: c.data.vaddr as *mut u8, capacity: c.data.size as u32 }
    }

    fn tail(&self) -> u32 {
        // SAFETY: the header lies in a region mapped into this PD.
        unsafe { read_volatile(addr_of!((*self.header).tail)) }
    }

    fn head(&self) -> u32 {
        // SAFETY: as tail.
        unsafe { read_volatile(addr_of!((*self.header).head)) }
    }

    /// Puts a byte at `tail` (this end's own tail, not yet published);
    /// false when the queue is full.
    fn put(&self, tail: &mut u32, byte: u8) -> bool {
        if tail.wrapping_sub(self.head()) >= self.capacity {
            return false;
        }
        // SAFETY: an index below the ring's size, in a mapped region.
        unsafe { write_volatile(self.data.add((*tail % self.capacity) as usize), byte) };
        *tail = tail.wrapping_add(1);
        true
    }

    /// Makes the bytes put so far visible to the consumer.
    fn publish(&self, tail: u32) {
        fence(Ordering::Release);
        // SAFETY: as tail.
        unsafe { write_volatile(addr_of_mut!((*self.header).tail), tail) }
    }

    /// Takes the next byte, if any.
    fn take(&self) -> Option<u8> {
        let head = self.head();
        if head == self.tail() {
            return None;
        }
        fence(Ordering::Acquire);
        // SAFETY: an index below the ring's size, in a mapped region.
        let byte = unsafe { read_volatile(self.data.add((head % self.capacity) as usize)) };
        // SAFETY: as tail.
        unsafe { write_volatile(addr_of_mut!((*self.header).head), head.wrapping_add(1)) };
        Some(byte)
    }
}

/// Writes through the transmit queue, telling the virtualiser when a line
/// ends and when the writer is dropped (so one line goes out as one batch,
/// as sDDF's own clients send it).
struct Tx {
    queue: Queue,
    channel: Channel,
    tail: u32,
    pending: bool,
}

impl Tx {
    fn new() -> Tx {
        let c = config();
        let queue = Queue::of(&c.tx);
        let tail = queue.tail();
        Tx { queue, channel: Channel(c.tx.id as u32), tail, pending: false }
    }

    fn flush(&mut self) {
        if self.pending {
            self.queue.publish(self.tail);
            self.channel.notify();
            self.pending = false;
        }
    }
}

impl Write for Tx {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for b in s.bytes() {
            if (b == b'\n' && !self.queue.put(&mut self.tail, b'\r')) || !self.queue.put(&mut self.tail, b) {
                break; // full: the rest is dropped, as sDDF's clients drop it
            }
            self.pending = true;
            if b == b'\n' {
                self.flush();
            }
        }
        Ok(())
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        self.flush();
    }
}

static mut RECEIVED: [u8; 10] = [0; 10];
static mut COUNT: usize = 0;

#[no_mangle]
pub extern "C" fn init() {
    if config().magic != MAGIC {
        plinth_microkit::debug_print(c"client (Rust): no serial configuration in .serial_client_config\n");
        return;
    }
    let _ = writeln!(Tx::new(), "Hello from Rust! I am {}, on sDDF's serial queues.", name());
}

#[no_mangle]
pub extern "C" fn notified(channel: u32) {
    let c = config();
    if channel != c.rx.id as u32 {
        return;
    }
    let rx = Queue::of(&c.rx);
    while let Some(b) = rx.take() {
        // SAFETY: one thread of control per protection domain.
        let (count, batch) = unsafe {
            let received = &mut *addr_of_mut!(RECEIVED);
            received[COUNT % received.len()] = b;
            COUNT += 1;
            (COUNT, *received)
        };
        if count % batch.len() == 0 {
            let text = core::str::from_utf8(&batch).unwrap_or("?");
            let _ = writeln!(Tx::new(), "\n{} (Rust) has received {count} characters: {text}", name());
        }
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    plinth_microkit::debug_print(c"client (Rust): panic\n");
    loop {}
}
