//! Namespaces and service-account identities on a running [`ControlPlane`], so a test can
//! run joist (or any client) with exactly the RBAC its chart grants.

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::Api;
use kube::api::{ObjectMeta, PostParams};

use crate::kubeconfig::{self, Credentials};
use crate::{ControlPlane, TestEnvError, eventually};

/// Lifetime in seconds of the tokens behind service-account clients: a day, longer than
/// any test.
const TOKEN_LIFETIME_SECONDS: i64 = 24 * 60 * 60;

/// How long the controller-manager may take to create a new namespace's `default`
/// ServiceAccount.
const DEFAULT_SERVICE_ACCOUNT_TIMEOUT: Duration = Duration::from_secs(60);

impl ControlPlane {
    /// Creates a namespace and waits until its `default` ServiceAccount exists: until
    /// then the ServiceAccount admission plugin rejects every pod created in it.
    pub async fn create_namespace(&self, name: &str) -> Result<Namespace, TestEnvError> {
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        let created = Api::<Namespace>::all(self.client())
            .create(&PostParams::default(), &namespace)
            .await
            .map_err(|source| TestEnvError::kube(format!("creating namespace {name}"), source))?;
        let accounts = Api::<ServiceAccount>::namespaced(self.client(), name);
        let what = format!("ServiceAccount {name}/default");
        eventually(&what, DEFAULT_SERVICE_ACCOUNT_TIMEOUT, || {
            let accounts = accounts.clone();
            async move { accounts.get_opt("default").await.ok().flatten() }
        })
        .await?;
        Ok(created)
    }

    /// A bearer token for an existing ServiceAccount, from the TokenRequest API (valid
    /// for a day, bound to the apiserver's default audience).
    pub async fn service_account_token(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<String, TestEnvError> {
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: Vec::new(),
                expiration_seconds: Some(TOKEN_LIFETIME_SECONDS),
                ..TokenRequestSpec::default()
            },
            ..TokenRequest::default()
        };
        let response = Api::<ServiceAccount>::namespaced(self.client(), namespace)
            .create_token_request(name, &PostParams::default(), &request)
            .await
            .map_err(|source| {
                TestEnvError::kube(format!("requesting a token for {namespace}/{name}"), source)
            })?;
        response
            .status
            .map(|status| status.token)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| TestEnvError::NoToken {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            })
    }

    /// Writes a kubeconfig that authenticates as an existing ServiceAccount (for running
    /// joist as a process with its chart's RBAC) and returns its path.
    pub async fn service_account_kubeconfig(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<PathBuf, TestEnvError> {
        let token = self.service_account_token(namespace, name).await?;
        let path = self.layout().kubeconfig(&format!("sa-{namespace}-{name}"));
        kubeconfig::write(
            &path,
            self.server_url(),
            self.ca_cert(),
            Credentials::Token(&token),
        )?;
        Ok(path)
    }

    /// A client that authenticates as an existing ServiceAccount, so every call is
    /// authorised by RBAC exactly as for a pod running under that account.
    pub async fn service_account_client(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<kube::Client, TestEnvError> {
        let path = self.service_account_kubeconfig(namespace, name).await?;
        kubeconfig::client(&path).await
    }
}
