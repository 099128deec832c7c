//! `*` wildcards for field names, endpoint paths, rule ids and the TLS
//! library paths of `capture.tls.exclude`. Greedy with
//! one backtrack point, so matching is O(pattern × text) at worst.

pub fn matches(pattern: &[u8], text: &[u8]) -> bool {
    // One star, at either end, is the common shape (`*/logout` is checked
    // against every exchange's path): a suffix or prefix test, no walk.
    match pattern.iter().position(|&b| b == b'*') {
        None => return pattern == text,
        Some(0) if !pattern[1..].contains(&b'*') => return text.ends_with(&pattern[1..]),
        Some(at) if at + 1 == pattern.len() => return text.starts_with(&pattern[..at]),
        Some(_) => {}
    }
    walk(pattern, text)
}

fn walk(pattern: &[u8], text: &[u8]) -> bool {
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
            ("*/logout", "/api/logout", true),
            ("*/logout", "/logout", true),
            ("*/logout", "logout", false),
            ("*/logout", "/api/logout/x", false),
            ("*", "anything", true),
            ("**", "", true),
            ("a**", "abc", true),
            ("**c", "abc", true),
            ("*b", "b", true),
        ] {
            assert_eq!(super::matches(p.as_bytes(), t.as_bytes()), want, "{p} {t}");
        }
    }

    #[test]
    fn shortcuts_agree_with_the_walk() {
        // Every pattern and text of up to four bytes over `*`, `a`, `b`.
        fn all(len: usize, alphabet: &[u8]) -> Vec<Vec<u8>> {
            (0..=len).fold(vec![vec![]], |mut out, _| {
                let longer: Vec<Vec<u8>> = out
                    .iter()
                    .filter(|s| s.len() < len)
                    .flat_map(|s| alphabet.iter().map(move |&b| [s.as_slice(), &[b]].concat()))
                    .collect();
                out.extend(longer);
                out.sort();
                out.dedup();
                out
            })
        }
        for pattern in all(4, b"*ab") {
            for text in all(4, b"ab") {
                assert_eq!(
                    super::matches(&pattern, &text),
                    super::walk(&pattern, &text),
                    "{pattern:?} {text:?}"
                );
            }
        }
    }
}
