//! Datasets: an IDX reader (plain and gzip), the bundled 8x8 digits, MNIST / Fashion-MNIST from a
//! data directory, and the N-MNIST subset's event recordings.
//!
//! Data that is not bundled is looked up in `--data DIR`, else the `SNN_DATA` environment
//! variable, else `../shared/data` when it exists ([`data_dir`]). Every error names the file and
//! what was expected.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Why a dataset could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The OS error (in the message, not repeated as a cause).
        error: std::io::Error,
    },
    /// The file's content is not what the format requires.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: String,
        /// What was expected and found.
        message: String,
    },
    /// The dataset name is not one we know.
    #[error("unknown dataset '{0}': expected digits, mnist, fashion-mnist or nmnist")]
    UnknownDataset(String),
    /// No data directory was given and none was found.
    #[error("no data directory: pass --data DIR or set SNN_DATA (looked for {looked})")]
    NoDataDir {
        /// Where we looked.
        looked: String,
    },
}

fn fmt_err(path: &Path, message: impl Into<String>) -> DataError {
    DataError::Format {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// A labelled dataset of dense feature vectors, normalised to `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Row-major features, `len() * n_features` values in `[0, 1]`.
    pub features: Vec<f32>,
    /// One class label per sample.
    pub labels: Vec<u8>,
    /// Features per sample.
    pub n_features: usize,
    /// Number of classes.
    pub n_classes: usize,
    /// Image shape `(rows, cols)` when the features are an image.
    pub shape: (usize, usize),
}

impl Dataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there is no sample.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Features of sample `i`.
    pub fn sample(&self, i: usize) -> &[f32] {
        &self.features[i * self.n_features..(i + 1) * self.n_features]
    }

    /// Checks the arrays against each other: `features` holds `len() * n_features` values, the
    /// image shape covers `n_features`, there is at least one class and every label is below
    /// `n_classes`. The message names the first offending sample.
    pub fn validate(&self) -> Result<(), String> {
        let want = self.len().checked_mul(self.n_features);
        if want != Some(self.features.len()) {
            return Err(format!(
                "{} feature values for {} samples of {} features",
                self.features.len(),
                self.len(),
                self.n_features
            ));
        }
        if self.shape.0.checked_mul(self.shape.1) != Some(self.n_features) {
            return Err(format!(
                "image shape {} x {} does not hold {} features",
                self.shape.0, self.shape.1, self.n_features
            ));
        }
        if self.n_classes == 0 {
            return Err("no classes".into());
        }
        check_labels(&self.labels, self.n_classes)
    }

    /// The first `n` samples (all if fewer).
    pub fn take(&self, n: usize) -> Dataset {
        let n = n.min(self.len());
        Dataset {
            features: self.features[..n * self.n_features].to_vec(),
            labels: self.labels[..n].to_vec(),
            n_features: self.n_features,
            n_classes: self.n_classes,
            shape: self.shape,
        }
    }
}

/// The first label `>= n_classes`, as an error naming the sample.
fn check_labels(labels: &[u8], n_classes: usize) -> Result<(), String> {
    match labels.iter().position(|&l| l as usize >= n_classes) {
        Some(i) => Err(format!(
            "label {} of sample {i} is outside the {n_classes} classes (0..={})",
            labels[i],
            n_classes.saturating_sub(1)
        )),
        None => Ok(()),
    }
}

/// A decoded IDX array: its dimensions and its `u8` data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idx {
    /// Dimensions, outermost first.
    pub dims: Vec<usize>,
    /// Row-major data.
    pub data: Vec<u8>,
}

/// Parses IDX bytes (`00 00 08 D`, then `D` big-endian `u32` sizes, then `u8` data). `origin`
/// names the source in errors.
pub fn parse_idx(bytes: &[u8], origin: &Path) -> Result<Idx, DataError> {
    if bytes.len() < 4 {
        return Err(fmt_err(
            origin,
            format!("too short for an IDX header ({} bytes)", bytes.len()),
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(fmt_err(
            origin,
            "not an IDX file (magic must start with two zero bytes)",
        ));
    }
    if bytes[2] != 0x08 {
        return Err(fmt_err(
            origin,
            format!(
                "unsupported IDX element type 0x{:02x} (only 0x08 = u8)",
                bytes[2]
            ),
        ));
    }
    let nd = bytes[3] as usize;
    if nd == 0 || nd > 4 {
        return Err(fmt_err(
            origin,
            format!("unsupported number of IDX dimensions {nd}"),
        ));
    }
    let head = 4 + 4 * nd;
    if bytes.len() < head {
        return Err(fmt_err(origin, "truncated IDX header"));
    }
    let dims: Vec<usize> = (0..nd)
        .map(|i| {
            u32::from_be_bytes([
                bytes[4 + 4 * i],
                bytes[5 + 4 * i],
                bytes[6 + 4 * i],
                bytes[7 + 4 * i],
            ]) as usize
        })
        .collect();
    let expect = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let Some(expect) = expect else {
        return Err(fmt_err(origin, format!("IDX dimensions {dims:?} overflow")));
    };
    let have = bytes.len() - head;
    if have != expect {
        return Err(fmt_err(
            origin,
            format!(
                "IDX dimensions {dims:?} need {expect} data bytes, file has {have} (truncated or corrupt)"
            ),
        ));
    }
    Ok(Idx {
        dims,
        data: bytes[head..].to_vec(),
    })
}

/// Largest decompressed `.gz` dataset file read: 4 GiB (MNIST's training images are 47 MB), a
/// bound on what a corrupt or hostile archive can make us allocate.
pub const MAX_GUNZIPPED_BYTES: u64 = 4 << 30;

/// Reads a whole file, gunzipping it when its name ends in `.gz`. A special file (`/dev/zero`, a
/// pipe) is read up to `snn_types::file::MAX_SPECIAL_FILE_BYTES` and a gzip stream decompressed
/// up to [`MAX_GUNZIPPED_BYTES`]: beyond, an error instead of filling memory.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = snn_types::file::read(path).map_err(|e| match e {
        snn_types::file::FileError::Io { error, .. } => DataError::Io {
            path: path.display().to_string(),
            error,
        },
        other => fmt_err(path, other.to_string()),
    })?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .take(MAX_GUNZIPPED_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| fmt_err(path, format!("not a valid gzip file: {e}")))?;
        if out.len() as u64 > MAX_GUNZIPPED_BYTES {
            return Err(fmt_err(
                path,
                format!(
                    "decompresses to more than {} GiB, the limit for a dataset file",
                    MAX_GUNZIPPED_BYTES >> 30
                ),
            ));
        }
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Reads an IDX file (plain or `.gz`).
pub fn read_idx(path: &Path) -> Result<Idx, DataError> {
    parse_idx(&read_maybe_gz(path)?, path)
}

/// Builds a dataset of `n_classes` classes from IDX images (`n x rows x cols`, read from
/// `images_path`) and labels (`n`, read from `labels_path`), dividing pixels by `max_value`.
/// Checks the dimensions (at least one image of at least one pixel), that there is one label per
/// image and that every label is below `n_classes`; errors name the offending file.
pub fn dataset_from_idx(
    images: &Idx,
    labels: &Idx,
    max_value: f32,
    n_classes: usize,
    images_path: &Path,
    labels_path: &Path,
) -> Result<Dataset, DataError> {
    if images.dims.len() != 3 {
        return Err(fmt_err(
            images_path,
            format!(
                "images must have 3 dimensions (n, rows, cols), got {:?}",
                images.dims
            ),
        ));
    }
    let (n, rows, cols) = (images.dims[0], images.dims[1], images.dims[2]);
    if n == 0 || rows == 0 || cols == 0 {
        return Err(fmt_err(
            images_path,
            format!("no images: dimensions {:?} (n, rows, cols)", images.dims),
        ));
    }
    if labels.dims.len() != 1 {
        return Err(fmt_err(
            labels_path,
            format!("labels must have 1 dimension (n), got {:?}", labels.dims),
        ));
    }
    if labels.dims[0] != n {
        return Err(fmt_err(
            labels_path,
            format!(
                "{} labels for {n} images in {}",
                labels.dims[0],
                images_path.display()
            ),
        ));
    }
    if n_classes == 0 {
        return Err(fmt_err(labels_path, "no classes"));
    }
    check_labels(&labels.data, n_classes).map_err(|m| fmt_err(labels_path, m))?;
    Ok(Dataset {
        features: images
            .data
            .iter()
            .map(|&p| (p as f32 / max_value).min(1.0))
            .collect(),
        labels: labels.data.clone(),
        n_features: rows * cols,
        n_classes,
        shape: (rows, cols),
    })
}

/// Classes of the bundled digits, MNIST and Fashion-MNIST.
pub const N_CLASSES: usize = 10;

static DIGITS_TRAIN_X: &[u8] =
    include_bytes!("../../../data/digits/digits-train-images-idx3-ubyte");
static DIGITS_TRAIN_Y: &[u8] =
    include_bytes!("../../../data/digits/digits-train-labels-idx1-ubyte");
static DIGITS_TEST_X: &[u8] = include_bytes!("../../../data/digits/digits-test-images-idx3-ubyte");
static DIGITS_TEST_Y: &[u8] = include_bytes!("../../../data/digits/digits-test-labels-idx1-ubyte");

/// The bundled 8x8 digits set (scikit-learn's copy of UCI optdigits, CC BY 4.0) with its fixed
/// stratified 80/20 split: 1437 training and 360 test samples, pixels 0..16 scaled to `[0, 1]`.
pub fn digits() -> (Dataset, Dataset) {
    let p = Path::new("<bundled digits>");
    let load = |x: &[u8], y: &[u8]| {
        let xi = parse_idx(x, p).expect("bundled digits images are valid IDX");
        let yi = parse_idx(y, p).expect("bundled digits labels are valid IDX");
        dataset_from_idx(&xi, &yi, 16.0, N_CLASSES, p, p).expect("bundled digits are consistent")
    };
    (
        load(DIGITS_TRAIN_X, DIGITS_TRAIN_Y),
        load(DIGITS_TEST_X, DIGITS_TEST_Y),
    )
}

/// The data directory: `explicit`, else `$SNN_DATA`, else `../shared/data` if it exists.
pub fn data_dir(explicit: Option<&Path>) -> Result<PathBuf, DataError> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("SNN_DATA") {
        return Ok(PathBuf::from(p));
    }
    let shared = PathBuf::from("../shared/data");
    if shared.is_dir() {
        return Ok(shared);
    }
    Err(DataError::NoDataDir {
        looked: "$SNN_DATA, ../shared/data".into(),
    })
}

/// The IDX file `stem` (`stem.gz` or plain) in `base`; a directory of that name or a missing
/// file is an error naming the expected path.
fn idx_file(base: &Path, stem: &str) -> Result<PathBuf, DataError> {
    for cand in [format!("{stem}.gz"), stem.to_string()] {
        let p = base.join(&cand);
        if p.is_file() {
            return Ok(p);
        }
        if p.is_dir() {
            return Err(DataError::Io {
                path: p.display().to_string(),
                error: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "a directory, not the IDX file",
                ),
            });
        }
    }
    Err(DataError::Io {
        path: base.join(format!("{stem}.gz")).display().to_string(),
        error: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "file not found (expected the standard IDX file, plain or .gz)",
        ),
    })
}

/// One split of an MNIST-format dataset in `base`: its images and labels IDX files.
fn idx_split(base: &Path, images: &str, labels: &str) -> Result<Dataset, DataError> {
    let xp = idx_file(base, images)?;
    let yp = idx_file(base, labels)?;
    dataset_from_idx(&read_idx(&xp)?, &read_idx(&yp)?, 255.0, N_CLASSES, &xp, &yp)
}

/// Loads an MNIST-format dataset from `dir/<name>/` (the four standard `*-ubyte.gz` or plain
/// files): `name` is `mnist` or `fashion-mnist`. Returns `(train, test)`.
pub fn mnist_like(dir: &Path, name: &str) -> Result<(Dataset, Dataset), DataError> {
    let base = dir.join(name);
    let train = idx_split(&base, "train-images-idx3-ubyte", "train-labels-idx1-ubyte")?;
    let test = mnist_like_test(dir, name)?;
    if test.shape != train.shape {
        return Err(fmt_err(
            &idx_file(&base, "t10k-images-idx3-ubyte")?,
            format!(
                "test images are {} x {} but the training images are {} x {}",
                test.shape.0, test.shape.1, train.shape.0, train.shape.1
            ),
        ));
    }
    Ok((train, test))
}

/// The test split alone of an MNIST-format dataset in `dir/<name>/` (its two `t10k-*` files;
/// the training files need not exist): for evaluating a trained network.
pub fn mnist_like_test(dir: &Path, name: &str) -> Result<Dataset, DataError> {
    idx_split(
        &dir.join(name),
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    )
}

/// A dataset loaded by name.
#[derive(Debug, Clone)]
pub enum Loaded {
    /// Images with labels (digits, MNIST, Fashion-MNIST).
    Images {
        /// Training split.
        train: Dataset,
        /// Test split.
        test: Dataset,
    },
    /// Event recordings (the N-MNIST subset).
    Events {
        /// Training recordings.
        train: Vec<EventSample>,
        /// Test recordings.
        test: Vec<EventSample>,
    },
}

/// Loads `digits` (bundled), `mnist`, `fashion-mnist` or `nmnist` (from [`data_dir`]).
pub fn load(name: &str, dir: Option<&Path>) -> Result<Loaded, DataError> {
    match name {
        "digits" => {
            let (train, test) = digits();
            Ok(Loaded::Images { train, test })
        }
        "mnist" | "fashion-mnist" => {
            let (train, test) = mnist_like(&data_dir(dir)?, name)?;
            Ok(Loaded::Images { train, test })
        }
        "nmnist" => {
            let (train, test) = nmnist_small(&data_dir(dir)?)?;
            Ok(Loaded::Events { train, test })
        }
        other => Err(DataError::UnknownDataset(other.to_string())),
    }
}

/// One address event of a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Time stamp (µs from the start of the recording).
    pub t_us: u32,
    /// Column.
    pub x: u8,
    /// Row.
    pub y: u8,
    /// `true` for ON (brightness increase).
    pub on: bool,
}

/// One labelled event recording.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSample {
    /// Class label.
    pub label: u8,
    /// Events in time order.
    pub events: Vec<Event>,
}

/// Sensor size of N-MNIST (34 x 34 pixels, 2 polarities).
pub const NMNIST_SIZE: usize = 34;

/// Reads the N-MNIST subset container `dir/nmnist-small/nmnist-small.bin.gz` (format in the
/// shared data README, parsed by [`parse_nmnist_small`]): returns `(train, test)` recordings.
pub fn nmnist_small(dir: &Path) -> Result<(Vec<EventSample>, Vec<EventSample>), DataError> {
    let path = dir.join("nmnist-small").join("nmnist-small.bin.gz");
    let b = read_maybe_gz(&path)?;
    parse_nmnist_small(&b, &path.display().to_string())
}

/// Parses the (decompressed) bytes of the N-MNIST subset container; `origin` names the source
/// in errors. Total: any input gives recordings or an error, never a panic.
///
/// Layout (little-endian): `NMNS`, version `1` (u32), sample count (u32), then per sample a
/// 10-byte header (4 bytes of id, label u8 in `0..=9`, split u8: 0 train / 1 test, event count
/// u32) and 5 bytes per event (`x`, `y` below 34; polarity in the top bit of the third byte and
/// a 23-bit time stamp in µs). The file must end after the last sample, and both splits must
/// hold at least one recording.
pub fn parse_nmnist_small(
    b: &[u8],
    origin: &str,
) -> Result<(Vec<EventSample>, Vec<EventSample>), DataError> {
    let err = |m: String| DataError::Format {
        path: origin.to_string(),
        message: m,
    };
    if b.len() < 12 || &b[..4] != b"NMNS" {
        return Err(err(
            "not an N-MNIST container (magic \"NMNS\" missing)".into()
        ));
    }
    let u32le = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    let version = u32le(4);
    if version != 1 {
        return Err(err(format!(
            "unsupported container version {version} (expected 1)"
        )));
    }
    let n = u32le(8) as usize;
    let (mut train, mut test) = (Vec::new(), Vec::new());
    let mut o = 12;
    for i in 0..n {
        if b.len() - o < 10 {
            return Err(err(format!(
                "truncated at sample {i} of {n}: header at offset {o}, {} bytes left",
                b.len() - o
            )));
        }
        let label = b[o + 4];
        let split = b[o + 5];
        let ne = u32le(o + 6) as usize;
        o += 10;
        if label as usize >= N_CLASSES {
            return Err(err(format!(
                "sample {i}: label {label} is outside the {N_CLASSES} classes (0..=9)"
            )));
        }
        if split > 1 {
            return Err(err(format!(
                "sample {i}: split {split} is neither 0 (train) nor 1 (test)"
            )));
        }
        let need = ne
            .checked_mul(5)
            .ok_or_else(|| err(format!("sample {i}: event count overflow")))?;
        if need > b.len() - o {
            return Err(err(format!(
                "truncated in sample {i}: {ne} events need {need} bytes, {} left",
                b.len() - o
            )));
        }
        let mut events = Vec::with_capacity(ne);
        for e in b[o..o + need].chunks_exact(5) {
            let (x, y) = (e[0], e[1]);
            if x as usize >= NMNIST_SIZE || y as usize >= NMNIST_SIZE {
                return Err(err(format!(
                    "sample {i}: event at ({x}, {y}) outside the 34x34 sensor"
                )));
            }
            let t_us = (((e[2] & 0x7f) as u32) << 16) | ((e[3] as u32) << 8) | e[4] as u32;
            events.push(Event {
                t_us,
                x,
                y,
                on: e[2] >> 7 == 1,
            });
        }
        o += need;
        let s = EventSample { label, events };
        if split == 0 {
            train.push(s)
        } else {
            test.push(s)
        }
    }
    if o != b.len() {
        return Err(err(format!(
            "{} unexpected bytes after the {n} samples the header announces",
            b.len() - o
        )));
    }
    if train.is_empty() || test.is_empty() {
        return Err(err(format!(
            "{} training and {} test recordings: both splits need at least one",
            train.len(),
            test.len()
        )));
    }
    Ok((train, test))
}

/// Bins a recording into `n_bins` frames of `2 x 34 x 34` features (`[bin][polarity][y][x]`, a 1
/// where at least one event fell in the cell during the bin) over `[0, duration_us)`; events at
/// or after `duration_us`, and events outside the sensor, are dropped. Returns `n_bins * 2312` values, bin-major.
pub fn bin_events(events: &[Event], n_bins: usize, duration_us: u32) -> Vec<f32> {
    let per = 2 * NMNIST_SIZE * NMNIST_SIZE;
    let mut out = vec![0.0f32; n_bins * per];
    if n_bins == 0 || duration_us == 0 {
        return out;
    }
    for e in events {
        if e.t_us >= duration_us || e.x as usize >= NMNIST_SIZE || e.y as usize >= NMNIST_SIZE {
            continue;
        }
        let bin = (e.t_us as u64 * n_bins as u64 / duration_us as u64) as usize;
        let idx = bin * per
            + (e.on as usize) * NMNIST_SIZE * NMNIST_SIZE
            + e.y as usize * NMNIST_SIZE
            + e.x as usize;
        out[idx] = 1.0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bundled_digits_have_the_documented_split() {
        let (train, test) = digits();
        assert_eq!((train.len(), test.len()), (1437, 360));
        assert_eq!(train.n_features, 64);
        assert!(train.features.iter().all(|&x| (0.0..=1.0).contains(&x)));
        // Stratified: every class has 35..=37 test samples.
        for c in 0..10u8 {
            let k = test.labels.iter().filter(|&&l| l == c).count();
            assert!((35..=37).contains(&k), "class {c}: {k}");
        }
        assert!(train.features.contains(&1.0), "16/16 maps to 1");
    }

    #[test]
    fn idx_errors_name_the_problem() {
        let p = Path::new("x.idx");
        let e = parse_idx(&[0, 0, 8, 1, 0, 0, 0, 5, 1, 2], p)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("x.idx") && e.contains("need 5 data bytes, file has 2"),
            "{e}"
        );
        assert!(
            parse_idx(&[1, 0, 8, 1], p)
                .unwrap_err()
                .to_string()
                .contains("not an IDX file")
        );
        assert!(
            parse_idx(&[0, 0, 0x0d, 1], p)
                .unwrap_err()
                .to_string()
                .contains("element type")
        );
        let ok = parse_idx(&[0, 0, 8, 2, 0, 0, 0, 1, 0, 0, 0, 2, 7, 9], p).unwrap();
        assert_eq!(
            ok,
            Idx {
                dims: vec![1, 2],
                data: vec![7, 9]
            }
        );
    }

    proptest! {
        #[test]
        fn idx_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse_idx(&bytes, Path::new("fuzz"));
        }
    }

    #[test]
    fn missing_files_and_bad_gzip_are_clear_errors() {
        let dir = std::env::temp_dir().join(format!("snn-data-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("mnist")).unwrap();
        let e = mnist_like(&dir, "mnist").unwrap_err().to_string();
        assert!(
            e.contains("train-images-idx3-ubyte.gz") && e.contains("not found"),
            "{e}"
        );
        std::fs::write(dir.join("mnist/train-images-idx3-ubyte.gz"), b"not gzip").unwrap();
        std::fs::write(
            dir.join("mnist/train-labels-idx1-ubyte"),
            [0, 0, 8, 1, 0, 0, 0, 1, 3],
        )
        .unwrap();
        let e = mnist_like(&dir, "mnist").unwrap_err().to_string();
        assert!(e.contains("not a valid gzip file"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn binning_places_events_in_their_cells() {
        let ev = [
            Event {
                t_us: 0,
                x: 1,
                y: 2,
                on: true,
            },
            Event {
                t_us: 999,
                x: 33,
                y: 33,
                on: false,
            },
            Event {
                t_us: 1000,
                x: 0,
                y: 0,
                on: true,
            },
        ];
        let f = bin_events(&ev, 2, 1000);
        assert_eq!(f.len(), 2 * 2312);
        assert_eq!(f[1156 + 2 * 34 + 1], 1.0);
        assert_eq!(f[2312 + 33 * 34 + 33], 1.0);
        assert_eq!(
            f.iter().sum::<f32>(),
            2.0,
            "the event at the end is dropped"
        );
    }

    /// Runs only where the shared datasets are present (CI has them).
    #[test]
    fn shared_datasets_load_when_present() {
        let Ok(dir) = data_dir(None) else { return };
        if dir.join("mnist").is_dir() {
            let (train, test) = mnist_like(&dir, "mnist").unwrap();
            assert_eq!((train.len(), test.len()), (60_000, 10_000));
            assert_eq!(train.n_features, 784);
            assert_eq!(&train.labels[..5], &[5, 0, 4, 1, 9]);
        }
        if dir.join("nmnist-small").is_dir() {
            let (train, test) = nmnist_small(&dir).unwrap();
            assert_eq!((train.len(), test.len()), (1000, 100));
            assert!(
                train
                    .iter()
                    .all(|s| s.events.windows(2).all(|w| w[0].t_us <= w[1].t_us))
            );
        }
    }
}
