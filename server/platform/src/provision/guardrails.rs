//! A request's parameters (`cpu`, `memory`, `pods`, `availability`): what a form offers, and the
//! environment's defaults with the request's values applied. The limits on them are the platform
//! team's policies (`crate::guardrails`), evaluated over the numbers read here.

use std::collections::BTreeMap;

use super::config::Quota;
use crate::catalog::Problem;
use crate::guardrails::units::{parse_cpu, parse_memory};

/// A parameter a request may set, with its unit.
const PARAMETERS: &[(&str, &str)] = &[
    ("cpu", "CPU requests, e.g. 2 or 1500m"),
    ("memory", "memory requests, e.g. 4Gi or 512Mi"),
    ("pods", "number of pods"),
    (
        "availability",
        "availability objective in percent, from 90 to 99.999, e.g. 99.9",
    ),
];

/// A parameter as a form shows it: its name, what it means, and the environment's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub help: &'static str,
    pub default: String,
}

/// The parameters of an environment whose default quota is `quota`, for generated forms.
pub fn fields(quota: &Quota) -> Vec<Field> {
    let cpu = if quota.cpu_millis.is_multiple_of(1000) {
        (quota.cpu_millis / 1000).to_string()
    } else {
        format!("{}m", quota.cpu_millis)
    };
    let memory = if quota.memory_mib.is_multiple_of(1024) {
        format!("{}Gi", quota.memory_mib / 1024)
    } else {
        format!("{}Mi", quota.memory_mib)
    };
    let defaults = [
        cpu,
        memory,
        quota.pods.to_string(),
        DEFAULT_AVAILABILITY.to_string(),
    ];
    PARAMETERS
        .iter()
        .zip(defaults)
        .map(|((name, help), default)| Field {
            name,
            help,
            default,
        })
        .collect()
}

/// The availability objective when a request sets none.
pub const DEFAULT_AVAILABILITY: f64 = 99.9;

/// What a request asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameters {
    pub quota: Quota,
    /// Percent; the alert rules are derived from it.
    pub availability: f64,
}

fn problem(field: &str, message: String) -> Problem {
    Problem::new("request", None, field, message)
}

/// What a request asks for: the environment's defaults with `set` applied, or every problem with
/// the parameters.
pub fn parameters(
    default: &Quota,
    set: &BTreeMap<String, String>,
) -> Result<Parameters, Vec<Problem>> {
    let mut quota = default.clone();
    let mut availability = DEFAULT_AVAILABILITY;
    let mut problems = Vec::new();
    for (key, value) in set {
        let parsed = match key.as_str() {
            "cpu" => parse_cpu(value).map(|v| quota.cpu_millis = v),
            "memory" => parse_memory(value).map(|v| quota.memory_mib = v),
            "pods" => value.trim().parse::<u64>().ok().map(|v| quota.pods = v),
            "availability" => value
                .trim()
                .trim_end_matches('%')
                .parse::<f64>()
                .ok()
                .filter(|v| (90.0..=99.999).contains(v))
                .map(|v| availability = v),
            _ => {
                let known: Vec<String> = PARAMETERS
                    .iter()
                    .map(|(k, what)| format!("{k} ({what})"))
                    .collect();
                problems.push(problem(
                    &format!("set.{key}"),
                    format!("is not a parameter; expected one of {}", known.join(", ")),
                ));
                continue;
            }
        };
        if parsed.is_none() {
            let what = PARAMETERS
                .iter()
                .find(|(k, _)| k == key)
                .map_or("", |(_, what)| *what);
            problems.push(problem(
                &format!("set.{key}"),
                format!("{value:?} is not valid; expected {what}"),
            ));
        }
    }
    if problems.is_empty() {
        Ok(Parameters {
            quota,
            availability,
        })
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn parameters_are_parsed_with_their_units() {
        let default = Quota {
            cpu_millis: 1000,
            memory_mib: 1024,
            pods: 10,
        };
        let asked = parameters(
            &default,
            &set(&[
                ("cpu", "1.5"),
                ("memory", "2Gi"),
                ("pods", "4"),
                ("availability", "99.5"),
            ]),
        )
        .expect("valid");
        assert!((asked.availability - 99.5).abs() < 1e-9);
        assert_eq!(
            asked.quota,
            Quota {
                cpu_millis: 1500,
                memory_mib: 2048,
                pods: 4
            }
        );
        assert_eq!(
            parameters(&default, &set(&[("cpu", "250m")]))
                .expect("valid")
                .quota
                .cpu_millis,
            250
        );
        let problems = parameters(
            &default,
            &set(&[("cpu", "lots"), ("gpus", "1"), ("availability", "100")]),
        )
        .expect_err("invalid");
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            text.iter()
                .any(|t| t.contains("set.availability") && t.contains("90 to 99.999")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.contains("set.cpu") && t.contains("\"lots\"")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.contains("set.gpus") && t.contains("not a parameter")),
            "{text:?}"
        );
    }
}
