//! Helpers shared by the fuzz targets: the plain-text request form their inputs use.

use signet_server::fuzzing::http::{HeaderMap, HeaderName, HeaderValue, Method};

/// A request read from fuzz input in HTTP/1 shape, so seeds can be written by hand:
///
/// ```text
/// METHOD TARGET
/// Name: value
/// Name: value
///
/// body bytes
/// ```
///
/// Header lines whose name or value `http` would not accept are dropped, as hyper drops the
/// connection before a handler sees them.
pub struct RawRequest<'a> {
    /// The method text, exactly as written.
    pub method: &'a str,
    /// The request target, exactly as written.
    pub target: &'a str,
    /// The headers that `http` accepts.
    pub headers: HeaderMap,
    /// Everything after the blank line.
    pub body: &'a [u8],
}

impl<'a> RawRequest<'a> {
    /// Splits `data`; `None` when the request line is not UTF-8.
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        let (head, body) = match find(data, b"\n\n") {
            Some(i) => (&data[..i], &data[i + 2..]),
            None => (data, &data[data.len()..]),
        };
        let mut lines = head.split(|b| *b == b'\n');
        let request_line = std::str::from_utf8(lines.next()?).ok()?;
        let (method, target) = request_line.split_once(' ').unwrap_or((request_line, ""));
        let mut headers = HeaderMap::new();
        for line in lines {
            let Some(colon) = line.iter().position(|b| *b == b':') else {
                continue;
            };
            let value = &line[colon + 1..];
            let value = value.strip_prefix(b" ").unwrap_or(value);
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(&line[..colon]),
                HeaderValue::from_bytes(value),
            ) {
                headers.append(name, value);
            }
        }
        Some(Self {
            method,
            target,
            headers,
            body,
        })
    }

    /// The method as `http` reads it (any token is a method), or `None`.
    pub fn http_method(&self) -> Option<Method> {
        Method::from_bytes(self.method.as_bytes()).ok()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
