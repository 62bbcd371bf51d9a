//! Progress as users see it on stderr: indicatif bars on a terminal, plain lines elsewhere, or
//! nothing with `-q`. The libraries report through [`emnist_data::progress::Progress`]; only the
//! executables render.

use emnist_data::progress::Progress;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// indicatif bars (stderr is a terminal).
    Bars,
    /// One plain line per finished stage (stderr is a pipe or file).
    Lines,
    /// Nothing but errors (`--quiet`).
    Quiet,
}

impl Style {
    /// Bars on a terminal, lines otherwise, nothing when `quiet`.
    pub fn detect(quiet: bool) -> Style {
        use std::io::IsTerminal;
        if quiet {
            Style::Quiet
        } else if std::io::stderr().is_terminal() && std::env::var_os("TERM").is_some_and(|t| t != "dumb") {
            Style::Bars
        } else {
            Style::Lines
        }
    }
}

/// Renders progress on stderr: indicatif bars, plain lines, or nothing.
pub struct Terminal {
    style: Style,
    state: std::sync::Mutex<Option<(indicatif::ProgressBar, String, std::time::Instant)>>,
}

impl Terminal {
    pub fn new(style: Style) -> Terminal {
        Terminal { style, state: std::sync::Mutex::new(None) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Option<(indicatif::ProgressBar, String, std::time::Instant)>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Progress for Terminal {
    fn start(&self, stage: &str, total: Option<u64>) {
        if self.style == Style::Quiet {
            return;
        }
        let bar = match (self.style, total) {
            (Style::Bars, Some(t)) => {
                let b = indicatif::ProgressBar::new(t);
                b.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{msg:32!} {wide_bar} {percent:>3}% {binary_bytes_per_sec:>11} eta {eta}",
                    )
                    .expect("valid template"),
                );
                b
            }
            (Style::Bars, None) => indicatif::ProgressBar::new_spinner(),
            _ => indicatif::ProgressBar::hidden(),
        };
        bar.set_message(stage.to_string());
        *self.state() = Some((bar, stage.to_string(), std::time::Instant::now()));
    }

    fn advance(&self, n: u64) {
        if let Some((bar, _, _)) = self.state().as_ref() {
            bar.inc(n);
        }
    }

    fn start_steps(&self, stage: &str, total: u64) {
        if self.style == Style::Quiet {
            return;
        }
        let bar = if self.style == Style::Bars {
            let b = indicatif::ProgressBar::new(total);
            b.set_style(
                indicatif::ProgressStyle::with_template("{prefix:12} {bar:30} {pos:>6}/{len} eta {eta:>4} {wide_msg}")
                    .expect("valid template"),
            );
            b
        } else {
            indicatif::ProgressBar::hidden()
        };
        bar.set_prefix(stage.to_string());
        *self.state() = Some((bar, stage.to_string(), std::time::Instant::now()));
    }

    fn status(&self, text: &str) {
        if let Some((bar, _, _)) = self.state().as_ref() {
            bar.set_message(text.to_string());
        }
    }

    fn report(&self, text: &str) {
        if self.style == Style::Quiet {
            return;
        }
        match self.state().as_ref() {
            Some((bar, _, _)) => bar.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }

    fn finish(&self) {
        if let Some((bar, stage, t0)) = self.state().take() {
            bar.finish_and_clear();
            if self.style != Style::Quiet {
                eprintln!("{stage}: done in {:.2} s", t0.elapsed().as_secs_f64());
            }
        }
    }

    fn note(&self, message: &str) {
        if self.style == Style::Quiet {
            return;
        }
        match self.state().as_ref() {
            Some((bar, _, _)) => bar.suspend(|| eprintln!("note: {message}")),
            None => eprintln!("note: {message}"),
        }
    }
}
