//! The units platform documents are written in: durations (`72h`, `7d`), CPU (`2`, `1500m`) and
//! memory (`512Mi`, `4Gi`), read into the numbers the engine works with.

/// Seconds from `30s`, `15m`, `72h`, `7d` or `2w`.
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    number.parse::<u64>().ok()?.checked_mul(factor)
}

/// The shortest spelling of `seconds` in the largest unit that divides it.
pub fn format_duration(seconds: u64) -> String {
    for (unit, factor) in [("w", 7 * 86_400), ("d", 86_400), ("h", 3600), ("m", 60)] {
        if seconds >= factor && seconds.is_multiple_of(factor) {
            return format!("{}{unit}", seconds / factor);
        }
    }
    format!("{seconds}s")
}

/// Millicores from `2`, `0.5` or `1500m`.
pub fn parse_cpu(text: &str) -> Option<u64> {
    let text = text.trim();
    if let Some(millis) = text.strip_suffix('m') {
        return millis.parse().ok();
    }
    let cores: f64 = text.parse().ok()?;
    (cores.is_finite() && (0.0..1e9).contains(&cores)).then(|| (cores * 1000.0).round() as u64)
}

/// MiB from `512Mi`, `4Gi` or `1Ti`.
pub fn parse_memory(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, factor) = [("Mi", 1), ("Gi", 1024), ("Ti", 1024 * 1024)]
        .iter()
        .find_map(|(suffix, factor)| text.strip_suffix(suffix).map(|n| (n, *factor)))?;
    number.parse::<u64>().ok()?.checked_mul(factor)
}

/// `2` for 2000 millicores, `1500m` otherwise.
pub fn format_cpu(millis: u64) -> String {
    if millis.is_multiple_of(1000) {
        (millis / 1000).to_string()
    } else {
        format!("{millis}m")
    }
}

/// `4Gi` for 4096 MiB, `1500Mi` otherwise.
pub fn format_memory(mib: u64) -> String {
    if mib.is_multiple_of(1024) && mib > 0 {
        format!("{}Gi", mib / 1024)
    } else {
        format!("{mib}Mi")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip() {
        assert_eq!(parse_duration("72h"), Some(72 * 3600));
        assert_eq!(parse_duration("7d"), Some(7 * 86_400));
        assert_eq!(parse_duration("90"), None);
        assert_eq!(parse_duration("3 days"), None);
        assert_eq!(format_duration(7 * 86_400), "1w");
        assert_eq!(format_duration(72 * 3600), "3d");
        assert_eq!(format_duration(90), "90s");
    }

    #[test]
    fn quantities_round_trip() {
        assert_eq!(parse_cpu("1.5"), Some(1500));
        assert_eq!(parse_cpu("250m"), Some(250));
        assert_eq!(parse_memory("4Gi"), Some(4096));
        assert_eq!(parse_memory("4G"), None);
        assert_eq!(format_cpu(2000), "2");
        assert_eq!(format_memory(1536), "1536Mi");
    }
}
