//! Endpoints: an exchange reduced to host, method and a path template in
//! which identifiers are parameters, so `/users/4711/orders` and
//! `/users/93/orders` are one endpoint, `GET api.acme.io/users/{id}/orders`.
//!
//! A path is split on `/` and each segment is classified on its own. A
//! segment becomes a parameter when it is one of these (first match wins):
//!
//! | template  | segment                                                      |
//! |-----------|--------------------------------------------------------------|
//! | `{id}`    | decimal digits: `4711`, `2024`                               |
//! | `{uuid}`  | a UUID, 8-4-4-4-12 hex digits                                |
//! | `{email}` | `local@domain.tld` (also with `@` percent-encoded as `%40`)  |
//! | `{date}`  | `2024-01-15`, `2024-01`, `2024-01-15T10:00:00Z`              |
//! | `{hash}`  | hex of 16+ digits, or of 6+ mixing letters and digits (SHAs, |
//! |           | MD5s, Mongo ObjectIds, short git SHAs)                       |
//! | `{token}` | any other identifier: letters and digits mixed at random     |
//! |           | (`x7k2p`, `C024BE91L`), random mixed case with digits        |
//! |           | (`cus_NffrFeUfNV2Hib`), long base64 / base64url, a run of 3+ |
//! |           | digits joined to words (`ORD-12345`, `nginx-7c5d9f-x7k2p`),  |
//! |           | dotted quads (`10.0.0.1`)                                    |
//!
//! Everything else stays literal: words, slugs and words carrying a digit
//! (`users`, `healthz`, `latest`, `oauth2`, `sha256`, `i18n`, `x86_64`,
//! `hello-world`), version segments (`v1`, `v2beta1`, `1.0`) and file names
//! (`app.js`, `jquery-3.6.0.min.js`). A file name whose stem is an
//! identifier keeps its extension: `/avatars/4711.png` becomes
//! `/avatars/{id}.png`.
//!
//! Known limits: names chosen by people (GitHub owners and repositories,
//! Kubernetes namespaces, blog slugs) are words and stay literal; telling
//! them apart needs cardinality across many requests, which is the
//! inventory's job, not this per-path function's.

use std::borrow::Cow;
use std::fmt;

use crate::exchange::{header, HttpExchange, Role};

mod cache;
pub use cache::EndpointCache;

/// What kind of identifier a parameter segment holds; its template name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamKind {
    Id,
    Uuid,
    Email,
    Date,
    Hash,
    Token,
}

impl ParamKind {
    /// The placeholder written into templates, braces included.
    pub fn placeholder(self) -> &'static str {
        match self {
            ParamKind::Id => "{id}",
            ParamKind::Uuid => "{uuid}",
            ParamKind::Email => "{email}",
            ParamKind::Date => "{date}",
            ParamKind::Hash => "{hash}",
            ParamKind::Token => "{token}",
        }
    }
}

/// The path of a request target (no scheme and authority, no query, no
/// fragment) with every identifier segment replaced by its placeholder.
pub fn path_template(target: &str) -> String {
    let path = path_of(target);
    if !path.starts_with('/') {
        // `*` (OPTIONS *), or a malformed target that could be anything.
        return if path == "*" { "*" } else { "{token}" }.to_owned();
    }
    let mut template = String::with_capacity(path.len().min(1024));
    for (i, segment) in path[1..].split('/').enumerate() {
        if i == MAX_SEGMENTS {
            // A peer picks the path: its template's size stays bounded.
            template.push_str("/{rest}");
            break;
        }
        template.push('/');
        match classify_segment(segment) {
            Some(param) => {
                template.push_str(&segment[..param.start]);
                template.push_str(param.kind.placeholder());
                template.push_str(&segment[param.end..]);
            }
            None => template.push_str(segment),
        }
    }
    template
}

/// Digits in a row from which a numeric segment is masked in
/// `masked_path`: card numbers, SSNs written without dashes, phone numbers
/// and account numbers are this long; row ids rarely are.
const MASKED_DIGITS: usize = 9;

/// The path of a request target with its sensitive segments masked by
/// their placeholder: emails, UUIDs, hashes, tokens (SSNs and anything not
/// plainly a word fail closed as `{token}`) and numbers of 9 digits or
/// more. Short numeric ids and words stay, so `/orders/4711` keeps its id
/// while `/lookup/536-22-8174` becomes `/lookup/{token}`. This is what
/// exchange records show: never a value the detectors would flag.
/// Borrowed from `target` when nothing in it is masked (the common case:
/// no allocation per exchange record).
pub fn masked_path(target: &str) -> Cow<'_, str> {
    let path = path_of(target);
    if !path.starts_with('/') {
        // No target at all (an HTTP/2 header block that could not be
        // decoded) has nothing to hide, and stays visibly empty.
        return Cow::Borrowed(match path {
            "" | "*" => path,
            _ => "{token}",
        });
    }
    let masks = |(i, segment): (usize, &str)| {
        i == MAX_SEGMENTS
            || matches!(classify_segment(segment),
                Some(p) if p.kind != ParamKind::Id || p.end - p.start >= MASKED_DIGITS)
    };
    if !path[1..].split('/').enumerate().any(masks) {
        return Cow::Borrowed(path);
    }
    let mut masked = String::with_capacity(path.len().min(1024));
    for (i, segment) in path[1..].split('/').enumerate() {
        if i == MAX_SEGMENTS {
            masked.push_str("/{rest}");
            break;
        }
        masked.push('/');
        match classify_segment(segment) {
            Some(p) if p.kind != ParamKind::Id || p.end - p.start >= MASKED_DIGITS => {
                masked.push_str(&segment[..p.start]);
                masked.push_str(p.kind.placeholder());
                masked.push_str(&segment[p.end..]);
            }
            _ => masked.push_str(segment),
        }
    }
    Cow::Owned(masked)
}

/// The raw identifier values of a target's path, with the index of the
/// segment each came from (0 is the first segment after the leading `/`).
/// For in-memory use only (hash them before keeping them): they are the
/// very values alerts must never show.
pub fn path_params(target: &str) -> Vec<(usize, &str)> {
    let path = path_of(target);
    let Some(rest) = path.strip_prefix('/') else {
        return Vec::new();
    };
    rest.split('/')
        .enumerate()
        .filter_map(|(i, segment)| classify_segment(segment).map(|p| (i, &segment[p.start..p.end])))
        .collect()
}

/// One endpoint: where an exchange went, with identifiers generalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EndpointKey {
    /// Lowercase, without port, userinfo or trailing dot.
    pub host: String,
    /// Uppercase.
    pub method: String,
    /// `path_template` of the request target.
    pub template: String,
}

impl EndpointKey {
    /// The host from the Host header, else the server's IP address (the
    /// local address when the observed process is the server, the remote
    /// one when it is the client).
    pub fn of(exchange: &HttpExchange) -> EndpointKey {
        EndpointKey {
            host: host_of(exchange),
            method: exchange.request.method.to_ascii_uppercase(),
            template: path_template(&exchange.request.target),
        }
    }
}

impl fmt::Display for EndpointKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}{}", self.method, self.host, self.template)
    }
}

fn host_of(exchange: &HttpExchange) -> String {
    if let Some(value) = header(&exchange.request.headers, "host") {
        let host = normalise_host(&String::from_utf8_lossy(value));
        if !host.is_empty() {
            return host;
        }
    }
    let conn = &exchange.connection;
    let server = match conn.role {
        Role::Server => conn.local,
        Role::Client => conn.remote,
    };
    server
        .map(|a| strip_default_port(&a.to_string()).to_owned())
        .unwrap_or_default()
}

/// An authority as endpoints spell hosts: no userinfo, no trailing dot,
/// lowercase, and no default port (`user@API.Acme.io.:443` →
/// `api.acme.io`; `api.acme.io:8443` stays).
pub fn normalise_host(authority: &str) -> String {
    let authority = authority.trim();
    // A peer writes the Host header: only a plausible authority is kept.
    let plausible = authority.len() <= 261
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:[]@".contains(&b));
    if !plausible {
        return "{invalid-host}".to_owned();
    }
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = strip_default_port(authority);
    // Built in one allocation, lowercased in place: this runs on every
    // exchange.
    let mut normal = match host.rsplit_once(':') {
        // `name.:8443`: the dot goes, the port stays.
        Some((name, port)) if !name.contains(':') && !name.ends_with(']') => {
            let name = name.trim_end_matches('.');
            let mut normal = String::with_capacity(name.len() + 1 + port.len());
            normal.push_str(name);
            normal.push(':');
            normal.push_str(port);
            normal
        }
        _ => host.trim_end_matches('.').to_owned(),
    };
    normal.make_ascii_lowercase();
    normal
}

/// The authority without the web's default ports (`host:80`, `host:443`
/// → `host`): other ports stay, since two services on one host are two
/// APIs. A bare IPv6 literal is kept whole.
fn strip_default_port(authority: &str) -> &str {
    let (host, port) = if authority.starts_with('[') {
        match authority.find("]:") {
            Some(i) => (&authority[..=i], &authority[i + 2..]),
            None => return authority,
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => (host, port),
            _ => return authority,
        }
    };
    match port {
        "80" | "443" | "" => host,
        _ => authority,
    }
}

/// The path of a request target: origin-form (`/a/b?q`) up to the query
/// or fragment; absolute-form (`http://host/a/b?q`, sent to proxies)
/// without scheme and authority.
pub fn path_of(target: &str) -> &str {
    let mut rest = target;
    if !rest.starts_with('/') {
        // Only a scheme before any `/`, `?` or `#` makes an absolute form
        // (`/r?to=http://x` is a path with a URL in its query).
        if let Some(i) = rest
            .find("://")
            .filter(|&i| !rest[..i].contains(['/', '?', '#']))
        {
            let after = &rest[i + 3..];
            rest = match after.find(['/', '?', '#']) {
                Some(j) if after[j..].starts_with('/') => &after[j..],
                _ => "/",
            };
        }
    }
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    &rest[..end]
}

/// Where in a segment the identifier is, and what kind it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Param {
    kind: ParamKind,
    start: usize,
    end: usize,
}

/// Extensions whose presence makes a segment a file name.
const FILE_EXTENSIONS: &[&str] = &[
    "js", "mjs", "css", "map", "html", "htm", "php", "asp", "aspx", "jsp", "json", "xml", "txt",
    "csv", "pdf", "png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "avif", "mp4", "webm", "mp3",
    "woff", "woff2", "ttf", "eot", "zip", "gz", "tgz", "tar", "yaml", "yml", "md", "wasm", "bin",
    "exe", "dmg", "deb", "rpm", "jar", "doc", "docx", "xls", "xlsx", "ppt", "pptx",
];

/// Path segments kept in a template; the rest become one `/{rest}`.
const MAX_SEGMENTS: usize = 32;

/// Literal segments longer than this become `{token}`: words people put
/// in paths are shorter, secrets are not.
const MAX_LITERAL_SEGMENT: usize = 40;

fn classify_segment(segment: &str) -> Option<Param> {
    if segment.is_empty() {
        return None;
    }
    let whole = |kind| Param {
        kind,
        start: 0,
        end: segment.len(),
    };
    if let Some(kind) = classify_whole(segment) {
        return Some(whole(kind));
    }
    // A file name: only its stem can be the identifier (`4711.png`).
    if let Some((stem, ext)) = segment.rsplit_once('.') {
        if !stem.is_empty() && FILE_EXTENSIONS.iter().any(|e| e.eq_ignore_ascii_case(ext)) {
            if let Some(kind) = classify_whole(stem) {
                return Some(Param {
                    kind,
                    start: 0,
                    end: stem.len(),
                });
            }
            return None;
        }
    }
    // Templates reach alerts and the inventory, so what is not plainly a
    // word fails closed: percent-encoding (an encoded email or token),
    // matrix parameters (`;jsessionid=...`) and long runs become `{token}`.
    let plain = segment
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-'));
    (!plain || segment.len() > MAX_LITERAL_SEGMENT).then(|| whole(ParamKind::Token))
}

fn classify_whole(s: &str) -> Option<ParamKind> {
    // Fast path for the common case: a short lowercase word (`users`,
    // `wp-admin`, `app.js`) cannot be any kind of identifier below.
    if s.len() < 16
        && !s
            .bytes()
            .any(|b| b.is_ascii_digit() || b.is_ascii_uppercase() || b == b'@' || b == b'%')
    {
        return None;
    }
    if is_version(s) {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return Some(ParamKind::Id);
    }
    if is_uuid(s) {
        return Some(ParamKind::Uuid);
    }
    if is_email(s) {
        return Some(ParamKind::Email);
    }
    if is_date(s) {
        return Some(ParamKind::Date);
    }
    if is_hash(s) {
        return Some(ParamKind::Hash);
    }
    if has_known_extension(s) {
        // `jquery-3.6.0.min.js` and `app.js` are file names, not tokens;
        // `classify_segment` looks at their stem.
        return None;
    }
    if is_token(s) {
        return Some(ParamKind::Token);
    }
    None
}

fn has_known_extension(s: &str) -> bool {
    s.rsplit_once('.')
        .is_some_and(|(_, ext)| FILE_EXTENSIONS.iter().any(|e| e.eq_ignore_ascii_case(ext)))
}

/// `v1`, `V2`, `v1beta1`, `v2alpha`, `1.0`, `2.1.3`.
fn is_version(s: &str) -> bool {
    let b = s.as_bytes();
    if matches!(b.first(), Some(b'v' | b'V')) && b.len() > 1 && b[1].is_ascii_digit() {
        let rest = &b[1..];
        let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        let tail = &rest[digits..];
        let letters = tail.iter().take_while(|c| c.is_ascii_lowercase()).count();
        return digits <= 3
            && letters <= 5
            && tail[letters..].iter().all(|c| c.is_ascii_digit())
            && tail.len() - letters <= 2;
    }
    let parts: Vec<&str> = s.split('.').collect();
    (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| (1..=2).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit()))
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn is_email(s: &str) -> bool {
    let (local, domain) = match s.split_once('@') {
        Some(parts) => parts,
        None => match s.as_bytes().windows(3).position(|w| w == b"%40") {
            Some(i) => (&s[..i], &s[i + 3..]),
            None => return false,
        },
    };
    let (name, tld) = match domain.rsplit_once('.') {
        Some(parts) => parts,
        None => return false,
    };
    !local.is_empty()
        && !name.is_empty()
        && tld.len() >= 2
        && tld.bytes().all(|c| c.is_ascii_alphabetic())
        && domain
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
}

/// `YYYY-MM`, `YYYY-MM-DD`, optionally followed by `T` and a time.
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if !(digits(0..4) && b.get(4) == Some(&b'-') && digits(5..7)) {
        return false;
    }
    let month = (b[5] - b'0') * 10 + (b[6] - b'0');
    if !(1..=12).contains(&month) || !matches!(b[0], b'1' | b'2') {
        return false;
    }
    match b.len() {
        7 => true,
        10.. if b[7] == b'-' && digits(8..10) => {
            let day = (b[8] - b'0') * 10 + (b[9] - b'0');
            (1..=31).contains(&day)
                && (b.len() == 10 || (matches!(b[10], b'T' | b't' | b' ') && digits(11..13)))
        }
        _ => false,
    }
}

/// Hex digests and hex ids. Letters-only hex of fewer than 16 digits are
/// words (`cafe`, `decade`, `facade`), so shorter ones need a digit too.
fn is_hash(s: &str) -> bool {
    if !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return false;
    }
    let has_digit = s.bytes().any(|c| c.is_ascii_digit());
    let has_letter = s.bytes().any(|c| c.is_ascii_alphabetic());
    s.len() >= 16 || (s.len() >= 6 && has_digit && has_letter)
}

/// Random-looking identifiers that are not hex. Looks at the pieces
/// between `-`, `_`, `.` and `~` so that readable prefixes (`cus_`,
/// `nginx-`, `ORD-`) do not hide the random part.
fn is_token(s: &str) -> bool {
    if !s
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~' | b'=' | b'+'))
    {
        return false;
    }
    if is_dotted_quad(s) || looks_base64(s) {
        return true;
    }
    s.split(['-', '_', '.', '~']).any(|piece| {
        is_random_piece(piece) || (piece.len() >= 3 && piece.bytes().all(|c| c.is_ascii_digit()))
    })
}

fn is_dotted_quad(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit()))
}

/// Long base64/base64url: padded, or mixed case with a high share of
/// capitals (random bytes encode to ~half capitals; camelCase words to
/// far fewer).
fn looks_base64(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    let padded = s.len() > body.len();
    if body.len() < if padded { 8 } else { 16 } || body.contains(['.', '~']) {
        return false;
    }
    let upper = body.bytes().filter(u8::is_ascii_uppercase).count();
    let lower = body.bytes().filter(u8::is_ascii_lowercase).count();
    let digits = body.bytes().filter(u8::is_ascii_digit).count();
    (padded && (upper > 0 || digits > 0))
        || (upper > 0 && lower > 0 && upper * 4 >= (upper + lower) && (digits > 0 || upper >= 4))
}

/// A piece of a segment that reads as random rather than as a word:
/// letters and digits alternating three or more times (`x7k2p`,
/// `C024BE91L`, `dQw4w9WgXcQ`; words with digits such as `oauth2`, `i18n`,
/// `k8s`, `x509` alternate at most twice), or mixed case with digits over
/// 8 characters (`NffrFeUfNV2Hib`).
fn is_random_piece(piece: &str) -> bool {
    let b = piece.as_bytes();
    if b.len() < 4 || !b.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let has_digit = b.iter().any(u8::is_ascii_digit);
    if !has_digit || !b.iter().any(u8::is_ascii_alphabetic) {
        return false;
    }
    let alternations = b
        .windows(2)
        .filter(|w| w[0].is_ascii_digit() != w[1].is_ascii_digit())
        .count();
    let mixed_case = b.iter().any(u8::is_ascii_uppercase) && b.iter().any(u8::is_ascii_lowercase);
    alternations >= 3 || (mixed_case && b.len() >= 8)
}

#[cfg(test)]
mod tests;
