//! Exact parsing of Kubernetes resource quantities (`500m`, `2`, `1.5Gi`, `1e3`, ...).
//!
//! The accepted text follows `ParseQuantity` in upstream
//! `staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go` and `suffix.go`:
//!
//! ```text
//! <quantity>        ::= <signedNumber><suffix>
//! <signedNumber>    ::= <number> | "+" <number> | "-" <number>
//! <number>          ::= <digits> | <digits> "." <digits> | <digits> "." | "." <digits>
//! <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
//! <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei                 (2^10 .. 2^60)
//! <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E     (10^-9 .. 10^18)
//! <decimalExponent> ::= ("e" | "E") ["+" | "-"] <digits>           (an integer)
//! ```
//!
//! Suffixes are case-sensitive: `k` is kilo and `K` is rejected, `m` is milli and `M` is mega. A lone `E` is
//! exa (10^18) while `E3` is an exponent. Whitespace is rejected anywhere (upstream trims only in
//! `UnmarshalJSON`, never in `ParseQuantity`). The exponent must lie in `-2147483647..=2147483647` (upstream
//! keeps it in an int32 scale).
//!
//! The value is kept exactly, as a sign, a `u128` significand and a power of ten (a binary suffix is
//! multiplied into the significand), so no floating point is involved anywhere.
//!
//! # Rounding
//! [`Quantity::value`] and [`Quantity::milli_value`] mirror upstream `Value()` and `MilliValue()`: the
//! magnitude is rounded *up*, away from zero, so `0.5m` is 1 milli-unit and `-1500m` has value -2. Upstream's
//! reasoning (comment in `ParseQuantity`) is that whoever asks for a tiny non-zero amount of a resource should
//! get some of it rather than none. For negative values upstream also rounds away from zero, not toward +inf
//! (test `TestNegativeValueRoundsAwayFromZero` in `quantity_test.go`, kubernetes/kubernetes PR #138510).
//!
//! # Deliberate differences from upstream
//! * A number without any digit (`Gi`, `.`, `-`, `m`) is an error. Upstream's scanner reads these as zero,
//!   although its documented grammar requires digits.
//! * A result that does not fit `i64` is an [`QuantityErrorKind::Overflow`] error. Upstream caps binary-suffix
//!   values at 2^63-1 when parsing (`8Ei` becomes 9223372036854775807) and lets `Value()` saturate or wrap.
//! * At most about 38 significant digits are supported (fewer with a binary suffix); upstream uses arbitrary
//!   precision. Leading and trailing zeros do not count.
//! * Upstream rounds a parsed value away from zero to a whole number of nano-units. Since the rounding in
//!   `value` and `milli_value` is coarser and in the same direction, that step cannot change their results and
//!   is not modelled.

use std::fmt;
use std::str::FromStr;

/// Largest exponent magnitude accepted after `e`/`E` (upstream: the int32 scale must survive negation).
const MAX_EXPONENT: i64 = 2_147_483_647;

/// The table suffixes as `(text, power of ten, power of two)`, in the order used by error messages
/// (upstream `suffix.go`: `newSuffixer` and `fastLookup`).
#[rustfmt::skip]
const SUFFIXES: [(&str, i64, u32); 15] = [
    ("n", -9, 0), ("u", -6, 0), ("m", -3, 0), ("k", 3, 0), ("M", 6, 0), ("G", 9, 0), ("T", 12, 0), ("P", 15, 0),
    ("E", 18, 0), ("Ki", 0, 10), ("Mi", 0, 20), ("Gi", 0, 30), ("Ti", 0, 40), ("Pi", 0, 50), ("Ei", 0, 60),
];

/// A parsed Kubernetes quantity, kept exactly together with the text it was parsed from.
///
/// Equality is structural and includes the original text: `1` and `1.0` are different values of this type.
/// Compare [`Quantity::milli_value`] for numeric equality.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Quantity {
    text: String,
    negative: bool,
    /// Significant digits, already multiplied by 2^n for a binary suffix.
    significand: u128,
    /// Power of ten applied to `significand`.
    exp10: i64,
}

/// What went wrong while parsing or converting a quantity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuantityErrorKind {
    /// The input is the empty string.
    Empty,
    /// The number has no digit (`Gi`, `.`, `-`, `abc`).
    NoDigits,
    /// A character that cannot appear there: whitespace, a second `.`, `_`, a second sign, non-ASCII.
    InvalidCharacter,
    /// Letters after the number that are not a known suffix (`Gb`, `K`, `KiB`).
    UnknownSuffix,
    /// An `e`/`E` exponent that is not an integer in range (`1e`, `1e+`, `1e3.5`, `1e4294967297`).
    BadExponent,
    /// More significant digits than fit the exact 128-bit representation.
    TooManyDigits,
    /// The requested conversion does not fit `i64`.
    Overflow,
}

/// An error from [`Quantity::parse`], [`Quantity::value`] or [`Quantity::milli_value`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct QuantityError {
    /// The category of the problem.
    pub kind: QuantityErrorKind,
    /// Byte offset into `input` where the problem starts, always on a char boundary and at most
    /// `input.len()`. For an incomplete exponent it is the offset of the `e`/`E`; for
    /// [`QuantityErrorKind::Overflow`] it is 0 (the whole quantity).
    pub offset: usize,
    /// The text that was being parsed.
    pub input: String,
    /// For `Overflow`: which conversion overflowed.
    conversion: &'static str,
}

impl QuantityError {
    fn new(kind: QuantityErrorKind, offset: usize, input: &str) -> Self {
        QuantityError { kind, offset, input: input.to_owned(), conversion: "" }
    }
}

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use QuantityErrorKind as K;
        let (input, at) = (&self.input, self.offset);
        let found = input.get(at..).unwrap_or("");
        if self.kind == K::Overflow {
            let what = self.conversion;
            let tail = "(rounded away from zero) does not fit in a signed 64-bit integer";
            return write!(f, "quantity {input:?} is out of range: its {what} {tail}");
        }
        write!(f, "invalid quantity {input:?}: ")?;
        let number = "a number like 1, 0.5 or .5 (e.g. 500m, 1.5Gi)";
        match (self.kind, found.chars().next()) {
            (K::Empty, _) => write!(f, "the value is empty; expected {number}"),
            (K::NoDigits, None) => write!(f, "no digits at offset {at}, found end of input; expected {number}"),
            (K::NoDigits, _) => write!(f, "no digits at offset {at}, found {found:?}; expected {number}"),
            (K::InvalidCharacter, Some(c)) if c.is_whitespace() => {
                write!(f, "unexpected whitespace at offset {at}; quantities may not contain spaces")
            }
            (K::InvalidCharacter, c) => {
                let c = c.map_or_else(|| "end of input".to_owned(), |c| format!("character {c:?}"));
                write!(f, "unexpected {c} at offset {at}; expected digits with at most one '.', then a suffix")
            }
            (K::UnknownSuffix, _) => {
                let names: Vec<&str> = SUFFIXES.iter().map(|t| t.0).collect();
                write!(f, "unknown suffix {found:?}; expected one of {} or an exponent like e3", names.join(", "))?;
                match names.iter().find(|s| s.eq_ignore_ascii_case(found)) {
                    Some(s) => write!(f, " (suffixes are case-sensitive: did you mean {s:?}?)"),
                    None => Ok(()),
                }
            }
            (K::BadExponent, _) => write!(
                f,
                "malformed exponent {found:?} at offset {at}; expected e or E and an integer in \
                 -{MAX_EXPONENT}..={MAX_EXPONENT}, like e3 or E-6"
            ),
            (K::TooManyDigits, _) => write!(
                f,
                "too many significant digits in the number at offset {at}; at most 38 fit (fewer with a binary suffix)"
            ),
            (K::Overflow, _) => Ok(()),
        }
    }
}

impl std::error::Error for QuantityError {}

/// Parses `[+-]?[0-9]+` into `-MAX_EXPONENT..=MAX_EXPONENT` (leading zeros allowed, like Go's `ParseInt`).
fn parse_exponent(b: &[u8]) -> Option<i64> {
    let (negative, digits) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, b),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
        if v > MAX_EXPONENT {
            return None;
        }
    }
    Some(if negative { -v } else { v })
}

/// `sig * 10^(zeros + 1) + digit`, or `None` when it does not fit.
fn push_digit(sig: u128, zeros: u64, digit: u128) -> Option<u128> {
    let mut v = sig;
    for _ in 0..=zeros {
        v = v.checked_mul(10)?; // sig != 0 whenever zeros > 0, so this fails within 39 rounds
    }
    v.checked_add(digit)
}

impl Quantity {
    /// Parses a quantity such as `500m`, `2`, `1.5Gi`, `+1e3` or `-.5`. See the module docs for the grammar.
    ///
    /// # Errors
    /// Any text outside the grammar; the error's `offset` points at the offending byte.
    pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
        use QuantityErrorKind as K;
        let fail = |kind, offset| Err(QuantityError::new(kind, offset, s));
        let bytes = s.as_bytes();
        let negative = match bytes.first() {
            None => return fail(K::Empty, 0),
            Some(b'-') => true,
            _ => false,
        };
        let num_start = usize::from(matches!(bytes.first(), Some(b'-' | b'+')));

        // Significant digits go into `significand`; zeros after the last non-zero digit wait in `zeros`
        // so that trailing zeros never count against the 128-bit budget.
        let (mut significand, mut zeros, mut frac_len, mut digits) = (0u128, 0u64, 0u64, 0u64);
        let mut seen_point = false;
        let mut pos = num_start;
        while let Some(&b) = bytes.get(pos) {
            match b {
                b'0'..=b'9' => {
                    digits = digits.saturating_add(1);
                    if seen_point {
                        frac_len = frac_len.saturating_add(1);
                    }
                    if b == b'0' {
                        if significand != 0 {
                            zeros = zeros.saturating_add(1);
                        }
                    } else {
                        match push_digit(significand, zeros, u128::from(b - b'0')) {
                            Some(v) => (significand, zeros) = (v, 0),
                            None => return fail(K::TooManyDigits, num_start),
                        }
                    }
                }
                b'.' if !seen_point => seen_point = true,
                _ => break,
            }
            pos += 1;
        }
        if digits == 0 {
            // Upstream reads "Gi", "." or "-" as zero; the documented grammar (and we) require a digit.
            return match bytes.get(num_start) {
                None | Some(b'.') => fail(K::NoDigits, num_start),
                Some(c) if c.is_ascii_alphabetic() => fail(K::NoDigits, num_start),
                Some(_) => fail(K::InvalidCharacter, num_start),
            };
        }

        // `pos` stops before an ASCII byte or the first byte of a multi-byte char, so this never splits a char.
        let rest = s.get(pos..).unwrap_or("");
        let rb = rest.as_bytes();
        let (suffix_exp10, exp2) = if rest.is_empty() {
            (0, 0)
        } else if let Some(&(_, e10, e2)) = SUFFIXES.iter().find(|t| t.0 == rest) {
            (e10, e2)
        } else if matches!(rb.first(), Some(b'e' | b'E'))
            && (rb.len() == 1 || matches!(rb.get(1), Some(b'0'..=b'9' | b'+' | b'-')))
        {
            // suffix.go `interpret`: anything else starting with e/E must be an integer exponent.
            match parse_exponent(rb.get(1..).unwrap_or(&[])) {
                Some(e) => (e, 0),
                None => return fail(K::BadExponent, pos),
            }
        } else if let Some(i) = rb.iter().position(|b| !b.is_ascii_alphanumeric()) {
            return fail(K::InvalidCharacter, pos + i);
        } else {
            return fail(K::UnknownSuffix, pos);
        };

        let Some(significand) = significand.checked_mul(1u128 << exp2) else {
            return fail(K::TooManyDigits, num_start);
        };
        let exp10 = i64::try_from(zeros)
            .ok()
            .zip(i64::try_from(frac_len).ok())
            .and_then(|(z, f)| suffix_exp10.checked_add(z)?.checked_sub(f));
        let Some(exp10) = exp10 else {
            return fail(K::TooManyDigits, num_start);
        };
        Ok(Quantity { text: s.to_owned(), negative: negative && significand != 0, significand, exp10 })
    }

    /// The value in whole units, rounded away from zero (upstream `Value()`): `500m` is 1, `-1500m` is -2.
    ///
    /// # Errors
    /// [`QuantityErrorKind::Overflow`] when the rounded value does not fit `i64` (e.g. `8Ei`).
    pub fn value(&self) -> Result<i64, QuantityError> {
        self.scaled(0, "value")
    }

    /// The value in thousandths, rounded away from zero (upstream `MilliValue()`): `0.5m` is 1, `1.5` is 1500.
    ///
    /// # Errors
    /// [`QuantityErrorKind::Overflow`] when the rounded milli-value does not fit `i64` (e.g. `1E`).
    pub fn milli_value(&self) -> Result<i64, QuantityError> {
        self.scaled(3, "milli-value")
    }

    /// True when the quantity is below zero (`-0` is not negative).
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// True when the quantity is exactly zero (`0`, `0m`, `-0.0Gi`).
    pub fn is_zero(&self) -> bool {
        self.significand == 0
    }

    /// The text the quantity was parsed from.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `value * 10^scale`, magnitude rounded up, as `i64`.
    fn scaled(&self, scale: i64, conversion: &'static str) -> Result<i64, QuantityError> {
        let overflow =
            || QuantityError { conversion, ..QuantityError::new(QuantityErrorKind::Overflow, 0, &self.text) };
        if self.significand == 0 {
            return Ok(0);
        }
        let e = self.exp10.checked_add(scale).ok_or_else(overflow)?;
        let pow10 = |n: u64| u32::try_from(n).ok().and_then(|n| 10u128.checked_pow(n));
        let magnitude = if e >= 0 {
            pow10(e.unsigned_abs()).and_then(|p| self.significand.checked_mul(p)).ok_or_else(overflow)?
        } else {
            match pow10(e.unsigned_abs()) {
                // 10^-e exceeds u128::MAX >= significand, so 0 < |value| < 1, which rounds up to 1.
                None => 1,
                Some(p) => self.significand / p + u128::from(!self.significand.is_multiple_of(p)),
            }
        };
        let magnitude = i128::try_from(magnitude).map_err(|_| overflow())?;
        i64::try_from(if self.negative { -magnitude } else { magnitude }).map_err(|_| overflow())
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

/// Prints the original text.
impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::QuantityErrorKind as K;
    use super::*;

    const OVF: Option<i64> = None;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    /// `(input, milli_value, value)`; `None` means an overflow error.
    #[rustfmt::skip]
    const VALUES: &[(&str, Option<i64>, Option<i64>)] = &[
        ("500m", Some(500), Some(1)), ("2", Some(2000), Some(2)), ("1.5", Some(1500), Some(2)),
        ("1Gi", Some(1_073_741_824_000), Some(1_073_741_824)), ("1G", Some(1_000_000_000_000), Some(1_000_000_000)),
        ("128974848", Some(128_974_848_000), Some(128_974_848)), ("1e3", Some(1_000_000), Some(1000)),
        ("0.5m", Some(1), Some(1)), ("100Mi", Some(104_857_600_000), Some(104_857_600)),
        ("1Ki", Some(1_024_000), Some(1024)), ("1.5Gi", Some(1_610_612_736_000), Some(1_610_612_736)),
        ("2Ti", Some(2_199_023_255_552_000), Some(2_199_023_255_552)), ("1E3", Some(1_000_000), Some(1000)),
        ("1e-3", Some(1), Some(1)), ("1E-3", Some(1), Some(1)), ("1.3E+6", Some(1_300_000_000), Some(1_300_000)),
        ("1e03", Some(1_000_000), Some(1000)), ("+1", Some(1000), Some(1)), (".5", Some(500), Some(1)),
        ("5.", Some(5000), Some(5)), ("1.G", Some(1_000_000_000_000), Some(1_000_000_000)),
        ("0", Some(0), Some(0)), ("0m", Some(0), Some(0)), ("-0", Some(0), Some(0)), ("000001", Some(1000), Some(1)),
        ("-1", Some(-1000), Some(-1)), ("-1500m", Some(-1500), Some(-2)), ("-0.0005", Some(-1), Some(-1)),
        ("1n", Some(1), Some(1)), ("3.001n", Some(1), Some(1)), ("1u", Some(1), Some(1)),
        ("1k", Some(1_000_000), Some(1000)), ("100.035k", Some(100_035_000), Some(100_035)),
        ("1M", Some(1_000_000_000), Some(1_000_000)), ("1T", Some(1_000_000_000_000_000), Some(1_000_000_000_000)),
        ("1P", Some(1_000_000_000_000_000_000), Some(1_000_000_000_000_000)),
        ("1E", OVF, Some(1_000_000_000_000_000_000)), ("12E", OVF, OVF), ("8Ei", OVF, OVF),
        ("-8Ei", OVF, Some(i64::MIN)), ("7Ei", OVF, Some(7 << 60)), ("9223372036854775807", OVF, Some(i64::MAX)),
        ("9223372036854775808", OVF, OVF), ("0.000000000001Ki", Some(1), Some(1)),
        // From upstream TestNegativeValueRoundsAwayFromZero (quantity_test.go).
        ("9.5000000001Gi", Some(10_200_547_328_108), Some(10_200_547_329)),
        ("-9.5000000001Gi", Some(-10_200_547_328_108), Some(-10_200_547_329)),
        (".484785E-1", Some(49), Some(1)), ("-.484785E-7466", Some(-1), Some(-1)),
        ("1e-2147483647", Some(1), Some(1)), ("1e2147483647", OVF, OVF),
        // Leading and trailing zeros are not significant digits (1e45 * 1e-40 and 1e-53).
        ("1000000000000000000000000000000000000000000000e-40", Some(100_000_000), Some(100_000)),
        ("0.00000000000000000000000000000000000000000000000000001", Some(1), Some(1)),
    ];

    /// `(input, error kind, offset)`.
    #[rustfmt::skip]
    const INVALID: &[(&str, K, usize)] = &[
        ("", K::Empty, 0), (" ", K::InvalidCharacter, 0), ("abc", K::NoDigits, 0), ("1.2.3", K::InvalidCharacter, 3),
        ("1Gb", K::UnknownSuffix, 1), ("1 Gi", K::InvalidCharacter, 1), (" 1", K::InvalidCharacter, 0),
        ("1 ", K::InvalidCharacter, 1), ("--1", K::InvalidCharacter, 1), ("1e", K::BadExponent, 1),
        ("1e+", K::BadExponent, 1), ("1e3.5", K::BadExponent, 1), ("1e4294967297", K::BadExponent, 1),
        ("1e-2147483648", K::BadExponent, 1), ("Gi", K::NoDigits, 0), ("0x10", K::UnknownSuffix, 1),
        ("1KiB", K::UnknownSuffix, 1), ("1k8", K::UnknownSuffix, 1), ("1K", K::UnknownSuffix, 1),
        ("1.5.Gi", K::InvalidCharacter, 3), ("NaN", K::NoDigits, 0), ("inf", K::NoDigits, 0),
        ("1_000", K::InvalidCharacter, 1), ("-", K::NoDigits, 1), ("+.", K::NoDigits, 1), (".", K::NoDigits, 0),
        ("-Mi", K::NoDigits, 1), ("1µ", K::InvalidCharacter, 1), ("１", K::InvalidCharacter, 0),
        // The invalid list of upstream TestQuantityParse (quantity_test.go).
        ("1.1.M", K::InvalidCharacter, 3), ("1+1.0M", K::InvalidCharacter, 1), ("0.1mi", K::UnknownSuffix, 3),
        ("0.1am", K::UnknownSuffix, 3), ("aoeu", K::NoDigits, 0), (".5i", K::UnknownSuffix, 2),
        ("1i", K::UnknownSuffix, 1), ("-3.01i", K::UnknownSuffix, 5), ("-3.01e-", K::BadExponent, 5),
        ("123456789012345678901234567890123456789012", K::TooManyDigits, 0),
        ("-1234567890123456789012Ei", K::TooManyDigits, 1),
    ];

    #[test]
    fn milli_value_and_value() {
        for &(input, milli, value) in VALUES {
            let parsed = q(input);
            assert_eq!(parsed.milli_value().ok(), milli, "milli_value of {input:?}");
            assert_eq!(parsed.value().ok(), value, "value of {input:?}");
            assert_eq!(parsed.to_string(), input);
            if milli.is_none() {
                assert_eq!(parsed.milli_value().map_err(|e| (e.kind, e.offset)), Err((K::Overflow, 0)));
            }
        }
    }

    #[test]
    fn sign_and_zero() {
        assert!(q("-1").is_negative() && !q("-1").is_zero());
        assert!(!q("-0").is_negative() && q("-0.0Gi").is_zero());
        assert!(q("0m").is_zero() && !q("1n").is_zero() && !q("+1").is_negative());
        assert_eq!("250m".parse::<Quantity>().map(|q| q.milli_value().ok()), Ok(Some(250)));
    }

    #[test]
    fn rejects_junk_at_the_right_offset() {
        for &(input, kind, offset) in INVALID {
            let err = Quantity::parse(input).expect_err(input);
            assert_eq!((err.kind, err.offset), (kind, offset), "{input:?}: {err}");
            assert_eq!(err.input, input);
        }
    }

    #[test]
    fn messages() {
        let msg = |s: &str| Quantity::parse(s).expect_err(s).to_string();
        let expected = r#"invalid quantity "1Gb": unknown suffix "Gb"; expected one of n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an exponent like e3"#;
        assert_eq!(msg("1Gb"), expected);
        assert!(msg("1K").ends_with(r#"(suffixes are case-sensitive: did you mean "k"?)"#));
        assert!(msg("1 Gi").contains("whitespace at offset 1"));
        assert!(msg("1e+").contains(r#"malformed exponent "e+" at offset 1"#));
        assert!(msg("Gi").contains(r#"no digits at offset 0, found "Gi"; expected a number like 1"#));
        assert!(msg("").contains("empty"));
        let overflow = q("8Ei").value().expect_err("overflow").to_string();
        let expected = r#"quantity "8Ei" is out of range: its value (rounded away from zero) does not fit in a signed 64-bit integer"#;
        assert_eq!(overflow, expected);
    }

    /// Feeds random strings through every entry point; any panic fails the test.
    #[test]
    fn fuzz_never_panics() {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = b"0123456789000..+-eEeinumkKMGTPib _x\xc2\xb5\xff";
        let mut parsed_ok = 0;
        for round in 0..60_000u32 {
            let len = (next() % 24) as usize;
            let pick = |r: u64| if round % 3 == 0 { r as u8 } else { alphabet[(r % alphabet.len() as u64) as usize] };
            let bytes: Vec<u8> = (0..len).map(|_| pick(next())).collect();
            let input = String::from_utf8_lossy(&bytes);
            match Quantity::parse(&input) {
                Ok(parsed) => {
                    parsed_ok += 1;
                    assert_eq!(parsed.to_string(), input);
                    if let (Ok(v), Ok(m)) = (parsed.value(), parsed.milli_value()) {
                        // Rounding twice away from zero equals rounding once.
                        let r = m % 1000;
                        assert_eq!(v, m / 1000 + i64::from(r > 0) - i64::from(r < 0), "{input:?}");
                    }
                }
                Err(e) => {
                    assert!(e.offset <= input.len() && input.is_char_boundary(e.offset), "{input:?}");
                    assert!(!e.to_string().is_empty());
                }
            }
        }
        assert!(parsed_ok > 1000, "the generator should also produce valid quantities ({parsed_ok})");
    }
}
