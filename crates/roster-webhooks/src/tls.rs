//! https receivers: TLS 1.2 and 1.3 through rustls, verified against Mozilla's roots
//! (compiled in, so that a minimal container needs no trust store).

use std::sync::{Arc, OnceLock};

use hyper_util::rt::TokioIo;
use roster_core::webhooks::{ErrorKind, TargetUrl};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use crate::send::Message;

/// One client configuration for every attempt (`None` if the crypto provider refused the
/// default protocol versions, which it does not).
fn config() -> Option<Arc<ClientConfig>> {
    static CONFIG: OnceLock<Option<Arc<ClientConfig>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
            // ring has no post-quantum key exchange, hence the deprecation; aws-lc-rs has,
            // but needs cmake and minutes of C compilation on every clean build.
            #[allow(deprecated)]
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .ok()
                .map(|builder| {
                    Arc::new(builder.with_root_certificates(roots).with_no_client_auth())
                })
        })
        .clone()
}

pub(crate) async fn exchange(
    stream: tokio::net::TcpStream,
    url: &TargetUrl,
    message: &Message<'_>,
    headers: &[(&'static str, String)],
) -> Result<(u16, Option<u64>, String), ErrorKind> {
    let config = config().ok_or(ErrorKind::Tls)?;
    let name = ServerName::try_from(url.host.clone()).map_err(|_| ErrorKind::Tls)?;
    let encrypted =
        TlsConnector::from(config).connect(name, stream).await.map_err(|_| ErrorKind::Tls)?;
    crate::send::http_exchange(TokioIo::new(encrypted), url, message, headers).await
}
