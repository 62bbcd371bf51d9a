//! Integration tests: one binary, a module per part of the pipeline.

mod common;
mod data;
mod download;
mod explore;
#[cfg(feature = "train")]
mod train;
