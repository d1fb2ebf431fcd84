//! AER files: round trips, every malformation a typed error, random bytes never panic, and
//! binning into frames and rasters.

use proptest::prelude::*;
use snn_encode::aer::{AerError, AerEvent, AerStream, HEADER_LEN, TimestampWidth};

// The scratch-directory guard shared by the workspace's tests (one copy, in snn-types).
#[path = "../../snn-types/tests/common/mod.rs"]
mod common;
use common::scratch;

fn stream() -> AerStream {
    let events = (0..50u64)
        .map(|i| AerEvent {
            t_us: i * 137,
            x: (i % 5) as u16,
            y: (i % 3) as u16,
            on: i % 2 == 0,
        })
        .collect();
    AerStream::new(5, 3, events).unwrap()
}

#[test]
fn round_trip_both_widths_and_files() {
    let s = stream();
    for tw in [TimestampWidth::U32, TimestampWidth::U64] {
        let b = s.to_bytes(tw).unwrap();
        assert_eq!(AerStream::from_bytes(&b).unwrap(), s);
        assert_eq!(AerStream::read(&b[..]).unwrap(), s);
    }
    let dir = scratch("aer");
    let f = dir.join("events.aer");
    s.write_file(&f, TimestampWidth::U64).unwrap();
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        ["events.aer"],
        "no temporary file of any name is left"
    );
    assert_eq!(AerStream::read_file(&f).unwrap(), s);
}

#[test]
fn malformed_files_are_typed_errors() {
    let good = stream().to_bytes(TimestampWidth::U32).unwrap();
    let err = |b: &[u8]| AerStream::from_bytes(b).unwrap_err();
    assert!(matches!(err(b"hello"), AerError::BadMagic));
    assert!(matches!(err(b"SNN-"), AerError::Truncated { .. }));
    assert!(
        matches!(err(&good[..HEADER_LEN + 4]), AerError::Truncated { expected, actual } if expected == good.len() as u64 && actual == HEADER_LEN as u64 + 4)
    );
    let mut long = good.clone();
    long.push(0);
    assert!(matches!(err(&long), AerError::TrailingBytes(1)));
    let mut v = good.clone();
    v[8] = 9;
    assert!(matches!(err(&v), AerError::UnsupportedVersion(9)));
    let mut v = good.clone();
    v[10] = 0x83;
    assert!(matches!(err(&v), AerError::UnknownFlags(0x83)));
    // Event 1's polarity byte (record 9 bytes: t u32, x, y, p).
    let mut v = good.clone();
    v[HEADER_LEN + 9 + 8] = 7;
    assert!(matches!(
        err(&v),
        AerError::BadPolarity { index: 1, value: 7 }
    ));
    // Event 2's x beyond the 5-wide sensor.
    let mut v = good.clone();
    v[HEADER_LEN + 18 + 4] = 5;
    assert!(matches!(
        err(&v),
        AerError::OutOfBounds { index: 2, x: 5, .. }
    ));
    // Event 3's timestamp before event 2's.
    let mut v = good.clone();
    v[HEADER_LEN + 27..HEADER_LEN + 31].copy_from_slice(&0u32.to_le_bytes());
    assert!(matches!(err(&v), AerError::Unsorted { index: 3, .. }));
    // A count so large that its byte length overflows.
    let mut v = good.clone();
    v[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        err(&v),
        AerError::Truncated {
            expected: u64::MAX,
            ..
        }
    ));
    // Messages name the problem.
    assert_eq!(
        err(&good[..30]).to_string(),
        format!("truncated: {} bytes expected, 30 present", good.len())
    );
    // Writing a timestamp that does not fit 32 bits, and building an invalid stream.
    let big = AerStream::new(
        1,
        1,
        vec![AerEvent {
            t_us: 1 << 40,
            x: 0,
            y: 0,
            on: true,
        }],
    )
    .unwrap();
    assert!(matches!(
        big.to_bytes(TimestampWidth::U32),
        Err(AerError::TimestampOverflow { index: 0, .. })
    ));
    assert!(
        AerStream::new(
            1,
            1,
            vec![AerEvent {
                t_us: 0,
                x: 1,
                y: 0,
                on: true
            }]
        )
        .is_err()
    );
    // A missing file: the error names it (through `snn_types::file::read`).
    let e = AerStream::read_file("/nonexistent/x.aer").unwrap_err();
    assert!(matches!(e, AerError::File(_)), "{e:?}");
    assert!(e.to_string().contains("/nonexistent/x.aer"), "{e}");
}

#[test]
fn binning_into_frames_and_rasters() {
    let s = stream();
    // 1 ms bins over the 50 events (t up to 6713 us): 7 bins.
    let frames = s.to_frames(0, 1000, 7).unwrap();
    assert_eq!(frames.data.iter().sum::<u32>(), 50);
    assert_eq!(frames.get(0, true, 0, 0), 1); // event 0 at t = 0, (0, 0), ON
    let r = s.to_raster(0, 1000, 7).unwrap();
    assert_eq!(r.n_steps(), 7);
    assert!(r.len() <= 50);
    for sp in r.iter() {
        assert!(sp.neuron < 2 * 5 * 3);
    }
    // A window that starts late drops earlier events; zero-sized bins are refused.
    assert_eq!(
        s.to_frames(5000, 1000, 1).unwrap().data.iter().sum::<u32>(),
        7
    ); // i = 37..=43
    assert!(matches!(s.to_raster(0, 0, 5), Err(AerError::Binning(_))));
    assert!(matches!(s.to_frames(0, 10, 0), Err(AerError::Binning(_))));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = AerStream::from_bytes(&bytes);
    }

    #[test]
    fn random_bodies_after_a_valid_header_never_panic(
        tail in prop::collection::vec(any::<u8>(), 0..120),
        flags in 0u16..3,
        n in 0u64..12,
        w in 0u16..4,
        h in 0u16..4,
    ) {
        let mut b = b"SNN-AER\0".to_vec();
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&flags.to_le_bytes());
        b.extend_from_slice(&w.to_le_bytes());
        b.extend_from_slice(&h.to_le_bytes());
        b.extend_from_slice(&n.to_le_bytes());
        b.extend_from_slice(&tail);
        if let Ok(s) = AerStream::from_bytes(&b) {
            // Whatever parses re-serialises to the same bytes and bins without panicking.
            let tw = if flags == 1 { TimestampWidth::U32 } else { TimestampWidth::U64 };
            prop_assert_eq!(s.to_bytes(tw).unwrap(), b);
            let _ = s.to_raster(0, 1 + n, 4);
            let _ = s.to_frames(0, 1 + n, 4);
        }
    }
}

#[test]
fn frames_larger_than_the_machine_are_refused_before_allocating() {
    // A valid file (no events) of the largest sensor: 4 frames would need 128 GiB of counters.
    let s = AerStream::new(u16::MAX, u16::MAX, Vec::new()).unwrap();
    let e = s.to_frames(0, 1000, 4).unwrap_err().to_string();
    assert!(
        e.contains("4 event frames of a 65535x65535 sensor") && e.contains("needs about"),
        "{e}"
    );
    // A raster of absurdly many steps likewise.
    let e = s.to_raster(0, 1, usize::MAX / 2).unwrap_err().to_string();
    assert!(e.contains("steps") && e.contains("needs about"), "{e}");
}
