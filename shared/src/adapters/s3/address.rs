//! Where an object lives: the URL of a key in the bucket, as S3 expects it to be written.
//!
//! On AWS the bucket is in the host (`https://{bucket}.s3.{region}.amazonaws.com/{key}`); a
//! local S3 takes it as the first path segment (`http://host:port/{bucket}/{key}`). An endpoint
//! override keeps the same two shapes on another host.

/// The base URL every key is appended to (no trailing slash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Address {
    base: String,
}

impl Address {
    pub(super) fn new(
        endpoint: Option<&str>,
        region: &str,
        bucket: &str,
        path_style: bool,
    ) -> Self {
        let endpoint = endpoint.map(|e| e.trim_end_matches('/'));
        let base = match (endpoint, path_style) {
            (Some(endpoint), true) => format!("{endpoint}/{bucket}"),
            (Some(endpoint), false) => match endpoint.split_once("://") {
                Some((scheme, host)) => format!("{scheme}://{bucket}.{host}"),
                None => format!("https://{bucket}.{endpoint}"),
            },
            (None, true) => format!("https://s3.{region}.amazonaws.com/{bucket}"),
            (None, false) => format!("https://{bucket}.s3.{region}.amazonaws.com"),
        };
        Self { base }
    }

    /// The URL of `key`, each byte outside S3's unreserved set percent-encoded, `/` kept (S3
    /// keys are paths; the signature covers this exact form).
    pub(super) fn url(&self, key: &str) -> String {
        format!("{}/{}", self.base, encode(key, true))
    }
}

/// RFC 3986 percent-encoding as SigV4 canonicalises it: only `A-Z a-z 0-9 - _ . ~` stay as they
/// are (and `/` when `keep_slash`), so the URL sent is the URL signed.
pub(super) fn encode(raw: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte))
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_puts_the_bucket_in_the_host_and_a_local_s3_in_the_path() {
        let aws = Address::new(None, "eu-west-1", "b", false);
        assert_eq!(
            aws.url("files/u/1"),
            "https://b.s3.eu-west-1.amazonaws.com/files/u/1"
        );
        let local = Address::new(Some("http://127.0.0.1:9000/"), "us-east-1", "b", true);
        assert_eq!(local.url("files/u/1"), "http://127.0.0.1:9000/b/files/u/1");
        let other = Address::new(Some("https://s3.example.com"), "us-east-1", "b", false);
        assert_eq!(other.url("k"), "https://b.s3.example.com/k");
    }

    #[test]
    fn keys_are_encoded_as_sigv4_canonicalises_them() {
        assert_eq!(encode("a b/ü+~", true), "a%20b/%C3%BC%2B~");
        assert_eq!(encode("a/b", false), "a%2Fb");
    }
}
