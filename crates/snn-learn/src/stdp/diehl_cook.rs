//! The Diehl & Cook (2015) unsupervised classifier (being written).
