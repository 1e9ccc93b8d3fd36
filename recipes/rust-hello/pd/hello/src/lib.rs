//! A Microkit protection domain in Rust: it greets, writes a line into the
//! memory it shares with echo, then notifies echo over channel 0.
#![no_std]

use plinth_microkit::{debug_print, Channel, Setvar, SharedRegion};

/// The channel to echo (hello.system gives it id 0 here).
const ECHO: Channel = Channel(0);

/// Where the shared region is mapped: the Microkit tool writes it here
/// (hello.system's setvar_vaddr).
#[no_mangle]
static shared_vaddr: Setvar = Setvar::new();

const MESSAGE: &[u8] = b"a line through shared memory\0";

#[no_mangle]
pub extern "C" fn init() {
    debug_print(c"hello from Rust\n");
    // SAFETY: hello.system maps the 4 KiB region at shared_vaddr.
    let shared = unsafe { SharedRegion::new(&shared_vaddr, 0x1000) };
    if shared.write(0, MESSAGE) {
        ECHO.notify();
    }
}

#[no_mangle]
pub extern "C" fn notified(_channel: u32) {}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    debug_print(c"hello: panic\n");
    loop {}
}
