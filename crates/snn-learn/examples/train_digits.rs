//! Trains the digits recipe (64-1000-10 LIF, beta 0.95, 25 steps, direct input, Adam
//! 5e-4, batch 128) and prints one line per epoch.
//!
//! `cargo run --release -p snn-learn --example train_digits -- [epochs] [threads]`

use snn_learn::data::digits;
use snn_learn::model::{Model, ModelConfig};
use snn_learn::train::{TrainConfig, Trainer};

fn main() {
    let mut args = std::env::args().skip(1);
    let epochs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let (train, test) = digits();
    let mut cfg = ModelConfig::feed_forward(64, &[1000], 10, 25);
    if std::env::var("READOUT").as_deref() == Ok("membrane") {
        cfg.readout = snn_learn::model::Readout::Membrane;
    }
    if std::env::var("LEARN").is_ok() {
        cfg.learn_beta = true;
        cfg.learn_threshold = true;
    }
    if let Some(t) = std::env::var("THR").ok().and_then(|s| s.parse().ok()) {
        cfg.threshold = t;
    }
    let seed: u64 = std::env::var("SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let model = Model::new(cfg, seed).expect("valid config");
    let mut tc = TrainConfig::recipe(epochs, seed);
    if std::env::var("COSINE").is_ok() {
        tc.schedule = snn_learn::optim::Schedule::Cosine {
            total_epochs: epochs,
            min_lr: 0.0,
        };
    }
    if let Some(wd) = std::env::var("WD").ok().and_then(|s| s.parse().ok()) {
        tc.optimizer = snn_learn::optim::OptimizerKind::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: wd,
        };
    }
    let mut t = Trainer::new(model, tc).expect("valid config");
    while !t.finished() {
        let m = t
            .run_epoch(&train, &test, threads, &mut |_, _, _, _| {})
            .expect("training runs");
        println!(
            "epoch {:3}  loss {:.4}  train {:.4}  test {:.4}  {:.2} s  hidden rate {:.3}",
            m.epoch, m.train_loss, m.train_acc, m.test_acc, m.train_s, m.hidden_rate
        );
    }
}
