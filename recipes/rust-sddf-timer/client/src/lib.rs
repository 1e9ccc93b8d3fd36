//! A client of sDDF's timer driver written in Rust: it asks the time by
//! protected call, sets a one-second timeout, and on each notification
//! from the driver says how long the timeout took by the driver's clock.
//!
//! The protocol is sDDF 0.6.0's (include/sddf/timer/): a protected call
//! with label 0 returns the time in nanoseconds in message register 0; one
//! with label 1 and the timeout in message register 0 sets a timeout, which
//! the driver signals on the same channel.
#![no_std]

use core::fmt::Write;
use plinth_microkit::{mr_get, mr_set, Channel, DebugOut, MsgInfo};

const GET_TIME: usize = 0;
const SET_TIMEOUT: usize = 1;
const NS_IN_S: u64 = 1_000_000_000;

/// The client's part of sDDF's timer configuration, which plinth writes
/// into this section when it composes the system.
#[repr(C)]
struct TimerClientConfig {
    magic: [u8; 5],
    driver_id: u8,
}

const MAGIC: [u8; 5] = *b"sDDF\x06";

// Initialised to something other than zeros so the section has contents
// in the file (a zero one would be NOBITS, with nothing to write into).
#[link_section = ".timer_client_config"]
#[used]
static mut CONFIG: TimerClientConfig = TimerClientConfig { magic: [0xff; 5], driver_id: 0xff };

static mut LAST: u64 = 0;
static mut TIMEOUTS: u32 = 0;

fn config() -> TimerClientConfig {
    // SAFETY: written by plinth in the image, only read here.
    unsafe { core::ptr::read_volatile(core::ptr::addr_of!(CONFIG)) }
}

fn driver() -> Channel {
    Channel(config().driver_id as u32)
}

fn time_now() -> u64 {
    driver().ppcall(MsgInfo::new(GET_TIME, 0));
    mr_get(0) as u64
}

fn set_timeout(ns: u64) {
    mr_set(0, ns as usize);
    driver().ppcall(MsgInfo::new(SET_TIMEOUT, 1));
}

#[no_mangle]
pub extern "C" fn init() {
    let _ = writeln!(DebugOut, "client (Rust): starting");
    if config().magic != MAGIC {
        let _ = writeln!(DebugOut, "client (Rust): no timer configuration in .timer_client_config");
        return;
    }
    let now = time_now();
    let _ = writeln!(DebugOut, "client (Rust): the time is {now} ns");
    // SAFETY: one thread of control per protection domain.
    unsafe { LAST = now };
    set_timeout(NS_IN_S);
}

#[no_mangle]
pub extern "C" fn notified(_channel: u32) {
    let now = time_now();
    // SAFETY: one thread of control per protection domain.
    let (n, elapsed) = unsafe {
        TIMEOUTS += 1;
        let elapsed = now.saturating_sub(LAST);
        LAST = now;
        (TIMEOUTS, elapsed)
    };
    let _ = writeln!(DebugOut, "client (Rust): timeout {n} after {} ms", elapsed / 1_000_000);
    set_timeout(NS_IN_S);
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    let _ = writeln!(DebugOut, "client (Rust): panic");
    loop {}
}
