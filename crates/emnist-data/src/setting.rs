//! The settings and commands that library messages point the user to, named by type: the
//! executable installs once how it spells them (flags, command lines), libraries never do.
//!
//! A message writes `format!("… or raise {}", Setting::MaxBody)`. Rendered, that reads "… or
//! raise `--max-body`" in `emnist`, and "… or raise `max_body`" (the config field) for a library
//! user, or in a test, where no renderer is installed. `{:#}` leaves the backticks out, for log
//! lines.

use std::fmt;
use std::sync::OnceLock;

use crate::Split;

/// Declares [`Setting`], its [`Setting::ALL`] and its [`Setting::field`] from one list, so that
/// none can miss a variant.
macro_rules! settings {
    ($($(#[$doc:meta])* $variant:ident => $field:literal,)*) => {
        /// A user-facing setting that a library message refers to.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Setting {
            $($(#[$doc])* $variant,)*
        }

        impl Setting {
            /// Every setting, for the executable's check that each has a flag.
            pub const ALL: &'static [Setting] = &[$(Setting::$variant),*];

            /// The library's name for it: the config field that holds it, as a path where it is
            /// nested (`conn.max_connections`).
            pub fn field(self) -> &'static str {
                match self {
                    $(Setting::$variant => $field,)*
                }
            }
        }
    };
}

settings! {
    /// The dataset to read: a .mat file or an idx folder.
    Data => "data",
    /// The training data a payload log is compared with.
    Reference => "reference",
    /// Which EMNIST split.
    Split => "split",
    /// Where a download goes.
    Dir => "dir",
    /// Skip the archive's digest check (a switch that turns `verify` off).
    NoVerify => "verify",
    /// Keep the archive after extracting, even a bad one.
    KeepArchive => "keep_archive",
    /// The architecture to train (`linear`, `dnn`, `cnn`).
    Architecture => "architecture",
    /// Training's base learning rate.
    Lr => "learning_rate",
    /// Training's CPU threads.
    Threads => "threads",
    /// The run directory training writes.
    Out => "out",
    /// Overwrite a finished run.
    Force => "force",
    /// Continue a run from its checkpoint.
    Resume => "resume",
    /// The run a fine-tuning starts from.
    Init => "init.run",
    /// Rehearsal images per new image when fine-tuning.
    Rehearse => "init.rehearse",
    /// The starting run's training data, rehearsed when fine-tuning.
    RehearseData => "rehearse_data",
    LabelSmoothing => "practice.label_smoothing",
    Validation => "practice.validation",
    WarmupEpochs => "practice.warmup_epochs",
    Patience => "practice.patience",
    /// The largest model file a load accepts.
    MaxModelMb => "limits.max_file_bytes",
    /// The most images in one model call.
    MaxBatch => "limits.max_batch",
    /// A file of class names.
    Labels => "labels",
    /// The onnxruntime shared library.
    OnnxruntimeLib => "library",
    /// Which engine runs a model.
    Engine => "engine",
    /// The ONNX file a client checks a server against.
    Model => "model",
    /// The model's name on the server.
    Name => "name",
    /// Where a client finds the server.
    Url => "url",
    /// Images per request of a client.
    Batch => "batch",
    /// Requests a client keeps in flight.
    Concurrency => "concurrency",
    Port => "port",
    GrpcPort => "grpc_port",
    CorsOrigin => "cors_origins",
    TlsCert => "tls.cert",
    MaxBody => "max_body",
    MaxInflight => "max_inflight",
    RequestTimeoutMs => "request_timeout",
    MaxConnections => "conn.max_connections",
    /// The payload log's folder.
    LogDir => "log.dir",
    /// Clamp float inputs outside the pixel range instead of refusing them.
    ClampInputs => "clamp_inputs",
}

impl Setting {
    /// The setting with a value, written as the user gives it: `--validation 0.1`.
    pub fn given<V: fmt::Display>(self, value: V) -> Given<V> {
        Given { setting: self, value }
    }

    /// The name, without backticks: the installed renderer's, else the field's.
    fn name(self) -> &'static str {
        match RENDERER.get() {
            Some(r) => (r.setting)(self),
            // A switch that turns a field off names the field's value.
            None if self == Setting::NoVerify => "verify = false",
            None => self.field(),
        }
    }
}

impl fmt::Display for Setting {
    /// "`--max-body`" (or "`max_body`" without a renderer); `{:#}` without the backticks.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        quoted(f, self.name())
    }
}

/// A setting with its value, from [`Setting::given`].
#[derive(Debug, Clone, Copy)]
pub struct Given<V> {
    setting: Setting,
    value: V,
}

impl<V: fmt::Display> fmt::Display for Given<V> {
    /// "`--validation 0.1`" (or "`practice.validation = 0.1`" without a renderer); `{:#}` without
    /// the backticks.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match RENDERER.get() {
            Some(r) => format!("{} {}", (r.setting)(self.setting), self.value),
            None => format!("{} = {}", self.setting.field(), self.value),
        };
        quoted(f, &text)
    }
}

/// A command a library message tells the user to run, or names as the program at work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// Downloading a split of EMNIST.
    Download(Split),
    /// Training a model into a run directory.
    Train,
    /// The server.
    Serve,
}

impl Command {
    /// Every command (with an example split), for the executable's check that each parses.
    pub const ALL: &'static [Command] = &[Command::Download(Split::Letters), Command::Train, Command::Serve];

    /// The library function that does it, for messages without a renderer.
    fn function(self) -> &'static str {
        match self {
            Command::Download(_) => "emnist_download::download",
            Command::Train => "emnist_train::train",
            Command::Serve => "emnist_serve::server::serve",
        }
    }
}

impl fmt::Display for Command {
    /// "`emnist download --split letters`" (or the library function without a renderer); `{:#}`
    /// without the backticks.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(r) = RENDERER.get() {
            return quoted(f, &(r.command)(*self));
        }
        quoted(f, self.function())?;
        if let Command::Download(split) = self {
            f.write_str(" with ")?;
            fmt::Display::fmt(&Setting::Split.given(split), f)?;
        }
        Ok(())
    }
}

/// How the executable spells settings and commands, installed once with [`install_renderer`].
#[derive(Debug, Clone, Copy)]
pub struct Renderer {
    /// A setting as the user gives it, without backticks: `--max-body`.
    pub setting: fn(Setting) -> &'static str,
    /// A command line as the user types it, without backticks: `emnist download --split letters`.
    pub command: fn(Command) -> String,
}

static RENDERER: OnceLock<Renderer> = OnceLock::new();

/// Makes every later message name settings and commands the executable's way. The first call
/// wins; returns false (and changes nothing) when a renderer was already installed.
pub fn install_renderer(renderer: Renderer) -> bool {
    RENDERER.set(renderer).is_ok()
}

/// `text` in backticks, or bare with `{:#}`.
fn quoted(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    if f.alternate() {
        f.write_str(text)
    } else {
        write!(f, "`{text}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // No test in this crate installs a renderer: these are the library's own words.
    #[test]
    fn without_a_renderer_messages_name_the_config_fields() {
        assert_eq!(format!("raise {}", Setting::MaxBody), "raise `max_body`");
        assert_eq!(format!("{:#}", Setting::MaxConnections), "conn.max_connections");
        assert_eq!(format!("add {}", Setting::NoVerify), "add `verify = false`");
        assert_eq!(format!("add {}", Setting::Validation.given(0.1)), "add `practice.validation = 0.1`");
        assert_eq!(format!("{:#}", Setting::Engine.given("auto")), "engine = auto");
        assert_eq!(
            format!("run {}", Command::Download(Split::Digits)),
            "run `emnist_download::download` with `split = digits`"
        );
        assert_eq!(format!("{:#}", Command::Download(Split::Digits)), "emnist_download::download with split = digits");
        assert_eq!(format!("is {} running?", Command::Serve), "is `emnist_serve::server::serve` running?");
    }

    #[test]
    fn every_setting_has_a_field_of_its_own() {
        let mut fields: Vec<&str> = Setting::ALL.iter().map(|s| s.field()).collect();
        assert!(
            fields
                .iter()
                .all(|f| f.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c == '_' || c.is_ascii_lowercase()))),
            "{fields:?}"
        );
        let n = fields.len();
        fields.sort_unstable();
        fields.dedup();
        assert_eq!(fields.len(), n, "two settings share a field");
    }
}
