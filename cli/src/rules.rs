//! The data owner's policy commands: `policy check`, `policy reload`,
//! `policy profiles`, and `audit`.

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use zkgate_gateway::audit;
use zkgate_gateway::config::Paths;
use zkgate_policies::Engine;

/// `zkgate policy`.
#[derive(Subcommand)]
pub enum PolicyCmd {
    /// Validate a Cedar policy file against zkgate's schema; list its rules.
    Check {
        /// The policy file.
        file: PathBuf,
    },
    /// Make the running gateway reload its policy file (through the owner
    /// API; SIGHUP does the same). An invalid file is rejected and the
    /// policy in force stays.
    Reload {
        /// Data dir.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Print a shipped profile (default, hospital, open), or list them.
    Profile {
        /// Profile name.
        name: Option<String>,
    },
}

pub fn policy(cmd: PolicyCmd) -> Result<()> {
    match cmd {
        PolicyCmd::Check { file } => {
            let engine = Engine::load(&file).map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}: valid, {} rules", file.display(), engine.rules().len());
            for r in engine.rules() {
                println!("  {r}");
            }
            Ok(())
        }
        PolicyCmd::Reload { data_dir } => reload(&data_dir),
        PolicyCmd::Profile { name: None } => {
            for (n, _) in zkgate_policies::PROFILES {
                println!("{n}");
            }
            Ok(())
        }
        PolicyCmd::Profile { name: Some(name) } => {
            let src = zkgate_policies::profile_source(&name)
                .with_context(|| format!("no profile `{name}`"))?;
            print!("{src}");
            Ok(())
        }
    }
}

fn reload(data_dir: &std::path::Path) -> Result<()> {
    // The gateway validates the file itself and audits the outcome, errors
    // included, which is what this reports.
    let paths = Paths::new(data_dir);
    if paths.owner_token().exists() {
        return match crate::owner::reload_policy(data_dir)? {
            Some(rules) => {
                println!("policy reloaded: {} rules in force", rules.len());
                Ok(())
            }
            None => bail!("the gateway is not running: it reads the policy file when it starts"),
        };
    }
    let pid = std::fs::read_to_string(paths.pid())
        .with_context(|| format!("{}: is the gateway running?", paths.pid().display()))?;
    let pid = pid.trim();
    if pid.is_empty() || !pid.chars().all(|c| c.is_ascii_digit()) {
        bail!("{}: not a pid", paths.pid().display());
    }
    let before = audit::read(&paths.audit()).map_or(0, |e| e.len());
    let status = std::process::Command::new("kill")
        .args(["-HUP", pid])
        .status()
        .context("running kill")?;
    if !status.success() {
        bail!("could not signal gateway pid {pid}");
    }
    // The gateway audits the outcome; wait for that entry.
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(10) {
        if let Ok(entries) = audit::read(&paths.audit()) {
            if let Some(r) = entries[before.min(entries.len())..]
                .iter()
                .map(|e| &e.record)
                .find(|r| r.action == "policy_reload")
            {
                if r.decision == "ok" {
                    println!("policy reloaded: {}", r.message);
                    return Ok(());
                }
                bail!(
                    "policy rejected, the old one stays in force:\n{}",
                    r.message
                );
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("the gateway did not report a reload within 10 s")
}

/// `zkgate audit`.
#[derive(clap::Args)]
pub struct AuditArgs {
    /// Data dir.
    #[arg(long)]
    data_dir: PathBuf,
    /// Only the last N entries.
    #[arg(long)]
    tail: Option<usize>,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
    /// Check the log's hash links and exit (0 intact, 2 broken).
    #[arg(long)]
    verify: bool,
}

pub fn audit(a: AuditArgs) -> Result<()> {
    let path = Paths::new(&a.data_dir).audit();
    if !path.exists() {
        println!("no decisions recorded yet ({})", path.display());
        return Ok(());
    }
    if a.verify {
        let (n, _) = audit::verify(&path)?;
        println!("{}: {n} entries, hash links intact", path.display());
        return Ok(());
    }
    let entries = audit::read(&path)?;
    let skip = a.tail.map_or(0, |t| entries.len().saturating_sub(t));
    for e in &entries[skip..] {
        let r = &e.record;
        if a.json {
            println!("{}", serde_json::to_string(e)?);
        } else {
            println!(
                "#{} {} {} {} {}{}{} -> {}{}{}",
                e.seq,
                utc(e.time),
                r.who,
                r.action,
                r.dataset.as_deref().unwrap_or("-"),
                r.job
                    .as_deref()
                    .map(|j| format!(" {j}"))
                    .unwrap_or_default(),
                r.model
                    .as_deref()
                    .map(|m| format!(" model {}", &m[..m.len().min(12)]))
                    .unwrap_or_default(),
                r.decision,
                if r.rules.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", r.rules.join(", "))
                },
                if r.message.is_empty() {
                    String::new()
                } else {
                    format!(" {}", r.message)
                },
            );
        }
    }
    Ok(())
}

/// `YYYY-MM-DDTHH:MM:SSZ` for Unix seconds (proleptic Gregorian, UTC).
fn utc(t: u64) -> String {
    let (days, secs) = ((t / 86_400) as i64, t % 86_400);
    // Civil-from-days (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(super::utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::utc(1_795_688_145), "2026-11-26T10:15:45Z");
    }
}
