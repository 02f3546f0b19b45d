//! Uploads before a submission: dedup by SHA, upload URLs (TUS path plus the Backblaze
//! strategy of the scenario), finalise, and the B2 large-file finish.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::http::{Request, Response};
use super::scenario::B2Mode;
use super::{LargeFile, Shared, UploadSlot, created, field_str, json_body, sha1_hex, string_list};

pub(super) fn check_existing(shared: &Shared, req: &Request) -> Response {
    let body = match json_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let encrypted = body.get("encrypted") == Some(&json!(true));
    let sha = if encrypted {
        field_str(&body, "shaPlain")
    } else {
        field_str(&body, "sha")
    };
    let Some(sha) = sha else {
        return Response::nest(400, "sha is required");
    };
    let st = shared.lock();
    match st.binaries.iter().rev().find(|(s, _)| s == sha) {
        Some((_, id)) => {
            created(&json!({"exists": true, "appBinaryId": id, "encrypted": encrypted}))
        }
        None => created(&json!({"exists": false})),
    }
}

pub(super) fn upload_url(shared: &Shared, req: &Request, kind: &str) -> Response {
    let body = match json_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if !body.get("fileSize").is_some_and(Value::is_u64) {
        return Response::nest(400, "fileSize must be a non-negative integer");
    }
    let platform = field_str(&body, "platform").map(str::to_string);
    if kind == "binary" && !matches!(platform.as_deref(), Some("android" | "ios")) {
        return Response::nest(400, "platform must be android or ios");
    }
    let mut st = shared.lock();
    let n = shared.next_id(&mut st);
    let (id, dir) = match kind {
        "binary" => (format!("bin-{n:04}"), "binaries"),
        _ => (format!("flows-{n:04}"), "flows"),
    };
    let temp_path = format!("org-1/{dir}/tmp/{id}.zip");
    let final_path = format!("org-1/{dir}/{id}.zip");
    st.slots.insert(
        id.clone(),
        UploadSlot {
            temp_path: temp_path.clone(),
            final_path: final_path.clone(),
            platform,
        },
    );
    let mut out = json!({
        "id": id,
        "tempPath": temp_path,
        "finalPath": final_path,
        "path": temp_path,
    });
    let base = &shared.base;
    let b2_name = format!("organizations/{final_path}");
    let b2 = match &shared.scenario.b2 {
        B2Mode::None => None,
        B2Mode::Simple => Some(json!({
            "strategy": "simple",
            "simple": {"uploadUrl": format!("{base}/b2/upload/simple"), "authorizationToken": "b2-simple-token"},
        })),
        B2Mode::S3 => Some(json!({
            "strategy": "simple",
            "simple": {
                "uploadUrl": format!("{base}/b2/s3/{b2_name}?X-Amz-Signature=fake-signature"),
                "authorizationToken": "",
            },
        })),
        B2Mode::Large { parts } => {
            let file_id = format!("b2-large-{id}");
            st.b2_large.insert(
                file_id.clone(),
                LargeFile {
                    name: b2_name.clone(),
                    parts: BTreeMap::new(),
                },
            );
            let urls: Vec<Value> = (0..(*parts).max(1))
                .map(|i| {
                    json!({
                        "uploadUrl": format!("{base}/b2/upload/part/{file_id}?slot={i}"),
                        "authorizationToken": format!("b2-part-token-{i}"),
                    })
                })
                .collect();
            Some(json!({
                "strategy": "large",
                "large": {"fileId": file_id, "fileName": b2_name, "uploadPartUrls": urls},
            }))
        }
    };
    if let (Some(b2), Some(o)) = (b2, out.as_object_mut()) {
        o.insert("b2".into(), b2);
    }
    created(&out)
}

pub(super) fn finalise(shared: &Shared, req: &Request) -> Response {
    let body = match json_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut st = shared.lock();
    let Some(slot) = field_str(&body, "id")
        .and_then(|id| st.slots.get(id))
        .cloned()
    else {
        return Response::nest(400, "Unknown upload id");
    };
    if field_str(&body, "path") != Some(slot.temp_path.as_str()) {
        return Response::nest(400, "path must be the tempPath of this upload");
    }
    let flag = |k: &str| body.get(k) == Some(&json!(true));
    let in_tus = flag("supabaseSuccess") && st.objects.contains_key(&slot.temp_path);
    let b2_name = format!("organizations/{}", slot.final_path);
    let in_b2 = flag("backblazeSuccess") && st.b2_objects.contains_key(&b2_name);
    if !in_tus && !in_b2 {
        return Response::nest(400, "Upload not found in storage");
    }
    let id = field_str(&body, "id").unwrap_or_default().to_string();
    if let Some(sha) = field_str(&body, "shaPlain").or_else(|| field_str(&body, "sha")) {
        st.binaries.push((sha.to_string(), id));
    }
    st.finalised.push(Value::Object(body));
    created(&json!({}))
}

pub(super) fn finish_large_file(shared: &Shared, req: &Request) -> Response {
    let body = match json_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let shas = string_list(body.get("partSha1Array"));
    let mut st = shared.lock();
    let Some(file_id) = field_str(&body, "fileId").map(str::to_string) else {
        return Response::nest(400, "fileId is required");
    };
    let Some(large) = st.b2_large.get(&file_id).cloned() else {
        return Response::nest(400, "Unknown fileId");
    };
    let numbers: Vec<u32> = large.parts.keys().copied().collect();
    let expected: Vec<u32> = (1..=shas.len() as u32).collect();
    if shas.is_empty() || numbers != expected {
        return Response::nest(400, "Parts missing or partSha1Array has the wrong length");
    }
    for (i, data) in large.parts.values().enumerate() {
        if !shas[i].eq_ignore_ascii_case(&sha1_hex(data)) {
            return Response::nest(400, &format!("Part {} sha1 mismatch", i + 1));
        }
    }
    let data: Vec<u8> = large.parts.values().flatten().copied().collect();
    let len = data.len();
    st.b2_objects.insert(large.name.clone(), data);
    st.b2_large.remove(&file_id);
    Response::json(
        200,
        &json!({"success": true, "result": {"fileId": file_id, "fileName": large.name, "contentLength": len}}),
    )
}
