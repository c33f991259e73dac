//! The identity of the machine a run was measured on: its class (which names the baseline
//! file) and the host and boot whose wall times compare with each other.
//!
//! Two machines of one class (same CPU model and core count) were measured 2x apart, and one
//! host is not the same machine after a reboot (frequency, memory layout, neighbours), so wall
//! time is judged only within one host and one boot; instruction counts compare across them.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The machine a run was measured on. Every field is optional: imported criterion output and
/// run files from older harnesses carry less (or none) of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    pub cpu_model: Option<String>,
    pub cores: Option<u32>,
    pub os: Option<String>,
    pub governor: Option<String>,
    /// A hash of `/etc/machine-id` (or of the hostname when there is none): the same host gives
    /// the same value, and the raw id never leaves the machine. See [`hashed_id`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
    /// A hash of `/proc/sys/kernel/random/boot_id`: changes with every boot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
}

/// Why the wall times of two runs cannot be compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostDifference {
    /// A side does not record its host or boot (a run file from an older harness, or a run
    /// with no machine at all against one with a machine).
    Unknown,
    /// Measured on two different hosts (even of the same class).
    OtherHost,
    /// The same host, but it was rebooted between the runs.
    OtherBoot,
}

/// How many hex digits of the SHA-256 an id keeps: enough to tell hosts apart, too few to be
/// worth anything outside this harness.
const ID_HEX_DIGITS: usize = 16;

impl Machine {
    /// The machine this process runs on, as far as Linux tells it; on other systems only the
    /// core count and OS. Nothing here fails: what cannot be read is left out.
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|line| line.starts_with("model name"))
            .and_then(|line| line.split_once(':'))
            .map(|(_, model)| model.split_whitespace().collect::<Vec<_>>().join(" "));
        let kernel = read_trimmed("/proc/sys/kernel/osrelease");
        let os = match kernel {
            Some(kernel) => format!("{} {kernel}", std::env::consts::OS),
            None => std::env::consts::OS.to_string(),
        };
        let host = read_trimmed("/etc/machine-id")
            .map(|id| ("machine-id", id))
            .or_else(|| {
                read_trimmed("/proc/sys/kernel/hostname")
                    .or_else(|| read_trimmed("/etc/hostname"))
                    .map(|name| ("hostname", name))
            });
        Machine {
            cpu_model,
            cores: std::thread::available_parallelism()
                .ok()
                .and_then(|n| u32::try_from(n.get()).ok()),
            os: Some(os),
            governor: read_trimmed("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
            host_id: host.map(|(kind, raw)| hashed_id(kind, &raw)),
            boot_id: read_trimmed("/proc/sys/kernel/random/boot_id")
                .map(|raw| hashed_id("boot_id", &raw)),
        }
    }

    /// A file-name-safe name for the class of machine: CPU model, core count and OS family
    /// (not the kernel release, which changes with updates). It names the baseline file, so
    /// it must not change: `intel-r-xeon-r-cpu-2-20ghz-2cores-linux`.
    pub fn class(&self) -> String {
        let cpu = self.cpu_model.as_deref().unwrap_or("unknown-cpu");
        let cores = self.cores.map_or("unknown".to_string(), |n| n.to_string());
        let os = self
            .os
            .as_deref()
            .and_then(|os| os.split_whitespace().next())
            .unwrap_or("unknown-os");
        let raw = format!("{cpu}-{cores}cores-{os}");
        let mut slug = String::with_capacity(raw.len());
        for ch in raw.chars() {
            if ch.is_ascii_alphanumeric() {
                slug.push(ch.to_ascii_lowercase());
            } else if !slug.ends_with('-') {
                slug.push('-');
            }
        }
        slug.trim_matches('-').to_string()
    }

    /// Whether wall times measured here compare with wall times measured on `other`: `None`
    /// when both record the same host and the same boot, otherwise why not. The class, OS
    /// string and governor play no part: the host and boot ids decide.
    pub fn wall_time_difference(&self, other: &Machine) -> Option<HostDifference> {
        let (Some(host_a), Some(boot_a), Some(host_b), Some(boot_b)) =
            (&self.host_id, &self.boot_id, &other.host_id, &other.boot_id)
        else {
            return Some(HostDifference::Unknown);
        };
        if host_a != host_b {
            Some(HostDifference::OtherHost)
        } else if boot_a != boot_b {
            Some(HostDifference::OtherBoot)
        } else {
            None
        }
    }
}

/// The recorded form of a host or boot id: the first 16 hex digits of the SHA-256 of a label
/// and the raw value, so the raw id (which systemd asks never to expose) is not written into
/// committed baselines, and a machine id and a hostname that happen to be equal hash apart.
pub fn hashed_id(kind: &str, raw: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"xtask-bench ");
    hasher.update(kind.as_bytes());
    hasher.update(b"\0");
    hasher.update(raw.trim().as_bytes());
    let digest = hasher.finalize();
    let mut hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    hex.truncate(ID_HEX_DIGITS);
    hex
}

/// A file's content without surrounding whitespace; `None` when unreadable or empty (an empty
/// `/etc/machine-id` is common in containers).
fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|text| text.trim().to_string())
        .filter(|text| !text.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(host: Option<&str>, boot: Option<&str>) -> Machine {
        Machine {
            host_id: host.map(str::to_string),
            boot_id: boot.map(str::to_string),
            ..Machine::default()
        }
    }

    #[test]
    fn class_is_a_safe_slug() {
        let machine = Machine {
            cpu_model: Some("Intel(R) Xeon(R) CPU @ 2.20GHz".to_string()),
            cores: Some(2),
            os: Some("linux 6.1.0-18-amd64".to_string()),
            ..Machine::default()
        };
        assert_eq!(machine.class(), "intel-r-xeon-r-cpu-2-20ghz-2cores-linux");
        assert_eq!(
            Machine::default().class(),
            "unknown-cpu-unknowncores-unknown-os"
        );
    }

    /// The committed baseline's name must keep resolving: its machine gives the same class.
    #[test]
    fn class_of_the_committed_baseline_is_unchanged() {
        let machine = Machine {
            cpu_model: Some("Intel(R) Xeon(R) Processor".to_string()),
            cores: Some(2),
            os: Some("linux 6.18.44-fc-v669".to_string()),
            ..Machine::default()
        };
        assert_eq!(machine.class(), "intel-r-xeon-r-processor-2cores-linux");
    }

    #[test]
    fn wall_time_compares_only_within_one_host_and_boot() {
        let cases = [
            (on(Some("h"), Some("b")), on(Some("h"), Some("b")), None),
            (
                on(Some("h"), Some("b")),
                on(Some("h"), Some("c")),
                Some(HostDifference::OtherBoot),
            ),
            (
                on(Some("h"), Some("b")),
                on(Some("g"), Some("b")),
                Some(HostDifference::OtherHost),
            ),
            (
                on(Some("h"), Some("b")),
                on(Some("g"), Some("c")),
                Some(HostDifference::OtherHost),
            ),
            (
                on(None, None),
                on(Some("h"), Some("b")),
                Some(HostDifference::Unknown),
            ),
            (
                on(Some("h"), None),
                on(Some("h"), Some("b")),
                Some(HostDifference::Unknown),
            ),
            (
                on(None, None),
                on(None, None),
                Some(HostDifference::Unknown),
            ),
        ];
        for (a, b, expected) in cases {
            assert_eq!(a.wall_time_difference(&b), expected, "{a:?} vs {b:?}");
            assert_eq!(b.wall_time_difference(&a), expected, "{b:?} vs {a:?}");
        }
    }

    /// Regression test: kernel build strings differ between machines of one class, and
    /// comparing the full OS string made every wall-time row advisory by accident.
    #[test]
    fn os_and_governor_do_not_decide() {
        let mut a = on(Some("h"), Some("b"));
        let mut b = a.clone();
        a.os = Some("linux 6.1.0-18-amd64".to_string());
        b.os = Some("linux 6.1.0-21-amd64".to_string());
        b.governor = Some("performance".to_string());
        assert_eq!(a.wall_time_difference(&b), None);
    }

    #[test]
    fn ids_are_hashed_prefixes() {
        let id = hashed_id("machine-id", "0123456789abcdef0123456789abcdef\n");
        assert_eq!(id.len(), 16);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(!id.contains("0123456789abcdef"));
        assert_eq!(
            id,
            hashed_id("machine-id", "0123456789abcdef0123456789abcdef")
        );
        assert_ne!(
            id,
            hashed_id("hostname", "0123456789abcdef0123456789abcdef")
        );
    }

    #[test]
    fn old_run_files_still_read_and_new_fields_round_trip() {
        let old: Machine = serde_json::from_str(
            r#"{"cpu_model": "x", "cores": 2, "os": "linux 6.1", "governor": null}"#,
        )
        .unwrap();
        assert_eq!(
            (old.host_id.as_deref(), old.boot_id.as_deref()),
            (None, None)
        );
        assert!(!serde_json::to_string(&old).unwrap().contains("host_id"));
        let new = Machine {
            host_id: Some("0011223344556677".to_string()),
            boot_id: Some("8899aabbccddeeff".to_string()),
            ..old
        };
        let text = serde_json::to_string(&new).unwrap();
        assert!(text.contains("\"host_id\":\"0011223344556677\""), "{text}");
        assert_eq!(serde_json::from_str::<Machine>(&text).unwrap(), new);
    }

    #[test]
    fn detect_records_this_host_consistently() {
        let (a, b) = (Machine::detect(), Machine::detect());
        assert_eq!(a, b);
        if a.host_id.is_some() && a.boot_id.is_some() {
            assert_eq!(a.wall_time_difference(&b), None);
        }
    }
}
