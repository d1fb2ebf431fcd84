//! Receptive-field plots (being written).
