//! Progress on long work (`storage migrate`, `backup`, `restore`, `key rotate-root`): a bar on
//! stderr when stderr is a terminal, nothing otherwise, so scripts and logs see only the final
//! line the command prints itself.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// One unit of long work, counted in items (rows, records, keys) or bytes.
pub struct Progress {
    /// The bar; hidden when stderr is not a terminal (indicatif checks, so the calls below are
    /// free there).
    bar: ProgressBar,
}

/// What a [`Progress`] counts, which picks how the count is shown.
#[derive(Debug, Clone, Copy)]
pub enum Unit {
    /// Rows, records, keys: shown as `12/40`.
    Items,
    /// Bytes: shown as `1.2 MiB/4.0 MiB`.
    Bytes,
}

impl Progress {
    /// Starts a bar for `what` (a short phrase: "copying rows"), with `total` when known and a
    /// spinner when not.
    pub fn start(what: &str, total: Option<u64>, unit: Unit) -> Self {
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
        let count = match unit {
            Unit::Items => "{pos}/{len}",
            Unit::Bytes => "{bytes}/{total_bytes}",
        };
        let template = match total {
            Some(_) => format!("{{spinner}} {{msg}} [{{bar:30}}] {count} ({{elapsed}})"),
            None => "{spinner} {msg} {pos} ({elapsed})".to_string(),
        };
        // The templates are fixed strings above; a bad one would only lose the styling, so the
        // default style is kept rather than failing the command.
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        Self { bar }
    }

    /// Counts `n` more done.
    pub fn advance(&self, n: u64) {
        self.bar.inc(n);
    }

    /// Sets the total once it is known (or grows).
    pub fn set_total(&self, total: u64) {
        self.bar.set_length(total);
    }

    /// Names the current step ("table machines", "project proj_…").
    pub fn step(&self, what: &str) {
        self.bar.set_message(what.to_string());
    }

    /// Removes the bar; the command prints its own result after.
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // An early return (an error) must not leave a half-drawn bar above the error message.
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}
