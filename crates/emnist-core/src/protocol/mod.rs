//! Wire formats shared by `serve` and `query`: GraphPipe (flatbuffers), TensorFlow Serving REST
//! and KServe v2 (JSON, with Triton's binary extension), and the one input contract they all map
//! to ([`tensor`]).

pub mod graphpipe;
pub mod json_tensor;
pub mod kserve;
pub mod tensor;
pub mod tfserving;

pub use tensor::{InputError, InputTensor, Outputs, Values};
