//! A certificate authority of the test's own, made with the `openssl` command: a CA
//! certificate no system trusts, and a server certificate it signed for `127.0.0.1` and
//! `localhost`, for a TLS server a test starts ([`crate::support::s3server::S3Server::start_tls`]).

use std::path::PathBuf;
use std::process::Command;

/// The CA and the server certificate it signed, as PEM files in a temporary directory.
pub struct TestCa {
    /// The CA's certificate: what `SSL_CERT_FILE` or `NODE_EXTRA_CA_CERTS` names.
    pub ca: PathBuf,
    /// The server's certificate (`127.0.0.1`, `localhost`), signed by the CA.
    pub cert: PathBuf,
    /// The server's private key (PKCS#8).
    pub key: PathBuf,
    _dir: tempfile::TempDir,
}

fn openssl(args: &[&str], dir: &std::path::Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TestCa {
    /// A new CA (P-256 keys, valid two days) and a server certificate it signed.
    pub fn new() -> TestCa {
        let dir = tempfile::tempdir().expect("tempdir");
        let at = dir.path();
        std::fs::write(
            at.join("server.ext"),
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
             extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .expect("write the extensions");
        for args in [
            &[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                "ca.key",
            ][..],
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                "ca.key",
                "-sha256",
                "-days",
                "2",
                "-subj",
                "/CN=stevedore test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
                "-out",
                "ca.pem",
            ],
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                "server.key",
            ],
            &[
                "req",
                "-new",
                "-key",
                "server.key",
                "-subj",
                "/CN=localhost",
                "-out",
                "server.csr",
            ],
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-sha256",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                "server.pem",
            ],
        ] {
            openssl(args, at);
        }
        TestCa {
            ca: at.join("ca.pem"),
            cert: at.join("server.pem"),
            key: at.join("server.key"),
            _dir: dir,
        }
    }
}
