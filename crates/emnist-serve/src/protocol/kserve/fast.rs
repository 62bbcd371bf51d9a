//! A one-pass reader for the common KServe v2 JSON request: FP32 inputs whose `data` is a flat
//! list of numbers (what tritonclient, perf_analyzer and most scripts send). The numbers are read
//! straight into `f32`s, without serde_json's `f64` of each and the `Vec<f64>` between: a
//! 128-image request is 100,352 numbers, and reading them was half of the request's CPU.
//!
//! Everything else of the request (ids, names, shapes, parameters, outputs, unknown keys) is read
//! by serde_json itself, one value at a time, so it means what it means on the reference path.
//! Whenever the reader meets anything it does not handle (another datatype, nested or string
//! data, an escaped key, a duplicate key, malformed JSON) it gives up with `None`, and the caller
//! parses the whole body with serde_json: the reference, whose errors users see. The answer is the
//! same either way: each number is the `f32` of serde_json's correctly rounded `f64` (checked
//! against serde_json in the tests, edge cases and random numbers alike).

use serde::de::{DeserializeOwned, IgnoredAny};

use super::{InferRequest, RequestInput, RequestOutput};
use serde_json::{Map, Value};

/// The request, or `None`: parse it with serde_json.
pub fn parse(json: &[u8]) -> Option<InferRequest> {
    let mut r = Reader { b: json, i: 0 };
    r.ws();
    r.byte(b'{')?;
    let (mut id, mut parameters, mut inputs, mut outputs) = (None, None, None, None);
    r.members(|r, key| match key {
        b"id" => set(&mut id, r.serde::<Option<String>>()?),
        b"parameters" => set(&mut parameters, r.serde::<Option<Map<String, Value>>>()?),
        b"outputs" => set(&mut outputs, r.serde::<Option<Vec<RequestOutput>>>()?),
        b"inputs" => set(&mut inputs, r.inputs()?),
        _ => r.serde::<IgnoredAny>().map(drop),
    })?;
    if !r.at_end() {
        return None;
    }
    Some(InferRequest {
        id: id.flatten(),
        parameters: parameters.flatten(),
        inputs: inputs?,
        outputs: outputs.flatten(),
    })
}

/// Sets a field once: a second time is a duplicate key, which serde_json refuses.
pub(crate) fn set<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

/// A JSON reader over a body: the pieces this module's parser is made of, shared with the
/// TF Serving request reader (`protocol::tfserving`). Every method gives `None` where the JSON is
/// not what it reads, and the caller falls back to serde_json.
pub(crate) struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `b`.
    pub(crate) fn new(b: &'a [u8]) -> Reader<'a> {
        Reader { b, i: 0 }
    }

    /// Whether only whitespace is left.
    pub(crate) fn at_end(&mut self) -> bool {
        self.ws();
        self.i == self.b.len()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    pub(crate) fn byte(&mut self, want: u8) -> Option<()> {
        (self.peek()? == want).then(|| self.i += 1)
    }

    /// The members of an object whose `{` was read, each value read by `f`; the `}` is read.
    pub(crate) fn members(&mut self, mut f: impl FnMut(&mut Self, &[u8]) -> Option<()>) -> Option<()> {
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            let key = self.key()?;
            self.byte(b':')?;
            f(self, key)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A key without escapes (an escaped key may spell a field's name: serde_json's business).
    pub(crate) fn key(&mut self) -> Option<&'a [u8]> {
        self.byte(b'"')?;
        let b: &'a [u8] = self.b;
        let start = self.i;
        let len = b[start..].iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        if b[start + len] != b'"' {
            return None;
        }
        self.i = start + len + 1;
        Some(&b[start..start + len])
    }

    /// One value read by serde_json from here.
    pub(crate) fn serde<T: DeserializeOwned>(&mut self) -> Option<T> {
        self.ws();
        let mut values = serde_json::Deserializer::from_slice(&self.b[self.i..]).into_iter::<T>();
        let value = values.next()?.ok()?;
        self.i += values.byte_offset();
        Some(value)
    }

    fn inputs(&mut self) -> Option<Vec<RequestInput>> {
        self.byte(b'[')?;
        let mut inputs = Vec::new();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(inputs);
        }
        loop {
            inputs.push(self.input()?);
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(inputs);
                }
                _ => return None,
            }
        }
    }

    fn input(&mut self) -> Option<RequestInput> {
        self.byte(b'{')?;
        let (mut name, mut shape, mut datatype, mut parameters, mut data) = (None, None, None, None, None);
        self.members(|r, key| match key {
            b"name" => set(&mut name, r.serde::<String>()?),
            b"shape" => set(&mut shape, r.serde::<Vec<i64>>()?),
            b"datatype" => {
                let d = r.serde::<String>()?;
                (d == "FP32").then_some(())?;
                set(&mut datatype, d)
            }
            b"parameters" => set(&mut parameters, r.serde::<Option<Map<String, Value>>>()?),
            b"data" => set(&mut data, r.floats()?),
            _ => r.serde::<IgnoredAny>().map(drop),
        })?;
        Some(RequestInput {
            name: name?,
            shape: shape?,
            datatype: datatype?,
            parameters: parameters.flatten(),
            data: None,
            fp32: data.flatten(),
        })
    }

    /// `null`, or a flat list of numbers as `f32`s.
    fn floats(&mut self) -> Option<Option<Vec<f32>>> {
        if self.peek()? == b'n' {
            return self.serde::<Option<IgnoredAny>>().filter(Option::is_none).map(|_| None);
        }
        self.byte(b'[')?;
        // A guess: pixels written as "0.0, " or longer.
        let mut values = Vec::with_capacity((self.b.len() - self.i) / 8);
        if self.peek()? == b']' {
            self.i += 1;
            return Some(Some(values));
        }
        loop {
            self.ws();
            let (v, used) = number(&self.b[self.i..])?;
            values.push(v);
            self.i += used;
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(Some(values));
                }
                _ => return None,
            }
        }
    }
}

impl Reader<'_> {
    /// A rectangular nested list of numbers, at most `max_depth` lists deep: its shape (the
    /// length at each depth) and its numbers in row-major order, each as [`number`] reads it.
    /// `None` for anything else (an empty or ragged list, a string, an object, deeper nesting):
    /// serde_json's reading then says what is wrong.
    pub(crate) fn nested_floats(&mut self, max_depth: usize) -> Option<(Vec<i64>, Vec<f32>)> {
        let mut st =
            Nested { lengths: Vec::new(), leaf_depth: None, values: Vec::with_capacity((self.b.len() - self.i) / 8) };
        self.nested_list(0, max_depth, &mut st)?;
        let shape: Vec<i64> = st.lengths.iter().map(|l| l.map(|n| n as i64)).collect::<Option<_>>()?;
        let count = shape.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n as usize))?;
        (count == st.values.len()).then_some((shape, st.values))
    }

    fn nested_list(&mut self, depth: usize, max_depth: usize, st: &mut Nested) -> Option<()> {
        self.byte(b'[')?;
        if depth >= max_depth || st.leaf_depth.is_some_and(|d| d <= depth) {
            return None;
        }
        let mut n = 0usize;
        loop {
            if self.peek()? == b'[' {
                self.nested_list(depth + 1, max_depth, st)?;
            } else {
                if *st.leaf_depth.get_or_insert(depth + 1) != depth + 1 {
                    return None;
                }
                let (v, used) = number(&self.b[self.i..])?;
                st.values.push(v);
                self.i += used;
            }
            n += 1;
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    break;
                }
                _ => return None,
            }
        }
        if st.lengths.len() <= depth {
            st.lengths.resize(depth + 1, None);
        }
        (*st.lengths[depth].get_or_insert(n) == n).then_some(())
    }
}

/// What [`Reader::nested_floats`] has read so far.
struct Nested {
    lengths: Vec<Option<usize>>,
    leaf_depth: Option<usize>,
    values: Vec<f32>,
}

/// Exact powers of ten as `f64` (up to 10^22 every one is).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// The JSON number at the start of `b` as serde_json reads it (integers as `u64`/`i64`, others
/// as the correctly rounded `f64`), then as `f32`; and the bytes it took. `None` where `b` does
/// not start with a JSON number, or serde_json would refuse it (beyond `f64`).
pub fn number(b: &[u8]) -> Option<(f32, usize)> {
    // The commonest numbers of an image, background and full ink, as Python writes them.
    if let [c @ (b'0' | b'1'), b'.', b'0', next, ..] = *b {
        if !(next.is_ascii_digit() || next == b'e' || next == b'E') {
            return Some((f32::from(c - b'0'), 3));
        }
    }
    let negative = b.first() == Some(&b'-');
    let mut i = usize::from(negative);
    // The digits, integer and fraction together: up to 19 of them make the u64 `mantissa`
    // exactly; more go to the exact reader. JSON has no leading zeros: a first 0 is the
    // integer part.
    let mut digits = Digits::default();
    match b.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => i = digits.read(b, i),
        _ => return None,
    }
    let mut exp10: i64 = 0;
    let mut integer = true;
    if b.get(i) == Some(&b'.') {
        integer = false;
        let end = digits.read(b, i + 1);
        if end == i + 1 {
            return None;
        }
        exp10 = -((end - i - 1) as i64);
        i = end;
    }
    let Digits { value: mantissa, count: digits } = digits;
    if let Some(b'e' | b'E') = b.get(i) {
        integer = false;
        i += 1;
        let minus = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        let mut e: i64 = 0;
        while let Some(&c @ b'0'..=b'9') = b.get(i) {
            e = (e * 10 + i64::from(c - b'0')).min(1 << 40);
            i += 1;
        }
        if i == start {
            return None;
        }
        exp10 += if minus { -e } else { e };
    }
    // The correctly rounded f64, as serde_json (float_roundtrip) has it; serde_json refuses what
    // overflows it.
    let exact = |b: &[u8]| -> Option<(f32, usize)> {
        let v = std::str::from_utf8(b).ok()?.parse::<f64>().ok()?;
        v.is_finite().then_some((v as f32, b.len()))
    };
    let token = &b[..i];
    if digits > 19 {
        return exact(token);
    }
    if integer {
        // serde_json: u64, else i64; "-0" is the f64 -0.0.
        let v = if !negative {
            mantissa as f64
        } else if mantissa == 0 {
            -0.0
        } else if mantissa <= 1 << 63 {
            (mantissa as i64).wrapping_neg() as f64
        } else {
            -(mantissa as f64)
        };
        return Some((v as f32, i));
    }
    if mantissa == 0 {
        return Some((if negative { -0.0 } else { 0.0 }, i));
    }
    let sign = |v: f32| if negative { -v } else { v };
    // Three roundings (the mantissa, the inexact power of ten, the product) put the product within
    // 1.5 ulps of the true value, and serde_json's f64 is within half an ulp of it. Where that
    // cannot put the two on different sides of a halfway point between two f32s, they round to
    // the same f32. (A multiplication: the division Clinger's exact path needs costs more.)
    if (-22..0).contains(&exp10) {
        // Below 2^63 as an i64: one instruction, where a u64 takes several on x86-64.
        let m = if mantissa < 1 << 63 { mantissa as i64 as f64 } else { mantissa as f64 };
        if let Some(f) = sure_f32(m * NEG_POW10[(-exp10) as usize]) {
            return Some((sign(f), i));
        }
    }
    // Clinger's fast path: both exact, one correctly rounded operation: serde_json's f64.
    if mantissa < 1 << 53 && (-22..=22).contains(&exp10) {
        let m = mantissa as f64;
        let v = if exp10 < 0 { m / POW10[(-exp10) as usize] } else { m * POW10[exp10 as usize] };
        return Some((sign(v as f32), i));
    }
    exact(token)
}

/// 10^-k as the nearest `f64` (inexact but for k = 0).
const NEG_POW10: [f64; 23] = [
    1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12, 1e-13, 1e-14, 1e-15, 1e-16, 1e-17,
    1e-18, 1e-19, 1e-20, 1e-21, 1e-22,
];

/// Digits read so far: their count, and their value while the count is at most 19 (a u64 holds
/// every 19-digit number; beyond that the value is not used).
#[derive(Default)]
struct Digits {
    value: u64,
    count: usize,
}

impl Digits {
    /// Reads the run of ASCII digits starting at `i` (eight bytes at a time while it can, each
    /// byte looked at once); returns where it ends.
    fn read(&mut self, b: &[u8], mut i: usize) -> usize {
        while let Some(chunk) = b.get(i..i + 8) {
            let v = u64::from_le_bytes(chunk.try_into().unwrap());
            // Every byte in '0'..='9': high nibble 3, and adding 6 keeps it 3.
            let all_digits = (v & 0xf0f0_f0f0_f0f0_f0f0) == 0x3030_3030_3030_3030
                && (v.wrapping_add(0x0606_0606_0606_0606) & 0xf0f0_f0f0_f0f0_f0f0) == 0x3030_3030_3030_3030;
            if !all_digits {
                break;
            }
            if self.count + 8 <= 19 {
                self.value = self.value * 100_000_000 + eight_digits(v - 0x3030_3030_3030_3030);
            }
            self.count += 8;
            i += 8;
        }
        while let Some(&c @ b'0'..=b'9') = b.get(i) {
            if self.count < 19 {
                self.value = self.value * 10 + u64::from(c - b'0');
            }
            self.count += 1;
            i += 1;
        }
        i
    }
}

/// The value of eight digits 0..=9, one per byte, the first in the lowest byte.
fn eight_digits(mut x: u64) -> u64 {
    x = (x * 10 + (x >> 8)) & 0x00ff_00ff_00ff_00ff;
    x = (x * 100 + (x >> 16)) & 0x0000_ffff_0000_ffff;
    (x * 10_000 + (x >> 32)) & 0x0000_0000_ffff_ffff
}

/// `x as f32` when every `f64` within 8 ulps of `x` rounds to the same `f32` (`x` positive, in
/// the normal range of `f32`); `None` near a halfway point. Integer work on `x`'s bits: an `f32`
/// keeps 23 of the 52 bits of an `f64`'s mantissa, the 29 it drops decide the rounding, and the
/// halfway point is where they are `1 << 28`. (Where they are near 0 or near `1 << 29`, `x` and
/// its neighbours straddle an `f32`, to which all of them round.)
fn sure_f32(x: f64) -> Option<f32> {
    let bits = x.to_bits();
    // 2^-125 <= x < 2^126: the normal range of f32 with room at both ends.
    if !(1023 - 125..1023 + 126).contains(&(bits >> 52)) {
        return None;
    }
    let dropped = bits & ((1 << 29) - 1);
    (dropped.abs_diff(1 << 28) > 8).then_some(x as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the reference path makes of a number: serde_json's value, as the FP32 path casts it.
    fn reference(s: &str) -> f32 {
        let v: Value = serde_json::from_str(s).unwrap();
        v.as_f64().unwrap() as f32
    }

    fn check(s: &str) {
        let want = reference(s);
        // Alone, and followed by what may follow a number in a list.
        for end in ["", ",", "]", " ", "}"] {
            let t = format!("{s}{end}");
            let (got, used) = number(t.as_bytes()).unwrap_or_else(|| panic!("`{t}` not read"));
            assert_eq!(used, s.len(), "{t}");
            assert_eq!(got.to_bits(), want.to_bits(), "`{t}`: {got:e} vs serde_json's {want:e}");
        }
    }

    #[test]
    fn numbers_read_as_serde_json_reads_them() {
        for s in [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "0.00",
            "0.01",
            "0.0e1",
            "1.0e-1",
            "1.00",
            "1.05",
            "-1.0",
            "1",
            "-1",
            "1.0",
            "0.5",
            "255",
            "1e3",
            "1E-3",
            "2.5e+2",
            "0e5",
            "-0e-5",
            "0.0039215688593685627",
            "0.003921568859368563",
            "0.5019607843137255",
            "1.0000000000000002",
            "0.99999999999999999999",
            "123456789012345678901234567890",
            "-9223372036854775808",
            "-9223372036854775809",
            "18446744073709551615",
            "18446744073709551616",
            "1e-45",
            "1.4e-45",
            "1e-50",
            "3.4028235e38",
            "3.4028236e38",
            "1e39",
            "0.1",
            "0.2",
            "0.3",
            "1e22",
            "1e23",
            "4.9406564584124654e-324",
            "2.2250738585072014e-308",
            "123.456e-7",
            "0.000000000000000000000000001",
            // Halfway between the f32s 1 and 1 + 2^-23: the tie goes to the even 1.
            "1.00000005960464477539062500",
            "1.0000000596046448",
            "1.00000005960464477539062501",
            "0.100000001490116119384765625",
            "0.10000000149011611938476562500001",
        ] {
            check(s);
        }
    }

    #[test]
    fn random_numbers_read_as_serde_json_reads_them() {
        let mut rng = emnist_data::rng::Rng::derive(26, 0, 0);
        for _ in 0..200_000 {
            let f = f32::from_bits((rng.next_u64() >> 32) as u32 % 0x7f80_0000);
            let d = f64::from_bits(rng.next_u64() % 0x7ff0_0000_0000_0000);
            let digits = 1 + ((rng.next_u64() >> 32) as u32 % 20) as usize;
            for s in [
                format!("{}", f64::from(f)),
                format!("{f}"),
                format!("{d:e}"),
                format!("{:.digits$}", f64::from(f)),
                format!("{:.digits$e}", f64::from(f)),
                format!("{:.digits$}", (rng.next_u64() >> 32) as u32 as f64 / u32::MAX as f64),
                // The halfway point above f, written out.
                format!("{:.30e}", (f64::from(f) + f64::from(f32::from_bits(f.to_bits() + 1))) / 2.0),
            ] {
                check(&s);
            }
        }
    }

    #[test]
    fn what_is_not_a_json_number_is_refused() {
        // serde_json refuses what overflows an f64: left to it.
        for s in
            ["", "-", "+1", ".5", "1.", "01x", "1e", "1e+", "--1", "x", "- 1", "1e400", "-1e400", "1e99999999999999"]
        {
            let read = number(s.as_bytes());
            // "01x" reads as "0" followed by more: the caller then finds no separator.
            if s == "01x" {
                assert_eq!(read.map(|(_, n)| n), Some(1));
            } else {
                assert!(read.is_none(), "`{s}` read as {read:?}");
            }
        }
    }

    /// The request as the reference path reads it, the FP32 `data` cast as that path casts it.
    fn same_as_serde(json: &str) {
        let fast = parse(json.as_bytes()).unwrap_or_else(|| panic!("not read: {json}"));
        let slow: InferRequest = serde_json::from_str(json).unwrap();
        assert_eq!(fast.id, slow.id, "{json}");
        assert_eq!(fast.parameters, slow.parameters, "{json}");
        let outs = |r: &InferRequest| {
            r.outputs.as_ref().map(|o| o.iter().map(|o| (o.name.clone(), o.parameters.clone())).collect::<Vec<_>>())
        };
        assert_eq!(outs(&fast), outs(&slow), "{json}");
        assert_eq!(fast.inputs.len(), slow.inputs.len());
        for (f, s) in fast.inputs.iter().zip(&slow.inputs) {
            assert_eq!(
                (&f.name, &f.shape, &f.datatype, &f.parameters),
                (&s.name, &s.shape, &s.datatype, &s.parameters)
            );
            assert!(f.data.is_none());
            let want = s.data.as_ref().map(|t| t.values.iter().map(|&v| (v as f32).to_bits()).collect::<Vec<_>>());
            let got = f.fp32.as_ref().map(|v| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
            assert_eq!(got, want, "{json}");
        }
    }

    #[test]
    fn requests_read_as_serde_json_reads_them() {
        for json in [
            r#"{"inputs": [{"name": "image", "shape": [2, 2], "datatype": "FP32", "data": [0.0, 1, 0.5, 3e-1]}]}"#,
            r#" {"id":"a\"b\u00e9","inputs":[{"data":[0.25,-0,1E0,0.003921568859368563],"datatype":"FP32","name":"x","shape":[1,4]}],"outputs":[{"name":"probabilities","parameters":{"binary_data":true}}]} "#,
            r#"{"inputs": [{"name": "image", "shape": [1, 0], "datatype": "FP32", "data": [ ]}], "parameters": {"binary_data_output": false, "x": [1, {"y": null}]}, "unknown": {"a": [1, 2, "]"]}}"#,
            r#"{"id": null, "outputs": null, "inputs": [{"name": "image", "shape": [1], "datatype": "FP32", "data": null, "parameters": null}]}"#,
            r#"{"inputs": [{"name": "a", "shape": [1], "datatype": "FP32", "data": [1]}, {"name": "b", "shape": [1], "datatype": "FP32", "data": [2],	"extra":	true}]}"#,
            r#"{"inputs": []}"#,
        ] {
            same_as_serde(json);
        }
    }

    #[test]
    fn what_the_reader_does_not_handle_goes_to_serde_json() {
        for json in [
            // Other datatypes, nested or string data, escaped or duplicate keys, bad JSON.
            r#"{"inputs": [{"name": "image", "shape": [1, 1], "datatype": "UINT8", "data": [7]}]}"#,
            r#"{"inputs": [{"name": "image", "shape": [1, 1], "data": [7], "datatype": "FP64"}]}"#,
            r#"{"inputs": [{"name": "image", "shape": [1, 2], "datatype": "FP32", "data": [[0.5, 1]]}]}"#,
            r#"{"inputs": [{"name": "image", "shape": [1, 1], "datatype": "FP32", "data": ["0.5"]}]}"#,
            r#"{"inputs": [{"name": "image", "shape": [1, 1], "datatype": "FP32", "d\u0061ta": [0.5]}]}"#,
            r#"{"inputs": [{"name": "image", "shape": [1, 1], "datatype": "FP32", "data": [0.5], "data": [1]}]}"#,
            r#"{"inputs": [], "inputs": []}"#,
            r#"{"inputs": [{"name": "image", "shape": [1, 1], "datatype": "FP32", "data": [0.5,]}]}"#,
            r#"{"inputs": [{"name": "image", "shape": [1, 1], "datatype": "FP32", "data": [01]}]}"#,
            r#"{"inputs": [{"name": "image", "shape": [1, 1], "datatype": "FP32", "data": [1e400]}]}"#,
            r#"{"inputs": [{"name": "image", "shape": [1, 1], "datatype": "FP32", "data": [0.5]}]} x"#,
            r#"{"inputs": [{"name": "image", "shape": [1, 1], "datatype": "FP32", "data": [0.5]}"#,
            r#"{"inputs": [{"name": "image", "datatype": "FP32", "data": [0.5]}]}"#,
            r#"{"id": "x"}"#,
            r#"[]"#,
            "",
        ] {
            assert!(parse(json.as_bytes()).is_none(), "{json}");
        }
    }
}
