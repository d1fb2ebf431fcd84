//! Mutations of valid inputs.

use proptest::prelude::*;

/// Values that break parsers written as text numbers.
const TEXT_VALUES: &[&str] = &[
    "0",
    "-1",
    "-0.0",
    "1e308",
    "-1e308",
    "1e-310",
    "nan",
    "inf",
    "-inf",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "9007199254740993",
    "65536",
    "2147483648",
    "0.5",
    "\"\"",
    "[]",
    "{}",
    "true",
];

/// Boundary integers written into binary inputs.
const INTS: &[u64] = &[
    0,
    1,
    0x7F,
    0xFF,
    0xFFFF,
    0x7FFF_FFFF,
    0xFFFF_FFFF,
    0x1_0000_0000,
    0x7FFF_FFFF_FFFF_FFFF,
    u64::MAX,
];

/// One mutation; positions are taken modulo the input's length.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Flip bit `bit` of byte `pos`.
    Flip(usize, u8),
    /// Overwrite byte `pos`.
    Set(usize, u8),
    /// Overwrite 4 bytes (LE) at `pos` with a boundary value.
    SetU32(usize, usize),
    /// Overwrite 8 bytes (LE) at `pos` with a boundary value.
    SetU64(usize, usize),
    /// Insert bytes at `pos`.
    Insert(usize, Vec<u8>),
    /// Delete up to `len` bytes at `pos`.
    Delete(usize, usize),
    /// Keep the first `len` bytes.
    Truncate(usize),
    /// Copy `len` bytes from `from` to `to` (inserted).
    Splice(usize, usize, usize),
    /// Replace the `nth` number of a text input by an extreme value.
    Number(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(p, b)| Mutation::Flip(p, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(p, v)| Mutation::Set(p, v)),
        (any::<usize>(), 0..INTS.len()).prop_map(|(p, k)| Mutation::SetU32(p, k)),
        (any::<usize>(), 0..INTS.len()).prop_map(|(p, k)| Mutation::SetU64(p, k)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(p, b)| Mutation::Insert(p, b)),
        (any::<usize>(), 1usize..64).prop_map(|(p, n)| Mutation::Delete(p, n)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<usize>(), 1usize..64)
            .prop_map(|(a, b, n)| Mutation::Splice(a, b, n)),
        (any::<usize>(), 0..TEXT_VALUES.len()).prop_map(|(n, k)| Mutation::Number(n, k)),
    ]
}

/// Byte ranges of the numbers in a text input.
fn numbers(b: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts =
            b[i].is_ascii_digit() || (b[i] == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit));
        let word_before = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if starts && !word_before {
            let s = i;
            i += 1;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b"._+-".contains(&b[i])) {
                i += 1;
            }
            out.push((s, i));
        } else {
            i += 1;
        }
    }
    out
}

/// Applies `m` to `b`.
pub fn apply(mut b: Vec<u8>, m: &Mutation) -> Vec<u8> {
    let n = b.len();
    match *m {
        Mutation::Flip(p, bit) if n > 0 => b[p % n] ^= 1 << bit,
        Mutation::Set(p, v) if n > 0 => b[p % n] = v,
        Mutation::SetU32(p, k) if n >= 4 => {
            let p = p % (n - 3);
            b[p..p + 4].copy_from_slice(&(INTS[k] as u32).to_le_bytes());
        }
        Mutation::SetU64(p, k) if n >= 8 => {
            let p = p % (n - 7);
            b[p..p + 8].copy_from_slice(&INTS[k].to_le_bytes());
        }
        Mutation::Insert(p, ref v) => {
            let p = if n == 0 { 0 } else { p % (n + 1) };
            b.splice(p..p, v.iter().copied());
        }
        Mutation::Delete(p, len) if n > 0 => {
            let p = p % n;
            b.drain(p..(p + len).min(n));
        }
        Mutation::Truncate(len) => b.truncate(if n == 0 { 0 } else { len % (n + 1) }),
        Mutation::Splice(from, to, len) if n > 0 => {
            let from = from % n;
            let chunk: Vec<u8> = b[from..(from + len).min(n)].to_vec();
            let to = to % (n + 1);
            b.splice(to..to, chunk);
        }
        Mutation::Number(nth, k) => {
            let nums = numbers(&b);
            if !nums.is_empty() {
                let (s, e) = nums[nth % nums.len()];
                b.splice(s..e, TEXT_VALUES[k].bytes());
            }
        }
        _ => {}
    }
    b
}

/// Inputs for a target: a seed with up to eight mutations (three times in four), or random
/// bytes (text-like for text targets).
pub fn input_strategy(seeds: Vec<Vec<u8>>, text: bool) -> BoxedStrategy<Vec<u8>> {
    let n = seeds.len().max(1);
    let seeds = if seeds.is_empty() {
        vec![Vec::new()]
    } else {
        seeds
    };
    let mutated = (0..n, prop::collection::vec(mutation(), 0..8))
        .prop_map(move |(i, ms)| ms.iter().fold(seeds[i].clone(), apply));
    let random = if text {
        "[ -~\n\t]{0,200}".prop_map(String::into_bytes).boxed()
    } else {
        prop::collection::vec(any::<u8>(), 0..256).boxed()
    };
    prop_oneof![3 => mutated, 1 => random].boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_found_and_replaced() {
        let t = b"size = 10\nname = \"a1\"\nw = -2.5e3".to_vec();
        assert_eq!(numbers(&t).len(), 2);
        let out = apply(t, &Mutation::Number(1, 0));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "size = 10\nname = \"a1\"\nw = 0"
        );
    }

    #[test]
    fn mutations_stay_in_bounds_on_empty_and_short_inputs() {
        for m in [
            Mutation::Flip(5, 3),
            Mutation::SetU64(9, 9),
            Mutation::Delete(3, 9),
            Mutation::Splice(1, 2, 3),
            Mutation::Truncate(7),
            Mutation::Insert(4, vec![1]),
        ] {
            apply(Vec::new(), &m);
            apply(vec![1, 2], &m);
        }
    }
}
