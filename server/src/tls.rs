//! HTTPS served directly (`--tls-cert`, `--tls-key`): the certificate chain and its private key
//! are read once at start into a rustls configuration, which [`crate::connections`] uses to
//! secure each accepted connection.
//!
//! - Files: PEM. The certificate file holds the server's certificate first, then any
//!   intermediates (`-----BEGIN CERTIFICATE-----` sections; other sections are skipped). The key
//!   file holds one private key: PKCS#8 (`BEGIN PRIVATE KEY`), PKCS#1 (`BEGIN RSA PRIVATE KEY`)
//!   or SEC1 (`BEGIN EC PRIVATE KEY`). A file that cannot be read, is not PEM, holds no
//!   certificate or key, or whose key does not belong to the certificate stops the server at
//!   start with a [`TlsError`] naming the file and what is wrong.
//! - Protocols: TLS 1.3 and 1.2 (rustls' safe defaults, the ring provider as everywhere in the
//!   workspace). ALPN offers `http/1.1` only: the accept loop serves HTTP/1.1 (see
//!   [`crate::connections`]), and WebSockets upgrade over it.
//! - The certificate is not reloaded while running: restart the server after renewing it.

use std::{io, path::Path, path::PathBuf, sync::Arc};

use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsArgs;

/// Why HTTPS cannot be served with the configured files.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Only one of the two files is given.
    #[error("HTTPS needs both --tls-cert and --tls-key; {missing} is missing")]
    Incomplete {
        /// The flag that is missing.
        missing: &'static str,
    },
    /// A file cannot be read (missing, a directory, no permission…).
    #[error("cannot read {flag} {}: {source}", path.display())]
    Unreadable {
        /// `--tls-cert` or `--tls-key`.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// A file has a broken PEM section (bad base64, a section that does not end…).
    #[error("{flag} {} is not a valid PEM file: {detail}", path.display())]
    NotPem {
        /// `--tls-cert` or `--tls-key`.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// What is broken, as the PEM parser says.
        detail: String,
    },
    /// The certificate file holds no certificate (it is empty, DER, or a key).
    #[error(
        "--tls-cert {} holds no certificate: expected PEM `-----BEGIN CERTIFICATE-----` sections",
        path.display()
    )]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no private key (it is empty, DER, or a certificate).
    #[error(
        "--tls-key {} holds no private key: expected a PEM `-----BEGIN PRIVATE KEY-----` (or `RSA PRIVATE KEY`, `EC PRIVATE KEY`) section",
        path.display()
    )]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// rustls refuses the pair: the key does not belong to the certificate, the key type is not
    /// supported, or the certificate cannot be parsed.
    #[error("cannot serve HTTPS with --tls-cert {} and --tls-key {}: {source}", cert.display(), key.display())]
    Unusable {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        source: rustls::Error,
    },
}

/// Reads the configured files into an acceptor that secures connections with them (ALPN
/// `http/1.1`); `None` when HTTPS is not asked for.
pub fn acceptor(files: &TlsArgs) -> Result<Option<TlsAcceptor>, TlsError> {
    let (cert, key) = match (&files.cert, &files.key) {
        (None, None) => return Ok(None),
        (Some(cert), Some(key)) => (cert, key),
        (Some(_), None) => return Err(TlsError::Incomplete { missing: "--tls-key" }),
        (None, Some(_)) => return Err(TlsError::Incomplete { missing: "--tls-cert" }),
    };
    let certificates = read_certificates(cert)?;
    let private_key = read_key(key)?;
    let unusable = |source| TlsError::Unusable { cert: cert.clone(), key: key.clone(), source };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(unusable)?
        .with_no_client_auth()
        .with_single_cert(certificates, private_key)
        .map_err(unusable)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(TlsAcceptor::from(Arc::new(config))))
}

/// The certificate chain in the PEM file `path`, in order.
fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    const FLAG: &str = "--tls-cert";
    let pem = read(FLAG, path)?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| not_pem(FLAG, path, e))?;
    if certificates.is_empty() {
        return Err(TlsError::NoCertificate { path: path.to_owned() });
    }
    Ok(certificates)
}

/// The private key in the PEM file `path`.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    const FLAG: &str = "--tls-key";
    let pem = read(FLAG, path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoKey { path: path.to_owned() },
        other => not_pem(FLAG, path, other),
    })
}

fn read(flag: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Unreadable {
        flag,
        path: path.to_owned(),
        source,
    })
}

fn not_pem(flag: &'static str, path: &Path, error: rustls::pki_types::pem::Error) -> TlsError {
    TlsError::NotPem { flag, path: path.to_owned(), detail: error.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A throwaway certificate for localhost and its key, as PEM.
    fn certificate() -> (String, String) {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        (made.cert.pem(), made.signing_key.serialize_pem())
    }

    /// Writes `cert` and `key` into `dir` and loads them.
    fn load(dir: &Path, cert: &str, key: &str) -> Result<Option<TlsAcceptor>, TlsError> {
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert_path, cert).unwrap();
        std::fs::write(&key_path, key).unwrap();
        acceptor(&TlsArgs { cert: Some(cert_path), key: Some(key_path) })
    }

    fn message(result: Result<Option<TlsAcceptor>, TlsError>) -> String {
        result.err().expect("the files are refused").to_string()
    }

    #[test]
    fn a_certificate_and_its_key_make_an_acceptor_offering_http_1_1() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = certificate();
        let acceptor = load(dir.path(), &cert, &key).unwrap().expect("HTTPS is on");
        assert_eq!(acceptor.config().alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn no_files_mean_plain_http_and_one_alone_is_refused() {
        assert!(acceptor(&TlsArgs::default()).unwrap().is_none());
        let cert_only = TlsArgs { cert: Some("cert.pem".into()), key: None };
        assert_eq!(
            message(acceptor(&cert_only)),
            "HTTPS needs both --tls-cert and --tls-key; --tls-key is missing"
        );
    }

    #[test]
    fn a_missing_file_is_named_with_its_flag() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = certificate();
        std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
        let files = TlsArgs {
            cert: Some(dir.path().join("cert.pem")),
            key: Some(dir.path().join("missing.pem")),
        };
        let error = message(acceptor(&files));
        assert!(error.starts_with("cannot read --tls-key "), "{error}");
        assert!(error.contains("missing.pem"), "{error}");
    }

    #[test]
    fn files_without_a_certificate_or_a_key_say_which_and_what_was_expected() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = certificate();
        // The two files swapped: each holds the other's kind of section.
        let error = message(load(dir.path(), &key, &cert));
        assert!(error.contains("--tls-cert") && error.contains("holds no certificate"), "{error}");
        let error = message(load(dir.path(), &cert, "not a key at all\n"));
        assert!(error.contains("--tls-key") && error.contains("holds no private key"), "{error}");
        assert!(error.contains("key.pem"), "{error}");
    }

    #[test]
    fn a_broken_pem_section_is_reported_as_not_pem() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = certificate();
        let truncated = &cert[..cert.len() / 2];
        let error = message(load(dir.path(), truncated, &key));
        assert!(
            error.contains("--tls-cert") && error.contains("is not a valid PEM file"),
            "{error}"
        );
    }

    #[test]
    fn a_key_that_does_not_belong_to_the_certificate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = certificate();
        let (_, other_key) = certificate();
        let error = message(load(dir.path(), &cert, &other_key));
        assert!(error.starts_with("cannot serve HTTPS with --tls-cert"), "{error}");
    }
}
