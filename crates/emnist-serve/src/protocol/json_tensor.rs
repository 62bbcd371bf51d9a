//! Nested JSON lists of numbers read straight into a shape and one flat `Vec<f64>`, without a
//! `serde_json::Value` tree (which costs about 16 bytes of memory per input byte and most of a JSON
//! request's CPU). Lists must be rectangular; `{"image": x}` objects (one input, named alike
//! throughout) stand for `x`, and the name is kept for the caller to check.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Deepest nesting accepted (a batch of 1×28×28 images is 4 deep; `instances` of them 5).
pub const MAX_DEPTH: usize = 8;

/// A rectangular tensor read from JSON.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JsonTensor {
    /// Length at each depth; empty for a bare number.
    pub shape: Vec<i64>,
    /// Row-major values (NaN where a string stood).
    pub values: Vec<f64>,
    /// Some leaves were strings (KServe BYTES): the caller decides what that means.
    pub strings: bool,
    /// The input name of `{"name": x}` objects, if the tensor came in them.
    pub name: Option<String>,
}

#[derive(Default)]
struct State {
    lengths: Vec<Option<usize>>,
    leaf_depth: Option<usize>,
    values: Vec<f64>,
    strings: bool,
    name: Option<String>,
}

struct Seed<'a> {
    st: &'a mut State,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Seed<'_> {
    fn leaf<E: de::Error>(self, v: f64) -> Result<(), E> {
        match self.st.leaf_depth {
            None => self.st.leaf_depth = Some(self.depth),
            Some(d) if d != self.depth => return Err(E::custom("the input is ragged: numbers at different depths")),
            Some(_) => {}
        }
        self.st.values.push(v);
        Ok(())
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a nested list of numbers")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.depth >= MAX_DEPTH {
            return Err(de::Error::custom(format!("the input is nested deeper than {MAX_DEPTH} lists")));
        }
        if self.st.leaf_depth.is_some_and(|d| d <= self.depth) {
            return Err(de::Error::custom("the input is ragged: a list where a number was expected"));
        }
        let mut n = 0usize;
        while seq.next_element_seed(Seed { st: &mut *self.st, depth: self.depth + 1 })?.is_some() {
            n += 1;
        }
        if self.st.lengths.len() <= self.depth {
            self.st.lengths.resize(self.depth + 1, None);
        }
        match self.st.lengths[self.depth] {
            None => self.st.lengths[self.depth] = Some(n),
            Some(m) if m != n => {
                return Err(de::Error::custom(format!("the input is ragged: a list of {n} where {m} were expected")));
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// `{"image": x}` is `x` (named inputs, TF-Serving's row and columnar formats).
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if seen {
                return Err(de::Error::custom(format!(
                    "an object names two inputs (the second is `{key}`); the model takes one"
                )));
            }
            match &self.st.name {
                Some(name) if *name != key => {
                    return Err(de::Error::custom(format!("objects name different inputs, `{name}` and `{key}`")))
                }
                Some(_) => {}
                None => self.st.name = Some(key.into_owned()),
            }
            seen = true;
            map.next_value_seed(Seed { st: &mut *self.st, depth: self.depth })?;
        }
        if !seen {
            return Err(de::Error::custom("an empty object where an input was expected"));
        }
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.leaf(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.leaf(v as f64)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.leaf(v as f64)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.st.strings = true;
        self.leaf(f64::NAN)
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom("null where a number was expected (pixels must be finite numbers)"))
    }
}

impl<'de> Deserialize<'de> for JsonTensor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<JsonTensor, D::Error> {
        let mut st = State::default();
        Seed { st: &mut st, depth: 0 }.deserialize(d)?;
        let depth = st.leaf_depth.unwrap_or(st.lengths.len());
        let shape = st.lengths.iter().take(depth).map(|l| l.unwrap_or(0) as i64).collect();
        Ok(JsonTensor { shape, values: st.values, strings: st.strings, name: st.name })
    }
}

/// Written as one flat list (what a KServe `data` field may be); whole numbers without a
/// fraction (`255`, not `255.0`), as a client would write pixel bytes.
impl Serialize for JsonTensor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.values.len()))?;
        for &v in &self.values {
            if v.fract() == 0.0 && v.abs() < 9.0e15 {
                seq.serialize_element(&(v as i64))?;
            } else {
                seq.serialize_element(&v)?;
            }
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> Result<JsonTensor, String> {
        serde_json::from_str(s).map_err(|e| e.to_string())
    }

    #[test]
    fn shapes_and_values() {
        assert_eq!(
            read("[[1, 2, 3], [4, 5, 6]]").unwrap(),
            JsonTensor { shape: vec![2, 3], values: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], ..Default::default() }
        );
        assert_eq!(read("[[[0.5]]]").unwrap().shape, vec![1, 1, 1]);
        assert_eq!(read("[]").unwrap().shape, vec![0]);
        assert_eq!(read("7").unwrap().shape, Vec::<i64>::new());
        assert_eq!(
            read(r#"[{"image": [1, 2]}, {"image": [3, 4]}]"#).unwrap(),
            JsonTensor {
                shape: vec![2, 2],
                values: vec![1.0, 2.0, 3.0, 4.0],
                strings: false,
                name: Some("image".into())
            }
        );
        assert!(read(r#"["a", "b"]"#).unwrap().strings);
        let t = JsonTensor { shape: vec![3], values: vec![255.0, 0.5, -2.0], ..Default::default() };
        assert_eq!(serde_json::to_string(&t).unwrap(), "[255,0.5,-2]");
        assert_eq!(read(r#"{"image": [[1e0, -2]]}"#).unwrap().values, vec![1.0, -2.0]);
    }

    #[test]
    fn ragged_and_wrong_inputs_are_errors() {
        for (s, want) in [
            ("[[1, 2], [3]]", "ragged"),
            ("[[1, 2], 3]", "ragged"),
            ("[1, [2]]", "ragged"),
            ("[[1], []]", "ragged"),
            ("[null]", "null"),
            (r#"[true]"#, "nested list of numbers"),
            (r#"[{"x": [1]}, {"y": [1]}]"#, "different inputs, `x` and `y`"),
            (r#"{"x": [1], "y": [2]}"#, "two inputs"),
            (r#"{}"#, "empty object"),
            ("[[[[[[[[[[1]]]]]]]]]]", "deeper"),
            ("[1, 2", "EOF"),
        ] {
            let e = read(s).unwrap_err();
            assert!(e.contains(want), "{s}: {e}");
        }
    }
}
