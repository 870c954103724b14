//! One module per screen, each with its `State`, `Message`, `update` (returning an `Action` for the app) and
//! `view`. Screens call the engine only through tasks they return; they never touch files or the network.

pub mod add_channels;
pub mod connect;
pub mod diagnose;
pub mod discard;
pub mod home;
pub mod login;
pub mod package_list;
pub mod preferences;
pub mod set_domain;
pub mod sign_out;
pub mod tokens;
pub mod trust;
