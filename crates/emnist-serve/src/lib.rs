//! `emnist-serve`: the model server and both ends of its wire. The server (`emnist serve`,
//! [`server`]): GraphPipe, TensorFlow Serving REST and KServe v2 over HTTP and gRPC, the web page,
//! model repositories, dynamic batching, metrics and limits. The wire formats both ends share
//! ([`protocol`]); any picture turned into the model's input ([`preprocess`]); and the clients
//! that check a deployment (`emnist query`, [`query`]; `emnist health`, [`health`]).
//!
//! Only this crate knows axum, tonic, hyper and rustls.

pub mod health;
pub mod preprocess;
pub mod protocol;
pub mod query;
pub mod server;
