//! The storage services beside the API, on the same host: Supabase TUS resumable uploads and
//! Backblaze B2 upload URLs (simple, S3 pre-signed, large-file parts) (docs/http-api.md,
//! "Flow zip upload and submission").

use serde_json::json;

use super::http::{Request, Response, reason};
use super::{Shared, empty, percent_decode, sha1_hex};

pub(super) const TUS_PATH: &str = "/storage/v1/upload/resumable";

/// One TUS upload as the fake holds it.
#[derive(Clone, Debug)]
pub struct TusUpload {
    pub id: String,
    pub length: u64,
    pub offset: u64,
    /// Decoded `Upload-Metadata` pairs, in order.
    pub metadata: Vec<(String, String)>,
    /// Headers of the creation request (lower-case names).
    pub headers: Vec<(String, String)>,
    pub data: Vec<u8>,
}

impl TusUpload {
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

// ---------------------------------------------------------------------------
// TUS resumable uploads (Supabase storage)
// ---------------------------------------------------------------------------

fn tus_response(status: u16) -> Response {
    empty(status).header("tus-resumable", "1.0.0".to_string())
}

fn tus_error(status: u16, message: &str) -> Response {
    Response::json(
        status,
        &json!({"statusCode": status.to_string(), "error": reason(status), "message": message}),
    )
    .header("tus-resumable", "1.0.0".to_string())
}

/// Common TUS request checks: protocol version and a bearer token.
fn tus_precheck(shared: &Shared, req: &Request) -> Option<Response> {
    if req.header("tus-resumable") != Some("1.0.0") {
        return Some(tus_error(412, "Tus-Resumable: 1.0.0 required"));
    }
    let bearer = req.header("authorization").and_then(|a| {
        a.strip_prefix("Bearer ")
            .or_else(|| a.strip_prefix("bearer "))
    });
    match (bearer, &shared.scenario.tus_bearer) {
        (None, _) => Some(tus_error(401, "Missing authorization header")),
        (Some(got), Some(want)) if got.trim() != want => Some(tus_error(401, "Invalid JWT")),
        _ => None,
    }
}

pub(super) fn tus_create(shared: &Shared, req: &Request) -> Response {
    if let Some(r) = tus_precheck(shared, req) {
        return r;
    }
    let Some(length) = req
        .header("upload-length")
        .and_then(|l| l.parse::<u64>().ok())
    else {
        return tus_error(400, "Upload-Length required");
    };
    let mut metadata = Vec::new();
    for pair in req.header("upload-metadata").unwrap_or("").split(',') {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let (k, v) = pair.split_once(' ').unwrap_or((pair, ""));
        let Some(v) = base64_decode(v.trim()) else {
            return tus_error(400, "Upload-Metadata values must be base64");
        };
        metadata.push((k.to_string(), String::from_utf8_lossy(&v).into_owned()));
    }
    let meta = |k: &str| {
        metadata
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    let (Some(_bucket), Some(object)) = (meta("bucketName"), meta("objectName")) else {
        return tus_error(400, "bucketName and objectName metadata required");
    };
    let mut st = shared.lock();
    if st.objects.contains_key(&object) && req.header("x-upsert") != Some("true") {
        return tus_error(409, "The resource already exists");
    }
    let mut data = Vec::new();
    if !req.body.is_empty() {
        if req.header("content-type") != Some("application/offset+octet-stream") {
            return tus_error(415, "Content-Type must be application/offset+octet-stream");
        }
        data = req.body.clone();
    }
    if data.len() as u64 > length {
        return tus_error(413, "Upload exceeds Upload-Length");
    }
    let n = shared.next_id(&mut st);
    let id = format!("tus-{n:04}");
    let offset = data.len() as u64;
    if offset == length {
        st.objects.insert(object, data.clone());
    }
    st.tus.push(TusUpload {
        id: id.clone(),
        length,
        offset,
        metadata,
        headers: req.headers.clone(),
        data,
    });
    tus_response(201)
        .header("location", format!("{}{TUS_PATH}/{id}", shared.base))
        .header("upload-offset", offset.to_string())
}

pub(super) fn tus_upload(shared: &Shared, req: &Request, id: &str) -> Response {
    if let Some(r) = tus_precheck(shared, req) {
        return r;
    }
    let mut st = shared.lock();
    let Some(i) = st.tus.iter().position(|u| u.id == id) else {
        return tus_error(404, "Upload not found");
    };
    if req.method == "HEAD" {
        let u = &st.tus[i];
        return tus_response(200)
            .header("upload-offset", u.offset.to_string())
            .header("upload-length", u.length.to_string())
            .header("cache-control", "no-store".to_string());
    }
    if req.header("content-type") != Some("application/offset+octet-stream") {
        return tus_error(415, "Content-Type must be application/offset+octet-stream");
    }
    let offset = req
        .header("upload-offset")
        .and_then(|o| o.parse::<u64>().ok());
    let u = &mut st.tus[i];
    if offset != Some(u.offset) {
        return tus_error(409, "Upload-Offset does not match the upload's offset");
    }
    if u.offset + req.body.len() as u64 > u.length {
        return tus_error(413, "Upload exceeds Upload-Length");
    }
    let kept = if shared.scenario.tus_one_byte_per_patch {
        &req.body[..req.body.len().min(1)]
    } else {
        &req.body[..]
    };
    u.data.extend_from_slice(kept);
    u.offset += kept.len() as u64;
    let (offset, complete) = (u.offset, u.offset == u.length);
    if complete {
        let object = u.meta("objectName").unwrap_or_default().to_string();
        let data = u.data.clone();
        st.objects.insert(object, data);
    }
    tus_response(204).header("upload-offset", offset.to_string())
}

/// Standard base64 (padding optional); `None` on anything else.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Standard base64 with padding (what a TUS client sends in `Upload-Metadata`).
pub fn base64_encode(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Backblaze B2 upload URLs
// ---------------------------------------------------------------------------

fn b2_error(status: u16, code: &str, message: &str) -> Response {
    Response::json(
        status,
        &json!({"status": status, "code": code, "message": message}),
    )
}

/// `Content-Length` must be sent (B2 refuses chunked bodies) and match the body, and
/// `X-Bz-Content-Sha1` must match the body (when `required`, it must be there too).
fn b2_sha_check(req: &Request, required: bool) -> Result<String, Response> {
    if req.header("content-length") != Some(req.body.len().to_string().as_str()) {
        return Err(b2_error(
            411,
            "bad_request",
            "Content-Length is required and must match the body",
        ));
    }
    let sha = sha1_hex(&req.body);
    match req.header("x-bz-content-sha1") {
        Some(h) if h.eq_ignore_ascii_case(&sha) => Ok(sha),
        None if !required => Ok(sha),
        None => Err(b2_error(
            400,
            "bad_request",
            "X-Bz-Content-Sha1 is required",
        )),
        Some(_) => Err(b2_error(
            400,
            "bad_request",
            "Sha1 did not match data received",
        )),
    }
}

pub(super) fn b2_simple(shared: &Shared, req: &Request) -> Response {
    if req.header("authorization") != Some("b2-simple-token") {
        return b2_error(401, "bad_auth_token", "Invalid authorization token");
    }
    let Some(name) = req
        .header("x-bz-file-name")
        .map(|n| percent_decode(n, true))
    else {
        return b2_error(400, "bad_request", "X-Bz-File-Name is required");
    };
    let sha = match b2_sha_check(req, true) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if shared.scenario.b2_takes_one_byte {
        return Response::json(200, &json!({"fileName": name, "contentLength": 1}));
    }
    let len = req.body.len();
    shared
        .lock()
        .b2_objects
        .insert(name.clone(), req.body.clone());
    Response::json(
        200,
        &json!({"fileId": format!("b2-file-{sha}"), "fileName": name, "contentLength": len, "contentSha1": sha}),
    )
}

pub(super) fn b2_s3(shared: &Shared, req: &Request, name: &str) -> Response {
    if req.query.iter().all(|(k, _)| k != "X-Amz-Signature") {
        return b2_error(403, "access_denied", "Missing signature");
    }
    let sha = match b2_sha_check(req, false) {
        Ok(s) => s,
        Err(r) => return r,
    };
    shared
        .lock()
        .b2_objects
        .insert(name.to_string(), req.body.clone());
    empty(200).header("etag", format!("\"{sha}\""))
}

pub(super) fn b2_part(shared: &Shared, req: &Request, file_id: &str) -> Response {
    // Each part URL has its own token: `b2-part-token-<slot>`.
    let slot = req
        .query
        .iter()
        .find(|(k, _)| k == "slot")
        .map(|(_, v)| v.as_str())
        .unwrap_or("?");
    if req.header("authorization") != Some(format!("b2-part-token-{slot}").as_str()) {
        return b2_error(401, "bad_auth_token", "Invalid authorization token");
    }
    let Some(part) = req
        .header("x-bz-part-number")
        .and_then(|p| p.parse::<u32>().ok())
        .filter(|p| (1..=10_000).contains(p))
    else {
        return b2_error(400, "bad_request", "X-Bz-Part-Number must be 1..10000");
    };
    let sha = match b2_sha_check(req, true) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if shared.scenario.b2_takes_one_byte {
        return Response::json(
            200,
            &json!({"fileId": file_id, "partNumber": part, "contentLength": 1}),
        );
    }
    let mut st = shared.lock();
    let Some(large) = st.b2_large.get_mut(file_id) else {
        return b2_error(400, "bad_request", "Unknown fileId");
    };
    large.parts.insert(part, req.body.clone());
    Response::json(
        200,
        &json!({"fileId": file_id, "partNumber": part, "contentLength": req.body.len(), "contentSha1": sha}),
    )
}
