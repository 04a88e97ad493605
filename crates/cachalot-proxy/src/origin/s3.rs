//! Folder-backed S3 origins: a bucket name maps to a local folder and the object
//! key to a file inside it, answered the way S3's REST endpoint answers — streamed
//! from the file, never read whole: HEAD and ranges read only what they return.
//!
//! A key can never leave its folder: keys are percent-decoded, every path
//! component must be a plain name, and the resolved file (symlinks followed)
//! must still lie under the folder.
//!
//! ETags are S3's: the MD5 of the content for objects up to [`SINGLE_PART_MAX`]
//! (what an upload in one part gets), computed once per (file, size, modification
//! time) and remembered; larger objects get a multipart-style ETag
//! (`"<hex>-<parts>"`, parts of 8 MiB as the AWS CLI uploads them) derived from the
//! file's identity, size and modification time without reading it.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use md5::{Digest, Md5};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::LazyLock;
use std::time::SystemTime;

/// Largest object whose ETag is the MD5 of its content.
pub const SINGLE_PART_MAX: u64 = 8 * 1024 * 1024;
/// Part size of the multipart-style ETags of larger objects.
const PART_SIZE: u64 = 8 * 1024 * 1024;
/// ETags remembered (one per file version); beyond this the table starts over.
const ETAG_MEMORY: usize = 100_000;

/// A response body from a folder-backed bucket.
#[derive(Debug)]
pub enum S3Body {
    /// Small bodies: errors, empty answers.
    Bytes(Bytes),
    /// `len` bytes of an open file, from its current position.
    File(tokio::fs::File, u64),
}

/// A response from a folder-backed bucket.
#[derive(Debug)]
pub struct S3Response {
    /// Status.
    pub status: StatusCode,
    /// Headers (`Content-Length` included).
    pub headers: HeaderMap,
    /// Body.
    pub body: S3Body,
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
    let Some(path) = resolve(folder, key).await else {
        return error(StatusCode::NOT_FOUND, "NoSuchKey", "The specified key does not exist.", &request_id);
    };
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return error(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied", &request_id);
        }
        Err(_) => return error(StatusCode::NOT_FOUND, "NoSuchKey", "The specified key does not exist.", &request_id),
    };
    let Ok(meta) = file.metadata().await else {
        return error(StatusCode::NOT_FOUND, "NoSuchKey", "The specified key does not exist.", &request_id);
    };
    let (size, modified) = (meta.len(), meta.modified().unwrap_or(SystemTime::UNIX_EPOCH));
    let Ok(etag) = etag_of(&path, size, modified).await else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "We encountered an internal error.",
            &request_id,
        );
    };
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(modified)) {
        h.insert(header::LAST_MODIFIED, v);
    }
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::SERVER, HeaderValue::from_static("AmazonS3"));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-amz-request-id", v);
    }
    if not_modified(headers, &etag, modified) {
        return S3Response { status: StatusCode::NOT_MODIFIED, headers: h, body: S3Body::Bytes(Bytes::new()) };
    }
    let content_type = mime_guess::from_path(key).first_raw().unwrap_or("binary/octet-stream");
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let (status, start, len) = match requested_range(headers, &etag, size) {
        Range::Whole => (StatusCode::OK, 0, size),
        Range::Part(start, end) => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{size}")) {
                h.insert(header::CONTENT_RANGE, v);
            }
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        Range::Unsatisfiable => {
            let mut r = error(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "InvalidRange",
                "The requested range is not satisfiable",
                &request_id,
            );
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                r.headers.insert(header::CONTENT_RANGE, v);
            }
            return r;
        }
    };
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if *method == Method::HEAD {
        return S3Response { status, headers: h, body: S3Body::Bytes(Bytes::new()) };
    }
    let mut file = file;
    if start > 0 {
        use tokio::io::AsyncSeekExt as _;
        if file.seek(std::io::SeekFrom::Start(start)).await.is_err() {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "We encountered an internal error.",
                &request_id,
            );
        }
    }
    S3Response { status, headers: h, body: S3Body::File(file, len) }
}

enum Range {
    Whole,
    Part(u64, u64),
    Unsatisfiable,
}

/// S3 answers one byte range (a list of ranges gets the whole object), honouring `If-Range`.
fn requested_range(headers: &HeaderMap, etag: &str, size: u64) -> Range {
    let Some(spec) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else { return Range::Whole };
    if let Some(if_range) = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok())
        && if_range != etag
    {
        return Range::Whole;
    }
    match cachalot_policy::range::decide(spec, size) {
        cachalot_policy::range::RangeDecision::Partial(r) if r.len() == 1 => Range::Part(r[0].0, r[0].1),
        cachalot_policy::range::RangeDecision::Unsatisfiable => Range::Unsatisfiable,
        _ => Range::Whole,
    }
}

/// A file version: path, size, modification time.
type FileVersion = (PathBuf, u64, SystemTime);

static ETAGS: LazyLock<Mutex<HashMap<FileVersion, String>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// The ETag of the file at `path` with this size and modification time (see the module docs).
async fn etag_of(path: &Path, size: u64, modified: SystemTime) -> std::io::Result<String> {
    let id = (path.to_path_buf(), size, modified);
    if let Some(e) = ETAGS.lock().get(&id) {
        return Ok(e.clone());
    }
    let etag = if size <= SINGLE_PART_MAX {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || -> std::io::Result<String> {
            use std::io::Read as _;
            let mut hasher = Md5::new();
            let mut file = std::fs::File::open(path)?;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
            Ok(format!("\"{:x}\"", hasher.finalize()))
        })
        .await
        .map_err(std::io::Error::other)??
    } else {
        let stamp = modified.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let digest = Md5::digest(format!("{}\n{size}\n{stamp}", path.display()).as_bytes());
        format!("\"{digest:x}-{}\"", size.div_ceil(PART_SIZE))
    };
    let mut table = ETAGS.lock();
    if table.len() >= ETAG_MEMORY {
        table.clear();
    }
    table.insert(id, etag.clone());
    Ok(etag)
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
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len() as u64));
    S3Response { status, headers: h, body: S3Body::Bytes(Bytes::from(body)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(r: S3Response) -> Vec<u8> {
        match r.body {
            S3Body::Bytes(b) => b.to_vec(),
            S3Body::File(mut f, len) => {
                use tokio::io::AsyncReadExt as _;
                let mut out = vec![0u8; len as usize];
                f.read_exact(&mut out).await.unwrap();
                out
            }
        }
    }

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
        assert_eq!(ok.headers[header::CONTENT_LENGTH], "3");
        let etag = ok.headers[header::ETAG].clone();
        assert_eq!(etag, format!("\"{:x}\"", Md5::digest(b"png")), "S3's ETag: the MD5 of the content");
        assert_eq!(body_of(ok).await, b"png");
        for escape in ["/../secret.txt", "/img/..%2f..%2fsecret.txt", "/%2e%2e/secret.txt", "/img/", "/"] {
            let r = serve(&bucket, &Method::GET, escape, &h).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{escape}");
            assert!(!body_of(r).await.windows(6).any(|w| w == b"secret"));
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.join("secret.txt"), bucket.join("link.txt")).unwrap();
            assert_eq!(serve(&bucket, &Method::GET, "/link.txt", &h).await.status, StatusCode::NOT_FOUND);
        }
        let mut cond = HeaderMap::new();
        cond.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(serve(&bucket, &Method::GET, "/img/a%20b.png", &cond).await.status, StatusCode::NOT_MODIFIED);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A large file: HEAD and a 10-byte range answer without reading the file, and the
    /// ETag is multipart-style, computed from the file's identity.
    #[tokio::test]
    async fn large_files_answer_head_and_ranges_without_reading_them() {
        let dir = std::env::temp_dir().join(format!("cachalot-s3-large-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = std::fs::File::create(dir.join("video.mp4")).unwrap();
        file.set_len(1 << 30).unwrap();
        let head = serve(&dir, &Method::HEAD, "/video.mp4", &HeaderMap::new()).await;
        assert_eq!(
            (head.status, head.headers[header::CONTENT_LENGTH].to_str().unwrap()),
            (StatusCode::OK, "1073741824")
        );
        assert!(head.headers[header::ETAG].to_str().unwrap().ends_with("-128\""), "{:?}", head.headers[header::ETAG]);
        let mut range = HeaderMap::new();
        range.insert(header::RANGE, HeaderValue::from_static("bytes=100-109"));
        let part = serve(&dir, &Method::GET, "/video.mp4", &range).await;
        assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(part.headers[header::CONTENT_RANGE], "bytes 100-109/1073741824");
        assert_eq!(body_of(part).await, vec![0u8; 10]);
        range.insert(header::RANGE, HeaderValue::from_static("bytes=2000000000-"));
        assert_eq!(serve(&dir, &Method::GET, "/video.mp4", &range).await.status, StatusCode::RANGE_NOT_SATISFIABLE);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
