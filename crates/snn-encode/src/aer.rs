//! Address-event (AER) streams: a simple documented binary layout, a reader and writer, and
//! binning into frames and rasters.
//!
//! # File layout (version 1, all integers little-endian)
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `SNN-AER` followed by a zero byte |
//! | 8 | 2 | format version, `u16` = 1 |
//! | 10 | 2 | flags, `u16`: bit 0 set = 32-bit timestamps, clear = 64-bit; other bits must be 0 |
//! | 12 | 2 | sensor width, `u16` (every `x < width`) |
//! | 14 | 2 | sensor height, `u16` (every `y < height`) |
//! | 16 | 8 | number of events `n`, `u64` |
//! | 24 | `n × 13` or `n × 9` | events: `t` (`u64` or `u32`, µs), `x: u16`, `y: u16`, `polarity: u8` (0 = OFF, 1 = ON) |
//!
//! Timestamps are non-decreasing. The file ends right after the last event. Anything else (a
//! wrong magic, an unknown version or flag, a short or long file, a coordinate outside the
//! sensor, a polarity other than 0/1, time running backwards) is an [`AerError`], never a panic.
//!
//! ```
//! use snn_encode::aer::{AerEvent, AerStream, TimestampWidth};
//!
//! let events = vec![
//!     AerEvent { t_us: 10, x: 1, y: 0, on: true },
//!     AerEvent { t_us: 1500, x: 0, y: 1, on: false },
//! ];
//! let s = AerStream::new(2, 2, events).unwrap();
//! let bytes = s.to_bytes(TimestampWidth::U32).unwrap();
//! assert_eq!(bytes.len(), 24 + 2 * 9);
//! assert_eq!(AerStream::from_bytes(&bytes).unwrap(), s);
//! assert!(AerStream::from_bytes(&bytes[..30]).is_err()); // truncated
//!
//! // 1 ms bins: neuron = (polarity * height + y) * width + x.
//! let r = s.to_raster(0, 1000, 2).unwrap();
//! assert_eq!(r.at(0), &[4 + 1]); // ON at (1, 0)
//! assert_eq!(r.at(1), &[2]); // OFF at (0, 1)
//! ```

use std::io::{Read, Write};
use std::path::Path;

use snn_types::{Spike, SpikeRaster};
use thiserror::Error;

/// The 8-byte magic at the start of every AER file.
pub const MAGIC: [u8; 8] = *b"SNN-AER\0";
/// The format version this module reads and writes.
pub const VERSION: u16 = 1;
/// Header length in bytes.
pub const HEADER_LEN: usize = 24;
const FLAG_T32: u16 = 1;

/// Why an AER stream could not be read, written or binned.
#[derive(Debug, Error)]
pub enum AerError {
    /// The underlying reader or writer failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// A file could not be written (the message names the file and the operation).
    #[error(transparent)]
    File(#[from] snn_types::file::FileError),
    /// The file does not start with [`MAGIC`].
    #[error("not an SNN-AER file (bad magic)")]
    BadMagic,
    /// The file is shorter than its header says.
    #[error("truncated: {expected} bytes expected, {actual} present")]
    Truncated {
        /// Bytes the header announces (saturated at `u64::MAX`).
        expected: u64,
        /// Bytes present.
        actual: u64,
    },
    /// An unsupported format version.
    #[error("unsupported format version {0} (this reader knows version {VERSION})")]
    UnsupportedVersion(u16),
    /// Unknown flag bits.
    #[error("unknown flags 0x{0:04x}")]
    UnknownFlags(u16),
    /// Bytes after the last event.
    #[error("{0} unexpected bytes after the last event")]
    TrailingBytes(u64),
    /// An event outside the sensor.
    #[error("event {index}: ({x}, {y}) is outside the {width}x{height} sensor")]
    OutOfBounds {
        /// Event index.
        index: usize,
        /// Column.
        x: u16,
        /// Row.
        y: u16,
        /// Sensor width.
        width: u16,
        /// Sensor height.
        height: u16,
    },
    /// A polarity byte other than 0 or 1.
    #[error("event {index}: polarity {value} is neither 0 nor 1")]
    BadPolarity {
        /// Event index.
        index: usize,
        /// The byte.
        value: u8,
    },
    /// Time runs backwards.
    #[error("event {index}: timestamp {t_us} us is before the previous one ({prev_us} us)")]
    Unsorted {
        /// Event index.
        index: usize,
        /// Its timestamp.
        t_us: u64,
        /// The previous event's.
        prev_us: u64,
    },
    /// A timestamp does not fit the 32-bit layout.
    #[error("event {index}: timestamp {t_us} us does not fit 32 bits")]
    TimestampOverflow {
        /// Event index.
        index: usize,
        /// Its timestamp.
        t_us: u64,
    },
    /// Bad binning parameters.
    #[error("binning: {0}")]
    Binning(String),
    /// The frames or raster asked for do not fit in memory.
    #[error(transparent)]
    Memory(#[from] snn_types::budget::TooLarge),
}

/// One address event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AerEvent {
    /// Time in microseconds.
    pub t_us: u64,
    /// Column.
    pub x: u16,
    /// Row.
    pub y: u16,
    /// ON (brighter) when true, OFF when false.
    pub on: bool,
}

/// Timestamp width of the written file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampWidth {
    /// `u32` µs (9-byte records; up to about 71 minutes).
    U32,
    /// `u64` µs (13-byte records).
    U64,
}

impl TimestampWidth {
    fn record_len(self) -> usize {
        match self {
            TimestampWidth::U32 => 9,
            TimestampWidth::U64 => 13,
        }
    }
}

/// A validated event stream from a `width x height` sensor, sorted by time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AerStream {
    width: u16,
    height: u16,
    events: Vec<AerEvent>,
}

/// Frames binned from a stream: event counts `[bin][polarity][y][x]` (polarity 0 = OFF, 1 = ON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frames {
    /// Number of time bins.
    pub n_bins: usize,
    /// Sensor height.
    pub height: usize,
    /// Sensor width.
    pub width: usize,
    /// Counts, `[bin][polarity][y][x]` row-major.
    pub data: Vec<u32>,
}

impl Frames {
    /// Count at `(bin, on, y, x)`; 0 out of range.
    pub fn get(&self, bin: usize, on: bool, y: usize, x: usize) -> u32 {
        if bin >= self.n_bins || y >= self.height || x >= self.width {
            return 0;
        }
        self.data[((bin * 2 + on as usize) * self.height + y) * self.width + x]
    }
}

fn check(
    width: u16,
    height: u16,
    index: usize,
    prev: Option<u64>,
    e: &AerEvent,
) -> Result<(), AerError> {
    if e.x >= width || e.y >= height {
        return Err(AerError::OutOfBounds {
            index,
            x: e.x,
            y: e.y,
            width,
            height,
        });
    }
    if let Some(prev_us) = prev
        && e.t_us < prev_us
    {
        return Err(AerError::Unsorted {
            index,
            t_us: e.t_us,
            prev_us,
        });
    }
    Ok(())
}

impl AerStream {
    /// A stream; errors if an event lies outside the sensor or time runs backwards.
    pub fn new(width: u16, height: u16, events: Vec<AerEvent>) -> Result<Self, AerError> {
        let mut prev = None;
        for (i, e) in events.iter().enumerate() {
            check(width, height, i, prev, e)?;
            prev = Some(e.t_us);
        }
        Ok(Self {
            width,
            height,
            events,
        })
    }

    /// Sensor width.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Sensor height.
    pub fn height(&self) -> u16 {
        self.height
    }

    /// The events, sorted by time.
    pub fn events(&self) -> &[AerEvent] {
        &self.events
    }

    /// Parses a whole file held in memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AerError> {
        let actual = bytes.len() as u64;
        if bytes.len() < HEADER_LEN {
            if !MAGIC.starts_with(&bytes[..bytes.len().min(8)]) {
                return Err(AerError::BadMagic);
            }
            return Err(AerError::Truncated {
                expected: HEADER_LEN as u64,
                actual,
            });
        }
        if bytes[..8] != MAGIC {
            return Err(AerError::BadMagic);
        }
        let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
        let version = u16_at(8);
        if version != VERSION {
            return Err(AerError::UnsupportedVersion(version));
        }
        let flags = u16_at(10);
        if flags & !FLAG_T32 != 0 {
            return Err(AerError::UnknownFlags(flags));
        }
        let tw = if flags & FLAG_T32 != 0 {
            TimestampWidth::U32
        } else {
            TimestampWidth::U64
        };
        let (width, height) = (u16_at(12), u16_at(14));
        let mut n8 = [0u8; 8];
        n8.copy_from_slice(&bytes[16..24]);
        let n = u64::from_le_bytes(n8);
        let rec = tw.record_len();
        let expected = n
            .checked_mul(rec as u64)
            .and_then(|b| b.checked_add(HEADER_LEN as u64))
            .unwrap_or(u64::MAX);
        if actual < expected {
            return Err(AerError::Truncated { expected, actual });
        }
        if actual > expected {
            return Err(AerError::TrailingBytes(actual - expected));
        }
        let mut events = Vec::with_capacity(n as usize);
        let mut prev = None;
        for (i, r) in bytes[HEADER_LEN..].chunks_exact(rec).enumerate() {
            let (t_us, rest) = match tw {
                TimestampWidth::U32 => {
                    (u32::from_le_bytes([r[0], r[1], r[2], r[3]]) as u64, &r[4..])
                }
                TimestampWidth::U64 => {
                    let mut t = [0u8; 8];
                    t.copy_from_slice(&r[..8]);
                    (u64::from_le_bytes(t), &r[8..])
                }
            };
            let x = u16::from_le_bytes([rest[0], rest[1]]);
            let y = u16::from_le_bytes([rest[2], rest[3]]);
            let on = match rest[4] {
                0 => false,
                1 => true,
                value => return Err(AerError::BadPolarity { index: i, value }),
            };
            let e = AerEvent { t_us, x, y, on };
            check(width, height, i, prev, &e)?;
            prev = Some(t_us);
            events.push(e);
        }
        Ok(Self {
            width,
            height,
            events,
        })
    }

    /// Reads a whole stream from `r`.
    pub fn read(mut r: impl Read) -> Result<Self, AerError> {
        let mut bytes = Vec::new();
        r.read_to_end(&mut bytes)?;
        Self::from_bytes(&bytes)
    }

    /// Reads a file.
    pub fn read_file(path: impl AsRef<Path>) -> Result<Self, AerError> {
        // Through `snn_types::file::read`: an endless special file is refused, not read forever.
        let bytes = snn_types::file::read(path.as_ref())?;
        Self::from_bytes(&bytes)
    }

    /// Serialises the stream; errors if a timestamp does not fit `U32`.
    pub fn to_bytes(&self, tw: TimestampWidth) -> Result<Vec<u8>, AerError> {
        let mut b = Vec::with_capacity(HEADER_LEN + self.events.len() * tw.record_len());
        b.extend_from_slice(&MAGIC);
        b.extend_from_slice(&VERSION.to_le_bytes());
        let flags = if tw == TimestampWidth::U32 {
            FLAG_T32
        } else {
            0
        };
        b.extend_from_slice(&flags.to_le_bytes());
        b.extend_from_slice(&self.width.to_le_bytes());
        b.extend_from_slice(&self.height.to_le_bytes());
        b.extend_from_slice(&(self.events.len() as u64).to_le_bytes());
        for (index, e) in self.events.iter().enumerate() {
            match tw {
                TimestampWidth::U32 => {
                    let t = u32::try_from(e.t_us).map_err(|_| AerError::TimestampOverflow {
                        index,
                        t_us: e.t_us,
                    })?;
                    b.extend_from_slice(&t.to_le_bytes());
                }
                TimestampWidth::U64 => b.extend_from_slice(&e.t_us.to_le_bytes()),
            }
            b.extend_from_slice(&e.x.to_le_bytes());
            b.extend_from_slice(&e.y.to_le_bytes());
            b.push(e.on as u8);
        }
        Ok(b)
    }

    /// Writes the stream to `w`.
    pub fn write(&self, mut w: impl Write, tw: TimestampWidth) -> Result<(), AerError> {
        w.write_all(&self.to_bytes(tw)?)?;
        Ok(w.flush()?)
    }

    /// Writes a file atomically (a uniquely named temporary in the same directory, synced, then
    /// renamed over the target; see [`snn_types::file::atomic_write`]).
    pub fn write_file(&self, path: impl AsRef<Path>, tw: TimestampWidth) -> Result<(), AerError> {
        let bytes = self.to_bytes(tw)?;
        Ok(snn_types::file::atomic_write(path.as_ref(), &bytes)?)
    }

    fn check_bins(bin_us: u64, n_bins: usize) -> Result<(), AerError> {
        if bin_us == 0 {
            return Err(AerError::Binning("bin_us must be at least 1".into()));
        }
        if n_bins == 0 {
            return Err(AerError::Binning("n_bins must be at least 1".into()));
        }
        Ok(())
    }

    /// The bin of an event in `[t0_us, t0_us + n_bins bin_us)`, or `None` outside.
    fn bin_of(e: &AerEvent, t0_us: u64, bin_us: u64, n_bins: usize) -> Option<usize> {
        let b = e.t_us.checked_sub(t0_us)? / bin_us;
        (b < n_bins as u64).then_some(b as usize)
    }

    /// Counts events into `n_bins` frames of `bin_us` µs starting at `t0_us` (events outside are
    /// dropped). Memory: `n_bins × 2 × height × width × 4` bytes.
    pub fn to_frames(&self, t0_us: u64, bin_us: u64, n_bins: usize) -> Result<Frames, AerError> {
        Self::check_bins(bin_us, n_bins)?;
        let (h, w) = (self.height as usize, self.width as usize);
        let len = n_bins.checked_mul(2 * h * w).ok_or_else(|| {
            AerError::Binning(format!("{n_bins} frames of {w}x{h} are too large"))
        })?;
        snn_types::budget::MemoryBudget::check_system(
            format!("{n_bins} event frames of a {w}x{h} sensor"),
            (len as u64).saturating_mul(4),
        )?;
        let mut data = vec![0u32; len];
        for e in &self.events {
            if let Some(b) = Self::bin_of(e, t0_us, bin_us, n_bins) {
                data[((b * 2 + e.on as usize) * h + e.y as usize) * w + e.x as usize] += 1;
            }
        }
        Ok(Frames {
            n_bins,
            height: h,
            width: w,
            data,
        })
    }

    /// Bins events into a raster of `n_bins` steps of `bin_us` µs from `t0_us`, with neuron
    /// `(polarity × height + y) × width + x` (polarity 1 = ON) and at most one spike per neuron
    /// per step. Events outside the window are dropped.
    pub fn to_raster(
        &self,
        t0_us: u64,
        bin_us: u64,
        n_bins: usize,
    ) -> Result<SpikeRaster, AerError> {
        Self::check_bins(bin_us, n_bins)?;
        snn_types::budget::MemoryBudget::check_system(
            format!("a raster of {n_bins} steps"),
            (n_bins as u64)
                .saturating_mul(snn_types::SpikeRaster::BYTES_PER_STEP)
                .saturating_add(
                    (self.events.len() as u64)
                        .saturating_mul(snn_types::SpikeRaster::BYTES_PER_SPIKE + 8),
                ),
        )?;
        let (h, w) = (self.height as u32, self.width as u32);
        if 2 * h as u64 * w as u64 > u32::MAX as u64 {
            return Err(AerError::Binning(format!(
                "a {w}x{h} sensor has too many addresses for u32 neuron indices"
            )));
        }
        let mut spikes: Vec<Spike> = self
            .events
            .iter()
            .filter_map(|e| {
                let b = Self::bin_of(e, t0_us, bin_us, n_bins)?;
                Some(Spike {
                    step: b as u64,
                    neuron: (e.on as u32 * h + e.y as u32) * w + e.x as u32,
                })
            })
            .collect();
        spikes.sort_unstable();
        spikes.dedup();
        Ok(SpikeRaster::from_spikes(0, n_bins as u64, &spikes))
    }
}
