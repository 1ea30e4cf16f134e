//! The command line's own vocabulary: the enums clap parses (`--dtype`, `--color`, `--theme`)
//! and maps to the engine's types, the value parsers (sizes, counts that must not be negative,
//! tolerances, seeds), and [`flag`], the flag that sets each configuration key, with which
//! errors are worded.

use std::fmt;

use clap::ValueEnum;

use crate::config::ConfigKey;
use crate::memory::{self, Dtype};
use crate::render::color::ColorChoice;
use crate::render::palette::ThemeChoice;

/// The flag that sets a configuration key: how the command line names it in messages.
pub fn flag(key: ConfigKey) -> &'static str {
    match key {
        ConfigKey::Preset => "--preset",
        ConfigKey::HiddenSize => "--hidden-size",
        ConfigKey::NumAttentionHeads => "--num-heads",
        ConfigKey::NumKeyValueHeads => "--num-kv-heads",
        ConfigKey::HeadDim => "--head-dim",
        ConfigKey::Batch => "--batch",
        ConfigKey::Steps => "--steps",
        ConfigKey::SeqLen => "--seq-len",
        ConfigKey::Decode => "--decode",
        ConfigKey::AttentionMask => "--attention-mask",
        ConfigKey::QkNorm => "--qk-norm",
        ConfigKey::RmsNormEps => "--rms-norm-eps",
        ConfigKey::RopeTheta => "--rope-theta",
        ConfigKey::Causal => "--no-causal",
        ConfigKey::Seed => "--seed",
        ConfigKey::Tokens => "--tokens",
    }
}

/// `--dtype`: the command line's names for [`Dtype`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DtypeArg {
    #[value(alias = "float32", alias = "fp32")]
    F32,
    #[value(alias = "bfloat16")]
    Bf16,
    #[value(alias = "float16", alias = "fp16")]
    F16,
    #[value(alias = "float8")]
    Fp8,
    #[value(alias = "i8")]
    Int8,
}

impl From<DtypeArg> for Dtype {
    fn from(d: DtypeArg) -> Dtype {
        match d {
            DtypeArg::F32 => Dtype::F32,
            DtypeArg::Bf16 => Dtype::Bf16,
            DtypeArg::F16 => Dtype::F16,
            DtypeArg::Fp8 => Dtype::Fp8,
            DtypeArg::Int8 => Dtype::Int8,
        }
    }
}

/// `--color`: the command line's names for [`ColorChoice`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    /// Colour when stdout is a terminal, NO_COLOR is unset or empty and TERM is not `dumb`
    /// (CLICOLOR_FORCE or FORCE_COLOR force it on).
    Auto,
    /// Always emit ANSI colour.
    Always,
    /// Never emit ANSI colour.
    Never,
}

impl From<ColorArg> for ColorChoice {
    fn from(c: ColorArg) -> ColorChoice {
        match c {
            ColorArg::Auto => ColorChoice::Auto,
            ColorArg::Always => ColorChoice::Always,
            ColorArg::Never => ColorChoice::Never,
        }
    }
}

/// `--theme`: the command line's names for [`ThemeChoice`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ThemeArg {
    /// Read the background from COLORFGBG; dark when it says nothing.
    Auto,
    /// Colours for a dark background.
    Dark,
    /// Colours for a light background.
    Light,
}

impl From<ThemeArg> for ThemeChoice {
    fn from(t: ThemeArg) -> ThemeChoice {
        match t {
            ThemeArg::Auto => ThemeChoice::Auto,
            ThemeArg::Dark => ThemeChoice::Dark,
            ThemeArg::Light => ThemeChoice::Light,
        }
    }
}

/// A byte count given on the command line (`--max-memory`), shown in binary units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&memory::human_bytes(u128::from(self.0)).replace(' ', ""))
    }
}

/// Parses a size with the `parse-size` crate: `4096`, `512MiB`, `1.5GB`, `1PiB`, `1e9`.
pub(super) fn byte_size(text: &str) -> Result<ByteSize, String> {
    let text = text.trim();
    parse_size::parse_size(significant_digits(text))
        .map(ByteSize)
        .map_err(|e| match e {
            parse_size::Error::PosOverflow => {
                "too large: the largest size is 16EiB (2^64 bytes)".to_owned()
            }
            _ if text.trim_start().starts_with('-') => "a size cannot be negative".to_owned(),
            _ => concat!(
                "not a size: write a number with an optional unit, e.g. 512MiB, 2GiB, 1.5GB, ",
                "1PiB or 1000000000 (units: B, KiB, MiB, GiB, TiB, PiB, EiB, or KB, MB, … for ",
                "powers of 1000)"
            )
            .to_owned(),
        })
}

/// `text` with every digit of its number after the 20th significant one read as 0 (no byte
/// count has more). parse-size 1.1 reads integer and fraction digits into one u64 and, at the
/// first digit that no longer fits, rounds by adding one, unchecked: after exactly 2^64 - 1
/// (`184467440737095516159`, `1844674407370955161.55`) that overflows, a panic with overflow
/// checks and a size of 0 without. A 0 never rounds up.
fn significant_digits(text: &str) -> String {
    let mut significant = 0;
    // The number runs until the exponent or the unit; parse-size skips `_` and spaces in it.
    let mut in_number = true;
    text.chars()
        .map(|c| {
            in_number &= c.is_ascii_digit() || matches!(c, '.' | '_' | ' ');
            if in_number && c.is_ascii_digit() {
                if c != '0' || significant > 0 {
                    significant += 1;
                }
                if significant > 20 {
                    return '0';
                }
            }
            c
        })
        .collect()
}

/// A count that must be positive (a size or a step): negative numbers get a message saying so
/// instead of clap's "unexpected argument". Zero passes, so the configuration check can say
/// which MiniMind line it breaks.
pub(super) fn positive(text: &str) -> Result<usize, String> {
    whole(text, "must be positive (a whole number such as 4)")
}

/// An index or count where 0 makes sense (`--head 0`, `--decode 0`).
pub(super) fn index(text: &str) -> Result<usize, String> {
    whole(text, "must not be negative (a whole number, 0 or more)")
}

/// How many rows or columns a table shows before eliding its middle: 2 or more, since an
/// elided table keeps its first and last.
pub(super) fn table_extent(text: &str) -> Result<usize, String> {
    let n = whole(text, "must be a whole number, 2 or more")?;
    if n < 2 {
        return Err(format!(
            "{n} is too few: a table shows at least its first and last row or column; give 2 or \
             more"
        ));
    }
    Ok(n)
}

/// A tolerance: a number, 0 or more.
pub(super) fn tolerance(text: &str) -> Result<f32, String> {
    match text.trim().parse::<f32>() {
        Ok(t) if t >= 0.0 && t.is_finite() => Ok(t),
        _ => Err(format!(
            "'{}' is not a tolerance: give a number of 0 or more, such as 1e-5",
            text.trim()
        )),
    }
}

pub(super) fn seed(text: &str) -> Result<u64, String> {
    if text.trim_start().starts_with('-') {
        return Err("must not be negative (a whole number from 0 to 2^64 - 1)".to_owned());
    }
    text.trim()
        .parse()
        .map_err(|_| "not a whole number from 0 to 2^64 - 1".to_owned())
}

fn whole(text: &str, sign_rule: &str) -> Result<usize, String> {
    let t = text.trim();
    if t.starts_with('-') && t.len() > 1 {
        return Err(format!("{t} is negative: the value {sign_rule}"));
    }
    t.parse::<usize>().map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow => {
            format!("{t} is too large (the most is {})", usize::MAX)
        }
        _ => format!("'{t}' is not a whole number; the value {sign_rule}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_extents_start_at_two() {
        assert_eq!(table_extent("2"), Ok(2));
        assert_eq!(table_extent(" 40 "), Ok(40));
        assert!(table_extent("1").unwrap_err().contains("2 or more"));
        assert!(table_extent("0").unwrap_err().contains("2 or more"));
        assert!(table_extent("-3").unwrap_err().contains("negative"));
    }

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(byte_size("2GiB"), Ok(ByteSize(2 << 30)));
        assert_eq!(byte_size("1PiB"), Ok(ByteSize(1 << 50)));
        assert_eq!(byte_size("1e9"), Ok(ByteSize(1_000_000_000)));
        assert_eq!(byte_size("1.5GB"), Ok(ByteSize(1_500_000_000)));
        assert!(
            byte_size("2 lightyears")
                .unwrap_err()
                .contains("not a size")
        );
        assert!(byte_size("-1GiB").unwrap_err().contains("negative"));
        assert!(byte_size("100EiB").unwrap_err().contains("too large"));
        // Found by the fuzzer: parse-size adds one, unchecked, when it rounds after 2^64 - 1.
        for huge in [
            "184467440737095516159",
            "99999999999999999999",
            "00000000000000000000000000184467440737095516159",
        ] {
            assert!(byte_size(huge).unwrap_err().contains("too large"), "{huge}");
        }
        // The largest size, and fractions of a byte past it (read down, not rounded up).
        for largest in [
            "18446744073709551615",
            "18446744073709551615.9",
            "1844674407370955161.55e1",
        ] {
            assert_eq!(byte_size(largest), Ok(ByteSize(u64::MAX)), "{largest}");
        }
        assert_eq!(
            byte_size("1844674407370955161.5"),
            Ok(ByteSize(1_844_674_407_370_955_162))
        );
        assert_eq!(
            byte_size("0.00000000000000000000000000000000000000000001KiB"),
            Ok(ByteSize(0))
        );
        // The default is printed in a form the parser reads back.
        let default = ByteSize(memory::DEFAULT_MAX_MEMORY);
        assert_eq!(default.to_string(), "2GiB");
        assert_eq!(byte_size(&default.to_string()), Ok(default));
    }

    #[test]
    fn negative_counts_say_so() {
        assert!(positive("-1").unwrap_err().contains("must be positive"));
        assert!(index("-3").unwrap_err().contains("must not be negative"));
        assert_eq!(positive("0"), Ok(0));
        assert!(positive("x").unwrap_err().contains("not a whole number"));
    }
}

/// `export --format`: the command line's names for [`crate::export::Format`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// attnstep-trace/1 JSON.
    Json,
    /// numpy's .npz: a zip of float32 .npy arrays.
    Npz,
    /// safetensors: float32 tensors, the config in the header's metadata.
    Safetensors,
}

impl From<FormatArg> for crate::export::Format {
    fn from(f: FormatArg) -> crate::export::Format {
        match f {
            FormatArg::Json => crate::export::Format::Json,
            FormatArg::Npz => crate::export::Format::Npz,
            FormatArg::Safetensors => crate::export::Format::Safetensors,
        }
    }
}
