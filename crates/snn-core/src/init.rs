//! Initial state: the membrane value every neuron starts from.
//!
//! Population `i` draws its initial membrane values from stream `(seed, InitialState, i)`, one
//! value per neuron in index order, or starts at the model's resting value when the spec gives no
//! `v_init`. The engine and the chip model both call [`initial_v`], so their initial states are
//! the same by construction; integer models round the drawn value with [`to_integer_v`].

use snn_types::{NetworkSpec, NeuronModel, ValueSpec};

use crate::connect::draw;
use crate::rng::{StreamKind, stream};

/// Initial membrane values (model units, e.g. mV) of population `index` of a network seeded with
/// `seed`: `size` draws of `v_init` from the population's stream, or the model's resting value.
pub fn initial_v(
    seed: u64,
    index: usize,
    model: &NeuronModel,
    size: u32,
    v_init: Option<&ValueSpec>,
) -> Vec<f64> {
    match v_init {
        None => vec![model.resting_v(); size as usize],
        Some(v) => {
            let mut rng = stream(seed, StreamKind::InitialState, index as u64);
            (0..size).map(|_| draw(v, &mut rng)).collect()
        }
    }
}

/// [`initial_v`] of population `index` of a spec. Panics if `index` is out of range.
pub fn initial_v_of(spec: &NetworkSpec, index: usize) -> Vec<f64> {
    let p = &spec.populations[index];
    initial_v(spec.seed, index, &p.neuron, p.size, p.v_init.as_ref())
}

/// The integer membrane value an integer model (`loihi_lif`) starts from, given its drawn value:
/// rounded to the nearest integer (ties away from zero), saturating at the `i32` range.
#[inline]
pub fn to_integer_v(v: f64) -> i32 {
    v.round() as i32
}
