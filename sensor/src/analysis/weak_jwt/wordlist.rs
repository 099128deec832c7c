//! The bundled list of well-known weak JWT secrets.

/// `weak_secrets.txt`: one secret per line; `# ` comments and blank lines
/// skipped; duplicates removed, first occurrence kept (most likely first).
pub(super) fn secrets() -> Vec<&'static [u8]> {
    const LIST: &str = include_str!("weak_secrets.txt");
    let mut seen = std::collections::HashSet::new();
    LIST.lines()
        .filter(|l| !l.is_empty() && !l.starts_with("# ") && *l != "#")
        .filter(|l| seen.insert(*l))
        .map(str::as_bytes)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_list_is_loaded_without_comments_or_duplicates() {
        let list = super::secrets();
        assert!(list.len() > 600, "{}", list.len());
        assert_eq!(list[0], b"secret");
        assert!(list.contains(&b"your-256-bit-secret".as_slice()));
        assert!(list.contains(&b"keyboard cat".as_slice()));
        assert!(!list.iter().any(|s| s.starts_with(b"# ")));
        let unique: std::collections::HashSet<_> = list.iter().collect();
        assert_eq!(unique.len(), list.len());
    }
}
