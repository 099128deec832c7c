//! `*` wildcards for field names, endpoint paths, rule ids and the TLS
//! library paths of `capture.tls.exclude`. Greedy with
//! one backtrack point, so matching is O(pattern × text) at worst.

pub fn matches(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    #[test]
    fn globs() {
        for (p, t, want) in [
            ("*token*", "accesstoken", true),
            ("*token*", "tokens", true),
            ("api*", "apikey", true),
            ("api*", "myapikey", false),
            ("/users/*", "/users/7/orders", true),
            ("/users/*", "/user", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
            ("exact", "exact", true),
            ("", "", true),
            ("*", "", true),
            ("*libssl*", "/usr/lib/libssl.so.3", true),
            ("/usr/lib/*", "/usr/lib/x86_64-linux-gnu/libssl.so.3", true),
            ("/usr/lib/*", "/usr/local/lib/libssl.so.3", false),
            ("*/libssl.so.?", "/usr/lib/libssl.so.3", false),
            ("*.so.3*", "/lib/libgnutls.so.30", true),
            ("*.so.*3", "/lib/libgnutls.so.30", false),
            ("/bin/curl", "/bin/curl2", false),
        ] {
            assert_eq!(super::matches(p.as_bytes(), t.as_bytes()), want, "{p} {t}");
        }
    }
}
