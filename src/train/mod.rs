//! Everything that touches libtorch (through `tch`); compiled only with the `train` feature.

/// One line about the linked libtorch: the version it was built against, CUDA devices, CPU threads.
pub fn libtorch_summary() -> String {
    let cuda = tch::Cuda::device_count();
    let cuda = if cuda > 0 { format!("{cuda} CUDA device(s)") } else { "no CUDA device".to_string() };
    format!("libtorch 2.13 via tch 0.26: {cuda}, {} CPU threads", tch::get_num_threads())
}
