//! The vault's ledger: records appended one to a block, each carrying the
//! hash of the one before, so a history rewritten on the disk is found
//! when the ledger is read. Block 0 holds the ledger's header; record i
//! lives in block i + 1. The crate does no I/O: the vault reads and writes
//! the blocks through sDDF and hands them here.
#![no_std]

mod sha256;
pub use sha256::{sha256, Sha256};

/// The block size the ledger is laid out in.
pub const BLOCK: usize = 4096;
/// The largest record.
pub const MAX_RECORD: usize = 256;

const HEADER_MAGIC: &[u8; 8] = b"PLEDGER1";
const RECORD_MAGIC: &[u8; 4] = b"REC1";

/// Why a ledger or a record is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Block 0 holds no ledger header (a disk never formatted).
    NoHeader,
    /// The header's capacity is not this vault's.
    Capacity { on_disk: u32, configured: u32 },
    /// Record `index` does not hash to what it says, or does not carry
    /// the hash of the record before: the history was rewritten.
    Broken { index: u32, why: Broken },
    /// The ledger is full.
    Full,
    /// A record is empty or longer than MAX_RECORD.
    Size,
}

/// What is wrong with a broken record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Broken {
    /// Its own hash does not match its contents.
    Hash,
    /// It does not carry the previous record's hash.
    Chain,
    /// It names another index than its place.
    Index,
}

/// Writes the header of an empty ledger of `capacity` records into block.
pub fn format(capacity: u32, block: &mut [u8; BLOCK]) {
    block.fill(0);
    block[0..8].copy_from_slice(HEADER_MAGIC);
    block[8..12].copy_from_slice(&capacity.to_le_bytes());
}

/// A ledger as read so far: how many records, the last one's hash (all
/// zeros for none), and how many it may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ledger {
    pub records: u32,
    pub head: [u8; 32],
    pub capacity: u32,
}

impl Ledger {
    /// Starts reading a ledger from its header block.
    pub fn open(header: &[u8; BLOCK], capacity: u32) -> Result<Ledger, Error> {
        if &header[0..8] != HEADER_MAGIC {
            return Err(Error::NoHeader);
        }
        let on_disk = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
        if on_disk != capacity {
            return Err(Error::Capacity { on_disk, configured: capacity });
        }
        Ok(Ledger { records: 0, head: [0; 32], capacity })
    }

    /// The block the next record goes to (or is read from).
    pub fn next_block(&self) -> u32 {
        self.records + 1
    }

    /// Takes the block after the last record read: Ok(true) when it held
    /// the next record (checked against the chain), Ok(false) at the end.
    pub fn read(&mut self, block: &[u8; BLOCK]) -> Result<bool, Error> {
        if &block[0..4] != RECORD_MAGIC || self.records >= self.capacity {
            return Ok(false);
        }
        let index = u32::from_le_bytes([block[4], block[5], block[6], block[7]]);
        let len = u16::from_le_bytes([block[8], block[9]]) as usize;
        let broken = |why| Error::Broken { index: self.records, why };
        if index != self.records {
            return Err(broken(Broken::Index));
        }
        if len == 0 || len > MAX_RECORD {
            return Err(broken(Broken::Hash));
        }
        let prev = &block[10 + MAX_RECORD..10 + MAX_RECORD + 32];
        let stored = &block[10 + MAX_RECORD + 32..10 + MAX_RECORD + 64];
        if prev != self.head {
            return Err(broken(Broken::Chain));
        }
        let hash = record_hash(index, &block[10..10 + len], &self.head);
        if stored != hash {
            return Err(broken(Broken::Hash));
        }
        self.records += 1;
        self.head = hash;
        Ok(true)
    }

    /// Makes the block of a new record after the last one and returns
    /// its index and hash; the ledger counts it (write the block, then
    /// report it).
    pub fn append(&mut self, data: &[u8], block: &mut [u8; BLOCK]) -> Result<(u32, [u8; 32]), Error> {
        if data.is_empty() || data.len() > MAX_RECORD {
            return Err(Error::Size);
        }
        if self.records >= self.capacity {
            return Err(Error::Full);
        }
        let index = self.records;
        let hash = record_hash(index, data, &self.head);
        block.fill(0);
        block[0..4].copy_from_slice(RECORD_MAGIC);
        block[4..8].copy_from_slice(&index.to_le_bytes());
        block[8..10].copy_from_slice(&(data.len() as u16).to_le_bytes());
        block[10..10 + data.len()].copy_from_slice(data);
        block[10 + MAX_RECORD..10 + MAX_RECORD + 32].copy_from_slice(&self.head);
        block[10 + MAX_RECORD + 32..10 + MAX_RECORD + 64].copy_from_slice(&hash);
        self.records += 1;
        self.head = hash;
        Ok((index, hash))
    }
}

/// A record's hash: its index, its data and the previous record's hash.
pub fn record_hash(index: u32, data: &[u8], prev: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"plinth ledger record v1\0");
    h.update(&index.to_le_bytes());
    h.update(&(data.len() as u16).to_le_bytes());
    h.update(data);
    h.update(prev);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        for (i, x) in b.iter().enumerate() {
            out[2 * i] = b"0123456789abcdef"[(x >> 4) as usize];
            out[2 * i + 1] = b"0123456789abcdef"[(x & 15) as usize];
        }
        out
    }

    #[test]
    fn sha256_vectors() {
        assert_eq!(&hex(&sha256(b"")), b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(&hex(&sha256(b"abc")), b"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(
            &hex(&sha256(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            b"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        let mut h = Sha256::new();
        for _ in 0..1000 {
            h.update(&[b'a'; 1000]);
        }
        assert_eq!(&hex(&h.finish()), b"cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    }

    /// Three records appended, read back; a rewritten one is found, by its
    /// own hash or, when that is recomputed too, by the next one's chain.
    #[test]
    fn a_rewritten_history_is_found() {
        let mut disk = [[0u8; BLOCK]; 5];
        format(4, &mut disk[0]);
        let mut l = Ledger::open(&disk[0], 4).unwrap();
        for (i, r) in [&b"one"[..], b"two", b"three"].iter().enumerate() {
            let mut block = [0u8; BLOCK];
            assert_eq!(l.append(r, &mut block).unwrap().0, i as u32);
            disk[i + 1] = block;
        }
        let read = |disk: &[[u8; BLOCK]; 5]| {
            let mut l = Ledger::open(&disk[0], 4)?;
            while l.read(&disk[l.next_block() as usize])? {}
            Ok::<Ledger, Error>(l)
        };
        let back = read(&disk).unwrap();
        assert_eq!((back.records, back.head), (3, l.head));

        let mut edited = disk;
        edited[2][10] = b'T';
        assert_eq!(read(&edited), Err(Error::Broken { index: 1, why: Broken::Hash }));

        // The edit with its hash made again: the next record's chain breaks.
        let mut forged = disk;
        let prev: [u8; 32] = disk[1][10 + MAX_RECORD + 32..10 + MAX_RECORD + 64].try_into().unwrap();
        let hash = record_hash(1, b"TWO", &prev);
        forged[2][10..13].copy_from_slice(b"TWO");
        forged[2][10 + MAX_RECORD + 32..10 + MAX_RECORD + 64].copy_from_slice(&hash);
        assert_eq!(read(&forged), Err(Error::Broken { index: 2, why: Broken::Chain }));

        let mut full = [0u8; BLOCK];
        let mut l = back;
        l.append(b"four", &mut full).unwrap();
        assert_eq!(l.append(b"five", &mut full), Err(Error::Full));
        assert_eq!(Ledger::open(&disk[0], 8), Err(Error::Capacity { on_disk: 4, configured: 8 }));
    }
}
