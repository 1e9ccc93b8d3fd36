//! Microkit for protection domains written in Rust and built by plinth.
//!
//! libmicrokit's real functions are called directly; the ones its header
//! declares `static inline` come from a shim plinth compiles against the
//! SDK's own `microkit.h` and links into every Rust protection domain.
//!
//! A protection domain defines `init` and `notified` (and `protected` when
//! it takes protected calls) with `#[no_mangle] extern "C"`.
#![no_std]

/// A channel's identifier in this protection domain's view (0..=62).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub struct Channel(pub u32);

/// The label and count of a message, as seL4 passes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct MsgInfo {
    words: [usize; 1],
}

extern "C" {
    fn plinth_microkit_name() -> *const u8;
    fn plinth_microkit_name_length() -> usize;
    fn microkit_dbg_putc(c: i32);
    fn microkit_dbg_puts(s: *const u8);
    fn plinth_microkit_notify(ch: u32);
    fn plinth_microkit_irq_ack(ch: u32);
    fn plinth_microkit_deferred_notify(ch: u32);
    fn plinth_microkit_ppcall(ch: u32, msginfo: MsgInfo) -> MsgInfo;
    fn plinth_microkit_msginfo_new(label: usize, count: u16) -> MsgInfo;
    fn plinth_microkit_msginfo_get_label(msginfo: MsgInfo) -> usize;
    fn plinth_microkit_msginfo_get_count(msginfo: MsgInfo) -> usize;
    fn plinth_microkit_mr_set(mr: u8, value: usize);
    fn plinth_microkit_mr_get(mr: u8) -> usize;
}

/// Prints on the kernel's debug console (debug configurations only).
pub fn debug_print(s: &core::ffi::CStr) {
    // SAFETY: a NUL-terminated string alive for the whole call.
    unsafe { microkit_dbg_puts(s.as_ptr().cast()) }
}

/// The kernel's debug console as a `core::fmt::Write`, for `write!`
/// (debug configurations only).
pub struct DebugOut;

impl core::fmt::Write for DebugOut {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for b in s.bytes() {
            // SAFETY: prints one character.
            unsafe { microkit_dbg_putc(b as i32) }
        }
        Ok(())
    }
}

/// This protection domain's name, as the system description gives it (the
/// Microkit tool writes it into the image).
pub fn name() -> &'static str {
    // SAFETY: libmicrokit's array of that length, written before the PD
    // starts and never after.
    let raw = unsafe { core::slice::from_raw_parts(plinth_microkit_name(), plinth_microkit_name_length()) };
    let len = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    core::str::from_utf8(&raw[..len]).unwrap_or("?")
}

impl Channel {
    /// Signals the protection domain at the other end.
    pub fn notify(self) {
        // SAFETY: a plain system call on a capability Microkit set up.
        unsafe { plinth_microkit_notify(self.0) }
    }

    /// Signals the other end when this protection domain next waits.
    pub fn deferred_notify(self) {
        // SAFETY: as notify.
        unsafe { plinth_microkit_deferred_notify(self.0) }
    }

    /// Acknowledges the interrupt this channel delivers.
    pub fn irq_ack(self) {
        // SAFETY: as notify.
        unsafe { plinth_microkit_irq_ack(self.0) }
    }

    /// Makes a protected call and returns the reply's label and count.
    pub fn ppcall(self, msginfo: MsgInfo) -> MsgInfo {
        // SAFETY: as notify; the message registers are this PD's own.
        unsafe { plinth_microkit_ppcall(self.0, msginfo) }
    }
}

impl MsgInfo {
    /// A message with a label and `count` message registers.
    pub fn new(label: usize, count: u16) -> Self {
        // SAFETY: arithmetic on words.
        unsafe { plinth_microkit_msginfo_new(label, count) }
    }

    /// The message's label.
    pub fn label(self) -> usize {
        // SAFETY: arithmetic on words.
        unsafe { plinth_microkit_msginfo_get_label(self) }
    }

    /// How many message registers it carries.
    pub fn count(self) -> usize {
        // SAFETY: arithmetic on words.
        unsafe { plinth_microkit_msginfo_get_count(self) }
    }
}

/// Sets message register `mr` for the next message.
pub fn mr_set(mr: u8, value: usize) {
    // SAFETY: writes this PD's own IPC buffer.
    unsafe { plinth_microkit_mr_set(mr, value) }
}

/// Reads message register `mr` of the last message.
pub fn mr_get(mr: u8) -> usize {
    // SAFETY: reads this PD's own IPC buffer.
    unsafe { plinth_microkit_mr_get(mr) }
}

/// A variable the Microkit tool sets in the image from the system
/// description: a map's `setvar_vaddr` or `setvar_size`, or a `<setvar>`.
/// Declare it under the symbol the description names:
///
/// ```ignore
/// #[no_mangle]
/// static shared_vaddr: Setvar = Setvar::new();
/// ```
///
/// It is 64 bits wide, as the tool writes it.
#[repr(transparent)]
pub struct Setvar(core::cell::UnsafeCell<u64>);

// SAFETY: written by the tool in the image before the PD starts, only read
// after.
unsafe impl Sync for Setvar {}

impl Setvar {
    /// A variable for the tool to set.
    pub const fn new() -> Self {
        Setvar(core::cell::UnsafeCell::new(0))
    }

    /// The value the tool set.
    pub fn get(&self) -> u64 {
        // SAFETY: a plain read of this PD's own memory.
        unsafe { core::ptr::read_volatile(self.0.get()) }
    }
}

impl Default for Setvar {
    fn default() -> Self {
        Self::new()
    }
}

/// A memory region mapped into this protection domain (and often into
/// others: shared memory), read and written with volatile accesses, every
/// access checked against its length.
pub struct SharedRegion {
    base: *mut u8,
    len: usize,
}

impl SharedRegion {
    /// The region mapped at the address `vaddr` holds.
    ///
    /// # Safety
    ///
    /// `vaddr` must be the `setvar_vaddr` of a map of at least `len` bytes
    /// into this protection domain.
    pub unsafe fn new(vaddr: &Setvar, len: usize) -> Self {
        SharedRegion { base: vaddr.get() as *mut u8, len }
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies `bytes` in at `offset`; false (and nothing written) when
    /// they would not fit.
    pub fn write(&self, offset: usize, bytes: &[u8]) -> bool {
        if offset.checked_add(bytes.len()).is_none_or(|end| end > self.len) {
            return false;
        }
        for (i, b) in bytes.iter().enumerate() {
            // SAFETY: inside the mapping, as checked above.
            unsafe { core::ptr::write_volatile(self.base.add(offset + i), *b) }
        }
        true
    }

    /// Copies `buf.len()` bytes out from `offset`; false (and `buf` left
    /// as it was) when they lie outside.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> bool {
        if offset.checked_add(buf.len()).is_none_or(|end| end > self.len) {
            return false;
        }
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: inside the mapping, as checked above.
            *b = unsafe { core::ptr::read_volatile(self.base.add(offset + i)) };
        }
        true
    }
}
