//! Generated inputs for every parser a caller can reach: descriptor YAML (parsed, validated and
//! processed as an upload is), catalog filter, order, full-text and field parameters, cursors, and
//! entity references. Each target gets `FUZZ_INPUTS` inputs (20 000 by default, which `make test`
//! runs; `make fuzz` runs a million each on a release build): random text, mutations of valid
//! examples (bytes flipped, tokens spliced in, parts repeated), and grammar-shaped inputs. The
//! checks: no input panics, and the process's peak memory stays bounded.
//!
//! Stable Rust has no coverage-guided fuzzer, so this is a seeded random and mutation fuzzer; a
//! failure prints the seed and the input, and `FUZZ_SEED` replays the run. Without `FUZZ_SEED`
//! the seed is fixed, so that `make test` gives the same answer every time.

#[path = "support/measure.rs"]
mod measure;

use std::panic::{AssertUnwindSafe, catch_unwind};

use causeway_platform::catalog::query::{Cursor, Filter, Order, parse_fields};
use causeway_platform::catalog::{entity, refs, validate, yaml};
use causeway_platform::entity_ref::EntityRef;
use measure::peak_rss_mib;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Peak memory the whole run may reach, in MiB: a parser that expands aliases or nests without
/// limit blows through it long before the run ends.
const PEAK_RSS_LIMIT_MIB: f64 = 1024.0;

/// The longest input generated; large enough for deep nesting and alias chains.
const MAX_INPUT: usize = 16 * 1024;

fn inputs() -> usize {
    std::env::var("FUZZ_INPUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

/// The run's seed: `FUZZ_SEED`, or a fixed one, so that `make test` is repeatable; `make fuzz`
/// draws a new seed for every run, which is how new inputs get explored.
fn seed() -> u64 {
    std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_261_207)
}

/// Tokens that matter to the parsers: YAML structure, anchors and aliases, tags, merge keys,
/// document markers, reference and filter separators, escapes and odd characters.
const TOKENS: &[&str] = &[
    "\n",
    "\n  ",
    "\n- ",
    ": ",
    ":",
    "---\n",
    "...\n",
    "{",
    "}",
    "[",
    "]",
    ",",
    "&a ",
    "*a",
    "&b ",
    "*b",
    "<<: *a",
    "!!str ",
    "!!binary ",
    "!!int ",
    "!custom ",
    "? ",
    "|\n  ",
    ">-\n  ",
    "'",
    "\"",
    "\\u0000",
    "\\",
    "#",
    "%YAML 1.2\n",
    "\t",
    "\u{feff}",
    "\u{200b}",
    "é",
    "𝔘",
    "\0",
    "=",
    "/",
    "kind:",
    "component:",
    "default/",
    "metadata.name",
    "spec.owner",
    ",asc",
    ",desc",
    "~",
    "null",
    "true",
    "0x1F",
    "1e999",
    "-.inf",
    ".nan",
    "9223372036854775808",
];

/// Mutates `seed` a few times.
fn mutate(rng: &mut StdRng, seed: &str) -> String {
    let mut bytes = seed.as_bytes().to_vec();
    for _ in 0..rng.random_range(1..=8) {
        let at = if bytes.is_empty() {
            0
        } else {
            rng.random_range(0..=bytes.len())
        };
        match rng.random_range(0..6) {
            0 if !bytes.is_empty() => {
                let i = rng.random_range(0..bytes.len());
                bytes[i] ^= 1 << rng.random_range(0..8);
            }
            1 if !bytes.is_empty() => {
                let end = (at + rng.random_range(0..32)).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            2 => {
                let token = TOKENS[rng.random_range(0..TOKENS.len())];
                bytes.splice(at..at, token.bytes());
            }
            3 if !bytes.is_empty() => {
                // Repeat a slice: deep nesting, long keys, many documents.
                let start = rng.random_range(0..bytes.len());
                let end = (start + rng.random_range(1..64)).min(bytes.len());
                let part = bytes[start..end].to_vec();
                for _ in 0..rng.random_range(1..64) {
                    bytes.splice(at..at, part.iter().copied());
                }
            }
            4 => {
                let random: Vec<u8> = (0..rng.random_range(1..16)).map(|_| rng.random()).collect();
                bytes.splice(at..at, random);
            }
            _ => {
                let token = TOKENS[rng.random_range(0..TOKENS.len())];
                bytes.extend(token.bytes());
            }
        }
        bytes.truncate(MAX_INPUT);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn random_text(rng: &mut StdRng) -> String {
    let len = rng.random_range(0..256);
    if rng.random_bool(0.5) {
        (0..len)
            .map(|_| TOKENS[rng.random_range(0..TOKENS.len())])
            .collect()
    } else {
        let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// One input for a target: a mutated seed, random text, or (one in a hundred) a pathological
/// shape, each of which costs a parser far more than an ordinary input.
fn input(rng: &mut StdRng, seeds: &[&str]) -> String {
    match rng.random_range(0..200) {
        0..=139 => {
            let seed = seeds[rng.random_range(0..seeds.len())];
            mutate(rng, seed)
        }
        140..=197 => random_text(rng),
        198 => "[".repeat(rng.random_range(1..MAX_INPUT)),
        _ => {
            // An alias chain: each level refers to the one before it several times.
            let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x]\n");
            for level in 1..rng.random_range(2..40) {
                let previous = format!("*a{}", level - 1);
                text.push_str(&format!(
                    "a{level}: &a{level} [{}]\n",
                    vec![previous; 8].join(", ")
                ));
            }
            text
        }
    }
}

/// Runs `target` on generated inputs; panics name the seed and the input.
fn fuzz(name: &str, seeds: &[&str], target: impl Fn(&str)) {
    let seed = seed();
    let mut rng = StdRng::seed_from_u64(seed);
    let count = inputs();
    let started = std::time::Instant::now();
    for _ in 0..count {
        let text = input(&mut rng, seeds);
        if catch_unwind(AssertUnwindSafe(|| target(&text))).is_err() {
            panic!(
                "{name} panicked (FUZZ_SEED={seed}) on the input {:?}",
                text.chars().take(2000).collect::<String>()
            );
        }
    }
    let peak = peak_rss_mib();
    println!(
        "{name}: {count} inputs in {:.1} s (seed {seed}), peak RSS {peak:.0} MiB",
        started.elapsed().as_secs_f64()
    );
    assert!(
        peak < PEAK_RSS_LIMIT_MIB,
        "{name}: peak RSS {peak:.0} MiB (FUZZ_SEED={seed})"
    );
}

const DESCRIPTORS: &[&str] = &[
    "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: payments-api\n  namespace: default\n  annotations:\n    github.com/project-slug: example/payments-api\n  tags: [java, payments]\n  links:\n    - url: https://example.com\n      title: Docs\nspec:\n  type: service\n  lifecycle: production\n  owner: group:default/payments\n  system: payments\n  providesApis: [payments-rest]\n  dependsOn: [resource:payments-db]\n",
    "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: payments\nspec:\n  type: team\n  profile:\n    displayName: Payments\n  parent: engineering\n  children: []\n  members: [ada]\n---\napiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: ada\nspec:\n  profile:\n    email: ada@example.com\n  memberOf: [payments]\n",
    "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: payments-rest\nspec:\n  type: openapi\n  lifecycle: production\n  owner: payments\n  definition: |\n    openapi: 3.0.0\n    info: { title: x, version: '1' }\n",
    "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: more\nspec:\n  type: url\n  targets:\n    - ./a.yaml\n    - https://example.com/b.yaml\n",
    "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: service\n  title: New service\nspec:\n  owner: platform\n  type: service\n  parameters:\n    - title: Name\n      required: [name]\n      properties:\n        name: { type: string, pattern: '^[a-z-]+$' }\n  steps:\n    - id: fetch\n      action: fetch:template\n      input:\n        url: ./skeleton\n        values: { name: '${{ parameters.name }}' }\n",
    "{\"apiVersion\":\"backstage.io/v1alpha1\",\"kind\":\"Resource\",\"metadata\":{\"name\":\"db\"},\"spec\":{\"type\":\"database\",\"owner\":\"payments\",\"dependencyOf\":[\"component:payments-api\"]}}",
];

#[test]
fn descriptor_yaml_never_panics_and_stays_bounded() {
    fuzz("descriptor YAML", DESCRIPTORS, |text| {
        // The whole path of an upload: documents, then each one validated and processed.
        if let Ok(documents) = yaml::parse("fuzz", text) {
            for document in documents {
                if let Ok(kind) = validate::validate(&document) {
                    let _ = entity::process(document, kind);
                }
            }
        }
    });
}

const FILTERS: &[&str] = &[
    "kind=component,spec.type=service",
    "kind=component,metadata.namespace=default,spec.lifecycle=production,spec.lifecycle=experimental",
    "metadata.annotations.backstage.io/orphan=true",
    "relations.ownedBy=group:default/payments",
    "spec.owner",
    "metadata.name=payments-api,kind=API",
];

#[test]
fn catalog_query_parameters_never_panic() {
    fuzz("filter", FILTERS, |text| {
        let params: Vec<String> = text.split('&').map(str::to_owned).collect();
        let _ = Filter::parse(&params, "filter");
        let _ = parse_fields(&params);
    });
    fuzz(
        "orderField",
        &[
            "metadata.name,asc",
            "kind,desc",
            "spec.type",
            "metadata.uid,ASC",
        ],
        |text| {
            let params: Vec<String> = text.split('&').map(str::to_owned).collect();
            let _ = Order::parse(&params);
        },
    );
}

#[test]
fn cursors_never_panic() {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let json = [
        r#"{"query":{"filter":{"sets":[[{"key":"kind","values":["component"]}]]},"order":[{"field":"metadata.name","ascending":true}],"full_text":{"term":"pay","fields":["metadata.name"]}},"offset":20}"#,
        r#"{"query":{"filter":{"sets":[]},"order":[],"full_text":null},"offset":0}"#,
    ];
    // Mutated as JSON and then encoded (what a forger would send), and mutated as encoded text.
    fuzz("cursor (JSON inside)", &json, |text| {
        let _ = Cursor::decode(&URL_SAFE_NO_PAD.encode(text.as_bytes()));
    });
    let encoded: Vec<String> = json
        .iter()
        .map(|j| URL_SAFE_NO_PAD.encode(j.as_bytes()))
        .collect();
    let encoded: Vec<&str> = encoded.iter().map(String::as_str).collect();
    fuzz("cursor (encoded)", &encoded, |text| {
        let _ = Cursor::decode(text);
    });
}

#[test]
fn entity_references_never_panic() {
    let seeds = [
        "component:default/payments-api",
        "payments-api",
        "group:payments",
        "user:default/ada",
        "Component:Default/Payments-API",
        "api:other/payments-rest",
    ];
    fuzz("entity reference", &seeds, |text| {
        if let Ok(parsed) = refs::parse(text, "component", "default") {
            let _ = refs::split(&parsed);
        }
        let _ = refs::parse(text, "", "");
        let _ = EntityRef::parse(text, Some("component"), "ref");
        let _ = EntityRef::parse(text, None, "ref");
    });
}
