//! Folder-backed S3 origins: a bucket name maps to a local folder and the object
//! key to a file inside it, answered the way S3's REST endpoint answers.
//!
//! A key can never leave its folder: keys are percent-decoded, every path
//! component must be a plain name, and the resolved file (symlinks followed)
//! must still lie under the folder.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use md5::{Digest, Md5};
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

/// A response from a folder-backed bucket.
#[derive(Debug)]
pub struct S3Response {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

/// Serves one request from `folder`. `key_path` is the request path with the origin path
/// prepended (starting with `/`); `headers` are the request headers sent to the origin.
pub async fn serve(folder: &Path, method: &Method, key_path: &str, headers: &HeaderMap) -> S3Response {
    let request_id = crate::ids::request_id()[..16].to_ascii_uppercase();
    if *method != Method::GET && *method != Method::HEAD {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
            &request_id,
        );
    }
    let key = key_path.split('?').next().unwrap_or("").trim_start_matches('/');
    let Some(file) = resolve(folder, key).await else {
        return error(StatusCode::NOT_FOUND, "NoSuchKey", "The specified key does not exist.", &request_id);
    };
    let (data, modified) = match tokio::fs::read(&file).await {
        Ok(data) => {
            let modified = tokio::fs::metadata(&file).await.ok().and_then(|m| m.modified().ok());
            (Bytes::from(data), modified.unwrap_or(SystemTime::UNIX_EPOCH))
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return error(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied", &request_id);
        }
        Err(_) => return error(StatusCode::NOT_FOUND, "NoSuchKey", "The specified key does not exist.", &request_id),
    };
    let etag = format!("\"{:x}\"", Md5::digest(&data));
    let last_modified = httpdate::fmt_http_date(modified);
    let mut h = HeaderMap::new();
    h.insert(header::ETAG, HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\"")));
    if let Ok(v) = HeaderValue::from_str(&last_modified) {
        h.insert(header::LAST_MODIFIED, v);
    }
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::SERVER, HeaderValue::from_static("AmazonS3"));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-amz-request-id", v);
    }
    if not_modified(headers, &etag, modified) {
        return S3Response { status: StatusCode::NOT_MODIFIED, headers: h, body: Bytes::new() };
    }
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type_for(key)));
    S3Response { status: StatusCode::OK, headers: h, body: data }
}

/// The file for `key`, if it exists as a regular file inside `folder`.
async fn resolve(folder: &Path, key: &str) -> Option<PathBuf> {
    let decoded = percent_encoding::percent_decode_str(key).decode_utf8().ok()?;
    if decoded.is_empty() || decoded.ends_with('/') || decoded.contains(['\0', '\\']) {
        return None;
    }
    let relative = Path::new(decoded.as_ref());
    if !relative.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    let root = tokio::fs::canonicalize(folder).await.ok()?;
    let file = tokio::fs::canonicalize(root.join(relative)).await.ok()?;
    if !file.starts_with(&root) {
        return None;
    }
    let meta = tokio::fs::metadata(&file).await.ok()?;
    meta.is_file().then_some(file)
}

fn not_modified(headers: &HeaderMap, etag: &str, modified: SystemTime) -> bool {
    if let Some(inm) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        return inm.split(',').any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == etag
        });
    }
    if let Some(ims) = headers.get(header::IF_MODIFIED_SINCE).and_then(|v| v.to_str().ok())
        && let Ok(since) = httpdate::parse_http_date(ims)
    {
        let modified_secs = modified.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let since_secs = since.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        return modified_secs <= since_secs;
    }
    false
}

/// S3's answer to a request a private bucket's policy does not allow.
pub fn access_denied() -> S3Response {
    let request_id = crate::ids::request_id()[..16].to_ascii_uppercase();
    error(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied", &request_id)
}

fn error(status: StatusCode, code: &str, message: &str, request_id: &str) -> S3Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
    );
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    h.insert(header::SERVER, HeaderValue::from_static("AmazonS3"));
    S3Response { status, headers: h, body: Bytes::from(body) }
}

/// Content-Type by extension, as S3 would have stored it when uploaded with a type.
pub fn content_type_for(key: &str) -> &'static str {
    let ext = key.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "js" | "mjs" => "application/javascript",
        "json" => "application/json",
        "xml" => "application/xml",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "m3u8" => "application/vnd.apple.mpegurl",
        "mpd" => "application/dash+xml",
        "pdf" => "application/pdf",
        "wasm" => "application/wasm",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        _ => "binary/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_files_and_never_leaves_the_folder() {
        let dir = std::env::temp_dir().join(format!("cachalot-s3-{}", std::process::id()));
        let bucket = dir.join("bucket");
        std::fs::create_dir_all(bucket.join("img")).unwrap();
        std::fs::write(bucket.join("img/a b.png"), b"png").unwrap();
        std::fs::write(dir.join("secret.txt"), b"secret").unwrap();
        let h = HeaderMap::new();
        let ok = serve(&bucket, &Method::GET, "/img/a%20b.png", &h).await;
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(ok.headers[header::CONTENT_TYPE], "image/png");
        assert_eq!(&ok.body[..], b"png");
        for escape in ["/../secret.txt", "/img/..%2f..%2fsecret.txt", "/%2e%2e/secret.txt", "/img/", "/"] {
            let r = serve(&bucket, &Method::GET, escape, &h).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{escape}");
            assert!(!r.body.windows(6).any(|w| w == b"secret"));
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.join("secret.txt"), bucket.join("link.txt")).unwrap();
            assert_eq!(serve(&bucket, &Method::GET, "/link.txt", &h).await.status, StatusCode::NOT_FOUND);
        }
        let mut cond = HeaderMap::new();
        cond.insert(header::IF_NONE_MATCH, ok.headers[header::ETAG].clone());
        assert_eq!(serve(&bucket, &Method::GET, "/img/a%20b.png", &cond).await.status, StatusCode::NOT_MODIFIED);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
