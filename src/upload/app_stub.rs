//! STAND-IN, TO BE REPLACED by `crate::app` (app inputs and metadata) when the two branches
//! merge: same names and shapes, no parsing. An `.apk` is Android, anything else ending
//! `.zip` is iOS; the app id is the first line of a sidecar file `<path>.appid` when there is
//! one, else `com.example.app`. Only what the upload pipeline and its tests need.

use crate::clock::Timings;
use crate::exit::CliError;
use serde_json::{Value, json};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppPlatform {
    Android,
    Ios,
}

impl AppPlatform {
    /// The `platform` value of the API.
    pub fn name(self) -> &'static str {
        match self {
            AppPlatform::Android => "android",
            AppPlatform::Ios => "ios",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppMetadata {
    pub app_id: String,
    pub platform: AppPlatform,
}

impl AppMetadata {
    /// `{"appId", "platform"}`.
    pub fn to_json(&self) -> Value {
        json!({"appId": self.app_id, "platform": self.platform.name()})
    }
}

/// An app ready to upload: the file to send, and what the API is told about it.
#[derive(Debug, Clone)]
pub struct PreparedApp {
    pub upload_path: PathBuf,
    /// The input as the user gave it.
    pub original: String,
    pub platform: AppPlatform,
    pub content_type: &'static str,
    pub metadata: AppMetadata,
}

pub fn prepare(input: &str, _timings: &Timings) -> Result<PreparedApp, CliError> {
    let path = PathBuf::from(input);
    if !path.exists() {
        return Err(CliError::new(format!("App file does not exist: {input}")));
    }
    let (platform, content_type) = if input.ends_with(".apk") {
        (
            AppPlatform::Android,
            "application/vnd.android.package-archive",
        )
    } else if input.ends_with(".zip") {
        (AppPlatform::Ios, "application/zip")
    } else {
        return Err(CliError::new(
            "App file must be a **.apk** for Android or a **.app/.zip** file for iOS",
        ));
    };
    let app_id = std::fs::read_to_string(format!("{input}.appid"))
        .ok()
        .and_then(|s| s.lines().next().map(|l| l.trim().to_string()))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "com.example.app".to_string());
    Ok(PreparedApp {
        upload_path: path,
        original: input.to_string(),
        platform,
        content_type,
        metadata: AppMetadata { app_id, platform },
    })
}
