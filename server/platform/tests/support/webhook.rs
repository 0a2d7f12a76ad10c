//! A webhook receiver for tests: a real HTTP listener on a loopback port that answers every
//! `POST` with 200 and hands each JSON body to the test, so notifications travel over real HTTP.

#![allow(dead_code)]

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A running receiver.
pub struct Receiver {
    /// `http://127.0.0.1:<port>/hook`.
    pub url: String,
    bodies: mpsc::UnboundedReceiver<Value>,
}

impl Receiver {
    /// Starts listening on a free port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        let (sender, bodies) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let sender = sender.clone();
                tokio::spawn(async move {
                    if let Some(body) = read_request(&mut socket).await {
                        let _ = socket
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                            .await;
                        let _ = sender.send(serde_json::from_slice(&body).unwrap_or(Value::Null));
                    }
                });
            }
        });
        Self { url, bodies }
    }

    /// The next notification received, waiting up to ten seconds.
    pub async fn next(&mut self) -> Value {
        tokio::time::timeout(Duration::from_secs(10), self.bodies.recv())
            .await
            .expect("a notification within ten seconds")
            .expect("the receiver is running")
    }

    /// Whether no further notification arrives within half a second.
    pub async fn quiet(&mut self) -> bool {
        tokio::time::timeout(Duration::from_millis(500), self.bodies.recv())
            .await
            .is_err()
    }
}

/// Reads one HTTP/1.1 request with a `content-length` body; returns the body.
async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let read = socket.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_lowercase();
    assert!(head.starts_with("post "), "a webhook is a POST: {head}");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let read = socket.read(&mut chunk).await.ok()?;
        if read == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    Some(buffer[head_end..].to_vec())
}
