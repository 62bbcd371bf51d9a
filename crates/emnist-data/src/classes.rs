//! The class table: class index → raw label value and the character(s) it stands for.

use serde::{Deserialize, Serialize};

/// Maps class indices (0..K) to the dataset's raw label values and their characters.
///
/// Class indices always come from this table (the row of a label in the mapping), never from
/// the raw label value: EMNIST letters labels run 1..26.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassTable {
    /// Raw label value of each class, as stored in the dataset's label arrays.
    pub labels: Vec<i64>,
    /// Display name of each class: its character(s); EMNIST letters joins upper and lower case as `A/a`.
    pub names: Vec<String>,
}

/// Errors building a class table from a mapping.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ClassTableError {
    #[error("the mapping has no rows")]
    Empty,
    #[error("the mapping has {0} classes; at most 256 are supported")]
    TooMany(usize),
    #[error("label {0} appears twice in the mapping")]
    Duplicate(i64),
    #[error("mapping row {row}: {value} is not a character code")]
    BadCode { row: usize, value: i64 },
}

impl ClassTable {
    /// Builds the table from mapping rows: `[label, code, code, ...]` where codes are ASCII/Unicode values.
    pub fn from_mapping(rows: &[Vec<i64>]) -> Result<Self, ClassTableError> {
        if rows.is_empty() {
            return Err(ClassTableError::Empty);
        }
        if rows.len() > 256 {
            return Err(ClassTableError::TooMany(rows.len()));
        }
        let mut labels = Vec::with_capacity(rows.len());
        let mut names = Vec::with_capacity(rows.len());
        for (row, r) in rows.iter().enumerate() {
            let label = r[0];
            if labels.contains(&label) {
                return Err(ClassTableError::Duplicate(label));
            }
            let mut chars: Vec<String> = Vec::new();
            for &code in &r[1..] {
                let c = u32::try_from(code)
                    .ok()
                    .and_then(char::from_u32)
                    .filter(|c| !c.is_control())
                    .ok_or(ClassTableError::BadCode { row, value: code })?;
                if !chars.iter().any(|s| s.starts_with(c)) {
                    chars.push(c.to_string());
                }
            }
            if chars.is_empty() {
                chars.push(label.to_string());
            }
            labels.push(label);
            names.push(chars.join("/"));
        }
        Ok(ClassTable { labels, names })
    }

    /// Classes `0..n` named by their numbers: for idx folders without a mapping file (MNIST, Fashion-MNIST).
    pub fn numbered(n: usize) -> Self {
        ClassTable { labels: (0..n as i64).collect(), names: (0..n).map(|i| i.to_string()).collect() }
    }

    /// EMNIST byclass's 62 classes: `0-9`, `A-Z`, `a-z`, labels 0..61.
    pub fn byclass() -> Self {
        let chars = ('0'..='9').chain('A'..='Z').chain('a'..='z');
        ClassTable { labels: (0..62).collect(), names: chars.map(|c| c.to_string()).collect() }
    }

    /// Number of classes.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True for a table without classes (never produced by the constructors).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The class index of a raw label value, if the mapping has it.
    pub fn index_of(&self, label: i64) -> Option<usize> {
        self.labels.iter().position(|&l| l == label)
    }

    /// A lookup table from raw label to class index for labels in `0..=max`, for fast decoding.
    pub fn lookup(&self) -> impl Fn(i64) -> Option<u8> + '_ {
        let max = self.labels.iter().copied().max().unwrap_or(0);
        let dense: Option<Vec<Option<u8>>> = (0..1 << 16).contains(&max).then(|| {
            let mut t = vec![None; max as usize + 1];
            for (i, &l) in self.labels.iter().enumerate() {
                if l >= 0 {
                    t[l as usize] = Some(i as u8);
                }
            }
            t
        });
        move |label| match &dense {
            Some(t) => usize::try_from(label).ok().and_then(|l| t.get(l).copied().flatten()),
            None => self.index_of(label).map(|i| i as u8),
        }
    }

    /// Which group a class belongs to: digits, upper- or lowercase letters, merged letters (`A/a`),
    /// or other (names longer than one character, such as Fashion-MNIST's `Trouser`).
    pub fn group(&self, index: usize) -> ClassGroup {
        let chars: Vec<Vec<char>> = self.names[index].split('/').map(|p| p.chars().collect()).collect();
        if chars.iter().any(|c| c.len() != 1) {
            return ClassGroup::Other;
        }
        let firsts: Vec<char> = chars.iter().map(|c| c[0]).collect();
        match firsts.as_slice() {
            [c] if c.is_ascii_digit() => ClassGroup::Digit,
            [c] if c.is_uppercase() => ClassGroup::Uppercase,
            [c] if c.is_lowercase() => ClassGroup::Lowercase,
            [a, b] if a.is_uppercase() && b.is_lowercase() => ClassGroup::Letter,
            _ => ClassGroup::Other,
        }
    }

    /// Fashion-MNIST's ten classes, by name.
    pub fn fashion_mnist() -> Self {
        let names =
            ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
        ClassTable { labels: (0..10).collect(), names: names.iter().map(|s| s.to_string()).collect() }
    }
}

/// The groups EMNIST's classes fall into, for exploration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClassGroup {
    Digit,
    Uppercase,
    Lowercase,
    /// Upper and lower case merged in one class (EMNIST letters: `A/a`).
    Letter,
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_mapping_is_one_based_and_joins_cases() {
        let rows = vec![vec![1, 65, 97], vec![2, 66, 98]];
        let t = ClassTable::from_mapping(&rows).unwrap();
        assert_eq!(t.names, vec!["A/a", "B/b"]);
        assert_eq!(t.group(0), ClassGroup::Letter);
        assert_eq!(t.index_of(1), Some(0));
        assert_eq!(t.index_of(0), None);
        let f = t.lookup();
        assert_eq!(f(2), Some(1));
        assert_eq!(f(3), None);
        assert_eq!(f(-1), None);
    }

    #[test]
    fn rejects_duplicates_and_bad_codes() {
        assert_eq!(ClassTable::from_mapping(&[vec![0, 48], vec![0, 49]]), Err(ClassTableError::Duplicate(0)));
        assert!(matches!(ClassTable::from_mapping(&[vec![0, -5]]), Err(ClassTableError::BadCode { .. })));
        assert_eq!(ClassTable::from_mapping(&[]), Err(ClassTableError::Empty));
    }

    #[test]
    fn byclass_groups() {
        let t = ClassTable::byclass();
        assert_eq!(t.len(), 62);
        assert_eq!(t.group(3), ClassGroup::Digit);
        assert_eq!(t.group(10), ClassGroup::Uppercase);
        assert_eq!(t.group(61), ClassGroup::Lowercase);
        assert_eq!(t.names[36], "a");
        assert_eq!(ClassTable::fashion_mnist().group(0), ClassGroup::Other);
        assert_eq!(ClassTable::numbered(12).group(11), ClassGroup::Other);
    }
}
