//! Peak resident memory of this process.
//!
//! Linux keeps the high-water mark of a process's resident set in `/proc/self/status` as
//! `VmHWM` (in kB, i.e. KiB). It only grows, so a figure *per benchmark size* needs a fresh
//! process per size: the runner starts one child process of this same binary for each size
//! (see [`crate::runner`]).

/// The `VmHWM` line's value in KiB, if the text has one.
pub fn parse_vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let mut fields = line["VmHWM:".len()..].split_whitespace();
    let value = fields.next()?.parse().ok()?;
    match fields.next() {
        Some("kB") => Some(value),
        _ => None,
    }
}

/// Peak resident set size of this process in MiB, or `None` where `/proc/self/status` does
/// not exist or has no `VmHWM` (not Linux).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm_kib(&status).map(|kib| kib as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_high_water_mark_line() {
        let status =
            "Name:\tjoist-bench\nVmPeak:\t  123456 kB\nVmHWM:\t   20480 kB\nVmRSS:\t 1 kB\n";
        assert_eq!(parse_vm_hwm_kib(status), Some(20_480));
    }

    #[test]
    fn missing_or_malformed_lines_give_none() {
        assert_eq!(parse_vm_hwm_kib("VmRSS:\t 1 kB\n"), None);
        assert_eq!(parse_vm_hwm_kib("VmHWM:\t lots kB\n"), None);
        assert_eq!(parse_vm_hwm_kib("VmHWM:\t 12 MB\n"), None);
    }

    #[test]
    fn this_process_has_a_plausible_peak_on_linux() {
        if cfg!(target_os = "linux") {
            let mib = peak_rss_mib().expect("VmHWM on Linux");
            assert!(mib > 0.5 && mib < 64.0 * 1024.0, "{mib} MiB");
        }
    }
}
