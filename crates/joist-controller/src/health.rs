//! `/healthz` and `/readyz` on the health probe port: a minimal HTTP/1.1 responder (two fixed
//! paths do not need an HTTP framework). `/readyz` answers 200 once every watch has listed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves the probes on `listener` until dropped; `ready` says whether `/readyz` is healthy.
pub async fn serve(listener: TcpListener, ready: Arc<AtomicBool>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let ready = Arc::clone(&ready);
        tokio::spawn(async move {
            let mut buffer = [0_u8; 1024];
            let Ok(read) = stream.read(&mut buffer).await else {
                return;
            };
            let request = String::from_utf8_lossy(&buffer[..read]);
            let (status, body) = respond(&request, ready.load(Ordering::Relaxed));
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            // A client that hung up needs no answer.
            let _ = stream.write_all(response.as_bytes()).await;
        });
    }
}

/// Status line and body for a request's first line.
fn respond(request: &str, ready: bool) -> (&'static str, &'static str) {
    let path = request.split_whitespace().nth(1).unwrap_or_default();
    match path {
        "/healthz" => ("200 OK", "ok"),
        "/readyz" if ready => ("200 OK", "ok"),
        "/readyz" => ("503 Service Unavailable", "informers not synced"),
        _ => ("404 Not Found", "not found"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_answer_by_path_and_readiness() {
        assert_eq!(respond("GET /healthz HTTP/1.1\r\n", false).0, "200 OK");
        assert_eq!(
            respond("GET /readyz HTTP/1.1\r\n", false).0,
            "503 Service Unavailable"
        );
        assert_eq!(respond("GET /readyz HTTP/1.1\r\n", true).0, "200 OK");
        assert_eq!(
            respond("GET /metrics HTTP/1.1\r\n", true).0,
            "404 Not Found"
        );
    }

    #[tokio::test]
    async fn serves_over_tcp() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let server = tokio::spawn(serve(listener, Arc::new(AtomicBool::new(true))));
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        stream
            .write_all(b"GET /readyz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        server.abort();
    }
}
