//! Getting a file to devicecloud's storage (docs/http-api.md): Backblaze B2 when the API offers it
//! (silent on failure), Supabase TUS always, and success when either worked. Used for the
//! flow zip now and for app binaries later.

pub mod b2;
pub mod binary;
pub mod source;
pub mod tus;

use crate::api::ApiClient;
use crate::clock::Timings;
use crate::exit::CliError;
use serde_json::{Value, json};

/// What the API answered to `getFlowUploadUrl` / `getBinaryUploadUrl`: the slot to upload into.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadSlot {
    pub id: String,
    pub temp_path: String,
    pub final_path: Option<String>,
    pub b2: Option<Value>,
}

impl UploadSlot {
    pub fn from_value(v: &Value) -> Result<UploadSlot, String> {
        let s = |k: &str| crate::domain::results::str_field(v.get(k));
        Ok(UploadSlot {
            id: s("id").ok_or("the upload URL response has no id")?,
            temp_path: s("tempPath")
                .or_else(|| s("path"))
                .ok_or("the upload URL response has no tempPath")?,
            final_path: s("finalPath"),
            b2: v.get("b2").filter(|b| b.is_object()).cloned(),
        })
    }
}

/// Where the bytes landed: the storage reference `submitFlowTest` / `finaliseUpload` carry.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub id: String,
    pub path: String,
    pub bytes: u64,
    pub backblaze_success: bool,
    pub supabase_success: bool,
}

impl Stored {
    /// `{backblazeSuccess, bytes, id, path, supabaseSuccess, useTus: true}`.
    pub fn to_json(&self) -> Value {
        json!({
            "backblazeSuccess": self.backblaze_success,
            "bytes": self.bytes,
            "id": self.id,
            "path": self.path,
            "supabaseSuccess": self.supabase_success,
            "useTus": true,
        })
    }
}

/// The Supabase Storage TUS endpoint: `DCD_SUPABASE_URL` (tests, self-hosting) else the
/// storage host `https://<project ref>.storage.supabase.co` of the API URL's environment.
pub fn tus_endpoint(api_url: &str) -> String {
    tus_endpoint_with(api_url, std::env::var("DCD_SUPABASE_URL").ok())
}

fn tus_endpoint_with(api_url: &str, supabase_override: Option<String>) -> String {
    let base = supabase_override
        .filter(|v| !v.trim().is_empty())
        .map(|v| v.trim_end_matches('/').to_string())
        .unwrap_or_else(|| {
            let env = crate::domain::environments::infer_from_api_url(api_url);
            let project = env
                .supabase_url
                .strip_prefix("https://")
                .and_then(|h| h.strip_suffix(".supabase.co"))
                .unwrap_or(if env.name == "prod" {
                    "pgydnphbimetinsgfkbo"
                } else {
                    "lbmsowehtjwnqlurpemb"
                });
            format!("https://{project}.storage.supabase.co")
        });
    format!("{base}/storage/v1/upload/resumable")
}

/// The anon key for storage: `DCD_SUPABASE_ANON_KEY`, else the environment's.
pub fn anon_key(api_url: &str) -> String {
    std::env::var("DCD_SUPABASE_ANON_KEY")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| {
            crate::domain::environments::infer_from_api_url(api_url)
                .supabase_anon_key
                .to_string()
        })
}

/// Uploads the flow zip: a slot from `getFlowUploadUrl`, then Backblaze (when offered) and TUS,
/// success when either worked. The slot request is a POST that creates nothing billable, but
/// like every API POST it is sent once and never retried (docs/http-api.md).
pub fn upload_flow_zip(api: &ApiClient, zip: &[u8], t: &Timings) -> Result<Stored, UploadError> {
    let slot_json = api
        .flow_upload_url(zip.len() as u64)
        .map_err(UploadError::Api)?;
    let slot =
        UploadSlot::from_value(&slot_json).map_err(|e| UploadError::Failed(CliError::new(e)))?;
    let mut file = StoreFile {
        src: &mut std::io::Cursor::new(zip),
        len: zip.len() as u64,
        content_type: "application/zip",
        progress: &source::no_progress,
    };
    store(api, &slot, &mut file, t).map_err(UploadError::Failed)
}

/// Why an upload did not happen: the API refused (the caller may fall back on 404/405), or
/// the bytes could not be stored anywhere.
#[derive(Debug)]
pub enum UploadError {
    Api(crate::api::ApiError),
    Failed(CliError),
}

/// What [`store`] uploads.
pub type StoreFile<'a> = b2::File<'a>;

/// B2 (if offered) then TUS, both streamed from the source; an error only when both failed.
pub fn store(
    api: &ApiClient,
    slot: &UploadSlot,
    f: &mut StoreFile<'_>,
    t: &Timings,
) -> Result<Stored, CliError> {
    let mut last_error = None;
    let backblaze_success = match &slot.b2 {
        Some(strategy) => match backblaze(api, slot, strategy, f, t) {
            Ok(()) => true,
            Err(e) => {
                crate::debug!("Backblaze upload failed (TUS carries on): {e}");
                last_error = Some(e);
                false
            }
        },
        None => false,
    };
    let anon = anon_key(api.base_url());
    let tus = tus::TusUpload {
        endpoint: tus_endpoint(api.base_url()),
        anon_key: &anon,
        bucket: "organizations",
        object_name: &slot.temp_path,
        content_type: f.content_type,
    };
    let supabase_success = match tus::upload(&tus, f.src, f.len, t, f.progress) {
        Ok(()) => true,
        Err(e) => {
            crate::debug!("Supabase TUS upload failed: {e}");
            last_error = Some(e);
            false
        }
    };
    if !backblaze_success && !supabase_success {
        return Err(CliError::new(match last_error {
            Some(e) => format!("All uploads failed. Last error: {e}"),
            None => "No upload targets available.".to_string(),
        }));
    }
    Ok(Stored {
        id: slot.id.clone(),
        path: slot.temp_path.clone(),
        bytes: f.len,
        backblaze_success,
        supabase_success,
    })
}

/// The Backblaze upload, finished by the API for a large file.
fn backblaze(
    api: &ApiClient,
    slot: &UploadSlot,
    strategy: &Value,
    f: &mut StoreFile<'_>,
    t: &Timings,
) -> Result<(), String> {
    let name = format!(
        "organizations/{}",
        slot.final_path.as_deref().unwrap_or(&slot.temp_path)
    );
    match b2::upload(strategy, &name, f, t)? {
        b2::Done::Simple => Ok(()),
        b2::Done::Large {
            file_id,
            part_sha1s,
        } => api
            .finish_large_file(&file_id, &part_sha1s)
            .map(|_| ())
            .map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_read_the_documented_fields() {
        let s = UploadSlot::from_value(&json!({"id": "f1", "tempPath": "tmp/a.zip",
            "finalPath": "final/a.zip", "path": "tmp/a.zip", "b2": {"strategy": "simple"}}))
        .unwrap();
        assert_eq!(s.temp_path, "tmp/a.zip");
        assert!(s.b2.is_some());
        assert!(UploadSlot::from_value(&json!({"id": "x"})).is_err());
    }

    #[test]
    fn tus_endpoint_per_environment() {
        assert_eq!(
            tus_endpoint_with("https://api.devicecloud.dev", None),
            "https://pgydnphbimetinsgfkbo.storage.supabase.co/storage/v1/upload/resumable"
        );
        assert_eq!(
            tus_endpoint_with("https://api.dev.devicecloud.dev", None),
            "https://lbmsowehtjwnqlurpemb.storage.supabase.co/storage/v1/upload/resumable"
        );
        assert_eq!(
            tus_endpoint_with("x", Some("http://127.0.0.1:9/".into())),
            "http://127.0.0.1:9/storage/v1/upload/resumable"
        );
    }
}
