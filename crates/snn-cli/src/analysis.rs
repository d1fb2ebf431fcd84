//! `snn simulate --analyse`: prints the per-population statistics of
//! [`snn_core::analysis`] and, for the microcircuit, the reference rates beside them.

use snn_core::analysis::PopulationActivity;
use snn_core::models::microcircuit::{
    POPULATIONS, TEN_PERCENT_CV_ISI, TEN_PERCENT_SYNCHRONY, reference_rates_hz,
};

/// Bin width of the synchrony measure (ms).
pub const BIN_MS: f64 = 3.0;
/// Neurons per population counted in the synchrony measure (the first ones).
pub const SYNC_NEURONS: u32 = 1000;

/// The reference rate of population `name` of the microcircuit at `scale`.
fn reference_rate(name: &str, scale: f64) -> Option<f64> {
    let (rates, _) = reference_rates_hz(scale);
    POPULATIONS
        .iter()
        .position(|p| *p == name)
        .map(|i| rates[i])
}

/// The reference's CV of ISIs and synchrony of population `name` (only for its 10% run).
fn reference_cv_sync(name: &str, scale: f64) -> Option<(f64, f64)> {
    if (scale - 0.1).abs() > 1e-12 {
        return None;
    }
    let i = POPULATIONS.iter().position(|p| *p == name)?;
    Some((TEN_PERCENT_CV_ISI[i], TEN_PERCENT_SYNCHRONY[i]))
}

/// Prints the table (with the reference column when `microcircuit` is the scale of a
/// microcircuit).
pub fn print(stats: &[PopulationActivity], microcircuit: Option<f64>) -> anyhow::Result<()> {
    let opt = |x: Option<f64>, w: usize| x.map_or(format!("{:>w$}", "-"), |v| format!("{v:>w$.3}"));
    outln!(
        "analysis         rates over the recorded window; CV of ISIs over neurons with >= {} spikes; synchrony = var/mean of the spike count of the first {SYNC_NEURONS} neurons in {BIN_MS} ms bins",
        snn_core::analysis::MIN_SPIKES_FOR_CV
    );
    if let Some(scale) = microcircuit {
        if (scale - 0.1).abs() < 1e-12 || (scale - 1.0).abs() < 1e-12 {
            outln!("reference        {}", reference_rates_hz(scale).1);
        } else {
            // A downscaled network fires less than the full-scale one (docs/microcircuit.md):
            // say so, or the deviation column reads as a broken model.
            outln!(
                "reference        {} (no reference run at scale {scale}: a downscaled network \
                 is not expected to reach them; compare at --scale 0.1 or 1)",
                reference_rates_hz(scale).1
            );
        }
        outln!(
            "population  neurons   rate (Hz)  reference (Hz)  deviation   CV ISI  (neurons)  synchrony  ref CV  ref sync"
        );
    } else {
        outln!("population  neurons   rate (Hz)   CV ISI  (neurons)  synchrony");
    }
    for s in stats {
        let cv = format!("{} ({:>7})", opt(s.cv_isi, 8), s.n_cv_neurons);
        match microcircuit.and_then(|sc| reference_rate(&s.name, sc)) {
            Some(r) => {
                let refs = microcircuit.and_then(|sc| reference_cv_sync(&s.name, sc));
                outln!(
                    "{:<10} {:>8} {:>11.3} {:>15.3} {:>+9.1}%  {cv}  {}  {}  {}",
                    s.name,
                    s.n_neurons,
                    s.rate_hz,
                    r,
                    (s.rate_hz / r - 1.0) * 100.0,
                    opt(s.synchrony, 9),
                    opt(refs.map(|x| x.0), 6),
                    opt(refs.map(|x| x.1), 8)
                )
            }
            None => outln!(
                "{:<10} {:>8} {:>11.3}  {cv}  {}",
                s.name,
                s.n_neurons,
                s.rate_hz,
                opt(s.synchrony, 9)
            ),
        }
    }
    Ok(())
}

/// The table as JSON.
pub fn json(stats: &[PopulationActivity], microcircuit: Option<f64>) -> serde_json::Value {
    serde_json::Value::Array(
        stats
            .iter()
            .map(|s| {
                serde_json::json!({
                    "population": s.name,
                    "neurons": s.n_neurons,
                    "spikes": s.n_spikes,
                    "rate_hz": s.rate_hz,
                    "reference_rate_hz": microcircuit.and_then(|sc| reference_rate(&s.name, sc)),
                    "reference_cv_isi": microcircuit.and_then(|sc| reference_cv_sync(&s.name, sc)).map(|x| x.0),
                    "reference_synchrony": microcircuit.and_then(|sc| reference_cv_sync(&s.name, sc)).map(|x| x.1),
                    "cv_isi": s.cv_isi,
                    "cv_neurons": s.n_cv_neurons,
                    "synchrony": s.synchrony,
                })
            })
            .collect(),
    )
}
