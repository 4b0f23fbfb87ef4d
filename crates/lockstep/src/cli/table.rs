//! Aligned text tables and kubectl-style ages. Pure.

use crate::cli::style::visible_width;

/// Lays out rows under headers in columns two spaces apart, as kubectl does; the last column is
/// not padded. Cells may hold ANSI colour.
pub(crate) fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(i) {
                *width = (*width).max(visible_width(cell));
            }
        }
    }
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths.get(i).copied().unwrap_or(0).saturating_sub(visible_width(cell)) + 2;
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A duration in kubectl's short form: `45s`, `12m`, `3h`, `5d`.
pub(crate) fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// The first line of a message, cut to `max` characters with an ellipsis.
pub(crate) fn truncate(message: &str, max: usize) -> String {
    let line = message.lines().next().unwrap_or_default();
    if line.chars().count() <= max {
        return line.to_string();
    }
    let cut: String = line.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_the_last_is_not_padded() {
        let rows = vec![
            vec!["a".to_string(), "Synced".to_string(), "x".to_string()],
            vec!["long-name".into(), "OutOfSync".into(), "".into()],
        ];
        let text = render(&["NAME", "SYNC", "MESSAGE"], &rows);
        assert_eq!(text, "NAME       SYNC       MESSAGE\na          Synced     x\nlong-name  OutOfSync\n");
    }

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(age(5), "5s");
        assert_eq!(age(600), "10m");
        assert_eq!(age(3 * 3600), "3h");
        assert_eq!(age(4 * 86_400), "4d");
        assert_eq!(age(-3), "0s");
    }

    #[test]
    fn long_messages_are_cut() {
        assert_eq!(truncate("abcdef\nsecond", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }
}
