//! Over a real TCP socket: what a client on the network sees, byte for byte.

use std::sync::Arc;

use roster_api::{ApiConfig, AppState};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::TestApp;

async fn raw_request(addr: std::net::SocketAddr, request: String) -> (String, Value) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let text = String::from_utf8(response).expect("utf-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    (head.to_owned(), serde_json::from_str(body).expect("json body"))
}

roster_test! {
async fn create_and_fetch_over_tcp() {
    let app = TestApp::new().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = roster_api::router(AppState::new(Arc::clone(&app.store), ApiConfig::default()));
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    let body = json!({"name": "Wire", "description": "over TCP"}).to_string();
    let (head, created) = raw_request(
        addr,
        format!(
            "POST /api/organizations/{}/groups HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
             X-Tallyfy-Client: APIClient\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            app.org,
            app.admin.token,
            body.len()
        ),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 201 Created\r\n"), "{head}");
    assert!(head.to_ascii_lowercase().contains("content-type: application/json"), "{head}");
    let id = created["data"]["id"].as_str().expect("id");

    let (head, fetched) = raw_request(
        addr,
        format!(
            "GET /organizations/{}/groups/{id}?with=assets HTTP/1.1\r\nHost: {addr}\r\n\
             Authorization: Bearer {}\r\nX-Tallyfy-Client: APIClient\r\nConnection: close\r\n\r\n",
            app.org, app.admin.token
        ),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    let mut expected = created["data"].clone();
    expected["assets"] = json!({"data": []});
    assert_eq!(fetched, json!({"data": expected}));
    server.abort();
}
}
