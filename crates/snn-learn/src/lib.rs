//! # snn-learn
//!
//! Learning for the `snn` toolkit.
//!
//! * [`data`]: an IDX reader (plain and gzip), the bundled 8x8 digits set, MNIST and
//!   Fashion-MNIST from a data directory, the N-MNIST subset.
//!
//! ```
//! let (train, test) = snn_learn::data::digits();
//! assert_eq!((train.len(), test.len()), (1437, 360));
//! ```
#![warn(missing_docs)]

pub mod ann;
pub mod arch;
pub mod augment;
pub mod checkpoint;
pub mod conv;
pub mod data;
pub mod export;
pub mod linalg;
pub mod model;
pub mod optim;
pub mod stdp;
pub mod surrogate;
pub mod train;
