//! Object keys and request URLs. A key is the destination prefix plus the file's relative
//! path; in the URL every byte outside RFC 3986's unreserved set (and `/`) is
//! percent-encoded once, which is also the canonical form `SigV4` signs for S3.

/// The key of `rel` under `prefix` (already trimmed of slashes).
#[must_use]
pub(crate) fn key(prefix: &str, rel: &str) -> String {
    if prefix.is_empty() {
        rel.to_owned()
    } else {
        format!("{prefix}/{rel}")
    }
}

/// Where requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// `http` or `https`.
    pub(crate) scheme: String,
    /// Host and optional port, without the bucket.
    pub(crate) authority: String,
    /// Address the bucket in the path (`host/bucket/key`) instead of the host name.
    pub(crate) path_style: bool,
}

impl Endpoint {
    /// From `s3-endpoint` (or AWS's regional endpoint). Hosts that are IP addresses or
    /// `localhost` cannot carry a bucket name, so they always use path style.
    pub(crate) fn new(
        endpoint: Option<&str>,
        region: &str,
        path_style: bool,
    ) -> Result<Self, String> {
        let raw = endpoint.map_or_else(
            || format!("https://s3.{region}.amazonaws.com"),
            str::to_owned,
        );
        let url = reqwest::Url::parse(&raw)
            .map_err(|e| format!("`s3-endpoint` `{raw}` is not a URL ({e})"))?;
        let host = url
            .host_str()
            .ok_or_else(|| format!("`s3-endpoint` `{raw}` has no host"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("`s3-endpoint` `{raw}` must be http:// or https://"));
        }
        let numeric = host.parse::<std::net::IpAddr>().is_ok()
            || host.starts_with('[')
            || host == "localhost";
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        Ok(Endpoint {
            scheme: url.scheme().to_owned(),
            authority,
            path_style: path_style || numeric,
        })
    }

    /// The URL of `key` in `bucket` (no query).
    #[must_use]
    pub(crate) fn object_url(&self, bucket: &str, key: &str) -> String {
        if self.path_style {
            format!(
                "{}://{}/{bucket}/{}",
                self.scheme,
                self.authority,
                crate::net::percent_encode(key)
            )
        } else {
            format!(
                "{}://{bucket}.{}/{}",
                self.scheme,
                self.authority,
                crate::net::percent_encode(key)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_once() {
        assert_eq!(
            crate::net::percent_encode("a b/ü+%.txt"),
            "a%20b/%C3%BC%2B%25.txt"
        );
        assert_eq!(
            crate::net::percent_encode("dir/file-1_2~x"),
            "dir/file-1_2~x"
        );
        assert_eq!(key("", "a/b"), "a/b");
        assert_eq!(key("builds/1", "a/b"), "builds/1/a/b");
    }

    #[test]
    fn endpoints() {
        let aws = Endpoint::new(None, "eu-west-1", false).expect("aws");
        assert_eq!(
            aws.object_url("bkt", "k/x y"),
            "https://bkt.s3.eu-west-1.amazonaws.com/k/x%20y"
        );
        let local = Endpoint::new(Some("http://127.0.0.1:9000"), "us-east-1", false).expect("ip");
        assert!(local.path_style, "an IP host cannot carry the bucket");
        assert_eq!(local.object_url("bkt", "k"), "http://127.0.0.1:9000/bkt/k");
        assert!(Endpoint::new(Some("ftp://x"), "r", false).is_err());
    }
}
