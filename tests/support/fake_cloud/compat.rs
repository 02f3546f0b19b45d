//! `GET /results/compatibility/data` (docs/http-api.md, "Endpoints used by this build"): the devices, OS versions and Maestro
//! versions `dcd cloud` validates against.

use serde_json::{Value, json};

use super::Shared;
use super::http::Response;

/// The compatibility data the fake serves unless told otherwise.
pub fn default_compat() -> Value {
    json!({
        "android": {
            "pixel-7": ["33", "34", "35"],
            "pixel-6": ["34"],
            "pixel-8": ["34", "35"],
            "generic-tablet": ["34"]
        },
        "androidPlay": {"pixel-7": ["34"]},
        "ios": {
            "iphone-14": ["17", "18"],
            "iphone-16": ["18", "26"],
            "ipad-pro-6th-gen": ["18"]
        },
        "maestro": {
            "defaultVersion": "1.39.13",
            "latestVersion": "2.0.2",
            "supportedVersions": ["1.39.13", "1.40.3", "1.41.0", "2.0.0", "2.0.2"]
        },
        "notices": [],
        "encryption": {"defaultOn": false}
    })
}

pub(super) fn compat(shared: &Shared) -> Response {
    Response::json(
        200,
        &json!({"statusCode": 200, "data": shared.scenario.compat}),
    )
}
