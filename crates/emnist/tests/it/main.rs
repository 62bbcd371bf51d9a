//! Integration tests: one binary, a module per part of the pipeline.

mod common;
mod data;
mod download;
mod explore;
mod export;
mod grpc_limits;
mod health;
mod hostile;
mod payload_log;
mod repo;
mod serve;
mod travel;
mod web;
