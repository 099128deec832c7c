//! Where an HTTP/1.1 response ends: nginx answers a static file with a
//! `Content-Length`, which is all the framing the open loop needs.

/// A response head read so far: `None` while incomplete, else its status
/// and the length of head and body together.
pub fn framed(buf: &[u8]) -> Result<Option<(u16, usize)>, String> {
    let Some(head_len) = head_end(buf) else {
        return Ok(None);
    };
    let head = &buf[..head_len];
    let status = head
        .get(9..12)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse().ok())
        .filter(|_| head.starts_with(b"HTTP/1."))
        .ok_or("no HTTP/1.x status line")?;
    let length = head
        .split(|b| *b == b'\n')
        .find_map(|line| {
            let (name, value) = line.split_at(line.iter().position(|b| *b == b':')?);
            name.eq_ignore_ascii_case(b"content-length")
                .then(|| std::str::from_utf8(&value[1..]).ok())
                .flatten()
                .and_then(|v| v.trim().parse::<usize>().ok())
        })
        .ok_or("no Content-Length")?;
    Ok(Some((status, head_len + length)))
}

/// The length of the head, blank line included, once it is all in `buf`.
fn head_end(buf: &[u8]) -> Option<usize> {
    const END: &[u8] = b"\r\n\r\n";
    // SAFETY: both pointers and lengths describe live slices; memmem only
    // reads them. libc's memmem, not a Rust loop: xtask is built without
    // optimisation and this runs once per read.
    let at = unsafe {
        libc::memmem(
            buf.as_ptr().cast(),
            buf.len(),
            END.as_ptr().cast(),
            END.len(),
        )
    };
    (!at.is_null()).then(|| at as usize - buf.as_ptr() as usize + END.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx\r\ncontent-length: 5\r\n\r\n";

    #[test]
    fn a_whole_response_is_its_head_and_body() {
        let mut r = HEAD.to_vec();
        r.extend_from_slice(b"hello");
        assert_eq!(framed(&r), Ok(Some((200, HEAD.len() + 5))));
        // A partial body is still framed: the caller waits for the rest.
        assert_eq!(
            framed(&r[..HEAD.len() + 2]),
            Ok(Some((200, HEAD.len() + 5)))
        );
    }

    #[test]
    fn an_incomplete_head_waits() {
        assert_eq!(framed(&HEAD[..HEAD.len() - 1]), Ok(None));
        assert_eq!(framed(b""), Ok(None));
    }

    #[test]
    fn other_statuses_are_reported() {
        let r = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(framed(r), Ok(Some((404, r.len()))));
    }

    #[test]
    fn a_response_without_length_or_status_line_is_an_error() {
        assert!(framed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").is_err());
        assert!(framed(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
    }
}
