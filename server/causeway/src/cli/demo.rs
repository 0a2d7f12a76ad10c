//! `causeway demo delivery`: a plausible delivery history for three components of the demo
//! organisation, so that `make run` opens Delivery views and DORA checks with something to show.
//!
//! The history covers the days before today (today itself is left out, so that two runs on the
//! same day generate the same events whatever the hour). Everything about a day — its commits,
//! its deployments, their outcomes, an incident — is drawn from the calendar date and the
//! component's name through a fixed hash, never from the day the command runs: an event has the
//! same id and content whenever it is generated, so a later run records only the days that were
//! not generated before. The one thing that depends on the run is which incident is still open:
//! the ledger's newest incident, whose resolution is reported only once a newer one has opened.
//!
//! The events are recorded through `Delivery::ingest` as the platform itself (`system:demo`), so
//! they pass the same checks, are stored once per (source, id) and are audited like any other.

use anyhow::Context as _;
use causeway_platform::Platform;
use causeway_platform::delivery::adapters::system_principal;
use causeway_platform::delivery::events::MAX_BATCH;
use causeway_platform::delivery::{Commit, Deployment, Event, Incident, Payload, Status};
use causeway_platform::time::{iso, now_millis};

/// The source of every generated event; with the ids drawn from the date, it makes a run
/// idempotent.
pub const SOURCE: &str = "urn:causeway:demo";
/// The actor the audit log names for the demo's ingestions.
const ACTOR: &str = "system:demo";

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Demo data generators.
#[derive(Debug, clap::Subcommand)]
pub enum DemoCommand {
    /// Record a delivery history of the days before today for payments-api (several deployments
    /// a day), checkout-web (weekly releases, some rolled back or causing an incident) and ledger
    /// (daily deployments, an incident open now). Run again, it records only the days not
    /// recorded before. Needs the demo organisation (`causeway seed`).
    Delivery(DeliveryArgs),
}

#[derive(Debug, clap::Args)]
pub struct DeliveryArgs {
    /// How many days before today to cover, 1 to 365.
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(i64).range(1..=365))]
    days: i64,
}

/// Runs a demo command.
pub async fn run(platform: &Platform, command: DemoCommand) -> anyhow::Result<()> {
    let DemoCommand::Delivery(args) = command;
    let today = now_millis().div_euclid(DAY);
    let events = generate(today, args.days);
    let principal = system_principal(ACTOR);
    let (mut accepted, mut duplicates) = (0, 0);
    for batch in events.chunks(MAX_BATCH) {
        let ingested = platform
            .delivery
            .ingest(&principal, batch, None)
            .await
            .context("recording the demo's delivery events (run `causeway seed` first)")?;
        accepted += ingested.accepted;
        duplicates += ingested.duplicates;
    }
    println!(
        "Recorded {accepted} delivery events ({duplicates} already recorded) for {} from {} to {}",
        SERVICES.join(", "),
        date(today - args.days),
        date(today - 1)
    );
    Ok(())
}

/// The components the history is generated for, by name in the demo organisation.
pub const SERVICES: [&str; 3] = ["payments-api", "checkout-web", "ledger"];

/// Every event of the `days` days before epoch day `today`, deterministic for the two numbers.
pub fn generate(today: i64, days: i64) -> Vec<Event> {
    let first = today - days;
    let mut events = Vec::new();
    for day in first..today {
        payments_api(day, &mut events);
        checkout_web(day, &mut events);
    }
    ledger(first, today, &mut events);
    events
}

/// `YYYY-MM-DD` of epoch day `day`.
fn date(day: i64) -> String {
    iso(day * DAY).chars().take(10).collect()
}

/// Monday is 0; 1 January 1970 was a Thursday.
fn weekday(day: i64) -> i64 {
    (day + 3).rem_euclid(7)
}

fn is_workday(day: i64) -> bool {
    weekday(day) < 5
}

/// A fixed hash of a name and numbers (FNV-1a over the name, then SplitMix64's finaliser per
/// number): the generator's only source of variety, the same on every machine and every run.
fn mix(name: &str, numbers: &[i64]) -> u64 {
    let mut hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    for &n in numbers {
        hash = hash
            .wrapping_add(n as u64)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        hash ^= hash >> 31;
    }
    hash
}

/// A number in `low..=high` from the hash of `name` and `numbers`.
fn pick(name: &str, numbers: &[i64], low: i64, high: i64) -> i64 {
    low + (mix(name, numbers) % (high - low + 1) as u64) as i64
}

fn service_ref(name: &str) -> String {
    format!("component:default/{name}")
}

/// The commits of `name` authored on `day`: a few on workdays, between 08:00 and 18:00 UTC.
fn commits_on(name: &str, day: i64, low: i64, high: i64) -> Vec<Commit> {
    if !is_workday(day) {
        return Vec::new();
    }
    let count = pick(name, &[day, 0], low, high);
    let mut commits: Vec<Commit> = (0..count)
        .map(|i| Commit {
            sha: sha(name, &[day, i]),
            authored_at: Some(day * DAY + 8 * HOUR + pick(name, &[day, i, 1], 0, 10 * 60) * MINUTE),
        })
        .collect();
    commits.sort_by_key(|c| c.authored_at);
    commits
}

/// A 40-character commit id drawn from the hash.
fn sha(name: &str, numbers: &[i64]) -> String {
    (0..3_i64)
        .map(|part| {
            let mut with_part = numbers.to_vec();
            with_part.push(part);
            format!("{:016x}", mix(name, &with_part))
        })
        .collect::<String>()[..40]
        .to_owned()
}

/// The commits of `name` authored in `[from, to)`, `low..=high` a workday.
fn commits_between(name: &str, from: i64, to: i64, low: i64, high: i64) -> Vec<Commit> {
    (from.div_euclid(DAY)..=to.div_euclid(DAY))
        .flat_map(|day| commits_on(name, day, low, high))
        .filter(|c| c.authored_at.is_some_and(|at| at >= from && at < to))
        .collect()
}

/// A deployment event of `name`, its id `name/date/environment-slot`, made by a PipelineRun in
/// the environment's namespace.
struct Made<'a> {
    name: &'a str,
    day: i64,
    slot: &'a str,
    environment: &'a str,
    status: Status,
    started_at: i64,
    minutes: i64,
    commits: Vec<Commit>,
}

impl Made<'_> {
    fn id(&self) -> String {
        format!(
            "{}/{}/{}-{}",
            self.name,
            date(self.day),
            self.environment,
            self.slot
        )
    }

    fn event(self) -> Event {
        let id = self.id();
        let run = format!("{:05x}", mix(&id, &[]) & 0xf_ffff);
        let version = self
            .commits
            .last()
            .map(|c| c.sha[..12].to_owned())
            .unwrap_or_else(|| date(self.day));
        Event {
            source: SOURCE.to_owned(),
            id,
            service: service_ref(self.name),
            payload: Payload::Deployment(Deployment {
                environment: self.environment.to_owned(),
                version,
                status: self.status,
                started_at: self.started_at,
                finished_at: self.started_at + self.minutes * MINUTE,
                commits: self.commits,
                pipeline_run: Some(format!("{}-{}/delivery-{run}", self.name, self.environment)),
            }),
        }
    }
}

/// How long before production a change reaches staging; a deployment ships the commits authored
/// before its staging deployment started.
const STAGING_LEAD: i64 = 30 * MINUTE;

/// Pushes a staging deployment of `commits` half an hour before production's, then production's.
fn staged(made: Made<'_>, events: &mut Vec<Event>) {
    events.push(
        Made {
            slot: made.slot,
            environment: "staging",
            status: Status::Succeeded,
            started_at: made.started_at - STAGING_LEAD,
            minutes: 6,
            commits: made.commits.clone(),
            ..made
        }
        .event(),
    );
    events.push(made.event());
}

/// The opening of an incident and, when `resolved_at` is given, its resolution, as two events
/// the way an alerting system reports them.
fn incident(
    name: &str,
    day: i64,
    opened_at: i64,
    resolved_at: Option<i64>,
    caused_by: String,
    events: &mut Vec<Event>,
) {
    let id = format!("{name}/{}/incident", date(day));
    let event = |suffix: &str, resolved_at| Event {
        source: SOURCE.to_owned(),
        id: format!("{id}-{suffix}"),
        service: service_ref(name),
        payload: Payload::Incident(Incident {
            incident: id.clone(),
            opened_at,
            resolved_at,
            severity: "SEV2".to_owned(),
            caused_by: Some(caused_by.clone()),
        }),
    };
    events.push(event("opened", None));
    if let Some(at) = resolved_at {
        events.push(event("resolved", Some(at)));
    }
}

/// payments-api deploys up to four times a workday, each time the commits since the previous
/// slot (lead times of hours); about one deployment in twenty-five fails in production and a fix
/// follows within the hour.
fn payments_api(day: i64, events: &mut Vec<Event>) {
    const NAME: &str = "payments-api";
    const SLOTS: [i64; 4] = [10 * 60, 12 * 60 + 30, 15 * 60, 17 * 60 + 30];
    if !is_workday(day) {
        return;
    }
    let start = |day: i64, slot: usize| {
        day * DAY + (SLOTS[slot] + pick(NAME, &[day, slot as i64, 2], 0, 20)) * MINUTE
    };
    for slot in 0..SLOTS.len() {
        let started_at = start(day, slot);
        let previous = if slot > 0 {
            start(day, slot - 1)
        } else {
            // The last slot of the workday before.
            let before = (1..=3)
                .map(|back| day - back)
                .find(|d| is_workday(*d))
                .unwrap_or(day - 1);
            start(before, SLOTS.len() - 1)
        };
        let commits = commits_between(
            NAME,
            previous - STAGING_LEAD,
            started_at - STAGING_LEAD,
            4,
            9,
        );
        if commits.is_empty() {
            continue;
        }
        let fails = mix(NAME, &[day, slot as i64, 3]).is_multiple_of(25);
        let (label, fix_label) = (format!("{}", slot + 1), format!("{}-fix", slot + 1));
        let made = Made {
            name: NAME,
            day,
            slot: &label,
            environment: "prod",
            status: if fails {
                Status::Failed
            } else {
                Status::Succeeded
            },
            started_at,
            minutes: pick(NAME, &[day, slot as i64, 4], 5, 12),
            commits: commits.clone(),
        };
        staged(made, events);
        if fails {
            let mut fixed = commits;
            fixed.push(Commit {
                sha: sha(NAME, &[day, slot as i64, 5]),
                authored_at: Some(started_at + 20 * MINUTE),
            });
            events.push(
                Made {
                    name: NAME,
                    day,
                    slot: &fix_label,
                    environment: "prod",
                    status: Status::Succeeded,
                    started_at: started_at + 40 * MINUTE,
                    minutes: 7,
                    commits: fixed,
                }
                .event(),
            );
        }
    }
}

/// checkout-web releases every Tuesday afternoon with the week's commits (lead times of days).
/// One release in six is rolled back and one in six causes an incident; either way a hotfix
/// release follows on Wednesday morning.
fn checkout_web(day: i64, events: &mut Vec<Event>) {
    const NAME: &str = "checkout-web";
    if weekday(day) != 1 {
        return;
    }
    let started_at = day * DAY + 14 * HOUR + pick(NAME, &[day, 1], 0, 30) * MINUTE;
    let cut = started_at - STAGING_LEAD;
    let commits = commits_between(NAME, cut - 7 * DAY, cut, 1, 4);
    let week = (day + 3).div_euclid(7);
    let (status, causes_incident) = match week.rem_euclid(6) {
        1 => (Status::RolledBack, false),
        4 => (Status::Succeeded, true),
        _ => (Status::Succeeded, false),
    };
    let minutes = pick(NAME, &[day, 2], 15, 25);
    let release = Made {
        name: NAME,
        day,
        slot: "1",
        environment: "prod",
        status,
        started_at,
        minutes,
        commits: commits.clone(),
    };
    let release_id = release.id();
    staged(release, events);
    if status == Status::Succeeded && !causes_incident {
        return;
    }
    let hotfix_at = (day + 1) * DAY + 9 * HOUR + pick(NAME, &[day, 3], 0, 90) * MINUTE;
    let mut fixed = commits;
    fixed.push(Commit {
        sha: sha(NAME, &[day, 4]),
        authored_at: Some(hotfix_at - 45 * MINUTE),
    });
    let hotfix = Made {
        name: NAME,
        day: day + 1,
        slot: "hotfix",
        environment: "prod",
        status: Status::Succeeded,
        started_at: hotfix_at,
        minutes: 18,
        commits: fixed,
    };
    let hotfix_finished = hotfix_at + 18 * MINUTE;
    staged(hotfix, events);
    if causes_incident {
        let opened_at = started_at + (minutes + pick(NAME, &[day, 5], 30, 120)) * MINUTE;
        incident(
            NAME,
            day,
            opened_at,
            Some(hotfix_finished + 20 * MINUTE),
            release_id,
            events,
        );
    }
}

/// ledger deploys late in the morning of every workday with commits since the workday before;
/// every eighth workday's deployment causes an incident resolved within hours, except the newest,
/// which is open now.
fn ledger(first: i64, today: i64, events: &mut Vec<Event>) {
    const NAME: &str = "ledger";
    let start = |day: i64| day * DAY + 11 * HOUR + pick(NAME, &[day, 1], 0, 40) * MINUTE;
    let workdays: Vec<i64> = (first..today).filter(|d| is_workday(*d)).collect();
    let mut incidents = Vec::new();
    for &day in &workdays {
        let before = (1..=3)
            .map(|back| day - back)
            .find(|d| is_workday(*d))
            .unwrap_or(day - 1);
        let started_at = start(day);
        let commits = commits_between(
            NAME,
            start(before) - STAGING_LEAD,
            started_at - STAGING_LEAD,
            1,
            3,
        );
        if commits.is_empty() {
            continue;
        }
        let minutes = pick(NAME, &[day, 2], 8, 15);
        let made = Made {
            name: NAME,
            day,
            slot: "1",
            environment: "prod",
            status: Status::Succeeded,
            started_at,
            minutes,
            commits,
        };
        // Workdays counted from the epoch's Monday, so the pattern does not move with the range.
        let workday_number = (day + 3).div_euclid(7) * 5 + weekday(day);
        if workday_number.rem_euclid(8) == 5 {
            incidents.push((day, started_at + (minutes + 90) * MINUTE, made.id()));
        }
        staged(made, events);
    }
    let newest = incidents.len().saturating_sub(1);
    for (i, (day, opened_at, caused_by)) in incidents.into_iter().enumerate() {
        let resolved_at =
            (i < newest).then(|| opened_at + pick(NAME, &[day, 3], 2 * 60, 8 * 60) * MINUTE);
        incident(NAME, day, opened_at, resolved_at, caused_by, events);
    }
}

#[cfg(test)]
#[path = "demo_tests.rs"]
mod tests;
