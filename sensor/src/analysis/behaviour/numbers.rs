//! Numbers as alert sentences show them.

/// `2140` → `2,140`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A baseline value for a sentence: `0.4`, `95`, `2,140`.
pub(crate) fn approx(x: f64) -> String {
    if x < 10.0 {
        format!("{:.1}", x.max(0.0))
    } else {
        thousands(x.round() as u64)
    }
}

/// `12_400_000` → `11.8 MiB`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(2140), "2,140");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(approx(0.26), "0.3");
        assert_eq!(approx(1234.4), "1,234");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(12 * 1024 * 1024 + 400 * 1024), "12.4 MiB");
    }
}
