//! The engine: everything conda-connect does, without any GUI type.

pub mod certificate;
pub mod ci_env;
pub mod client;
pub mod clients;
pub mod condarc;
pub mod doctor;
pub mod domain;
pub mod error;
pub mod files;
pub mod health;
pub mod hooks;
pub mod index;
pub mod index_diagnosis;
pub mod ini_file;
pub mod journal;
pub mod lock;
pub mod navigator_ini;
pub mod paths;
pub mod policy;
pub mod redact;
pub mod secrets;
pub mod server_values;
pub mod session;
pub mod snapshots;
pub mod sso;
pub mod token_files;
pub mod tokens;

pub use error::{Error, Result};
pub use session::Engine;
