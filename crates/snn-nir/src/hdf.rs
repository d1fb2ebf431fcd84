//! A generic tree of HDF5 groups and datasets: what a NIR file holds, before any meaning is
//! given to it. [`read_tree`] reads one from bytes (never panics, bounded allocations) and
//! [`write_tree`] writes one the way Python's `nir.write` does (float arrays as `float32`,
//! integer arrays as `int64`, strings as variable-length UTF-8, scalars as scalar datasets).

use std::collections::BTreeMap;

use hdf5_pure::{DType, File, FileBuilder, GroupBuilder};

use crate::error::NirError;

/// Deepest nesting of groups accepted when reading (NIR graphs nest a few levels at most).
pub const MAX_DEPTH: usize = 64;
/// Most elements of one dataset accepted when reading (2^28; a 784-1000-10 network's largest
/// weight matrix has 784,000).
pub const MAX_ELEMENTS: u64 = 1 << 28;

/// One HDF5 object: a group of named children or a dataset.
#[derive(Debug, Clone, PartialEq)]
pub enum H5Value {
    /// A group; children by name (sorted).
    Group(BTreeMap<String, H5Value>),
    /// A floating-point dataset (any width), row-major, `shape = []` for a scalar.
    Float {
        /// Dimensions (`[]` for a scalar).
        shape: Vec<usize>,
        /// Values, row-major.
        data: Vec<f64>,
    },
    /// An integer dataset (any width and sign), row-major.
    Int {
        /// Dimensions (`[]` for a scalar).
        shape: Vec<usize>,
        /// Values, row-major.
        data: Vec<i64>,
    },
    /// A string dataset (fixed or variable length), row-major.
    Str {
        /// Dimensions (`[]` for a scalar).
        shape: Vec<usize>,
        /// Values, row-major.
        data: Vec<String>,
    },
}

impl H5Value {
    /// A scalar string dataset.
    pub fn string(s: &str) -> Self {
        H5Value::Str {
            shape: vec![],
            data: vec![s.to_string()],
        }
    }

    /// A float dataset of the given shape.
    pub fn floats(shape: Vec<usize>, data: Vec<f64>) -> Self {
        H5Value::Float { shape, data }
    }

    /// A one-dimensional integer dataset.
    pub fn ints(data: Vec<i64>) -> Self {
        H5Value::Int {
            shape: vec![data.len()],
            data,
        }
    }

    /// The dataset's shape (`None` for a group).
    pub fn shape(&self) -> Option<&[usize]> {
        match self {
            H5Value::Group(_) => None,
            H5Value::Float { shape, .. }
            | H5Value::Int { shape, .. }
            | H5Value::Str { shape, .. } => Some(shape),
        }
    }

    /// What kind of object this is, for messages (`group`, `float dataset`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            H5Value::Group(_) => "group",
            H5Value::Float { .. } => "float dataset",
            H5Value::Int { .. } => "integer dataset",
            H5Value::Str { .. } => "string dataset",
        }
    }

    /// The values as floats (integers converted), with the shape; `None` for strings and groups.
    pub fn as_floats(&self) -> Option<(Vec<usize>, Vec<f64>)> {
        match self {
            H5Value::Float { shape, data } => Some((shape.clone(), data.clone())),
            H5Value::Int { shape, data } => {
                Some((shape.clone(), data.iter().map(|&v| v as f64).collect()))
            }
            _ => None,
        }
    }

    /// The single string of a scalar (or one-element) string dataset.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            H5Value::Str { data, .. } if data.len() == 1 => Some(&data[0]),
            _ => None,
        }
    }
}

fn h5err(e: impl std::fmt::Display) -> NirError {
    NirError::Hdf5(e.to_string())
}

fn layout(at: &str, message: impl Into<String>) -> NirError {
    NirError::Layout {
        at: at.to_string(),
        message: message.into(),
    }
}

/// Reads every group and dataset of an HDF5 file held in memory into a tree (the root group).
/// Errors name the HDF5 path; nothing panics on corrupt or truncated input.
pub fn read_tree(bytes: Vec<u8>) -> Result<H5Value, NirError> {
    if !hdf5_pure::is_hdf5_bytes(&bytes) {
        return Err(NirError::Hdf5(
            "no HDF5 signature (the file is empty, truncated or not HDF5)".into(),
        ));
    }
    // The reader is defensive, but a parser of untrusted bytes must never take the process
    // down: a panic inside it becomes an error.
    std::panic::catch_unwind(move || {
        let file = File::from_bytes(bytes).map_err(h5err)?;
        read_group(&file.root(), "", 0)
    })
    .unwrap_or_else(|_| {
        Err(NirError::Hdf5(
            "the HDF5 reader failed on this file (corrupt or truncated)".into(),
        ))
    })
}

fn read_group(g: &hdf5_pure::Group, at: &str, depth: usize) -> Result<H5Value, NirError> {
    if depth > MAX_DEPTH {
        return Err(layout(at, format!("groups nested deeper than {MAX_DEPTH}")));
    }
    let here = if at.is_empty() { "/" } else { at };
    let mut out = BTreeMap::new();
    for name in g.groups().map_err(|e| layout(here, e.to_string()))? {
        let path = format!("{at}/{name}");
        let child = g.group(&name).map_err(|e| layout(&path, e.to_string()))?;
        out.insert(name, read_group(&child, &path, depth + 1)?);
    }
    for name in g.datasets().map_err(|e| layout(here, e.to_string()))? {
        let path = format!("{at}/{name}");
        let ds = g.dataset(&name).map_err(|e| layout(&path, e.to_string()))?;
        out.insert(name, read_dataset(&ds, &path)?);
    }
    Ok(H5Value::Group(out))
}

fn read_dataset(ds: &hdf5_pure::Dataset, at: &str) -> Result<H5Value, NirError> {
    let e = |e: hdf5_pure::Error| layout(at, e.to_string());
    let shape64 = ds.shape().map_err(e)?;
    let mut n: u64 = 1;
    for &d in &shape64 {
        n = n.saturating_mul(d);
    }
    if n > MAX_ELEMENTS {
        return Err(layout(
            at,
            format!("{n} elements (shape {shape64:?}); at most {MAX_ELEMENTS} are read"),
        ));
    }
    let shape: Vec<usize> = shape64.iter().map(|&d| d as usize).collect();
    let check = |len: usize| {
        if len as u64 != n {
            Err(layout(
                at,
                format!("holds {len} values but its shape {shape64:?} says {n}"),
            ))
        } else {
            Ok(())
        }
    };
    let value = match ds.dtype().map_err(e)? {
        DType::F32 | DType::F64 => {
            let data = ds.read_f64().map_err(e)?;
            check(data.len())?;
            H5Value::Float { shape, data }
        }
        DType::I8
        | DType::I16
        | DType::I32
        | DType::I64
        | DType::U8
        | DType::U16
        | DType::U32
        | DType::U64 => {
            let data = ds.read_i64().map_err(e)?;
            check(data.len())?;
            H5Value::Int { shape, data }
        }
        DType::String | DType::VariableLengthString => {
            let data = ds.read_string().map_err(e)?;
            check(data.len())?;
            H5Value::Str { shape, data }
        }
        other => {
            return Err(layout(
                at,
                format!("dataset of type {other}, expected numbers or strings"),
            ));
        }
    };
    Ok(value)
}

/// Writes a tree (the root group) as an HDF5 file in memory.
pub fn write_tree(root: &BTreeMap<String, H5Value>) -> Result<Vec<u8>, NirError> {
    let mut fb = FileBuilder::new();
    for (name, v) in root {
        match v {
            H5Value::Group(children) => {
                let mut g = fb.create_group(name);
                fill_group(&mut g, children)?;
                fb.add_group(g.finish());
            }
            _ => write_dataset(fb.create_dataset(name), v),
        }
    }
    fb.finish().map_err(h5err)
}

fn fill_group(g: &mut GroupBuilder, children: &BTreeMap<String, H5Value>) -> Result<(), NirError> {
    for (name, v) in children {
        match v {
            H5Value::Group(grand) => {
                let mut sub = g.create_group(name);
                fill_group(&mut sub, grand)?;
                g.add_group(sub.finish());
            }
            _ => write_dataset(g.create_dataset(name), v),
        }
    }
    Ok(())
}

fn write_dataset(b: &mut hdf5_pure::DatasetBuilder, v: &H5Value) {
    let dims = |shape: &[usize]| shape.iter().map(|&d| d as u64).collect::<Vec<u64>>();
    match v {
        H5Value::Float { shape, data } => {
            let f: Vec<f32> = data.iter().map(|&x| x as f32).collect();
            b.with_f32_data(&f).with_shape(&dims(shape));
        }
        H5Value::Int { shape, data } => {
            b.with_i64_data(data).with_shape(&dims(shape));
        }
        H5Value::Str { shape, data } => {
            let s: Vec<&str> = data.iter().map(String::as_str).collect();
            b.with_vlen_strings(&s).with_shape(&dims(shape));
        }
        H5Value::Group(_) => unreachable!("groups are written by the caller"),
    }
}
