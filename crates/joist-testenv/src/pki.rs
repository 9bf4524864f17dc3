//! The per-run PKI: a self-signed CA, the serving certificate of the apiserver (also used
//! by the scheduler and controller-manager for their health endpoints), client
//! certificates for the admin and the two control-plane components, and the
//! service-account signing key. Everything is ECDSA P-256 and lives only in the run's
//! temporary directory.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};

use crate::TestEnvError;

/// The first address of the service CIDR the apiserver is started with: the ClusterIP of
/// the `default/kubernetes` Service, which in-cluster clients dial.
pub(crate) const KUBERNETES_SERVICE_IP: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 1);

/// The common name of the front-proxy client certificate; the apiserver accepts
/// request-header authentication only from it.
pub(crate) const FRONT_PROXY_CLIENT: &str = "front-proxy-client";

/// A certificate and its private key, as PEM files.
#[derive(Debug, Clone)]
pub(crate) struct CertFiles {
    /// The certificate.
    pub(crate) cert: PathBuf,
    /// Its private key (PKCS#8).
    pub(crate) key: PathBuf,
}

/// Every file the components are pointed at.
#[derive(Debug, Clone)]
pub(crate) struct Pki {
    /// The CA certificate and key (the key signs CSRs in the controller-manager).
    pub(crate) ca: CertFiles,
    /// Serving certificate for 127.0.0.1, localhost and the in-cluster names.
    pub(crate) serving: CertFiles,
    /// Client certificate in `system:masters`.
    pub(crate) admin: CertFiles,
    /// Client certificate of `system:kube-controller-manager`.
    pub(crate) controller_manager: CertFiles,
    /// Client certificate of `system:kube-scheduler`.
    pub(crate) scheduler: CertFiles,
    /// The CA of the aggregation layer's front proxy (kept apart from the main CA, as
    /// kubeadm does, so a client certificate cannot pose as the proxy).
    pub(crate) front_proxy_ca: CertFiles,
    /// The certificate the apiserver presents to aggregated apiservers.
    pub(crate) front_proxy_client: CertFiles,
    /// Private key that signs service-account tokens.
    pub(crate) service_account_key: PathBuf,
    /// Its public half, with which the apiserver verifies them.
    pub(crate) service_account_public_key: PathBuf,
}

/// Generates a fresh PKI into `dir`.
pub(crate) fn generate(dir: &Path) -> Result<Pki, TestEnvError> {
    let (ca, ca_files) = new_ca(dir, "ca", "joist-testenv-ca")?;
    let (front_proxy_ca, front_proxy_ca_files) =
        new_ca(dir, "front-proxy-ca", "joist-testenv-front-proxy-ca")?;

    let issue = |issuer: &CertifiedIssuer<'_, KeyPair>,
                 stem: &str,
                 params: CertificateParams|
     -> Result<CertFiles, TestEnvError> {
        let key = new_key(stem)?;
        let cert = params.signed_by(&key, issuer).map_err(cert_error(stem))?;
        write_pair(dir, stem, &cert.pem(), &key.serialize_pem())
    };

    let serving = issue(&ca, "serving", serving_params())?;
    let admin = issue(
        &ca,
        "admin",
        client_params("joist-testenv-admin", Some("system:masters")),
    )?;
    let controller_manager = issue(
        &ca,
        "kube-controller-manager",
        client_params("system:kube-controller-manager", None),
    )?;
    let scheduler = issue(
        &ca,
        "kube-scheduler",
        client_params("system:kube-scheduler", None),
    )?;
    let front_proxy_client = issue(
        &front_proxy_ca,
        "front-proxy-client",
        client_params(FRONT_PROXY_CLIENT, None),
    )?;

    let service_account_key = dir.join("service-account.key");
    let service_account_public_key = dir.join("service-account.pub");
    let sa_key = new_key("the service-account signing key")?;
    write_file(&service_account_key, &sa_key.serialize_pem())?;
    write_file(&service_account_public_key, &sa_key.public_key_pem())?;

    Ok(Pki {
        ca: ca_files,
        serving,
        admin,
        controller_manager,
        scheduler,
        front_proxy_ca: front_proxy_ca_files,
        front_proxy_client,
        service_account_key,
        service_account_public_key,
    })
}

/// A self-signed CA, written as `<stem>.crt` and `<stem>.key`.
fn new_ca(
    dir: &Path,
    stem: &str,
    common_name: &str,
) -> Result<(CertifiedIssuer<'static, KeyPair>, CertFiles), TestEnvError> {
    let key = new_key(stem)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = name(common_name, None);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key_pem = key.serialize_pem();
    let ca = CertifiedIssuer::self_signed(params, key).map_err(cert_error(stem))?;
    let files = write_pair(dir, stem, &ca.pem(), &key_pem)?;
    Ok((ca, files))
}

/// The apiserver's serving certificate: every name a client in this test environment or
/// in a (fake) pod may use to reach it.
fn serving_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = name("kube-apiserver", None);
    params.subject_alt_names = vec![
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        SanType::IpAddress(IpAddr::V4(KUBERNETES_SERVICE_IP)),
    ];
    for dns in [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    ] {
        // These literals are valid DNS names, so the conversion cannot fail; skipping
        // one would only narrow the certificate, never widen it.
        if let Ok(dns) = dns.try_into() {
            params.subject_alt_names.push(SanType::DnsName(dns));
        }
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params
}

/// A client certificate: the apiserver takes the user from the CN and the groups from O.
fn client_params(user: &str, group: Option<&str>) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(user, group);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    params
}

fn name(common_name: &str, organization: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    if let Some(organization) = organization {
        dn.push(DnType::OrganizationName, organization);
    }
    dn
}

fn new_key(what: &str) -> Result<KeyPair, TestEnvError> {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(cert_error(what))
}

fn cert_error(what: &str) -> impl FnOnce(rcgen::Error) -> TestEnvError + '_ {
    move |source| TestEnvError::Certificate {
        what: what.to_owned(),
        source,
    }
}

fn write_pair(dir: &Path, stem: &str, cert: &str, key: &str) -> Result<CertFiles, TestEnvError> {
    let files = CertFiles {
        cert: dir.join(format!("{stem}.crt")),
        key: dir.join(format!("{stem}.key")),
    };
    write_file(&files.cert, cert)?;
    write_file(&files.key, key)?;
    Ok(files)
}

pub(crate) fn write_file(path: &Path, contents: &str) -> Result<(), TestEnvError> {
    std::fs::write(path, contents)
        .map_err(|source| TestEnvError::io(format!("writing {}", path.display()), source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_written_as_pem() {
        let dir = tempfile::tempdir().unwrap();
        let pki = generate(dir.path()).unwrap();
        for files in [
            &pki.ca,
            &pki.serving,
            &pki.admin,
            &pki.controller_manager,
            &pki.scheduler,
            &pki.front_proxy_ca,
            &pki.front_proxy_client,
        ] {
            let cert = std::fs::read_to_string(&files.cert).unwrap();
            let key = std::fs::read_to_string(&files.key).unwrap();
            assert!(
                cert.starts_with("-----BEGIN CERTIFICATE-----"),
                "{}",
                files.cert.display()
            );
            assert!(
                key.starts_with("-----BEGIN PRIVATE KEY-----"),
                "{}",
                files.key.display()
            );
        }
        let sa = std::fs::read_to_string(&pki.service_account_key).unwrap();
        assert!(sa.starts_with("-----BEGIN PRIVATE KEY-----"));
        let sa_public = std::fs::read_to_string(&pki.service_account_public_key).unwrap();
        assert!(sa_public.starts_with("-----BEGIN PUBLIC KEY-----"));
    }

    #[test]
    fn each_run_gets_its_own_ca() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        let a = std::fs::read(generate(first.path()).unwrap().ca.cert).unwrap();
        let b = std::fs::read(generate(second.path()).unwrap().ca.cert).unwrap();
        assert_ne!(a, b);
    }
}
