//! Arbitrary bytes as a GraphPipe request body (a flatbuffers `Request`), decoded as the server
//! decodes `POST /`, then checked the way its infer handler checks a request before the model
//! runs. Errors are expected; panics, hangs and runaway allocations are bugs.

#![no_main]

use emnist_model::contract::Signature;
use emnist_serve::protocol::graphpipe::{decode_request, Request, TensorIn};
use emnist_serve::protocol::tensor::{check_input_names, select_outputs, to_images};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(Request::Infer(r)) = decode_request(data) else {
        return;
    };
    let sig = Signature::ours();
    let _ = check_input_names(&r.input_names, &sig);
    let _ = select_outputs(&r.output_names, &sig);
    // The server takes exactly one tensor; validating every one reaches `to_images` more often.
    for t in &r.inputs {
        if let TensorIn::Values(t) = t {
            let _ = to_images(t, &sig);
        }
    }
});
