//! Writing kubeconfig files (as JSON, which every kubeconfig reader accepts as YAML) for
//! the components, the admin and service accounts, and loading them into kube-rs clients.

use std::path::Path;

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::TestEnvError;
use crate::pki::{CertFiles, write_file};

/// How a kubeconfig's user authenticates.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Credentials<'a> {
    /// A client certificate and key.
    Certificate(&'a CertFiles),
    /// A bearer token (a service account's).
    Token(&'a str),
}

/// Writes a single-context kubeconfig for `server` that trusts only `ca`.
pub(crate) fn write(
    path: &Path,
    server: &str,
    ca: &Path,
    credentials: Credentials<'_>,
) -> Result<(), TestEnvError> {
    let user = match credentials {
        Credentials::Certificate(files) => serde_json::json!({
            "client-certificate": files.cert,
            "client-key": files.key,
        }),
        Credentials::Token(token) => serde_json::json!({ "token": token }),
    };
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": "joist-testenv", "cluster": {
            "server": server,
            "certificate-authority": ca,
        }}],
        "users": [{ "name": "joist-testenv", "user": user }],
        "contexts": [{ "name": "joist-testenv", "context": {
            "cluster": "joist-testenv",
            "user": "joist-testenv",
            "namespace": "default",
        }}],
        "current-context": "joist-testenv",
    });
    write_file(path, &config.to_string())
}

/// Loads a kubeconfig this crate wrote into a kube-rs configuration.
pub(crate) async fn load(path: &Path) -> Result<kube::Config, TestEnvError> {
    let kubeconfig_error = |source| TestEnvError::Kubeconfig {
        path: path.to_owned(),
        source,
    };
    let kubeconfig = Kubeconfig::read_from(path).map_err(kubeconfig_error)?;
    kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(kubeconfig_error)
}

/// A client for a kubeconfig this crate wrote.
pub(crate) async fn client(path: &Path) -> Result<kube::Client, TestEnvError> {
    let config = load(path).await?;
    kube::Client::try_from(config)
        .map_err(|source| TestEnvError::kube(format!("client for {}", path.display()), source))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[tokio::test]
    async fn a_token_kubeconfig_loads_with_its_server_and_token() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.crt");
        let pki = crate::pki::generate(dir.path()).unwrap();
        let path = dir.path().join("sa.kubeconfig");
        write(
            &path,
            "https://127.0.0.1:6443",
            &pki.ca.cert,
            Credentials::Token("t0ken"),
        )
        .unwrap();

        let config = load(&path).await.unwrap();
        assert_eq!(config.cluster_url.to_string(), "https://127.0.0.1:6443/");
        assert_eq!(config.default_namespace, "default");
        let kubeconfig = Kubeconfig::read_from(&path).unwrap();
        let cluster = kubeconfig.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(
            cluster.certificate_authority.as_deref().map(PathBuf::from),
            Some(ca)
        );
    }

    #[tokio::test]
    async fn a_certificate_kubeconfig_names_the_key_files() {
        let dir = tempfile::tempdir().unwrap();
        let pki = crate::pki::generate(dir.path()).unwrap();
        let path = dir.path().join("admin.kubeconfig");
        write(
            &path,
            "https://127.0.0.1:1",
            &pki.ca.cert,
            Credentials::Certificate(&pki.admin),
        )
        .unwrap();

        let kubeconfig = Kubeconfig::read_from(&path).unwrap();
        let user = kubeconfig.auth_infos[0].auth_info.as_ref().unwrap();
        assert_eq!(
            user.client_certificate.as_deref().map(PathBuf::from),
            Some(pki.admin.cert)
        );
        assert_eq!(
            user.client_key.as_deref().map(PathBuf::from),
            Some(pki.admin.key)
        );
        assert!(client(&path).await.is_ok());
    }
}
