//! The timer class: a protected call to the timer driver asks the time or
//! sets a timeout; the driver notifies on the same channel when it fires.

use plinth_microkit::{mr_get, mr_set, Channel, MsgInfo};

/// The section plinth writes a timer client's configuration into.
pub const SECTION: &str = ".timer_client_config";
const MAGIC: [u8; 5] = *b"sDDF\x06";

const GET_TIME: usize = 0;
const SET_TIMEOUT: usize = 1;

/// A timer client's configuration: the channel to the driver.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Config {
    magic: [u8; 5],
    driver: u8,
}

impl Config {
    /// Not a configuration: the value the PD's section starts with.
    pub const UNSET: Config = Config { magic: [0xff; 5], driver: 0xff };
}

/// A timer client.
pub struct Timer {
    channel: Channel,
}

impl Timer {
    /// The client described by `cfg`, when plinth wrote it.
    pub fn new(cfg: Config) -> Option<Timer> {
        (cfg.magic == MAGIC).then_some(Timer { channel: Channel(cfg.driver as u32) })
    }

    /// The channel timeouts arrive on.
    pub fn channel(&self) -> u32 {
        self.channel.0
    }

    /// Nanoseconds since the driver started.
    pub fn now(&self) -> u64 {
        self.channel.ppcall(MsgInfo::new(GET_TIME, 0));
        mr_get(0) as u64
    }

    /// Asks for a notification `ns` nanoseconds from now.
    pub fn timeout(&self, ns: u64) {
        mr_set(0, ns as usize);
        self.channel.ppcall(MsgInfo::new(SET_TIMEOUT, 1));
    }
}
