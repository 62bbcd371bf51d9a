//! Wire formats shared by `serve` and `query`: GraphPipe (flatbuffers), TensorFlow Serving REST
//! and KServe v2 (JSON, with Triton's binary extension), and how each request's tensor is held to
//! the model's contract ([`tensor`], [`emnist_model::contract`]).

pub mod graphpipe;
pub mod json_tensor;
pub mod kserve;
pub mod tensor;
pub mod tfserving;

pub use tensor::{InputError, InputTensor, Values};
