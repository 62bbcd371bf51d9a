//! Every default of `emnist serve`, written once: [`ServeConfig::new`](super::ServeConfig::new),
//! [`ConnConfig::default`](super::ConnConfig) and the command line's `--help` all read these.

/// `--model`: what `make demo` exports.
pub const MODEL: &str = "models/dnn.onnx";
/// `--host`: loopback only; 0.0.0.0 is a deliberate choice.
pub const HOST: &str = "127.0.0.1";
/// `--port`: GraphPipe's and the seed's port.
pub const PORT: u16 = 9000;
/// `--name`: the model's name in URLs.
pub const NAME: &str = "emnist";
/// `--poll-secs`: how often a repository is re-read.
pub const POLL_SECS: f64 = 5.0;
/// `--max-batch`: most images in one model call.
pub const MAX_BATCH: u32 = 128;
/// `--batch-timeout-us`: no waiting for company (requests that queued are still batched).
pub const BATCH_TIMEOUT_US: u64 = 0;
/// `--max-body`: 16 MiB, a 128-image JSON request with room to spare.
pub const MAX_BODY: usize = 16 << 20;
/// `--max-inflight`: requests handled at once.
pub const MAX_INFLIGHT: u32 = 1024;
/// `--request-timeout-ms`.
pub const REQUEST_TIMEOUT_MS: u64 = 30_000;
/// `--max-connections`, per port.
pub const MAX_CONNECTIONS: u32 = 4096;
/// `--header-timeout-ms`.
pub const HEADER_TIMEOUT_MS: u64 = 10_000;
/// `--idle-timeout-ms`.
pub const IDLE_TIMEOUT_MS: u64 = 60_000;
/// `--shutdown-grace-s`: below Kubernetes' default 30 s termination grace period.
pub const SHUTDOWN_GRACE_S: f64 = 20.0;
/// `--log-sample`: every request is logged.
pub const LOG_SAMPLE: f64 = 1.0;
/// `--log-max-mb`: the payload log's folder holds at most 1 GiB (about a million images).
pub const LOG_MAX_MB: u64 = 1024;
/// Entries the payload log's queue holds before it drops new ones (about 8 MB of images).
pub const LOG_QUEUE: usize = 8192;
/// Logged requests remembered for `POST /feedback`.
pub const LOG_INDEX: usize = 100_000;
