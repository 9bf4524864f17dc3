//! Health probes: free ports, plain-HTTP GETs (etcd, kwok) and HTTPS GETs through a
//! kube-rs client that trusts the run's CA (apiserver, scheduler, controller-manager).

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::TestEnvError;

/// How long one probe may take before it counts as a failure.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// `count` distinct free ports on 127.0.0.1. All listeners are held until every port is
/// chosen, so the ports differ; another process may still take one before the component
/// binds it, which shows up as that component exiting with "address already in use".
pub(crate) fn free_ports(count: usize) -> Result<Vec<u16>, TestEnvError> {
    let listeners = (0..count)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TestEnvError::io("binding a free port on 127.0.0.1", source))?;
    listeners
        .iter()
        .map(|listener| listener.local_addr().map(|addr| addr.port()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TestEnvError::io("reading a bound port", source))
}

/// GETs `path` from a plain-HTTP server; `Ok` only for a 200, otherwise the status line
/// or error as text (which becomes the "last probe" of a startup error).
pub(crate) async fn http_get_ok(addr: SocketAddr, path: &str) -> Result<(), String> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(PROBE_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("GET http://{addr}{path} timed out"))?
        .map_err(|err| format!("GET http://{addr}{path}: {err}"))?;
    let text = String::from_utf8_lossy(&response);
    let status_line = text.lines().next().unwrap_or_default();
    if status_line.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(format!("GET http://{addr}{path}: {status_line}"))
    }
}

/// GETs `path` through `client` (its server, TLS and credentials); `Ok` only for a 2xx.
pub(crate) async fn https_get_ok(client: &kube::Client, path: &str) -> Result<(), String> {
    let request = http::Request::get(path)
        .body(Vec::new())
        .map_err(|err| format!("building GET {path}: {err}"))?;
    match tokio::time::timeout(PROBE_TIMEOUT, client.request_text(request)).await {
        Err(_) => Err(format!("GET {path} timed out")),
        Ok(Err(err)) => Err(format!("GET {path}: {err}")),
        Ok(Ok(_)) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct() {
        let mut ports = free_ports(6).unwrap();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 6);
    }

    #[tokio::test]
    async fn http_probe_accepts_200_and_reports_anything_else() {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            for status in ["200 OK", "503 Service Unavailable"] {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let _ = socket.read(&mut buf).await.unwrap();
                let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
                socket.write_all(reply.as_bytes()).await.unwrap();
            }
        });
        assert_eq!(http_get_ok(addr, "/healthz").await, Ok(()));
        let err = http_get_ok(addr, "/healthz").await.unwrap_err();
        assert!(err.contains("503"), "{err}");
        server.await.unwrap();
    }

    #[tokio::test]
    async fn http_probe_reports_a_refused_connection() {
        let port = free_ports(1).unwrap()[0];
        let err = http_get_ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), "/health")
            .await
            .unwrap_err();
        assert!(err.contains("/health"), "{err}");
    }
}
