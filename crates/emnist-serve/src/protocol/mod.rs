//! Wire formats shared by `serve` and `query`: GraphPipe (flatbuffers), TensorFlow Serving REST
//! and KServe v2 (JSON, with Triton's binary extension), and how each request's tensor is held to
//! the model's contract ([`tensor`], [`emnist_model::contract`]).

pub mod graphpipe;
pub mod json_tensor;
pub mod kserve;
pub mod tensor;
pub mod tfserving;

pub use emnist_model::reports::Protocol;
pub use tensor::{InputError, InputTensor, Values};

/// What a request to the server speaks, as its metric label and log name it: one of the
/// inference protocols `query` also speaks ([`Protocol`]) over HTTP, KServe v2 over gRPC, a
/// metrics scrape, or anything else (the page, the index, an unknown path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Traffic {
    Http(Protocol),
    Grpc,
    Metrics,
    Other,
}

impl Traffic {
    /// The label: `graphpipe`, `tfserving`, `kserve`, `grpc`, `metrics` or `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Traffic::Http(p) => p.as_str(),
            Traffic::Grpc => "grpc",
            Traffic::Metrics => "metrics",
            Traffic::Other => "other",
        }
    }
}

impl std::fmt::Display for Traffic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
