//! Stub: being written.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {}
