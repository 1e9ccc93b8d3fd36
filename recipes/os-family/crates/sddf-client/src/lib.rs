//! The client side of sDDF 0.6.0's block, network and serial queues, for
//! Rust protection domains that plinth composes onto sDDF (its `sddf:`
//! classes). plinth writes each class's configuration into a section of
//! the PD's ELF; the PD defines that section itself (its type is here, its
//! initial value `UNSET`, so the section has bytes in the file) and hands
//! a copy of it to `Blk::new`, `Net::new`, `Serial::new` or `Timer::new`.
//!
//! Layouts are sDDF 0.6.0's (include/sddf/{blk,network,serial,timer}/), as
//! plinth's own sddf package writes and checks them against the C headers.
#![no_std]

use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{fence, Ordering};

pub use plinth_microkit::Channel;

pub mod blk;
pub mod net;
pub mod serial;
pub mod timer;

/// A region of memory mapped into this PD: where, how big.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Region {
    pub vaddr: u64,
    pub size: u64,
}

impl Region {
    pub const NONE: Region = Region { vaddr: 0, size: 0 };
}

/// Reads a value from shared memory.
///
/// # Safety
/// `p` points into a region mapped into this PD.
unsafe fn load<T: Copy>(p: *const T) -> T {
    read_volatile(p)
}

/// Writes a value to shared memory.
///
/// # Safety
/// As load.
unsafe fn store<T: Copy>(p: *mut T, v: T) {
    write_volatile(p, v)
}

fn acquire() {
    fence(Ordering::Acquire);
}

fn release() {
    fence(Ordering::Release);
}
