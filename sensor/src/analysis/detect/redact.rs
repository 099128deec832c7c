//! Evidence: what a matched value looks like with everything that would
//! identify it removed. The result must be safe to write anywhere.

/// How a rule's matches are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mask {
    /// `j***@***.com`
    Email,
    /// `**** **** **** 1234`: the last four digits only.
    Card,
    /// `***-**-****`
    Ssn,
    /// `+** *** *** **09`: the last two digits only.
    Phone,
    /// `DE** **** 4931`: country and last four.
    Iban,
    /// `10.x.x.x`: the first octet only.
    Ip,
    /// A token's type prefix, then `****`: the first `n` bytes, cut back
    /// to just after their last non-alphanumeric byte when there is one
    /// (`ghp_`, `sk_live_`, `github_pat_`), at most half the value.
    Prefix(usize),
    /// The PEM armour line only: `-----BEGIN RSA PRIVATE KEY-----`.
    Pem,
    /// `scheme://****:****@host`
    Uri,
    /// Only the value's length.
    Hidden,
    /// The match itself, cut to 80 characters: for rules whose match is a
    /// fixed marker (an error signature, a version banner, a path).
    Verbatim,
}

const MAX_VERBATIM: usize = 80;

pub fn redact(mask: Mask, value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    match mask {
        Mask::Email => {
            let (local, domain) = text.rsplit_once('@').unwrap_or(("", &text));
            let first = local.chars().next().unwrap_or('*');
            let tld = domain.rsplit_once('.').map_or("", |(_, t)| t);
            // Sized once: the evidence of every new finding is built.
            let mut out = String::with_capacity(first.len_utf8() + 8 + tld.len());
            out.push(first);
            out.push_str("***@***.");
            out.push_str(tld);
            out
        }
        Mask::Card => {
            let mut last = [0u8; 4];
            let mut n = 0;
            for &b in value.iter().rev().filter(|b| b.is_ascii_digit()).take(4) {
                n += 1;
                last[4 - n] = b;
            }
            let mut out = String::with_capacity(19);
            out.push_str("**** **** **** ");
            out.extend(last[4 - n..].iter().map(|&b| char::from(b)));
            out
        }
        Mask::Ssn => "***-**-****".to_owned(),
        Mask::Phone => {
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            let last = &digits[digits.len().saturating_sub(2)..];
            format!("***-***-**{last}")
        }
        Mask::Iban => {
            let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            let country = compact.get(..2).unwrap_or("");
            let last = compact.get(compact.len().saturating_sub(4)..).unwrap_or("");
            format!("{country}** **** {last}")
        }
        Mask::Ip => {
            let first = text.split('.').next().unwrap_or("");
            format!("{first}.x.x.x")
        }
        Mask::Prefix(n) => {
            let head = &value[..n.min(value.len() / 2)];
            let cut = head
                .iter()
                .rposition(|b| !b.is_ascii_alphanumeric())
                .map_or(head.len(), |i| i + 1);
            format!("{}****", String::from_utf8_lossy(&head[..cut]))
        }
        Mask::Pem => {
            let end = text.match_indices("-----").nth(1).map_or(0, |(i, _)| i + 5);
            text[..end].to_owned()
        }
        Mask::Uri => {
            let scheme = text.split_once("://").map_or("", |(s, _)| s);
            let host = text.rsplit_once('@').map_or("", |(_, h)| h);
            let host = host.split(['/', '?']).next().unwrap_or("");
            format!("{scheme}://****:****@{host}")
        }
        Mask::Hidden => format!("[{} chars hidden]", text.chars().count()),
        Mask::Verbatim => {
            let one_line: String = text
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            let cut = floor_char_boundary(&one_line, MAX_VERBATIM);
            let mut out = one_line[..cut].trim().to_owned();
            if cut < one_line.len() {
                out.push('…');
            }
            out
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        for (mask, value, want) in [
            (Mask::Email, "jane.doe@acme-corp.io", "j***@***.io"),
            (Mask::Card, "4539 5787 6362 1486", "**** **** **** 1486"),
            (Mask::Ssn, "536-22-8726", "***-**-****"),
            (Mask::Phone, "+1 415 867 2309", "***-***-**09"),
            (Mask::Iban, "DE44500105175407324931", "DE** **** 4931"),
            (Mask::Ip, "10.1.2.3", "10.x.x.x"),
            (Mask::Prefix(4), "ghp_abcdefghijklmnop", "ghp_****"),
            (Mask::Prefix(8), "AKIA", "AK****"),
            (
                Mask::Prefix(11),
                "ghp_abcdefghijklmnopqrstuvwxyz",
                "ghp_****",
            ),
            (
                Mask::Prefix(11),
                "github_pat_abcdefghijklmnopqrstuvwxyz",
                "github_pat_****",
            ),
            (
                Mask::Prefix(15),
                "$2b$12$abcdefghijklmnopqrstuvwxyz",
                "$2b$12$****",
            ),
            (
                Mask::Pem,
                "-----BEGIN RSA PRIVATE KEY-----\nMIIE",
                "-----BEGIN RSA PRIVATE KEY-----",
            ),
            (
                Mask::Uri,
                "postgres://app:hunter2@db.internal:5432/main",
                "postgres://****:****@db.internal:5432",
            ),
            (Mask::Hidden, "hunter2", "[7 chars hidden]"),
            (
                Mask::Verbatim,
                "Traceback (most recent\ncall last):",
                "Traceback (most recent call last):",
            ),
        ] {
            assert_eq!(redact(mask, value.as_bytes()), want, "{mask:?} {value}");
        }
    }
}
