//! A Microkit protection domain in Rust: libmicrokit calls init once, then
//! notified for each notification on one of its channels.
#![no_std]

extern "C" {
    /// libmicrokit's debug output (a real function, not an inline one).
    fn microkit_dbg_puts(s: *const u8);
}

fn puts(s: &core::ffi::CStr) {
    // SAFETY: a NUL-terminated string that lives for the whole call.
    unsafe { microkit_dbg_puts(s.as_ptr().cast()) }
}

#[no_mangle]
pub extern "C" fn init() {
    puts(c"hello from Rust\n");
}

#[no_mangle]
pub extern "C" fn notified(_channel: u32) {}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    puts(c"rust-hello: panic\n");
    loop {}
}
