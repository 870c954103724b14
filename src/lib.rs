//! conda-connect: connect conda to an Anaconda Server (Package Security Manager on-prem).
//!
//! Layers: [`engine`] (server client, files, session transaction, index — no GUI types), [`emulator`] (a local
//! Anaconda Server for `demo`, `emulator` and the tests), and the command line in [`cli`].

pub mod cli;
pub mod emulator;
pub mod engine;
pub mod gui;
