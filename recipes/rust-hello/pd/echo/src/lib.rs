//! A Microkit protection domain in Rust that answers notifications: it
//! reads the line hello left in the memory they share and prints it.
#![no_std]

use core::fmt::Write;
use plinth_microkit::{debug_print, DebugOut, Setvar, SharedRegion};

/// Where the shared region is mapped (read-only here): set by the
/// Microkit tool from hello.system's setvar_vaddr.
#[no_mangle]
static shared_vaddr: Setvar = Setvar::new();

#[no_mangle]
pub extern "C" fn init() {}

#[no_mangle]
pub extern "C" fn notified(channel: u32) {
    if channel != 0 {
        return;
    }
    debug_print(c"echo: notified by hello on channel 0\n");
    // SAFETY: hello.system maps the 4 KiB region at shared_vaddr.
    let shared = unsafe { SharedRegion::new(&shared_vaddr, 0x1000) };
    let mut line = [0u8; 64];
    if shared.read(0, &mut line) {
        let len = line.iter().position(|&b| b == 0).unwrap_or(line.len());
        let text = core::str::from_utf8(&line[..len]).unwrap_or("?");
        let _ = writeln!(DebugOut, "echo: read \"{text}\" from shared memory at {:#x}", shared_vaddr.get());
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    debug_print(c"echo: panic\n");
    loop {}
}
