//! `causeway provision extend`: moves an ephemeral environment's expiry. The command line acts as
//! a platform admin, as it does for every provisioning command; the extension is audited as the
//! person running it.

use anyhow::bail;
use causeway_platform::Platform;
use causeway_platform::provision::expiry::{Extension, expires_in};
use causeway_platform::provision::records::Record;
use causeway_platform::time::{display, now_millis};

use crate::config::Config;
use crate::serve;

/// Which environment to extend, and for how long.
#[derive(Debug, clap::Args)]
pub struct ExtendArgs {
    /// The component, e.g. payments-api or component:default/payments-api.
    #[arg(long)]
    service: String,
    /// An environment with an expiry: preview with the default configuration.
    #[arg(long = "env")]
    environment: String,
    /// The new time to live from now: seconds, or a number with s, m, h or d (96h, 5d); at most
    /// the environment's maximum. The environment's time to live when left out.
    #[arg(long, value_name = "DURATION")]
    ttl: Option<String>,
}

/// `text` as seconds: a number of seconds, or a number followed by `s`, `m`, `h` or `d`.
fn seconds(text: &str) -> anyhow::Result<u64> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, "s"),
    };
    let scale = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => 0,
    };
    match number.parse::<u64>() {
        Ok(n) if scale > 0 => Ok(n.saturating_mul(scale)),
        _ => bail!("--ttl {text:?}: expected seconds, or a number with s, m, h or d (96h, 5d)"),
    }
}

/// Extends the environment and prints its new expiry.
pub async fn extend(config: &Config, platform: &Platform, args: ExtendArgs) -> anyhow::Result<()> {
    let engine = serve::provisioner(config, platform);
    let ttl_seconds = args.ttl.as_deref().map(seconds).transpose()?;
    let record = engine
        .extend(&Extension {
            service: args.service,
            environment: args.environment,
            ttl_seconds,
            request_id: format!("cli-{}", uuid::Uuid::new_v4()),
            requester: super::cli_requester(),
        })
        .await?;
    match record.expires_at_millis {
        Some(at) => println!(
            "{} ({}) now expires at {}, in {}",
            record.namespace,
            record.environment,
            display(at),
            expires_in(at, now_millis())
        ),
        None => println!(
            "{} ({}) does not expire",
            record.namespace, record.environment
        ),
    }
    Ok(())
}

/// The expiry line of `provision status`, for an environment that has one.
pub fn print_expiry(record: &Record) {
    let Some(at) = record.expires_at_millis else {
        return;
    };
    let reminded = record
        .reminded_at_millis
        .map(|r| format!("; reminder sent {}", display(r)))
        .unwrap_or_default();
    println!(
        "  expires at {} (in {}){reminded}",
        display(at),
        expires_in(at, now_millis())
    );
}

#[cfg(test)]
mod tests {
    use super::seconds;

    #[test]
    fn durations_take_a_unit_or_mean_seconds() {
        assert_eq!(seconds("90").ok(), Some(90));
        assert_eq!(seconds("96h").ok(), Some(96 * 3600));
        assert_eq!(seconds("5d").ok(), Some(5 * 86_400));
        assert_eq!(seconds("15m").ok(), Some(900));
        assert!(seconds("5w").is_err());
        assert!(seconds("h").is_err());
        assert!(seconds("-5").is_err());
    }
}
