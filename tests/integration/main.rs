//! Integration tests: the engine and the real binary against the emulator over loopback HTTP, each in a
//! temporary HOME, asserting exact files and server state. One test binary so that every suite shares one build.

mod bounded;
mod clients;
mod common;
mod doctor;
mod findings;
mod flows;
mod fuzz;
mod given_token;
mod gui;
// a hostile repository server measured with wait4 and killed by signal (Unix)
mod docs;
#[cfg(unix)]
mod hostile_repo;
mod index;
mod io_faults;
mod lifecycle;
mod live;
mod platforms;
mod policy;
mod real_conda;
mod round_three;
mod safety;
mod servers;
mod sso;
mod tokens;
mod window;
