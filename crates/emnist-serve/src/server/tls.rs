//! TLS (`--tls-cert`, `--tls-key`): PEM files read and checked before the server listens, and a
//! rustls configuration for each port (they differ in the protocol they offer by ALPN).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use emnist_data::setting::Setting;

/// The certificate chain and private key files, PEM.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// rustls's server configurations: HTTP/1.1 for the HTTP port, HTTP/2 for the gRPC port.
#[derive(Clone)]
pub struct Tls {
    pub config: Arc<rustls::ServerConfig>,
    pub grpc_config: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls(certificate and key loaded)")
    }
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read the TLS {what} `{}`", path.display()))
}

impl Tls {
    /// Reads and checks the files: a certificate chain, a private key, and that they belong
    /// together (rustls checks the key against the leaf certificate).
    pub fn load(files: &TlsFiles) -> Result<Tls> {
        let cert_pem = read(&files.cert, "certificate")?;
        let key_pem = read(&files.key, "key")?;
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(&cert_pem)
                .collect::<Result<_, _>>()
                .with_context(|| format!("`{}` is not a PEM certificate chain", files.cert.display()))?;
        if chain.is_empty() {
            bail!("`{}` holds no certificate (`-----BEGIN CERTIFICATE-----`)", files.cert.display());
        }
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
            anyhow::anyhow!(
                "`{}` holds no usable PEM private key ({e}): give the key of {}",
                files.key.display(),
                Setting::TlsCert
            )
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("rustls has no TLS version to offer")?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .with_context(|| {
                format!(
                    "`{}` and `{}` do not make a TLS identity: is the key the certificate's own?",
                    files.cert.display(),
                    files.key.display()
                )
            })?;
        let mut grpc_config = config.clone();
        grpc_config.alpn_protocols = vec![b"h2".to_vec()];
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls { config: Arc::new(config), grpc_config: Arc::new(grpc_config) })
    }
}
