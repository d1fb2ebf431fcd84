//! Architecture strings: `12C5-AP2-64C5-AP2-FC10` and the like, as in the spiking-network
//! literature.
//!
//! Tokens are separated by `-`:
//!
//! | token | meaning |
//! |---|---|
//! | `<c>C<k>` | conv layer: `c` output channels, `k x k` kernel, stride 1, no padding; suffixes `s<stride>` and `p<padding>` (e.g. `12C5p2`, `32C3s2p1`) |
//! | `AP<k>`, `SP<k>` | average or sum pooling (kernel = stride = `k`) of the preceding conv's input currents; its LIF neurons sit after the pooling |
//! | `MP<k>` | refused: max pooling of currents is not a synaptic operation (see below) |
//! | `[<n>]FC<m>` | dense layer of `m` neurons; the optional `n` is the flatten size and must equal the neurons of the layer below (e.g. `1024FC10`) |
//! | `D<p>` | dropout with probability `p` of the preceding layer's spikes (training only) |
//!
//! The last token is the `FC` output layer. The spatial input shape (`C x H x W`) comes from the
//! dataset; a conv layer cannot follow a dense layer.
//!
//! ```
//! use snn_learn::arch;
//! let a = arch::parse("12C5-AP2-64C5-AP2-FC10", [1, 28, 28]).unwrap();
//! assert_eq!(a.hidden.iter().map(|h| h.size).collect::<Vec<_>>(), [12 * 12 * 12, 64 * 4 * 4]);
//! assert_eq!(a.n_outputs, 10);
//! assert!(arch::parse("12C5-MP2-FC10", [1, 28, 28]).unwrap_err().to_string().contains("AP2"));
//! ```
//!
//! **Why no max pooling.** Average and sum pooling of currents are linear and fold into the
//! convolution's kernel, so the exported network is a plain conv projection the engine and the
//! chip compute exactly. The maximum of currents is not a weighted sum of spikes: no synapse
//! computes it, so a network trained with it could not be exported faithfully.

use crate::conv::{ConvConfig, Pool, PoolMode};
use crate::model::{LayerConfig, ModelConfig};

/// A parsed architecture: the hidden layers and the output layer's size.
#[derive(Debug, Clone, PartialEq)]
pub struct Arch {
    /// Hidden layers, input side first (sizes computed from the input shape).
    pub hidden: Vec<LayerConfig>,
    /// Neurons of the output layer (the last `FC`).
    pub n_outputs: usize,
}

/// Why an architecture string was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ArchError {
    /// The string has no tokens.
    #[error("the architecture is empty (expected e.g. 12C5-AP2-64C5-AP2-FC10)")]
    Empty,
    /// A token is malformed or out of place.
    #[error("architecture token {index} `{token}`: {message}")]
    Token {
        /// 1-based position.
        index: usize,
        /// The token as written.
        token: String,
        /// What is wrong.
        message: String,
    },
}

/// The largest channel, kernel or layer size a token may give.
const MAX_SIZE: usize = 1 << 24;

fn number(s: &str) -> Option<usize> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|&n| n <= MAX_SIZE)
}

/// What one token says.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Conv(ConvConfig),
    Pool(Pool),
    Fc { flatten: Option<usize>, size: usize },
    Dropout(f32),
}

/// Why `s` is not a [`number`]: too large, or not a whole number at all.
fn not_a_number(s: &str, what: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        format!("{what} {s} is too large (at most {MAX_SIZE})")
    } else {
        format!("{what} `{s}` is not a whole number")
    }
}

fn token(t: &str) -> Result<Tok, String> {
    let positive = |s: &str, what: &str| match number(s) {
        Some(0) => Err(format!("{what} must be at least 1")),
        Some(n) => Ok(n),
        None => Err(not_a_number(s, what)),
    };
    if let Some(rest) = t.strip_prefix("MP") {
        let k = rest
            .parse::<usize>()
            .map_or("<k>".to_string(), |k| k.to_string());
        return Err(format!(
            "max pooling of currents is not a synaptic operation, so the network could not be \
             exported faithfully (the engine and the chip only sum weighted spikes); use average \
             (AP{k}) or sum (SP{k}) pooling instead"
        ));
    }
    for (prefix, mode) in [("AP", PoolMode::Average), ("SP", PoolMode::Sum)] {
        if let Some(rest) = t.strip_prefix(prefix) {
            return Ok(Tok::Pool(Pool {
                mode,
                size: positive(rest, "the pool size")?,
            }));
        }
    }
    if let Some(rest) = t.strip_prefix('D') {
        let p: f32 = rest
            .parse()
            .map_err(|_| format!("dropout probability `{rest}` is not a number"))?;
        if !(0.0..1.0).contains(&p) {
            return Err(format!("dropout probability {p} must be in [0, 1)"));
        }
        return Ok(Tok::Dropout(p));
    }
    if let Some(i) = t.find("FC") {
        let flatten = match &t[..i] {
            "" => None,
            n => Some(positive(n, "the flatten size")?),
        };
        let size = positive(&t[i + 2..], "the layer size")?;
        return Ok(Tok::Fc { flatten, size });
    }
    if let Some(i) = t.find('C') {
        let out_channels = positive(&t[..i], "the channel count")?;
        let rest = &t[i + 1..];
        let end = rest.find(['s', 'p']).unwrap_or(rest.len());
        let k = positive(&rest[..end], "the kernel size")?;
        let (mut stride, mut padding) = (None, None);
        let mut tail = &rest[end..];
        while let Some(c) = tail.chars().next() {
            let body = &tail[1..];
            let e = body.find(['s', 'p']).unwrap_or(body.len());
            let slot = if c == 's' { &mut stride } else { &mut padding };
            if slot.is_some() {
                return Err(format!("`{c}` is given twice"));
            }
            *slot = Some(if c == 's' {
                positive(&body[..e], "the stride")?
            } else {
                number(&body[..e]).ok_or_else(|| not_a_number(&body[..e], "the padding"))?
            });
            tail = &body[e..];
        }
        let (s, p) = (stride.unwrap_or(1), padding.unwrap_or(0));
        return Ok(Tok::Conv(ConvConfig {
            out_channels,
            kernel: [k, k],
            stride: [s, s],
            padding: [p, p],
            pool: None,
        }));
    }
    Err(
        "unknown token (expected <c>C<k>[s<stride>][p<pad>], AP<k>, SP<k>, [<n>]FC<m> or D<p>)"
            .into(),
    )
}

/// Parses an architecture string for inputs of shape `input_shape` (`[C, H, W]`); see the
/// module docs for the grammar. Every error names the token.
pub fn parse(s: &str, input_shape: [usize; 3]) -> Result<Arch, ArchError> {
    let toks: Vec<&str> = s.trim().split('-').map(str::trim).collect();
    if toks.iter().all(|t| t.is_empty()) {
        return Err(ArchError::Empty);
    }
    let err = |index: usize, message: String| ArchError::Token {
        index: index + 1,
        token: toks[index].to_string(),
        message,
    };
    let parsed: Vec<Tok> = toks
        .iter()
        .enumerate()
        .map(|(i, t)| token(t).map_err(|m| err(i, m)))
        .collect::<Result<_, _>>()?;
    let last = parsed.len() - 1;
    if !matches!(parsed[last], Tok::Fc { .. }) {
        return Err(err(
            last,
            "the last token must be the FC<classes> output layer".into(),
        ));
    }
    let mut hidden: Vec<LayerConfig> = Vec::new();
    // The shape of the layer below (None after a dense layer) and its neurons.
    let mut shape = Some(input_shape);
    let mut below = input_shape.iter().product::<usize>();
    let mut n_outputs = 0;
    for (i, tok) in parsed.iter().enumerate() {
        match *tok {
            Tok::Conv(c) => {
                let Some(sh) = shape else {
                    return Err(err(i, "a conv layer cannot follow a dense layer".into()));
                };
                let g = c.folded(sh).map_err(|m| err(i, m))?;
                let size = g.out_shape.iter().product();
                hidden.push(LayerConfig::conv(size, c));
                shape = Some(g.out_shape);
                below = size;
            }
            Tok::Pool(p) => {
                let prev = match (i.checked_sub(1).map(|j| parsed[j]), hidden.last_mut()) {
                    (Some(Tok::Conv(_)), Some(h)) => h,
                    _ => {
                        return Err(err(
                            i,
                            "pooling must directly follow a conv token (it pools that conv's \
                             currents)"
                                .into(),
                        ));
                    }
                };
                let mut c = prev.conv.expect("the previous token is a conv layer");
                c.pool = Some(p);
                let in_shape = match hidden.len() {
                    1 => input_shape,
                    n => conv_out_shape(&hidden[..n - 1], input_shape)
                        .expect("layers below a conv layer are conv layers"),
                };
                let g = c.folded(in_shape).map_err(|m| err(i, m))?;
                let size = g.out_shape.iter().product();
                let h = hidden.last_mut().expect("checked above");
                *h = LayerConfig::conv(size, c);
                shape = Some(g.out_shape);
                below = size;
            }
            Tok::Fc { flatten, size } => {
                if let Some(f) = flatten
                    && f != below
                {
                    let what = match shape {
                        Some([c, h, w]) => format!("{c} x {h} x {w} = {below}"),
                        None => below.to_string(),
                    };
                    return Err(err(
                        i,
                        format!("flatten size {f} differs from the {what} neurons below"),
                    ));
                }
                if i == last {
                    n_outputs = size;
                } else {
                    hidden.push(LayerConfig::lif(size));
                    shape = None;
                    below = size;
                }
            }
            Tok::Dropout(p) => {
                let prev_is_layer = i > 0 && !matches!(parsed[i - 1], Tok::Dropout(_));
                match hidden.last_mut() {
                    Some(h) if prev_is_layer && i < last => h.dropout = Some(p),
                    _ => {
                        return Err(err(
                            i,
                            "dropout must follow a hidden layer (it drops that layer's spikes)"
                                .into(),
                        ));
                    }
                }
            }
        }
    }
    Ok(Arch { hidden, n_outputs })
}

/// The output shape of a stack of conv layers on `input_shape` (None if one is dense).
fn conv_out_shape(layers: &[LayerConfig], input_shape: [usize; 3]) -> Option<[usize; 3]> {
    layers.iter().try_fold(input_shape, |s, h| {
        h.conv.and_then(|c| c.folded(s).ok()).map(|g| g.out_shape)
    })
}

/// The architecture string of a model configuration, in the canonical form [`parse`] reads
/// (e.g. `12C5-AP2-64C5-AP2-FC10`; a dense model gives e.g. `FC1000-FC10`).
pub fn describe(c: &ModelConfig) -> String {
    let mut parts = Vec::new();
    for h in &c.hidden {
        match &h.conv {
            Some(cv) => {
                let mut t = format!("{}C{}", cv.out_channels, cv.kernel[0]);
                if cv.kernel[0] != cv.kernel[1] {
                    t.push_str(&format!("x{}", cv.kernel[1]));
                }
                if cv.stride != [1, 1] {
                    t.push_str(&format!("s{}", cv.stride[0]));
                }
                if cv.padding != [0, 0] {
                    t.push_str(&format!("p{}", cv.padding[0]));
                }
                parts.push(t);
                if let Some(p) = cv.pool {
                    let m = match p.mode {
                        PoolMode::Average => "AP",
                        PoolMode::Sum => "SP",
                    };
                    parts.push(format!("{m}{}", p.size));
                }
            }
            None => parts.push(format!("FC{}", h.size)),
        }
        if let Some(p) = h.dropout {
            parts.push(format!("D{p}"));
        }
    }
    parts.push(format!("FC{}", c.n_outputs));
    parts.join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_grammar() {
        let a = parse("12C5-AP2-64C5-AP2-FC10", [1, 28, 28]).unwrap();
        assert_eq!(a.hidden.len(), 2);
        assert_eq!(a.hidden[1].size, 1024);
        assert_eq!(
            a.hidden[0].conv.unwrap().pool,
            Some(Pool {
                mode: PoolMode::Average,
                size: 2
            })
        );
        let a = parse("8C3p1s2-SP2-D0.25-512FC100-D0.5-FC10", [2, 34, 34]).unwrap();
        // (34 + 2 - 3) / 2 + 1 = 17 conv outputs per side; the sum pool of 2 leaves 8.
        assert_eq!(a.hidden[0].size, 8 * 8 * 8);
        assert_eq!(a.hidden[0].dropout, Some(0.25));
        assert_eq!(a.hidden[1].size, 100);
        assert!(parse("8C3p1s2-SP2-D0.25-1024FC100-D0.5-FC10", [2, 34, 34]).is_err());
        let cfg = ModelConfig {
            hidden: a.hidden.clone(),
            ..ModelConfig::feed_forward(2 * 34 * 34, &[], a.n_outputs, 5)
        };
        assert_eq!(describe(&cfg), "8C3s2p1-SP2-D0.25-FC100-D0.5-FC10");
        let round = parse(&describe(&cfg), [2, 34, 34]).unwrap();
        assert_eq!(round, a);
        assert_eq!(parse("FC100-FC10", [1, 8, 8]).unwrap().hidden[0].size, 100);
    }

    #[test]
    fn bad_strings_name_the_token() {
        for (s, token, words) in [
            ("12C5-MP2-FC10", "MP2", "AP2"),
            ("12C5-AP2-FC10-D0.5", "D0.5", "last token"),
            ("D0.5-FC10", "D0.5", "dropout must follow"),
            ("4C3-D0.1-D0.2-FC10", "D0.2", "dropout must follow"),
            ("12C5-AP2", "AP2", "last token"),
            ("FC10-4C3-FC10", "4C3", "cannot follow a dense"),
            ("12C5-AP2-100FC10", "100FC10", "1728"),
            ("12X5-FC10", "12X5", "unknown token"),
            ("0C5-FC10", "0C5", "at least 1"),
            ("4C50-FC10", "4C50", "larger than the padded input"),
            ("AP2-FC10", "AP2", "directly follow"),
            ("4C3-D1.5-FC10", "D1.5", "[0, 1)"),
            ("4C3s2s2-FC10", "4C3s2s2", "twice"),
            ("4C3-AP30-FC10", "AP30", "larger"),
            (
                "12C5p99999999999-FC10",
                "12C5p99999999999",
                "padding 99999999999 is too large",
            ),
            ("12C5px-FC10", "12C5px", "padding `x` is not a whole number"),
            (
                "4294967295C3-FC10",
                "4294967295C3",
                "channel count 4294967295 is too large",
            ),
            ("12C-FC10", "12C", "kernel size `` is not a whole number"),
        ] {
            let e = parse(s, [1, 28, 28]).unwrap_err().to_string();
            assert!(
                e.contains(&format!("`{token}`")) && e.contains(words),
                "{s}: {e}"
            );
        }
        assert_eq!(parse(" ", [1, 8, 8]), Err(ArchError::Empty));
    }
}
