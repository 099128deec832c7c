//! Where in a TOML file a key is set, so that an error about a key can
//! name its line. Read from the text itself: the TOML parser keeps no
//! line for a key once its value is deserialised.

/// A key a line of the file names.
struct Named {
    /// From 1.
    line: usize,
    /// The full key: `capture.pids`, `sinks.webhook[1].url`.
    key: String,
    /// A table header (`[capture]`, `[[sinks.webhook]]`), not an
    /// assignment.
    table: bool,
}

/// The keys the lines of a TOML `text` name: a table header names its
/// table (an array-of-tables entry by index, `sinks.webhook[1]`), an
/// assignment the key it sets in that table. Comments and blank lines
/// name nothing. Best effort: a line inside a multi-line value is read as
/// an assignment if it holds `=`, or as a header if it starts with `[`.
fn keys_by_line(text: &str) -> Vec<Named> {
    let mut table = String::new();
    let mut entries: std::collections::HashMap<String, usize> = Default::default();
    let normalise = |name: &str| -> String {
        name.split('.')
            .map(|part| part.trim().trim_matches('"'))
            .collect::<Vec<_>>()
            .join(".")
    };
    let mut keys = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix("[[").and_then(|l| l.split("]]").next()) {
            let name = normalise(name);
            let n = entries.entry(name.clone()).or_default();
            table = format!("{name}[{n}]");
            *n += 1;
            keys.push(Named {
                line: i + 1,
                key: table.clone(),
                table: true,
            });
        } else if let Some(name) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            table = normalise(name);
            keys.push(Named {
                line: i + 1,
                key: table.clone(),
                table: true,
            });
        } else if let Some((name, _)) = line.split_once('=') {
            let name = normalise(name);
            let full = if table.is_empty() {
                name
            } else {
                format!("{table}.{name}")
            };
            keys.push(Named {
                line: i + 1,
                key: full,
                table: false,
            });
        }
    }
    keys
}

/// The line (from 1) of a TOML `text` that sets `key`: an assignment in
/// the right table, an array-of-tables entry by index (`sinks.webhook[1]`),
/// or the inline table a nested key is in. Best effort: None when the key
/// is not set in the file (an invalid default, or one key judged against
/// another).
pub(super) fn line_of(text: &str, key: &str) -> Option<usize> {
    keys_by_line(text)
        .into_iter()
        .filter(|named| !named.table)
        .find(|named| key == named.key || key.starts_with(&format!("{}.", named.key)))
        .map(|named| named.line)
}

/// The key whose value (or name) is at byte `offset` of a TOML `text`, and
/// the line of `offset`: the last key named on or before that line. Best
/// effort, like `line_of`.
pub(super) fn key_at(text: &str, offset: usize) -> Option<(String, usize)> {
    let line = text.get(..offset)?.matches('\n').count() + 1;
    let named = keys_by_line(text)
        .into_iter()
        .take_while(|named| named.line <= line)
        .last()?;
    Some((named.key, line))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# sensor\n[capture]\nring_buffer_bytes = 1000\n\n[[sinks.webhook]]\nurl = \"https://a\"\n[[sinks.webhook]]\nurl = \"ftp://b\"\nheaders_from_file = { Authorization = \"/x\" }\n[capture.tls]\nexclude = [\n  \"go\",\n]\n";

    #[test]
    fn an_offset_names_the_key_it_falls_in() {
        let at = |needle: &str| key_at(TEXT, TEXT.find(needle).unwrap());
        assert_eq!(at("1000"), Some(("capture.ring_buffer_bytes".into(), 3)));
        assert_eq!(at("ftp"), Some(("sinks.webhook[1].url".into(), 8)));
        assert_eq!(
            at("/x"),
            Some(("sinks.webhook[1].headers_from_file".into(), 9))
        );
        // Inside a multi-line array: the array's key, the value's line.
        assert_eq!(at("\"go\""), Some(("capture.tls.exclude".into(), 12)));
        // A table's header: the table (a missing key is missing there).
        assert_eq!(at("[[sinks"), Some(("sinks.webhook[0]".into(), 5)));
        assert_eq!(line_of(TEXT, "capture.tls.exclude"), Some(11));
        assert_eq!(key_at(TEXT, 0), None);
    }
}
