//! The command line's spelling of the settings and commands that library messages name
//! ([`emnist_data::setting`]): both executables install it before anything else runs.

use emnist_data::setting::{self, Command, Renderer, Setting};

/// Makes every library message name flags and command lines: the first thing `main` does.
/// Calling it again changes nothing.
pub fn install() {
    setting::install_renderer(Renderer { setting: flag, command: command_line });
}

/// The long flag that sets `s`: `--max-body`.
pub fn flag(s: Setting) -> &'static str {
    match s {
        Setting::Data => "--data",
        Setting::Reference => "--reference",
        Setting::Split => "--split",
        Setting::Dir => "--dir",
        Setting::NoVerify => "--no-verify",
        Setting::KeepArchive => "--keep-archive",
        Setting::Architecture => "--model",
        Setting::Lr => "--lr",
        Setting::Threads => "--threads",
        Setting::Out => "--out",
        Setting::Force => "--force",
        Setting::Resume => "--resume",
        Setting::Init => "--init",
        Setting::Rehearse => "--rehearse",
        Setting::RehearseData => "--rehearse-data",
        Setting::LabelSmoothing => "--label-smoothing",
        Setting::Validation => "--validation",
        Setting::WarmupEpochs => "--warmup-epochs",
        Setting::Patience => "--patience",
        Setting::MaxModelMb => "--max-model-mb",
        Setting::MaxBatch => "--max-batch",
        Setting::Labels => "--labels",
        Setting::OnnxruntimeLib => "--onnxruntime-lib",
        Setting::Engine => "--engine",
        Setting::Model => "--model",
        Setting::Name => "--name",
        Setting::Url => "--url",
        Setting::Batch => "--batch",
        Setting::Concurrency => "--concurrency",
        Setting::Port => "--port",
        Setting::GrpcPort => "--grpc-port",
        Setting::CorsOrigin => "--cors-origin",
        Setting::TlsCert => "--tls-cert",
        Setting::MaxBody => "--max-body",
        Setting::MaxInflight => "--max-inflight",
        Setting::RequestTimeoutMs => "--request-timeout-ms",
        Setting::MaxConnections => "--max-connections",
        Setting::LogDir => "--log-dir",
        Setting::ClampInputs => "--clamp-inputs",
    }
}

/// The command line that does `c`: `emnist download --split letters`.
pub fn command_line(c: Command) -> String {
    match c {
        Command::Download(split) => format!("emnist download {} {split}", flag(Setting::Split)),
        Command::Train => "emnist train".into(),
        Command::Serve => "emnist serve".into(),
    }
}
