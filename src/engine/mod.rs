//! The engine: everything conda-connect does, without any GUI type.

pub mod condarc;
pub mod domain;
pub mod error;
pub mod files;
pub mod ini_file;
pub mod navigator_ini;
pub mod paths;

pub use error::{Error, Result};
pub mod client;
pub mod journal;
pub mod lock;
pub mod secrets;
pub mod session;
pub mod snapshots;
pub mod token_files;
pub use session::Engine;
pub mod certificate;
pub mod health;
pub mod index;
pub mod tokens;
