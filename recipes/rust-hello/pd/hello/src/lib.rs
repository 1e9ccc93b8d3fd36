//! A Microkit protection domain in Rust: it greets, then notifies the
//! protection domain at the other end of its channel 0.
#![no_std]

use plinth_microkit::{debug_print, Channel};

/// The channel to echo (hello.system gives it id 0 here).
const ECHO: Channel = Channel(0);

#[no_mangle]
pub extern "C" fn init() {
    debug_print(c"hello from Rust\n");
    ECHO.notify();
}

#[no_mangle]
pub extern "C" fn notified(_channel: u32) {}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    debug_print(c"hello: panic\n");
    loop {}
}
