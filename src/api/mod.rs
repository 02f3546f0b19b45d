//! The devicecloud HTTP API: one ureq agent, typed requests, one error enum.
//! (Stub: being written.)

pub mod dto;
pub mod error;

pub use error::ApiError;
