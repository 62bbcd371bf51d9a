//! Numbers as people read them in messages, tables and figures.

/// `n` with thousands separators: 60,000.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_every_three_digits() {
        assert_eq!(
            [thousands(0), thousands(999), thousands(60000), thousands(1234567)],
            ["0", "999", "60,000", "1,234,567"]
        );
    }
}
