//! Receptive fields as data for plotting: the learned input weights of every neuron shaped as an
//! image and laid out on a grid, as in Diehl & Cook (2015), Fig. 2. Drawing them is the caller's
//! business (the `snn` command line draws them with `plotters`: `snn stdp --plot-weights`).

use super::StdpError;
use super::diehl_cook::DiehlCook;

/// The receptive fields of a [`DiehlCook`] network, ready to draw as a grid of images.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceptiveFields {
    /// Image rows of one field.
    pub rows: usize,
    /// Image columns of one field.
    pub cols: usize,
    /// Fields per row of the grid (`ceil(sqrt(n_neurons))`).
    pub grid_cols: usize,
    /// Rows of the grid (`ceil(n_neurons / grid_cols)`).
    pub grid_rows: usize,
    /// The largest weight of the network (intensity 1); 0 when every weight is 0 or less.
    pub max_weight: f32,
    /// One field per neuron, in neuron order: `rows * cols` intensities in `[0, 1]`, row-major,
    /// each weight divided by [`max_weight`](Self::max_weight) (negative weights count as 0).
    /// Neuron `j` sits at grid cell `(j / grid_cols, j % grid_cols)`.
    pub fields: Vec<Vec<f32>>,
}

/// The receptive fields of `m`. Errors when the input count is not `rows x cols` of the
/// network's image shape.
///
/// ```
/// use snn_learn::stdp::diehl_cook::{DiehlCook, DiehlCookConfig};
/// use snn_learn::stdp::plot::receptive_fields;
///
/// let cfg = DiehlCookConfig { n_neurons: 5, ..DiehlCookConfig::digits() };
/// let m = DiehlCook::new(cfg, 64, (8, 8), 1).unwrap();
/// let f = receptive_fields(&m).unwrap();
/// assert_eq!((f.grid_rows, f.grid_cols, f.fields.len()), (2, 3, 5));
/// assert!(f.fields.iter().flatten().all(|v| (0.0..=1.0).contains(v)));
/// ```
pub fn receptive_fields(m: &DiehlCook) -> Result<ReceptiveFields, StdpError> {
    let (rows, cols) = m.shape();
    if rows == 0 || cols == 0 || rows * cols != m.n_inputs() {
        return Err(StdpError::Data(format!(
            "cannot draw {} inputs as a {rows}x{cols} image",
            m.n_inputs()
        )));
    }
    let n = m.n_neurons();
    let grid_cols = ((n as f64).sqrt().ceil() as usize).max(1);
    let grid_rows = n.div_ceil(grid_cols);
    let max_weight = m.weights().iter().cloned().fold(0f32, f32::max);
    let k = if max_weight > 0.0 {
        1.0 / max_weight
    } else {
        0.0
    };
    let fields = (0..n)
        .map(|j| {
            m.receptive_field(j)
                .iter()
                .map(|&w| (w.max(0.0) * k).min(1.0))
                .collect()
        })
        .collect();
    Ok(ReceptiveFields {
        rows,
        cols,
        grid_cols,
        grid_rows,
        max_weight,
        fields,
    })
}
