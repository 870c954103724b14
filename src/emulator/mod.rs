//! The local Anaconda Server emulator.
