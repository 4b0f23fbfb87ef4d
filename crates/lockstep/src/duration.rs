//! Durations on the command line, as Kubernetes and Argo CD users write them: `90s`, `3m`, `1h30m`.

use std::time::Duration;

/// Parses `1h30m`, `3m`, `45s`, `250ms` (any unit `humantime` knows, `1h 30m` too) or a plain
/// number of seconds. Too large a value is an error, never an overflow.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<u64>().map(Duration::from_secs).map_err(|_| format!("duration {text:?} is too large"));
    }
    humantime::parse_duration(text).map_err(|e| format!("invalid duration {text:?}: {e} (for example 90s, 3m, 1h30m)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_go_style_durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration(" 45s "), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("3m"), Ok(Duration::from_secs(180)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("3q").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("-5s").is_err());
    }

    #[test]
    fn huge_durations_are_errors_not_panics() {
        assert!(parse_duration("18446744073709551615s1s").is_err());
        assert!(parse_duration("18446744073709551615h").is_err());
        assert!(parse_duration("99999999999999999999999").is_err());
        assert!(parse_duration("99999999999999999999999s").is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = parse_duration(&text);
        }

        #[test]
        fn number_unit_sequences_never_panic(parts in proptest::collection::vec((any::<u64>(), "(ms|s|m|h|d|us|ns|x|)"), 1..6)) {
            let text: String = parts.iter().map(|(n, unit)| format!("{n}{unit}")).collect();
            let _ = parse_duration(&text);
        }
    }
}
