//! Namespace names: `<service>-<environment>`, always a valid DNS-1123 label.

use sha2::{Digest, Sha256};

/// The longest DNS-1123 label, and so the longest namespace name.
pub const MAX_NAMESPACE: usize = 63;
/// Characters of the hash that ends a shortened name.
const HASH_CHARS: usize = 8;

/// The namespace of `service` in `environment`. Names are lowercased, characters outside
/// `[a-z0-9-]` become `-`, and runs of `-` collapse; a name longer than 63 characters keeps its
/// beginning and ends with a hash of the whole, so that two long names never meet.
pub fn namespace(service: &str, environment: &str) -> String {
    let full = sanitise(&format!("{service}-{environment}"));
    if full.len() <= MAX_NAMESPACE {
        return full;
    }
    let hash: String = Sha256::digest(full.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let keep = MAX_NAMESPACE - HASH_CHARS - 1;
    let head = full[..keep].trim_end_matches('-');
    format!("{head}-{}", &hash[..HASH_CHARS])
}

fn sanitise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if !(c == '-' && (out.is_empty() || out.ends_with('-'))) {
            out.push(c);
        }
    }
    out.trim_end_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn is_dns_label(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= MAX_NAMESPACE
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !name.starts_with('-')
            && !name.ends_with('-')
    }

    #[rstest]
    #[case("payments-api", "dev", "payments-api-dev")]
    #[case("Payments_API", "dev", "payments-api-dev")]
    #[case("a..b", "prod", "a-b-prod")]
    fn short_names_are_kept_readable(
        #[case] service: &str,
        #[case] environment: &str,
        #[case] expected: &str,
    ) {
        assert_eq!(namespace(service, environment), expected);
    }

    #[rstest]
    #[case(57)]
    #[case(58)]
    #[case(63)]
    #[case(200)]
    fn long_names_are_shortened_deterministically(#[case] length: usize) {
        let service = "s".repeat(length);
        let name = namespace(&service, "dev");
        assert!(is_dns_label(&name), "{name}");
        assert_eq!(name, namespace(&service, "dev"));
        let other = namespace(&"s".repeat(length + 1), "dev");
        if length + 4 > MAX_NAMESPACE {
            assert_ne!(name, other, "different long names stay different");
        }
    }
}
