//! Colour for terminals only: ANSI escapes when standard output is a terminal and `NO_COLOR` is
//! unset, plain text otherwise. Pure apart from [`Style::detect`].

use std::io::IsTerminal as _;

use lockstep_api::{HealthStatusCode, SyncStatusCode};

/// The colours the CLI uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Colour {
    /// Good: Synced, Healthy, added lines.
    Green,
    /// Attention: OutOfSync, Progressing.
    Yellow,
    /// Bad: Degraded, failed, removed lines.
    Red,
    /// Structure: headers, hunk markers.
    Cyan,
    /// Less important text.
    Dim,
}

/// Whether to colour output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Style {
    /// Colour on.
    pub enabled: bool,
}

impl Style {
    /// Colour when standard output is a terminal and `NO_COLOR` is not set.
    pub fn detect() -> Self {
        Self { enabled: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() }
    }

    /// `text` in `colour`, or unchanged when colour is off.
    pub fn paint(&self, text: &str, colour: Colour) -> String {
        if !self.enabled || text.is_empty() {
            return text.to_string();
        }
        let code = match colour {
            Colour::Green => "32",
            Colour::Yellow => "33",
            Colour::Red => "31",
            Colour::Cyan => "36",
            Colour::Dim => "2",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    /// A sync status in its colour.
    pub fn sync(&self, status: SyncStatusCode) -> String {
        let colour = match status {
            SyncStatusCode::Synced => Colour::Green,
            SyncStatusCode::OutOfSync => Colour::Yellow,
            SyncStatusCode::Unknown => Colour::Dim,
        };
        self.paint(&status.to_string(), colour)
    }

    /// A health status in its colour.
    pub fn health(&self, status: HealthStatusCode) -> String {
        let colour = match status {
            HealthStatusCode::Healthy => Colour::Green,
            HealthStatusCode::Progressing | HealthStatusCode::Suspended => Colour::Yellow,
            HealthStatusCode::Degraded | HealthStatusCode::Missing => Colour::Red,
            HealthStatusCode::Unknown => Colour::Dim,
        };
        self.paint(&status.to_string(), colour)
    }
}

/// The visible width of a string: ANSI escapes take no room.
pub(crate) fn visible_width(text: &str) -> usize {
    let mut width = 0;
    let mut in_escape = false;
    for c in text.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => width += 1,
        }
    }
    width
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_without_a_terminal_and_escapes_take_no_width() {
        let plain = Style { enabled: false };
        assert_eq!(plain.sync(SyncStatusCode::OutOfSync), "OutOfSync");
        let colour = Style { enabled: true };
        let painted = colour.health(HealthStatusCode::Degraded);
        assert_eq!(painted, "\x1b[31mDegraded\x1b[0m");
        assert_eq!(visible_width(&painted), "Degraded".len());
    }
}
