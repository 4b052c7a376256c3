//! Times in traces, to microseconds.

use super::format::TimeUnit;

/// A time field in `unit`, as microseconds (see [`super::Request::at_us`]).
pub(crate) fn parse(text: &str, unit: TimeUnit) -> Result<i64, String> {
    let text = text.trim();
    let scale = match unit {
        TimeUnit::Rfc3339 => {
            return chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| t.timestamp_micros())
                .map_err(|e| format!("time {text:?} is not RFC 3339 ({e})"));
        }
        TimeUnit::Seconds => 1e6,
        TimeUnit::Millis => 1e3,
        TimeUnit::Micros => 1.0,
    };
    let v: f64 = text
        .parse()
        .map_err(|_| format!("time {text:?} is not a number"))?;
    let us = v * scale;
    if us.is_finite() && us.abs() < 9.0e18 {
        Ok(us.round() as i64)
    } else {
        Err(format!("time {text:?} is out of range"))
    }
}

/// An access log's `[10/Oct/2000:13:55:36 -0700]` time (without brackets).
pub(crate) fn parse_access_log(text: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_str(text, "%d/%b/%Y:%H:%M:%S %z")
        .map(|t| t.timestamp_micros())
        .map_err(|_| format!("time [{text}] is not like [10/Oct/2000:13:55:36 -0700]"))
}

/// The access-log time of Unix second `second`, in UTC:
/// `10/Oct/2000:20:55:36 +0000`.
pub(crate) fn format_access_log(second: i64) -> String {
    chrono::DateTime::from_timestamp(second, 0).map_or_else(
        || format!("{second}"),
        |t| t.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
    )
}

/// Microseconds as seconds with six decimals (`-1.500000`, `12.000250`):
/// exact, with no float on the way, and read back by [`parse`] in seconds.
pub(crate) fn format_seconds(out: &mut String, at_us: i64) {
    use std::fmt::Write as _;
    let sign = if at_us < 0 { "-" } else { "" };
    let us = at_us.unsigned_abs();
    let _ = write!(out, "{sign}{}.{:06}", us / 1_000_000, us % 1_000_000);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse("1.5", TimeUnit::Seconds), Ok(1_500_000));
        assert_eq!(parse("1500", TimeUnit::Millis), Ok(1_500_000));
        assert_eq!(parse("15", TimeUnit::Micros), Ok(15));
        assert_eq!(
            parse("1970-01-01T00:00:01.25Z", TimeUnit::Rfc3339),
            Ok(1_250_000)
        );
        assert!(parse("soon", TimeUnit::Seconds).is_err());
        assert!(parse("1e300", TimeUnit::Seconds).is_err());
        assert_eq!(
            parse_access_log("01/Jan/1970:00:00:02 +0000"),
            Ok(2_000_000)
        );
        assert_eq!(
            parse_access_log("01/Jan/1970:01:00:02 +0100"),
            Ok(2_000_000)
        );
        assert!(parse_access_log("yesterday").is_err());
    }

    #[test]
    fn written_times_read_back() {
        for us in [0, 1, 1_500_000, -1_500_000, -1, 1_764_496_800_123_456] {
            let mut s = String::new();
            format_seconds(&mut s, us);
            assert_eq!(parse(&s, TimeUnit::Seconds), Ok(us), "{s}");
        }
        for second in [0, 971_211_336, -86_400] {
            let text = format_access_log(second);
            assert_eq!(parse_access_log(&text), Ok(second * 1_000_000), "{text}");
        }
    }
}
