//! Group logos: upload, replace, remove, serve, and `with=assets`.

use std::io::Cursor;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use image::{ImageBuffer, ImageFormat, Rgba};
use serde_json::{Value, json};

use crate::harness::{TestApp, TestResponse, request};

pub(crate) fn image(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let pixels: ImageBuffer<Rgba<u8>, Vec<u8>> = ImageBuffer::from_fn(width, height, |x, y| {
        Rgba([(x % 256) as u8, (y % 256) as u8, 90, 255])
    });
    let mut out = Cursor::new(Vec::new());
    if format == ImageFormat::Jpeg {
        image::DynamicImage::ImageRgba8(pixels)
            .to_rgb8()
            .write_to(&mut out, format)
            .expect("encode");
    } else {
        pixels.write_to(&mut out, format).expect("encode");
    }
    out.into_inner()
}

const BOUNDARY: &str = "roster-test-boundary";

/// A multipart body: text fields, then a `file` part.
fn multipart(fields: &[(&str, &str)], file: Option<(&str, &str, &[u8])>) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .bytes(),
        );
    }
    if let Some((filename, content_type, bytes)) = file {
        body.extend(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
                 Content-Type: {content_type}\r\n\r\n"
            )
            .bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{BOUNDARY}--\r\n").bytes());
    body
}

async fn upload(app: &TestApp, path: &str, token: &str, body: Vec<u8>) -> TestResponse {
    let mut req = request(Method::POST, path, Some(token), None);
    *req.body_mut() = Body::from(body);
    req.headers_mut().insert(
        "content-type",
        format!("multipart/form-data; boundary={BOUNDARY}").parse().expect("header"),
    );
    app.send(req).await
}

pub(crate) async fn upload_logo(
    app: &TestApp,
    group_path: &str,
    filename: &str,
    bytes: &[u8],
) -> TestResponse {
    upload(
        app,
        &format!("{group_path}/logo"),
        &app.admin.token,
        multipart(&[], Some((filename, "image/png", bytes))),
    )
    .await
}

/// The path part of an absolute logo URL, checked for its shape.
fn logo_path(url: &Value) -> String {
    let url = url.as_str().unwrap_or_else(|| panic!("no logo url: {url}"));
    let path = url.strip_prefix("http://roster.test").expect("absolute URL on the request's host");
    let id = path.strip_prefix("/logos/").expect("logo path");
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    path.to_owned()
}

async fn fetch_public(app: &TestApp, path: &str) -> (StatusCode, Vec<(String, String)>, Vec<u8>) {
    let req = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header("host", "roster.test")
        .body(Body::empty())
        .expect("req");
    let response = tower::ServiceExt::oneshot(app.router.clone(), req).await.expect("router");
    let status = response.status();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    (status, headers, bytes)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

roster_test! {
async fn upload_serve_replace_and_remove() {
    let app = TestApp::new().await;
    let created = app.create_group(json!({"name": "Logo", "description": "d"})).await;
    let group_path = app.org_path(&format!("/groups/{}", created["id"].as_str().expect("id")));
    let png = image(40, 20, ImageFormat::Png);

    let response = upload_logo(&app, &group_path, "team.png", &png).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    assert_eq!(response.header("etag"), Some("\"2\""));
    let first = logo_path(&response.json()["data"]["logo"]);

    // Served without a token, byte for byte, with the right headers.
    let (status, headers, bytes) = fetch_public(&app, &first).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, png);
    assert_eq!(header(&headers, "content-type"), Some("image/png"));
    assert_eq!(header(&headers, "x-content-type-options"), Some("nosniff"));
    assert_eq!(header(&headers, "cache-control"), Some("public, max-age=31536000, immutable"));
    assert_eq!(header(&headers, "etag"), Some(format!("\"{}\"", &first[7..]).as_str()));

    // with=assets, as Tallyfy's asset transformer shows it.
    let with_assets = app.get(&format!("{group_path}?with=assets"), &app.light.token).await.json()["data"].clone();
    let asset = &with_assets["assets"]["data"][0];
    assert_eq!(
        with_assets["assets"],
        json!({"data": [{
            "id": &first[7..], "filename": "team.png", "version": 1, "uploaded_at": asset["uploaded_at"],
            "uploaded_from": "group_logo", "source": "local",
            "subject": {"id": created["id"], "type": "Group"},
            "url": format!("http://roster.test{first}"),
        }]})
    );
    let listed = app.get(&app.org_path("/groups?with=assets"), &app.admin.token).await.json();
    assert_eq!(listed["data"][0]["assets"], with_assets["assets"]);

    // Replacing makes a new URL and version; the old URL is gone.
    let gif = image(8, 8, ImageFormat::Gif);
    let replaced = upload_logo(&app, &group_path, "anim.gif", &gif).await;
    let second = logo_path(&replaced.json()["data"]["logo"]);
    assert_ne!(second, first);
    assert_eq!(replaced.header("etag"), Some("\"3\""));
    assert_eq!(fetch_public(&app, &first).await.0, StatusCode::NOT_FOUND);
    let (_, headers, bytes) = fetch_public(&app, &second).await;
    assert_eq!((header(&headers, "content-type"), bytes), (Some("image/gif"), gif));
    let assets = app.get(&format!("{group_path}?with=assets"), &app.admin.token).await.json();
    assert_eq!(assets["data"]["assets"]["data"][0]["version"], json!(2));

    // Removing: 204, logo null, no assets, URL gone; a second removal is a 404.
    assert_eq!(app.delete(&format!("{group_path}/logo"), &app.admin.token).await.status, StatusCode::NO_CONTENT);
    let after = app.get(&format!("{group_path}?with=assets"), &app.admin.token).await;
    assert_eq!((after.json()["data"]["logo"].clone(), after.json()["data"]["assets"].clone()), (json!(null), json!({"data": []})));
    assert_eq!(after.header("etag"), Some("\"4\""));
    assert_eq!(fetch_public(&app, &second).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&format!("{group_path}/logo"), &app.admin.token).await.status, StatusCode::NOT_FOUND);
}
}

roster_test! {
async fn every_accepted_format_keeps_its_bytes_and_type() {
    let app = TestApp::new().await;
    let created = app.create_group(json!({"name": "Formats", "description": "d"})).await;
    let group_path = app.org_path(&format!("/groups/{}", created["id"].as_str().expect("id")));
    for (format, content_type) in [(ImageFormat::Jpeg, "image/jpeg"), (ImageFormat::WebP, "image/webp"), (ImageFormat::Png, "image/png")] {
        let bytes = image(30, 30, format);
        // The declared type and name are ignored: the bytes decide.
        let response = upload_logo(&app, &group_path, "whatever.bin", &bytes).await;
        assert_eq!(response.status, StatusCode::OK, "{format:?}: {}", response.text);
        let (status, headers, served) = fetch_public(&app, &logo_path(&response.json()["data"]["logo"])).await;
        assert_eq!((status, header(&headers, "content-type"), served == bytes), (StatusCode::OK, Some(content_type), true));
    }
}
}

roster_test! {
async fn bad_uploads_are_422_and_change_nothing() {
    let app = TestApp::new().await;
    let created = app.create_group(json!({"name": "Strict", "description": "d"})).await;
    let group_path = app.org_path(&format!("/groups/{}", created["id"].as_str().expect("id")));
    let whole = image(64, 64, ImageFormat::Png);
    let mut oversize = image(16, 16, ImageFormat::Png);
    oversize.resize(2 * 1024 * 1024 + 1, 0);
    for (bytes, message) in [
        (b"<svg onload=alert(1)>".to_vec(), "The file must be a PNG, JPEG, GIF or WebP image."),
        (whole[..whole.len() / 2].to_vec(), "The file is not a valid image: it is damaged or truncated."),
        (image(4097, 2, ImageFormat::Png), "The file must be at most 4096 by 4096 pixels."),
        (oversize, "The file must not be greater than 2048 kilobytes."),
    ] {
        let response = upload_logo(&app, &group_path, "logo.png", &bytes).await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{message}: {}", response.text);
        assert_eq!(response.json()["errors"], json!({"file": [message]}));
    }
    let no_file = upload(&app, &format!("{group_path}/logo"), &app.admin.token, multipart(&[("x", "y")], None)).await;
    assert_eq!(no_file.json()["errors"], json!({"file": ["The file field is required."]}));
    let not_multipart = app.call(Method::POST, &format!("{group_path}/logo"), &app.admin.token, Some("{}")).await;
    assert_eq!(not_multipart.status, StatusCode::BAD_REQUEST);
    let mut huge = vec![0u8; 4 * 1024 * 1024];
    huge[..8].copy_from_slice(b"\x89PNG\r\n\x1a\n");
    let too_big = upload_logo(&app, &group_path, "huge.png", &huge).await;
    assert_eq!(too_big.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_big.json()["code"], json!("PAYLOAD_TOO_LARGE"));
    let now = app.get(&group_path, &app.admin.token).await;
    assert_eq!((now.json()["data"]["logo"].clone(), now.header("etag")), (json!(null), Some("\"1\"")));
}
}

roster_test! {
async fn only_group_managers_of_the_org_may_upload() {
    let app = TestApp::new().await;
    let created = app.create_group(json!({"name": "Mine", "description": "d"})).await;
    let group_path = app.org_path(&format!("/groups/{}", created["id"].as_str().expect("id")));
    let png = image(10, 10, ImageFormat::Png);
    for token in [&app.light.token, &app.standard.token, &app.other_admin.token] {
        let response = upload(&app, &format!("{group_path}/logo"), token, multipart(&[], Some(("a.png", "image/png", &png)))).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN);
        assert_eq!(app.delete(&format!("{group_path}/logo"), token).await.status, StatusCode::FORBIDDEN);
    }
    // Another org's group, through this org: not found.
    let theirs = app
        .post(&format!("/organizations/{}/groups", app.other_org), &app.other_admin.token, &json!({"name": "T", "description": "d"}))
        .await
        .json()["data"]["id"]
        .clone();
    let foreign = upload_logo(&app, &app.org_path(&format!("/groups/{}", theirs.as_str().expect("id"))), "a.png", &png).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&group_path, &app.admin.token).await.json()["data"]["logo"], json!(null));
}
}

roster_test! {
async fn the_generic_file_upload_sets_a_group_logo() {
    let app = TestApp::new().await;
    let created = app.create_group(json!({"name": "Generic", "description": "d"})).await;
    let id = created["id"].as_str().expect("id");
    let png = image(12, 12, ImageFormat::Png);
    let path = app.org_path("/file");
    let response = upload(
        &app,
        &path,
        &app.admin.token,
        multipart(&[("subject_type", "Group"), ("subject_id", id), ("uploaded_from", "settings")], Some(("g.png", "image/png", &png))),
    )
    .await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text);
    let asset = response.json()["data"].clone();
    assert_eq!((asset["subject"].clone(), asset["uploaded_from"].clone(), asset["filename"].clone()), (json!({"id": id, "type": "Group"}), json!("settings"), json!("g.png")));
    let group = app.get(&app.org_path(&format!("/groups/{id}")), &app.admin.token).await.json();
    assert_eq!(group["data"]["logo"], asset["url"]);

    let wrong = upload(&app, &path, &app.admin.token, multipart(&[("subject_type", "Run"), ("subject_id", id)], Some(("g.png", "image/png", &png)))).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong.json()["errors"], json!({"subject_type": ["The selected subject type is invalid."]}));
    let unknown = upload(&app, &path, &app.admin.token, multipart(&[("subject_type", "Group"), ("subject_id", "0123456789abcdef0123456789abcdef")], Some(("g.png", "image/png", &png)))).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // Deleting the group deletes its logo.
    let url_path = logo_path(&asset["url"]);
    app.delete(&app.org_path(&format!("/groups/{id}")), &app.admin.token).await;
    assert_eq!(fetch_public(&app, &url_path).await.0, StatusCode::NOT_FOUND);
    let (status, _, body) = fetch_public(&app, "/logos/not-an-id").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(serde_json::from_slice::<Value>(&body).expect("json")["code"], json!("RESOURCE_NOT_FOUND"));
}
}
