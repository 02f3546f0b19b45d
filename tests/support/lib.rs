//! Every item of the `dcd` library the tests use, named here and nowhere else in `tests/`.
//!
//! The tests drive the real binary (`CARGO_BIN_EXE_dcd`) wherever they can. A few call the
//! library directly: the planner, the parsers fed arbitrary input, the realtime client thread
//! run in-process. When one of these items moves in `src/`, fix its path here: the tests name
//! it only through this module (`crate::support::lib::...`).

/// Flow discovery, the dependency walk and the zip (`plan.rs`, `cloud.rs`).
pub mod plan {
    pub use dcd::plan::{Plan, PlanOptions, bundle, plan};

    /// The YAML reading under the planner.
    pub mod yaml {
        pub use dcd::plan::yaml::{load_docs, load_single, parse_flow_text};
    }
}

/// The realtime client thread, run in-process against the fake Realtime server
/// (`realtime_client.rs`, `realtime_proxy.rs`).
pub mod realtime {
    pub use dcd::clock::Timings;
    pub use dcd::realtime::frame::Vsn;
    pub use dcd::realtime::socket::websocket_url;

    pub mod client {
        pub use dcd::realtime::channel::{Config, Shared};
        pub use dcd::realtime::client::{MAX_FAILURE_STREAK, run};
    }
}

/// Parsers of what comes from outside, fed arbitrary input (`parsers_never_panic.rs`).
pub mod parsers {
    pub use dcd::auth::config::parse as parse_config;
    pub use dcd::cli::parse as parse_args;
    pub use dcd::domain::results::{ResultRow, UploadStatus, parse_results};
    pub use dcd::domain::verdict::{latest_tries, verdict};
    pub use dcd::render::time::{iso_utc, parse_iso};
    pub use dcd::render::{truncate, visible_width};
    pub use dcd::sanitize::clean;
}

/// Parsers of an app input, and the extraction of an Expo build, fed hostile input
/// (`parsers_never_panic.rs`).
pub mod app {
    pub use dcd::app::archive::single_top_app;
    pub use dcd::app::axml::package_name;
    pub use dcd::app::extract::extract;
    pub use dcd::app::info_plist::bundle_id;
    pub use dcd::app::metadata::{from_apk, from_zip};
}

/// The CI marker variables a hermetic `dcd` command removes (`support::dcd`).
pub use dcd::term::CI_VARS;

/// The TUS client, run in-process against the real `@tus/server` (`tus_conformance.rs`) and
/// by the upload figures of `make bench`.
pub mod tus {
    pub use dcd::clock::Timings;
    pub use dcd::upload::source::no_progress;
    pub use dcd::upload::tus::{CHUNK, TusUpload, upload};
}
