//! A Microkit protection domain in Rust that answers notifications.
#![no_std]

use plinth_microkit::debug_print;

#[no_mangle]
pub extern "C" fn init() {}

#[no_mangle]
pub extern "C" fn notified(channel: u32) {
    if channel == 0 {
        debug_print(c"echo: notified by hello on channel 0\n");
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    debug_print(c"echo: panic\n");
    loop {}
}
